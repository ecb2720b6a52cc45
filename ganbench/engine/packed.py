"""Packed seeds: K runs of one cell that differ only in their seed, trained as one model.

A small GAN keeps a GPU a few percent busy and every one of its kernels is launch-bound, so
K seeds trained one after another (or in K processes, each with its own CUDA context) cost
nearly K times one seed. Packed, each parameter and buffer of the K models is one stacked
tensor (K, *shape) and a forward is one ``torch.func.vmap`` over ``functional_call``:
convolutions become grouped convolutions, linear layers batched matmuls, BatchNorm one
kernel over the K x C channels, and the step launches about as many kernels for K seeds as
for one. vmap rather than hand-written grouped modules because it packs any plugin model
whose forward is a pure function of its parameters, buffers and input (see ``unpackable``).

Each seed keeps everything its unpacked run has: its initialisation (built from its own
seed), its data order (its own ``Batches``), its latent draws and penalties' random numbers
(``engine.rng.OwnStreams``), its optimizer state (a slice of the stacked optimizer's, which
is elementwise), its callbacks, loggers, evaluator, history, checkpoint and divergence.
Packed and unpacked runs agree to floating-point tolerance, not bitwise: vmap's batched
kernels sum in another order. Each seed's module stays usable as itself: its parameters
are rebound to views of its slice of the stacked tensors, so sampling, evaluation,
callbacks (EMA reads them, weight-clip clamps them in place) and state_dict see that seed.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, vmap

from ..contracts import Loss


class Stack:
    """K modules of one architecture as one: parameters and buffers stacked (K, *shape),
    each module's own rebound to its slice. stack(x) with x (K, B, ...) -> (K, B, ...)."""

    def __init__(self, modules: list[nn.Module]):
        self.modules = list(modules)
        first = self.modules[0]
        self.base = copy.deepcopy(first).to("meta")  # the architecture, without tensors; its train/eval modes are used
        self.params = {
            name: torch.stack([m.get_parameter(name).detach() for m in self.modules]).requires_grad_(p.requires_grad)
            for name, p in first.named_parameters()
        }
        self.buffers = {name: torch.stack([m.get_buffer(name) for m in self.modules]) for name, _ in first.named_buffers()}
        self.requires_grad = {name: p.requires_grad for name, p in first.named_parameters()}
        self.original = list(first.named_parameters())  # the first module's own Parameters, before rebinding
        for k, m in enumerate(self.modules):
            for name, value in self.params.items():
                owner, leaf = _owner(m, name)
                owner._parameters[leaf] = nn.Parameter(value.detach()[k], requires_grad=False)
            for name, value in self.buffers.items():
                owner, leaf = _owner(m, name)
                owner._buffers[leaf] = value[k]
        self._forward = vmap(self._one)

    def _one(self, params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self.base, (params, buffers), (x,))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(self.params, self.buffers, x)

    def named(self, params: list) -> list[torch.Tensor]:
        """The stacked tensors of the first module's `params` (Parameter objects, as its
        optimizer holds them before stacking), in that order."""
        names = {id(p): n for n, p in self.original}
        return [self.params[names[id(p)]] for p in params]

    def seed(self, k: int) -> nn.Module:
        """Seed k's model as a module whose forward is differentiable w.r.t. the stacked
        tensors (for a loss penalty that differentiates D)."""
        return _Slice(self, k)

    def release(self, k: int) -> None:
        """Seed k's module gets its own tensors again, as they are now; the stack no longer
        moves it (a diverged seed keeps its weights from the step it diverged at)."""
        m = self.modules[k]
        for name in self.params:
            owner, leaf = _owner(m, name)
            owner._parameters[leaf] = nn.Parameter(owner._parameters[leaf].detach().clone(), requires_grad=self.requires_grad[name])
        for name in self.buffers:
            owner, leaf = _owner(m, name)
            owner._buffers[leaf] = owner._buffers[leaf].clone()


class _Slice(nn.Module):
    def __init__(self, stack: Stack, k: int):
        super().__init__()
        self._stack, self._k = [stack], k  # a list: not registered as a submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        stack, k = self._stack[0], self._k
        params = {n: p[k] for n, p in stack.params.items()}
        buffers = {n: b[k] for n, b in stack.buffers.items()}
        return functional_call(stack.base, (params, buffers), (x,))


def _owner(module: nn.Module, name: str) -> tuple[nn.Module, str]:
    path, _, leaf = name.rpartition(".")
    return (module.get_submodule(path) if path else module), leaf


# ---------------------------------------------------------------- optimizers


def load_stacked(opt: torch.optim.Optimizer, members: list[torch.optim.Optimizer]) -> None:
    """Give `opt` (built over the stacked parameters, in the members' order) the members'
    states stacked: every state tensor shaped like its parameter is stacked; the rest (the
    step count, equal for all seeds) is taken from the first member."""
    states = [m.state_dict() for m in members]
    shapes = [p.shape[1:] for g in opt.param_groups for p in g["params"]]
    stacked = {}
    for i, s in states[0]["state"].items():
        stacked[i] = {
            key: torch.stack([st["state"][i][key] for st in states])
            if torch.is_tensor(value) and value.shape == shapes[i] and value.dim()
            else value
            for key, value in s.items()
        }
    opt.load_state_dict({"state": stacked, "param_groups": states[0]["param_groups"]})


class OptimizerSlice:
    """One seed's view of a packed optimizer: the shared param groups (learning rates), and
    a state_dict in the unpacked optimizer's format (its slice of every stacked state)."""

    def __init__(self, opt: torch.optim.Optimizer, k: int):
        self.opt, self.k = opt, k

    @property
    def param_groups(self):
        return self.opt.param_groups

    def state_dict(self) -> dict:
        sd = self.opt.state_dict()
        shapes = [p.shape for g in self.opt.param_groups for p in g["params"]]
        state = {
            i: {key: v[self.k].clone() if torch.is_tensor(v) and v.shape == shapes[i] else v for key, v in s.items()}
            for i, s in sd["state"].items()
        }
        return {"state": state, "param_groups": copy.deepcopy(sd["param_groups"])}

    def load_state_dict(self, state: dict) -> None:
        raise NotImplementedError("a packed seed resumes before it is packed (engine.loop.train_runs)")


# ---------------------------------------------------------------- the pair


class StackedPair:
    """K seeds' G and D for ``engine.step.Step`` (see its module docstring for the shapes).

    Losses are applied per seed with ``vmap`` (the built-in ones are elementwise means), a
    loss penalty (WGAN-GP's) is computed seed by seed with that seed's random stream, and
    what is backpropagated is the sum of the live seeds' losses: each seed's parameters get
    exactly the gradient of its own loss."""

    def __init__(self, G: Stack, D: Stack, losses: list[Loss], streams: list, batch_size: int, z_dim: int, device: torch.device):
        self.G, self.D, self.losses, self.streams = G, D, losses, streams
        self.loss = losses[0]  # one definition of the loss, applied to each seed's scores
        self.shape = (batch_size, z_dim)
        self.live = torch.ones(len(losses), dtype=torch.bool, device=device)
        self.has_penalty = type(self.loss).penalty is not Loss.penalty
        self._d_loss = vmap(self.loss.d_loss)
        self._accuracy = vmap(self.loss.accuracy)

    def noise(self) -> torch.Tensor:
        return torch.stack([s.randn(*self.shape) for s in self.streams])  # (K, B, Z)

    def d_loss(self, real_s, fake_s):
        return self._d_loss(real_s, fake_s)  # (K,)

    def g_loss(self, fake_s, real_s):
        if real_s is None:
            return vmap(lambda f: self.loss.g_loss(f, None))(fake_s)
        return vmap(self.loss.g_loss)(fake_s, real_s)

    def accuracy(self, real_s, fake_s):
        return self._accuracy(real_s, fake_s)

    def penalty(self, real, fake):
        if not self.has_penalty:
            return None
        out = []
        for k, (loss, streams) in enumerate(zip(self.losses, self.streams)):
            with streams.as_global():  # WGAN-GP draws its interpolation weights from the global generator
                out.append(loss.penalty(self.D.seed(k), real[k], fake[k]))
        if all(p is None for p in out):
            return None
        return torch.stack(out)  # (K,)

    def total(self, loss):
        return torch.where(self.live, loss, torch.zeros_like(loss)).sum()

    def keep(self, live: list[bool]) -> None:
        for k, on in enumerate(live):
            if not on and bool(self.live[k]):
                self.G.release(k)
                self.D.release(k)
        self.live.copy_(torch.tensor(live, dtype=torch.bool))  # in place: a CUDA graph reads this tensor

    def release(self) -> None:
        """Every seed's modules own their tensors again (the pack has finished)."""
        for k in range(len(self.losses)):
            if bool(self.live[k]):
                self.G.release(k)
                self.D.release(k)


# ---------------------------------------------------------------- what can be packed


def unpackable(cfg: dict, models: list, losses: list[Loss], callbacks: list, device: torch.device) -> str | None:
    """Why K runs of one cell cannot train as one pack (one line), or None when they can.

    Packable means: a forward that is a pure function of the module's parameters, buffers
    and input (no tensors held outside them, no forward hooks, no random draws: dropout
    would draw one stream for all seeds), in-place updates only of buffers (BatchNorm's
    running statistics), a loss without state whose d_loss/g_loss/accuracy are per-batch
    tensor functions (vmap applies them to each seed), callbacks that declare
    ``packable = True``, and not fp16 (its GradScaler would be one for all seeds). Checked
    on the models' structure, then by a trial: the packed forward of two copies must match
    their own forwards, in train and eval mode, outputs and BatchNorm statistics alike."""
    if cfg.get("precision") == "fp16":
        return "precision fp16: its loss scale (one GradScaler per optimizer) would be shared by the seeds"
    if getattr(models[0], "conditional", False):
        return "conditional models (G(z, y), D(x, y)) are not packed yet"
    if cfg.get("augment", "none") != "none":
        return f"augment {cfg['augment']['name']!r}: D's input transforms draw one stream for all seeds"
    if any(hasattr(loss, "state_dict") for loss in losses):
        return f"loss {cfg['loss']['name']!r} keeps state (it has a state_dict)"
    names = [spec["name"] for spec in cfg.get("callbacks", [])]
    for i, cb in enumerate(callbacks):
        if not getattr(cb, "packable", False):
            name = names[i] if i < len(names) else type(cb).__name__
            return f"callback {name!r} does not declare packable = True"
    for role in ("generator", "discriminator"):
        why = _structure_problem([getattr(m, role) for m in models])
        if why:
            return f"{role}: {why}"
    try:
        return _trial(models[:2], losses[0], cfg, device)
    except Exception as e:  # vmap's own refusal (a random op, data-dependent control flow...)
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"a packed forward fails: {type(e).__name__}: {text[:160]}"


def _structure_problem(modules: list[nn.Module]) -> str | None:
    first = modules[0]
    shapes = [[(n, t.shape, t.dtype) for n, t in (*m.named_parameters(), *m.named_buffers())] for m in modules]
    if any(s != shapes[0] for s in shapes[1:]):
        return "the seeds' models differ in their parameters or buffers"
    for name, sub in first.named_modules():
        where = f"module {name or type(first).__name__!r}"
        if sub._forward_hooks or sub._forward_pre_hooks:
            return f"{where} has forward hooks (e.g. torch.nn.utils.spectral_norm's)"
        held = [k for k, v in vars(sub).items() if torch.is_tensor(v)]
        if held:
            return f"{where} holds tensor {held[0]!r} outside its parameters and buffers"
    return None


def _trial(models: list, loss: Loss, cfg: dict, device: torch.device) -> str | None:
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        G = [copy.deepcopy(m.generator).to(device) for m in models]
        D = [copy.deepcopy(m.discriminator).to(device) for m in models]
        z = torch.randn(len(G), 4, cfg["z_dim"], device=device)  # (2, 4, Z)
        for train_mode in (True, False):
            for m in G + D:
                m.train(train_mode)
            before = [_buffers(m) for m in G + D]
            with torch.no_grad():
                want_g = torch.stack([g(z[k]) for k, g in enumerate(G)])  # (2, 4, *shape)
                want_d = torch.stack([d(want_g[k]) for k, d in enumerate(D)])  # (2, 4)
            want_stats = [_buffers(m) for m in G + D]
            for m, saved in zip(G + D, before):  # the packed forward starts from the same statistics
                for name, b in m.named_buffers():
                    b.copy_(saved[name])
            packed_g, packed_d = Stack(G), Stack(D)
            with torch.no_grad():
                got_g = packed_g(z)
                got_d = packed_d(got_g)
            got_stats = [_buffers(m) for m in G + D]  # the modules' buffers are views of the stacked ones
            mode = "train" if train_mode else "eval"
            if not (_close(got_g, want_g) and _close(got_d, want_d)):
                return f"its packed forward in {mode} mode differs from the seeds' own"
            if any(not _close(g[n], w[n]) for g, w in zip(got_stats, want_stats) for n in w):
                return f"its packed forward in {mode} mode updates its buffers unlike the seeds' own"
        real, fake = torch.randn(2, 8, device=device), torch.randn(2, 8, device=device)
        g_real = real if loss.g_needs_real else None
        for name, fn, args in (
            ("d_loss", loss.d_loss, (real, fake)),
            ("accuracy", loss.accuracy, (real, fake)),
            ("g_loss", lambda f, r=None: loss.g_loss(f, r), (fake,) if g_real is None else (fake, g_real)),
        ):
            got = _flat(vmap(fn)(*args))
            want = [_flat(fn(*(a[k] for a in args))) for k in range(2)]
            if any(not _close(got[i][k], want[k][i]) for i in range(len(got)) for k in range(2)):
                return f"loss {cfg['loss']['name']!r}: its {name} applied to each seed by vmap differs from its {name} of each seed"
    return None


def _buffers(m: nn.Module) -> dict:
    return {n: b.detach().clone() for n, b in m.named_buffers()}


def _flat(x) -> list:
    return list(x) if isinstance(x, (tuple, list)) else [x]


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    if not a.is_floating_point():
        return torch.equal(a, b)
    return a.shape == b.shape and torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-4)
