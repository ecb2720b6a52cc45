"""The module ganbench loads (entry point `sngan` in the `ganbench` group).

It only declares the plugin API it was written for and registers factories; the models,
losses and data live in their own modules so that importing this one stays cheap.
"""

from ganbench import hookimpl

from .architectures import sngan_cnn
from .datasets import swissroll
from .losses import RSGAN, RaGAN, RaLSGAN

# ganbench refuses (marks broken, with this reason) a plugin whose API it does not provide.
GANBENCH_PLUGIN_API = ">=1,<2"


@hookimpl
def register_architectures(register):
    register("sngan-cnn", sngan_cnn)


@hookimpl
def register_losses(register):
    register("rsgan", RSGAN)
    register("ragan", RaGAN)
    register("ralsgan", RaLSGAN)


@hookimpl
def register_datasets(register):
    register("swissroll", swissroll)
