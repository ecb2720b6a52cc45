"""Runs you can watch and survive: streamed history, status, loggers, checkpoints, resume, eval."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import ganbench
from rich.console import Console

from ganbench.runner import run_suite
from ganbench.status import collect
from ganbench.suite import load_suite

TIMING = {"train_img_per_s", "train_s", "wall_s", "d_pretrain_s", "d_step_ms", "g_step_ms", "peak_mem_mb", "eval_s"}
HISTORY_TIMING = ["wall_s", "train_s", "eval_s"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "GANBENCH_PROGRESS_EVERY": "3600"}


def cli(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ganbench.cli", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


def wait_for(predicate, timeout=120, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def only_run(suite_dir: Path) -> Path:
    (run_dir,) = suite_dir.glob("[!.]*")
    return run_dir


def test_history_streams_while_the_run_trains_and_status_shows_it(tmp_path, write_suite):
    path = write_suite(base={"steps": 100000, "log_every": "5 steps"})
    results = tmp_path / "results"
    proc = cli("run", path, "--results", results, "--threads", "1")
    try:
        history = wait_for(lambda: next((results / "tiny").glob(".*.tmp-*/history.csv"), None), what="a streamed history")
        wait_for(lambda: len(pd.read_csv(history)) >= 3, what="3 history rows")
        rows = pd.read_csv(history)
        assert proc.poll() is None  # read from this process while the run is still training
        assert list(rows["step"][:3]) == [5, 10, 15] and rows["d_loss"].notna().all()
        (state,) = collect(results)
        assert state.state == "running" and state.step >= 15 and state.d_loss is not None and state.last_write_s < 60
        out = ganbench("status", results)
        assert out.returncode == 0 and "running" in out.stdout and state.run_id in out.stdout
    finally:
        proc.kill()
        proc.wait()
    (state,) = collect(results)  # its process is gone: the status says so
    assert state.state == "killed"


def test_tensorboard_logger_writes_readable_events(tmp_path, registry, write_suite):
    pytest.importorskip("tensorboard", reason="the tensorboard logger needs `pip install 'ganbench[tensorboard]'`")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    path = write_suite(loggers=["tensorboard"])
    suite = load_suite(path, registry)
    outcome = run_suite(suite, registry, tmp_path / "r", "cpu", console=Console(quiet=True))
    assert outcome.counts == {"complete": 1}
    run_dir = only_run(tmp_path / "r" / "tiny")
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    history = pd.read_csv(run_dir / "history.csv")
    scalars = events.Scalars("d_loss")
    assert [e.step for e in scalars] == list(history["step"])
    assert [e.value for e in scalars] == pytest.approx(list(history["d_loss"]))
    assert [e.step for e in events.Images("samples")] == [3, 6]  # grid_every: 3 steps
    assert "config/text_summary" in events.Tags()["tensors"]


def test_an_unknown_logger_is_refused_up_front(tmp_path, write_suite):
    out = ganbench("run", write_suite(), "--results", tmp_path / "r", "--logger", "wandb-typo")
    assert out.returncode == 2 and "unknown logger 'wandb-typo'" in out.stderr
    assert not (tmp_path / "r").exists()


RESUMABLE = {
    "steps": 600,
    "log_every": "10 steps",
    "grid_every": "200 steps",
    "checkpoint_every": "50 steps",
    "eval": {"every": "300 steps", "samples": 200, "curve_samples": 100},
    "keep_best": "fid_domain",
}


def test_killed_at_a_checkpoint_and_resumed_ends_bitwise_as_uninterrupted(tmp_path, write_suite):
    path = write_suite(base=RESUMABLE)
    killed = cli("run", path, "--results", tmp_path / "killed", "--threads", "1")
    meta = wait_for(lambda: next((tmp_path / "killed" / "tiny").glob(".*.tmp-*/checkpoint.json"), None), what="a checkpoint")
    wait_for(lambda: json.loads(meta.read_text())["step"] >= 200, what="the checkpoint at step 200")
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert ganbench("run", path, "--results", tmp_path / "whole", "--threads", "1").returncode == 0  # uninterrupted

    out = ganbench("run", path, "--results", tmp_path / "killed", "--threads", "1")
    assert out.returncode == 0, out.stderr
    assert "resuming from its checkpoint at step" in out.stderr
    a, b = only_run(tmp_path / "whole" / "tiny"), only_run(tmp_path / "killed" / "tiny")
    ra, rb = (json.loads((d / "run.json").read_text()) for d in (a, b))
    assert rb["resumed_from_step"] >= 200 and "resumed_from_step" not in ra
    assert {k: v for k, v in ra["metrics"].items() if k not in TIMING} == {k: v for k, v in rb["metrics"].items() if k not in TIMING}
    pd.testing.assert_frame_equal(
        pd.read_csv(a / "history.csv").drop(columns=HISTORY_TIMING), pd.read_csv(b / "history.csv").drop(columns=HISTORY_TIMING)
    )
    for name in ("G.pt", "D.pt"):
        sa, sb = torch.load(a / name), torch.load(b / name)
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert ra["best"] == rb["best"] and ra["best"]["metric"] == "fid_domain" and (b / "best.pt").is_file()
    assert not (b / "checkpoint.pt").exists()  # a finished run keeps its weights, not its resume state
    assert (a / "grids" / "step_0000400.png").read_bytes() == (b / "grids" / "step_0000400.png").read_bytes()


class _Planted:
    """What an attacker pickles: unpickling it runs a command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _left_by_a_killed_run(tmp_path, write_suite, content: bytes | None = None):
    """A suite whose only run was 'killed' with a checkpoint in its temporary folder."""
    path = write_suite(base={"steps": 20, "checkpoint_every": "5 steps", "log_every": "5 steps"})
    out = ganbench("run", path, "--results", tmp_path / "r", "--threads", "1")
    assert out.returncode == 0
    run_dir = only_run(tmp_path / "r" / "tiny")
    tmp = run_dir.with_name(f".{run_dir.name}.tmp-elsewhere-1-dead")
    tmp.mkdir()
    (tmp / "grids").mkdir()
    (tmp / "checkpoint.json").write_text(json.dumps({"step": 10}))
    (tmp / "checkpoint.pt").write_bytes(content)
    import shutil

    shutil.rmtree(run_dir)  # the run never finished: only the killed attempt's folder is left
    return path, tmp


def _set_aside(tmp_path) -> list[Path]:
    return sorted((tmp_path / "r" / "tiny" / ".damaged").glob("*/checkpoint.pt"))


def test_a_planted_pickle_in_a_checkpoint_never_runs_and_is_moved_aside(tmp_path, write_suite):
    # it once failed its run on every plain `ganbench run`, advising --rerun (every finished run)
    marker = tmp_path / "pwned"
    path, tmp = _left_by_a_killed_run(tmp_path, write_suite, pickle.dumps(_Planted(marker)))
    out = ganbench("run", path, "--results", tmp_path / "r")
    assert out.returncode == 0 and not marker.exists(), out.stderr
    said = " ".join(out.stderr.split())  # the progress console wraps at 80 columns
    assert "its checkpoint cannot be resumed from (checkpoint.pt is not a torch archive" in said
    assert "for inspection; training it from the start" in said and "Detected pickle protocol" not in said
    assert json.loads((only_run(tmp_path / "r" / "tiny") / "run.json").read_text())["status"] == "complete"
    (kept,) = _set_aside(tmp_path)
    assert kept.read_bytes() == pickle.dumps(_Planted(marker)) and "torch archive" in (kept.parent / "why.txt").read_text()


def test_a_weights_file_that_needs_code_to_load_is_refused_without_advising_to_turn_safety_off(tmp_path):
    """torch's refusal advises retrying with weights_only=False, which would run the pickle's
    code: ganbench says the file is not weights it can load safely, and nothing more."""
    from ganbench import checkpoint
    from ganbench.store import WeightsError, load_weights

    marker = tmp_path / "pwned"
    torch.save({"G": _Planted(marker)}, tmp_path / "G.pt")  # a real torch archive, with a GLOBAL inside
    torch.save({"format": checkpoint.FORMAT, "step": 1, "G": _Planted(marker)}, tmp_path / "checkpoint.pt")
    with pytest.raises(WeightsError) as weights:
        load_weights(tmp_path / "G.pt")
    with pytest.raises(checkpoint.CheckpointError) as resumed:
        checkpoint.load(tmp_path, torch.device("cpu"))
    for message in (str(weights.value), str(resumed.value)):
        assert "weights_only" not in message and "False" not in message and "\n" not in message, message
        assert "(it needs posix.system, which only running code could rebuild, and ganbench never runs code from a file)" in message, (
            message
        )
    assert "G.pt: not a weights file ganbench can load safely" in str(weights.value)
    assert not marker.exists()


def test_a_refusal_naming_no_global_is_still_worded_without_torchs_advice():
    """torch's message may name no GLOBAL (another pickle opcode, another torch version):
    ganbench's wording still never passes on the advice to load with weights_only=False."""
    from ganbench.store import load_refusal

    torch_says = pickle.UnpicklingError(
        "Weights only load failed. In PyTorch 2.6, we changed the default value of the `weights_only` argument in "
        "`torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely "
        "succeed, but it can result in arbitrary code execution.\nPlease file an issue with the following so that "
        "we can make `weights_only=True` compatible with your use case: WeightsUnpickler error: Unsupported operand 149"
    )
    said = load_refusal(torch_says)
    assert said == "it holds more than tensors and plain data, and ganbench never runs code from a file", said
    assert load_refusal(EOFError("Ran out of input")) == "Ran out of input"  # not a refusal: torch's own words


def test_a_truncated_checkpoint_is_moved_aside_and_the_run_starts_over(tmp_path, write_suite):
    buffer = __import__("io").BytesIO()
    torch.save({"format": 1, "step": 10, "G": torch.zeros(1000)}, buffer)
    path, tmp = _left_by_a_killed_run(tmp_path, write_suite, buffer.getvalue()[:300])
    out = ganbench("run", path, "--results", tmp_path / "r")
    assert out.returncode == 0 and "its checkpoint cannot be resumed from" in " ".join(out.stderr.split()), out.stderr
    assert json.loads((only_run(tmp_path / "r" / "tiny") / "run.json").read_text())["status"] == "complete"
    assert len(_set_aside(tmp_path)) == 1


def test_eval_reproduces_the_final_metrics_and_keeps_earlier_protocols(tmp_path, registry, write_suite):
    path = write_suite(base={"steps": 20, "eval": {"every": "20 steps", "samples": 300}})
    run_suite(load_suite(path, registry), registry, tmp_path / "r", "cpu", console=Console(quiet=True))
    run_dir = only_run(tmp_path / "r" / "tiny")
    before = json.loads((run_dir / "run.json").read_text())

    out = ganbench("eval", run_dir)
    assert out.returncode == 0 and "unchanged" in out.stderr, out.stderr
    same = json.loads((run_dir / "run.json").read_text())
    assert same["metrics"] == before["metrics"] and same["protocol"] == before["protocol"] and "earlier" not in same

    out = ganbench("eval", run_dir, "--samples", "500")
    assert out.returncode == 0 and "changed" in out.stderr
    after = json.loads((run_dir / "run.json").read_text())
    assert after["protocol"]["samples"] == 500
    (earlier,) = after["earlier"]
    assert earlier["protocol"] == before["protocol"] and earlier["metrics"]["fid_domain"] == before["metrics"]["fid_domain"]
    assert after["metrics"]["fid_domain"] != before["metrics"]["fid_domain"]
    assert after["metrics"]["train_img_per_s"] == before["metrics"]["train_img_per_s"]  # not a sample metric: kept


def test_eval_of_real_test_images_is_near_the_floor(tmp_path):
    from PIL import Image

    from ganbench.builtin.datasets import digits

    data = digits()
    folder = tmp_path / "real"
    folder.mkdir()
    for i, img in enumerate(data.test):  # (1, 8, 8) uint8
        Image.fromarray(img[0].numpy()).save(folder / f"{i:04d}.png")
    out = ganbench("eval", "--images", folder, "--dataset", "digits")
    assert out.returncode == 0, out.stderr
    scores = json.loads(out.stdout)
    assert scores["images"] == len(data.test)
    assert abs(scores["metrics"]["fid_domain"]) < 1e-3  # the same images as the real split
    assert scores["metrics"]["modes_covered"] == 10


def test_eval_of_a_committed_run_without_weights_says_how_to_recreate_them(tmp_path):
    run_dir = tmp_path / "s" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / "run.json").write_text(json.dumps({"id": "r", "status": "complete", "config": {}, "metrics": {}}))
    out = ganbench("eval", run_dir)
    assert out.returncode == 1
    (line,) = out.stderr.strip().splitlines()
    assert "no G.pt" in line and "--rerun" in line


def test_checkpointing_and_inception_require_are_settings_not_identity(tmp_path, registry, write_suite):
    plain = load_suite(write_suite(), registry).runs[0]
    tuned = load_suite(write_suite(base={"checkpoint_every": "5 steps", "keep_best": "fid_domain"}), registry).runs[0]
    assert tuned.config["checkpoint_every"] == "5 steps" and tuned.config["keep_best"] == "fid_domain:lower"
    assert tuned.id == plain.id  # when to checkpoint changes no number: a finished run keeps its id
    on = load_suite(write_suite(base={"eval": {"every": "none", "inception": "on"}}), registry).runs[0]
    require = load_suite(write_suite(base={"eval": {"every": "none", "inception": "require"}}), registry).runs[0]
    assert require.config["eval"]["inception"] == "on" and require.id == on.id


def test_a_default_added_in_an_upgrade_keeps_finished_runs_ids(tmp_path, registry, write_suite):
    """eval.g_mode was added after run ids were published: holding its old behaviour (eval),
    it is left out of the id, so a run finished before the upgrade keeps its id."""
    import copy

    from ganbench import config
    from ganbench.suite import run_id

    upgraded = load_suite(write_suite(), registry).runs[0]
    assert upgraded.config["eval"]["g_mode"] == "eval" and config.ADDED_DEFAULTS["eval.g_mode"] == "eval"
    before = copy.deepcopy(upgraded.config)
    del before["eval"]["g_mode"]  # the config as the version without the option resolved it
    assert run_id(before, upgraded.cell) == upgraded.id
    changed = load_suite(write_suite(base={"eval": {"every": "none", "samples": 100, "g_mode": "train"}}), registry).runs[0]
    assert changed.id != upgraded.id  # a value other than the old behaviour is a different run


def test_sigterm_keeps_a_checkpointed_run_resumable(tmp_path, write_suite):
    path = write_suite(base={"steps": 400, "log_every": "10 steps", "checkpoint_every": "20 steps", "grid_every": "none"})
    proc = cli("run", path, "--results", tmp_path / "r", "--threads", "1")
    wait_for(lambda: next((tmp_path / "r" / "tiny").glob(".*.tmp-*/checkpoint.json"), None), what="a checkpoint")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "from their checkpoints" in err
    assert list((tmp_path / "r" / "tiny").glob(".*.tmp-*/checkpoint.pt"))  # kept, not discarded
    out = ganbench("run", path, "--results", tmp_path / "r", "--threads", "1")
    assert out.returncode == 0 and "resuming from its checkpoint" in out.stderr
