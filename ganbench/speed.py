"""Speed settings of a run: how the same recipe is executed, not what it computes.

``channels_last``, ``fused_optimizers`` (``ganbench.optimizers``) and ``tf32`` are kept
out of the run id (config.NOT_IN_RUN_ID); what each resolved to is recorded in run.json
(``env.speed``), since they can change the low bits of a GPU run as cuDNN's algorithm
choice already does.
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

# tf32 -> (matmuls, cuDNN convolutions) allowed to round their inputs to TF32 (10-bit
# mantissa) on Ampere and later GPUs; a no-op on CPUs and older GPUs.
TF32 = {"off": (False, False), "conv": (False, True), "on": (True, True)}

_CONV = (nn.Conv2d, nn.ConvTranspose2d)


def set_tf32(mode: str) -> dict:
    """Set the process's TF32 flags for `tf32: off | conv | on`; return them as recorded.

    The flags are process-wide, so every run sets them at its start (a worker trains
    many runs one after another)."""
    matmul, cudnn = TF32[mode]
    torch.backends.cuda.matmul.allow_tf32 = matmul
    torch.backends.cudnn.allow_tf32 = cudnn
    return tf32_flags()


def tf32_flags() -> dict:
    return {"tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32}


@contextlib.contextmanager
def ieee_fp32():
    """Evaluation in IEEE fp32 whatever the run's `tf32`: Inception features (FID) must
    not depend on the GPU generation or on a training speed setting."""
    saved = tf32_flags()
    set_tf32("off")
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved["tf32_matmul"]
        torch.backends.cudnn.allow_tf32 = saved["tf32_cudnn"]


def is_convolutional(*modules: nn.Module) -> bool:
    return any(isinstance(m, _CONV) for module in modules for m in module.modules())


def use_channels_last(mode, device: torch.device, G: nn.Module, D: nn.Module, image_data: bool) -> bool:
    """`channels_last: auto | true | false` -> whether this run uses it.

    auto: on for CUDA runs of convolutional models (cuDNN's NHWC kernels use the tensor
    cores without transposes); off for MLPs, where there is no spatial layout, and on the
    CPU, whose gain depends on the CPU and oneDNN build (+8 to +12% for the DCGANs on a
    2-core EPYC, docs/results): a choice for `true` there, measured first. true: wherever
    the data are images."""
    if not image_data or mode is False:
        return False
    if mode is True:
        return True
    return device.type == "cuda" and is_convolutional(G, D)


def to_channels_last(*modules: nn.Module) -> None:
    """Conv weights (O, I, kH, kW) to NHWC strides, in place: the Parameter objects stay
    the same (optimizers and callbacks built later see them)."""
    for module in modules:
        module.to(memory_format=torch.channels_last)
