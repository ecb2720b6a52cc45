"""The optimizers a suite may name, the options each accepts, and building them.

Validating a suite needs only the names and options (``OPTIONS``), not torch: the torch
classes are looked up when an optimizer is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: importing them at run time would load torch
    import torch


# name -> (the torch.optim class's name, the options a suite may set besides `name` and `lr`)
OPTIONS: dict[str, tuple[str, set[str]]] = {
    "sgd": ("SGD", {"momentum", "dampening", "nesterov", "weight_decay"}),
    "adam": ("Adam", {"betas", "eps", "weight_decay", "amsgrad"}),
    "adamw": ("AdamW", {"betas", "eps", "weight_decay", "amsgrad"}),
    "rmsprop": ("RMSprop", {"alpha", "eps", "momentum", "weight_decay", "centered"}),
}


def optimizer_class(name: str):
    """The torch.optim class behind a suite's optimizer name."""
    import torch

    return getattr(torch.optim, OPTIONS[name][0])


def build_optimizer(params, spec: dict, lr: float, impl: str | None = None, capturable: bool = False) -> torch.optim.Optimizer:
    """spec is a validated `optimizer` mapping; lr is passed separately (G's or D's).

    impl: "fused", "foreach" or "for-loop" (``implementation``); None leaves torch's choice.
    capturable: safe to capture in a CUDA graph (its step count kept on the device), where
    the optimizer has the option (SGD needs none: it keeps no step count)."""
    import inspect

    cls = optimizer_class(spec["name"])
    options = {k: v for k, v in spec.items() if k not in ("name", "lr")}
    if "betas" in options:
        options["betas"] = tuple(options["betas"])
    if capturable and "capturable" in inspect.signature(cls).parameters:
        options["capturable"] = True
    return cls(params, lr=lr, **options, **impl_kwargs(impl))


def impl_kwargs(impl: str | None) -> dict:
    return {"fused": {"fused": True}, "foreach": {"foreach": True}, "for-loop": {"foreach": False}}.get(impl or "", {})


def keep_implementation(opt: torch.optim.Optimizer) -> None:
    """After load_state_dict: the saved param groups carry the fused/foreach flags of the
    run that saved them (a checkpoint from before fused_optimizers, another device); put
    back those this optimizer was built with, which run.json records."""
    torch = _torch()
    for group in opt.param_groups:
        group.update({k: opt.defaults[k] for k in ("fused", "foreach") if k in opt.defaults})
    if opt.defaults.get("fused"):  # fused kernels keep `step` as fp32 on the parameter's device
        for p, st in opt.state.items():
            if torch.is_tensor(st.get("step")):
                st["step"] = st["step"].to(device=p.device, dtype=torch.float32)


def implementation(spec: dict, params, device: torch.device, mode="auto") -> str:
    """Which torch implementation of the optimizer to build (`fused_optimizers`):

    - "fused": one kernel updates every parameter (no per-tensor launches; GradScaler steps
      without a host sync). auto uses it wherever torch has a fused kernel for this
      optimizer, device and parameters (Adam, AdamW, SGD on CUDA; on the CPU too in torch
      releases after the 2.4 floor: 4x faster Adam steps on a 2-core EPYC); RMSprop has none.
      true requires it.
    - else torch's own default, made explicit so it can be recorded: "foreach" (multi-tensor
      kernels) on CUDA, "for-loop" on the CPU.

    Raises ValueError when `true` asks for a fused kernel torch does not have."""
    params = list(params)
    if mode is not False:
        if fused_available(spec, params, device):
            return "fused"
        if mode is True:
            raise ValueError(
                f"fused_optimizers: torch {_torch().__version__} has no fused {spec['name']} on {device.type} for these parameters"
            )
    return "foreach" if device.type == "cuda" else "for-loop"


def fused_available(spec: dict, params: list, device: torch.device) -> bool:
    """Does torch build this optimizer with fused=True? Asked of torch itself (a probe on
    one tensor of the device, cached), not of version numbers; the run's own parameters
    must all be floating-point tensors on that device, as fused kernels require."""
    if not all(p.is_floating_point() and p.device.type == device.type for p in params):
        return False
    options = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in spec.items() if k not in ("name", "lr")))
    return _probe(spec["name"], options, device.type)


_PROBES: dict[tuple, bool] = {}


def _probe(name: str, options: tuple, device_type: str) -> bool:
    key = (name, options, device_type)
    if key not in _PROBES:
        torch = _torch()
        kwargs = dict(options)
        try:
            optimizer_class(name)([torch.zeros(1, device=device_type, requires_grad=True)], lr=1e-3, fused=True, **kwargs)
            _PROBES[key] = True
        except (TypeError, RuntimeError, ValueError, AssertionError):  # no `fused` argument, device or option unsupported; no CUDA
            _PROBES[key] = False
    return _PROBES[key]


def _torch():
    import torch

    return torch


def __getattr__(name: str):
    # OPTIMIZERS, name -> (torch class, options), as this module offered before OPTIONS:
    # built on access, since it imports torch.
    if name == "OPTIMIZERS":
        return {k: (optimizer_class(k), options) for k, (_, options) in OPTIONS.items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
