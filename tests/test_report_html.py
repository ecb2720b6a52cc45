"""The HTML page as a reader sees it (headless Chromium), and `ganbench traverse`, on real runs."""

import base64
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from cdp_pipe import Browser, find_chromium
from click.testing import CliRunner
from matplotlib.collections import PathCollection
from PIL import Image

from ganbench.cli import main
from ganbench.report import build_report, plots
from ganbench.report.html import page as html_page

VIEWPORT = 1000  # px: a laptop window; the page must not scroll sideways at this width

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

# A numeric axis (batch_size) for the metric-vs-axis plot, and grids every 2 steps for the
# strip of samples over training (8 steps: 4 grids, one strip of 4 per cell).
TINY_IMAGES = """
name: tinyimg
base:
  dataset: digits
  architecture: {name: mlp, g_hidden: [32], d_hidden: [32]}
  z_dim: 8
  steps: 8
  log_every: 4 steps
  grid_every: 2 steps
  eval: {every: 4 steps, samples: 200}
matrix:
  batch_size: [16, 32]
seeds: 2
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Four ring8 runs (2 losses x 2 seeds) and four digits runs (2 batch sizes x 2 seeds), trained for real."""
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
    """Open `path` in a 1,000 px wide window; return what a reader sees: console errors, cell
    rows, image widths, requests, and the page's width against the window's."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session=session)
    viewport = {"width": VIEWPORT, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    browser.send("Emulation.setDeviceMetricsOverride", viewport, session=session)
    browser.send("Page.navigate", {"url": path.resolve().as_uri()}, session=session)
    browser.wait_event("Page.loadEventFired")
    seen = browser.send(
        "Runtime.evaluate",
        {
            "expression": "Promise.allSettled([...document.images].map(i => i.decode())).then(() => JSON.stringify({"
            "rows: document.querySelectorAll('#cells tbody tr').length,"
            "scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,"
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
def test_html_page_in_headless_chromium(runs, figures, tmp_path):
    out = tmp_path / "report.html"
    r = CliRunner().invoke(main, ["report", str(runs / "tiny2d"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    html = out.read_text()
    assert "latent traversal" in html and "over the true mode centres" in html and "D accuracy" in html
    images = figures["page"]  # sample strips, a metric-vs-axis plot, image traversals
    assert "sample grids over training" in images.read_text() and "final metrics vs batch_size" in images.read_text()

    browser = Browser(find_chromium(), tempfile.mkdtemp(dir=tmp_path))
    try:
        shot = tmp_path / "report-screenshot.png"
        seen = load_page(browser, out, shot)
        print(f"\nscreenshot of the report page: {shot}")
        seen_images = load_page(browser, images)
        # The checks can fail: a page with a script error, a broken image and a table wider
        # than the window is caught.
        bad = tmp_path / "bad.html"
        bad.write_text(
            '<table id="cells"><tbody><tr><td>1</td><td style="min-width:1500px">wide</td></tr></tbody></table>'
            '<img src="data:image/png;base64,AAAA"><script>throw new Error("boom")</script>'
        )
        broken = load_page(browser, bad)
    finally:
        browser.close()
    for page, cells in ((seen, 2), (seen_images, 2)):  # vanilla and lsgan; batch sizes 16 and 32
        assert page["errors"] == [], page["errors"]
        assert page["external"] == []
        assert page["rows"] == cells
        assert len(page["widths"]) >= 4 and all(w > 0 for w in page["widths"]), page["widths"]
        # No horizontal scrolling at 1,000 px: wide tables scroll in their own box, plots shrink.
        assert page["innerWidth"] == VIEWPORT and page["scrollWidth"] <= page["innerWidth"], page
    width, height = Image.open(shot).size
    assert VIEWPORT - 20 <= width <= VIEWPORT and height > 1000  # the whole page (less a scrollbar), plots included
    assert broken["errors"] and broken["widths"] == [0] and broken["rows"] == 1
    assert broken["scrollWidth"] > broken["innerWidth"]


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


def _lines(ax, width: float) -> list:
    return [line for line in ax.get_lines() if line.get_linewidth() == width and line.get_linestyle() != ":"]


@pytest.fixture(scope="module")
def figures(runs, tmp_path_factory):
    """Every figure the report makes of both suites, as a reader gets it: {(suite, caption):
    pairs of overlapping boxes}, the figures the tests inspect (open), and the image suite's
    HTML page made of them (one rendering of the figures for both tests)."""
    kept = ("fid_domain vs", "kid_domain vs", "D accuracy", "D and G", "final metrics vs", "sample grids over", "latent traversal")
    out: dict = {"overlaps": {}, "made": {}, "warnings": []}
    for suite in ("tiny2d", "tinyimg"):
        report = build_report(runs / suite)
        pngs = {}
        for caption, fig in plots.figures(report, warnings=out["warnings"]):
            out["overlaps"][suite, caption] = plots.overlaps(fig)
            pngs[caption] = plots.figure_png(fig, close=not caption.startswith(kept))
            if caption.startswith(kept):
                out["made"][suite, caption] = fig
    out["page"] = tmp_path_factory.mktemp("page") / "images.html"
    out["page"].write_text(html_page(report, pngs, out["warnings"]))  # the last suite: tinyimg
    yield out
    for fig in out["made"].values():
        plots.plt.close(fig)


def test_every_report_figure_is_legible(figures):
    """The figures the report makes of the real runs: no title, label or legend over another
    or over a plot; per-seed lines under the mean; bands in the metric's range; log FID/KID;
    the metric against the numeric axis; the samples over training; traversals not thumbnails."""
    assert len(figures["overlaps"]) >= 20 and figures["warnings"] == []
    for key, pairs in figures["overlaps"].items():
        assert pairs == [], (key, pairs)
    made = figures["made"]
    # Each cell: its two complete seeds thin, their mean bold.
    step_ax = made["tinyimg", "fid_domain vs step and wall time"].axes[0]
    assert len(_lines(step_ax, plots.SEED_STYLE["lw"])) == 4 and len(_lines(step_ax, plots.MEAN_STYLE["lw"])) == 2
    for key in (("tinyimg", "fid_domain vs step and wall time"), ("tinyimg", "kid_domain vs step and wall time")):
        ax = made[key].axes[0]
        assert ax.get_yscale() in ("log", "symlog") and "log" in ax.get_ylabel()
    # D's accuracies are fractions: every band stays within [0, 1] (LSGAN's d_acc_fake
    # mean + std reaches 1.01 on these runs); vanilla's and LSGAN's losses (cross-entropies,
    # squares) within [0, inf).
    for caption, high in (("D accuracy on real and on fake samples", 1), ("D and G losses", np.inf)):
        for ax in made["tiny2d", caption].axes:
            for band in ax.collections:
                ys = np.concatenate([p.vertices[:, 1] for p in band.get_paths()])
                assert ys.min() >= 0 and ys.max() <= high, caption
    # batch_size is a number: the final metrics are plotted against it, every seed a dot.
    fig = made["tinyimg", "final metrics vs batch_size"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["16", "32"]
    dots = np.concatenate([c.get_offsets()[:, 0] for c in fig.axes[0].collections if isinstance(c, PathCollection)])
    assert sorted(dots) == [16, 16, 32, 32]
    # A strip per cell: the grids saved every 2 steps, in training order.
    fig = made["tinyimg", "sample grids over training, one seed per cell"]
    rows = [[ax for ax in fig.axes if ax.images and ax.get_subplotspec().rowspan.start == r] for r in range(2)]
    for row in rows:
        assert [int(ax.get_title().split()[1]) for ax in row] == [2, 4, 6, 8]
        assert "batch_size=" in row[0].get_ylabel() and "(seed " in row[0].get_ylabel()  # the cell names its row
    # Traversals shown at 4.5 inches or more, image rows and columns labelled by latent value.
    for suite in ("tiny2d", "tinyimg"):
        fig = made[suite, "latent traversal (10x10), one seed per cell"]
        assert all(ax.images[0].get_window_extent().width / fig.dpi >= 4 for ax in fig.axes if ax.images)
    trav = made["tinyimg", "latent traversal (10x10), one seed per cell"].axes[0]
    assert "(rows)" in trav.get_ylabel() and trav.get_xticklabels()[0].get_text() == "-2.5"
    # The check can fail: two stacked plots without a layout engine, a legend over the data.
    fig = plots.plt.figure(figsize=(3, 2.5))
    top, bottom = fig.subplots(2, 1)
    top.plot([0, 1], [0, 1], label="a curve"), bottom.plot([0, 1], [1, 0])
    top.set_xlabel("step"), bottom.set_title("a title"), top.legend(loc="center")
    bad = plots.overlaps(fig)
    plots.plt.close(fig)
    assert ("axes 0", "axes 0 legend") in bad and ("axes 0", "axes 1 title") in bad, bad
