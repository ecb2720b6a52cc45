"""cuda_graphs (ganbench.engine.graphs): what can run here is that the graph's static real
batches are the batches the eager step takes, for every kind of step (n_disc, a frozen D), and that a run says why it cannot be graphed. The capture itself needs
a GPU: the CUDA test compares a graphed run with the eager one (benchmarks/gpu_check.sh
runs it)."""

from __future__ import annotations

import engine_pins as pins
import pytest
import torch

from ganbench.build import Builder, seed_everything
from ganbench.callbacks import Callback, make_callbacks
from ganbench.config import resolve
from ganbench.engine import RunSpec, graphs, train_spec
from ganbench.engine.loop import Plan, drive, plain_step
from ganbench.engine.rng import global_state
from ganbench.engine.setup import prepare

CPU = torch.device("cpu")


def _spec(layer: dict, tmp_path, device=CPU):
    registry, name = pins.registry_and_data()
    cfg = resolve([("test", {"dataset": name, **pins.BASE, "steps": 12, **layer})], registry)
    builder = Builder(registry)
    data = builder.data(cfg["dataset"])
    seed_everything(cfg["seed"])
    models = builder.models(cfg, data)
    (tmp_path / "grids").mkdir(parents=True, exist_ok=True)
    callbacks = make_callbacks(cfg["callbacks"], registry)
    return RunSpec(cfg, models, builder.loss(cfg), tmp_path, callbacks=callbacks, rng=global_state(device)), data


@pytest.mark.parametrize("layer", [{}, {"n_disc": 3, "loss": "hinge"}, {"freeze_d": "all"}])
def test_static_real_batches_are_the_eager_steps_batches(layer, tmp_path):
    spec, data = _spec(layer, tmp_path / "eager")
    want = train_spec(spec, data, CPU)

    spec, data = _spec(layer, tmp_path / "static")
    plan = Plan.of(spec.cfg, data, False)
    run = prepare(spec, data, data.train, CPU, plan)
    step = plain_step(run, CPU)
    calls = step.n_disc + (1 if step.g_needs_real else 0) + (0 if step.n_disc else 1)
    static = graphs.StaticReal(run.batches, calls)
    step.real = static
    eager_call = step.__call__

    class Filled:  # what GraphedStep does before each replay, without the graph
        def __init__(self):
            self.pair, self.timer, self.keep = step.pair, step.timer, step.keep

        def __call__(self, i):
            static.fill()
            out = eager_call(i)
            assert static.i == calls  # the step took exactly the batches that were filled
            return out

    drive([run], Filled(), plan, run.sched, CPU)
    got = run.result
    assert [r["d_loss"] for r in got.history] == [r["d_loss"] for r in want.history]
    assert [r["g_loss"] for r in got.history] == [r["g_loss"] for r in want.history]


def test_a_run_that_cannot_be_graphed_says_why(tmp_path):
    spec, data = _spec({}, tmp_path)

    class Plain(Callback):
        pass

    step_cfg = {**spec.cfg, "precision": "fp16"}
    assert "fp16" in graphs.unsupported(step_cfg, [], object(), [])
    assert "graph_safe_after" in graphs.unsupported(spec.cfg, [Plain()], object(), [])
    sgd = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    adam = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=0.1)
    assert graphs.unsupported(spec.cfg, [], object(), [sgd, None]) is None  # SGD keeps no step count
    assert "capturable" in graphs.unsupported(spec.cfg, [], object(), [adam])
    assert not graphs.wanted("auto", torch.device("cuda")) and not graphs.wanted(True, CPU)
    result = train_spec(_spec({"cuda_graphs": True}, tmp_path / "cpu")[0], data, CPU)
    assert result.speed["cuda_graphs"] is False  # no CUDA here: eager


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: CUDA graphs need one")
@pytest.mark.parametrize("layer", [{}, {"callbacks": [{"name": "ema", "decay": 0.9}], "lr_decay": 0.5, "steps": 40}])
def test_a_graphed_run_gives_the_eager_numbers(layer, tmp_path):
    cuda = torch.device("cuda")
    spec, data = _spec({"cuda_graphs": False, **layer}, tmp_path / "eager", cuda)
    want = train_spec(spec, data, cuda)
    spec, data = _spec({"cuda_graphs": True, **layer}, tmp_path / "graphed", cuda)
    got = train_spec(spec, data, cuda)
    assert got.speed["cuda_graphs"] is True and want.speed["cuda_graphs"] is False
    for key in ("d_loss", "g_loss", "lr_g"):
        assert [r[key] for r in got.history] == pytest.approx([r[key] for r in want.history], rel=1e-3, abs=1e-4), key
