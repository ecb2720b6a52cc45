"""The HTML page as a reader sees it (headless Chromium), and `ganbench traverse`, on real runs."""

import base64
import json
import shutil
import tempfile
from pathlib import Path

import pytest
import torch
from cdp_pipe import Browser, find_chromium
from click.testing import CliRunner
from PIL import Image

from ganbench.cli import main

TINY_2D = """
name: tiny2d
base:
  dataset: ring8
  architecture: {name: mlp, g_hidden: [32, 32], d_hidden: [32, 32]}
  batch_size: 64
  z_dim: 4
  steps: 20
  log_every: 5 steps
  eval: {every: 10 steps, samples: 500}
matrix:
  loss: [vanilla, lsgan]
seeds: 2
"""

TINY_IMAGES = """
name: tinyimg
base:
  dataset: digits
  architecture: {name: mlp, g_hidden: [32], d_hidden: [32]}
  batch_size: 32
  z_dim: 8
  steps: 5
  log_every: 5 steps
  grid_every: 5 steps
  eval: {every: 5 steps, samples: 200}
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Four ring8 runs (2 losses x 2 seeds) and one digits run, trained for real."""
    root = tmp_path_factory.mktemp("results")
    # One intra-op thread: models this small gain nothing from more, and on a shared 2-core
    # machine spinning OpenMP workers made these 20-step runs 20x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, text in (("tiny2d.yaml", TINY_2D), ("tinyimg.yaml", TINY_IMAGES)):
            (root / name).write_text(text)
            r = CliRunner().invoke(main, ["run", str(root / name), "--results", str(root / "results"), "--device", "cpu"])
            assert r.exit_code == 0, r.output
    finally:
        torch.set_num_threads(threads)
    return root / "results"


def load_page(browser: Browser, path: Path, screenshot: Path | None = None) -> dict:
    """Open `path`; return what a reader sees: console errors, cell rows, image widths, requests."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    browser.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
    browser.wait_event("Page.loadEventFired")
    seen = browser.send(
        "Runtime.evaluate",
        {
            "expression": "Promise.allSettled([...document.images].map(i => i.decode())).then(() => JSON.stringify({"
            "rows: document.querySelectorAll('#cells tbody tr').length,"
            "widths: [...document.images].map(i => i.naturalWidth)}))",
            "awaitPromise": True,
            "returnByValue": True,
        },
        session=session,
    )
    seen = json.loads(seen["result"]["value"])
    errors = []
    for e in browser.events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.exceptionThrown":
            errors.append(p["exceptionDetails"].get("text", "exception"))
        elif e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            errors.append(str(p.get("args")))
        elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
            errors.append(p["entry"]["text"])
    requests = [e["params"]["request"]["url"][:40] for e in browser.events if e.get("method") == "Network.requestWillBeSent"]
    seen["errors"], seen["external"] = errors, [u for u in requests if not u.startswith(("file:", "data:"))]
    if screenshot:
        size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
        shot = browser.send(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
            },
            session=session,
        )
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    browser.events.clear()
    browser.send("Target.closeTarget", {"targetId": target})
    return seen


@pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed (Debian package `chromium`)")
def test_html_page_in_headless_chromium(runs, tmp_path):
    out = tmp_path / "report.html"
    r = CliRunner().invoke(main, ["report", str(runs / "tiny2d"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "latent traversal" in html and "over the true mode centres" in html and "D accuracy" in html

    browser = Browser(find_chromium(), tempfile.mkdtemp(dir=tmp_path))
    try:
        shot = tmp_path / "report-screenshot.png"
        seen = load_page(browser, out, shot)
        print(f"\nscreenshot of the report page: {shot}")
        # The check can fail: a page with a script error and a broken image is caught.
        bad = tmp_path / "bad.html"
        bad.write_text(
            '<table id="cells"><tbody><tr><td>1</td></tr></tbody></table>'
            '<img src="data:image/png;base64,AAAA"><script>throw new Error("boom")</script>'
        )
        broken = load_page(browser, bad)
    finally:
        browser.close()
    assert seen["errors"] == [], seen["errors"]
    assert seen["external"] == []
    assert seen["rows"] == 2  # vanilla and lsgan
    assert len(seen["widths"]) >= 4 and all(w > 0 for w in seen["widths"]), seen["widths"]
    width, height = Image.open(shot).size
    assert width > 300 and height > 1000  # the whole page, plots included
    assert broken["errors"] and broken["widths"] == [0] and broken["rows"] == 1


def test_traverse_image_grid(runs, tmp_path):
    run_dir = next((runs / "tinyimg").glob("[!.]*"))
    out = tmp_path / "t.png"
    r = CliRunner().invoke(main, ["traverse", str(run_dir), "--axes", "0,3", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "z[0] down, z[3] across" in r.output
    img = Image.open(out).convert("L")
    assert img.size == (10 * (8 + 2) + 2, 10 * (8 + 2) + 2)  # 10x10 digits of 8x8, 2 px padding
    # Walking an axis changes the samples: the first and last rows differ.
    top = img.crop((2, 2, 102, 10)).tobytes()
    bottom = img.crop((2, 92, 102, 100)).tobytes()
    assert top != bottom


def test_traverse_points_and_bad_input(runs, tmp_path):
    run_dir = next((runs / "tiny2d").glob("[!.]*"))
    out = tmp_path / "p.png"
    r = CliRunner().invoke(main, ["traverse", str(run_dir), "-o", str(out)])
    assert r.exit_code == 0 and Image.open(out).size[0] > 100
    for args, message in (
        ([str(tmp_path)], "not a run folder"),
        ([str(run_dir), "--axes", "1,1"], "two different latent indices"),
        ([str(run_dir), "--axes", "0,x"], "expected two latent indices"),
    ):
        r = CliRunner().invoke(main, ["traverse", *args, "-o", str(out)])
        assert r.exit_code == 2 and r.output.startswith("error: ") and message in r.output, r.output
    # A corrupt G.pt, in a copy: the module's runs are shared with the other tests and stay intact.
    broken = Path(shutil.copytree(run_dir, tmp_path / "broken" / run_dir.name))
    (broken / "G.pt").write_bytes(b"not a checkpoint")
    r = CliRunner().invoke(main, ["traverse", str(broken), "-o", str(out)])
    assert r.exit_code == 2 and "G.pt" in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert torch.load(run_dir / "G.pt", weights_only=True)  # the shared run's weights are untouched
