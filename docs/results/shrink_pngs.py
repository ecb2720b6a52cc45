"""Shrink a report folder's PNGs (and the copies embedded in its report.html) to
256-colour palette images, so the committed reports stay small.

    python docs/results/shrink_pngs.py docs/results/<suite>
"""

import base64
import io
import re
import sys
from pathlib import Path

from PIL import Image

DATA_URI = re.compile(rb"data:image/png;base64,([A-Za-z0-9+/=]+)")


def shrink(png: bytes) -> bytes:
    img = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue() if out.tell() < len(png) else png


def main(folder: Path) -> None:
    for path in sorted(folder.glob("report_files/*.png")):
        path.write_bytes(shrink(path.read_bytes()))
    html = folder / "report.html"
    if html.exists():
        text = html.read_bytes()
        html.write_bytes(DATA_URI.sub(lambda m: b"data:image/png;base64," + base64.b64encode(shrink(base64.b64decode(m.group(1)))), text))


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        main(Path(arg))
