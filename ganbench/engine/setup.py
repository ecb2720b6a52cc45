"""Setting up one run for the loop: models on the device, speed settings, data order,
optimizers and schedulers, D pretraining or the checkpoint to resume from, freezing,
callbacks. What it returns is an ``engine.run.Run`` whose state is ready for its next step.
"""

from __future__ import annotations

import torch

from .. import checkpoint
from ..callbacks import Loop
from ..optimizers import build_optimizer, implementation
from ..speed import set_tf32, to_channels_last, use_channels_last
from . import graphs
from .batches import Batches
from .conditional import ConditionalPair, FakeLabels, LabelledBatches
from .pretrain import pretrain_discriminator
from .rng import GlobalStreams, set_global_state
from .run import GRID_SAMPLES, Run, RunSpec
from .state import Clock, RunState
from .step import Pair


def prepare(spec: RunSpec, data, x_train: torch.Tensor, device: torch.device, plan, packed: bool = False) -> Run:
    """spec's run, set up on `device` to train on x_train (data.train already there).

    packed: the run will be one seed of a pack (engine.packed), whose stacked tensors keep
    the default memory layout (channels_last is for 4-D tensors)."""
    cfg, callbacks = spec.cfg, list(spec.callbacks)
    if spec.rng is not None:  # the stream it starts from, as its unpacked run would have it
        set_global_state(spec.rng, device)
    G, D = spec.models.generator.to(device), spec.models.discriminator.to(device)
    # ---- speed settings (ganbench.speed): how the recipe executes, not what it computes
    speed = {"tf32": cfg.get("tf32", "off"), **set_tf32(cfg.get("tf32", "off"))}
    speed["channels_last"] = not packed and use_channels_last(cfg.get("channels_last", "auto"), device, G, D, x_train.dim() == 4)
    speed["pack"] = 1  # seeds trained at once in this process (engine.packed); set by the pack
    if speed["channels_last"]:
        to_channels_last(G, D)  # before the optimizers and callbacks see the parameters
    batches = Batches(x_train, cfg["batch_size"], cfg["seed"], speed["channels_last"])
    fixed_z = torch.randn(GRID_SAMPLES, cfg["z_dim"], generator=torch.Generator().manual_seed(cfg["seed"])).to(device)

    lr_g, fused = cfg["optimizer"]["lr"], cfg.get("fused_optimizers", "auto")
    speed["optimizer_g"] = implementation(cfg["optimizer"], G.parameters(), device, fused)
    capturable = graphs.wanted(cfg.get("cuda_graphs", "auto"), device)
    opt_g = build_optimizer(G.parameters(), cfg["optimizer"], lr_g, speed["optimizer_g"], capturable)
    streams = GlobalStreams(device)
    augment = spec.augment.to(device) if spec.augment is not None else None
    if spec.models.conditional:  # G(z, y), D(x, y): real batches with their labels, fakes drawn for labels
        labels = data.train_labels.to(device)
        fake_labels = FakeLabels(cfg.get("fake_labels", "data"), labels, data.num_classes, streams)
        pair = ConditionalPair(G, D, spec.loss, streams, cfg["batch_size"], cfg["z_dim"], fake_labels, spec.models.aux_weight, augment)
        real = LabelledBatches(batches, labels).__next__
    else:
        pair, real = Pair(G, D, spec.loss, streams, cfg["batch_size"], cfg["z_dim"], augment), batches.__next__
    clock = Clock()  # the run's wall time includes D pretraining
    saved = checkpoint.load(spec.out_dir, device) if spec.resume else None
    d_pretrain_s = 0.0 if saved else pretrain_discriminator(cfg, D, G, spec.loss, data, batches, device, spec.donor, pair, real)

    # Freezing: `all` skips D's updates entirely, `trunk` trains only D's last layer.
    # Frozen parts run in eval mode, so their BatchNorm statistics stay fixed too.
    freeze = cfg["freeze_d"]
    d_params = [] if freeze == "all" else (list(D.head.parameters()) if freeze == "trunk" else list(D.parameters()))
    for p in D.parameters():
        p.requires_grad_(False)
    speed["optimizer_d"] = implementation(cfg["optimizer"], d_params, device, fused) if d_params else None
    opt_d = build_optimizer(d_params, cfg["optimizer"], lr_g * cfg["lr_ratio"], speed["optimizer_d"], capturable) if d_params else None
    sched = [torch.optim.lr_scheduler.ExponentialLR(o, cfg["lr_decay"]) for o in (opt_g, opt_d) if o]
    D.train(freeze == "none")
    if freeze == "trunk":
        D.head.train()
    G.train()

    loop = Loop(G, D, opt_g, opt_d, cfg, device)
    for cb in callbacks:
        cb.setup(loop)
    # The generator that is evaluated, drawn in grids and kept as best: G, or e.g. its EMA.
    G_scored = next((g for g in (cb.generator(loop) for cb in callbacks) if g is not None), G)
    parts = {
        "G": G,
        "D": D,
        "opt_g": opt_g,
        "opt_d": opt_d,
        "sched": sched,
        "batches": batches,
        "loss": spec.loss if hasattr(spec.loss, "state_dict") and hasattr(spec.loss, "load_state_dict") else None,
        "evaluator": spec.evaluate if hasattr(spec.evaluate, "state_dict") and hasattr(spec.evaluate, "load_state_dict") else None,
        "callbacks": callbacks,
        "augment": augment if augment is not None and hasattr(augment, "state_dict") else None,
        "rng": streams,
    }
    state = RunState(parts, clock, d_pretrain_s=d_pretrain_s)
    if saved:  # ---- resume: every piece of state the loop reads, as it was at the checkpoint
        state.load_state_dict(saved)
        for logger in spec.loggers:
            logger.resumed(state.history)
    run = Run(spec, state, plan, loop, G_scored, fixed_z, speed)
    run.d_params, run.batches, run.sched, run.pair, run.real = d_params, batches, sched, pair, real
    return run
