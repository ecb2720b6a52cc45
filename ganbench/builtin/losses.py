"""Built-in adversarial losses: vanilla (NS and minimax), LSGAN, WGAN, WGAN-GP and hinge.

torch is imported inside the methods (a dictionary lookup once it is loaded): registering
the losses, and validating a suite that names them, must not import torch.
"""

from __future__ import annotations

from typing import Literal

from ..contracts import Loss
from ..hookspecs import hookimpl


@hookimpl
def register_losses(register):
    register("vanilla", Vanilla)
    register("lsgan", LSGAN)
    register("wgan", WGAN)
    register("wgan-gp", WGANGP)
    register("hinge", Hinge)


class Vanilla(Loss):
    """Goodfellow et al. 2014: binary cross-entropy on D's logits.

    `non-saturating` (default) trains G to maximise log D(G(z)); `minimax` minimises
    log(1 - D(G(z))), the paper's original formulation, whose gradient vanishes early.
    """

    def __init__(self, generator_loss: Literal["non-saturating", "minimax"] = "non-saturating"):
        self.generator_loss = generator_loss

    def d_loss(self, real_scores, fake_scores):
        import torch
        import torch.nn.functional as F

        return F.binary_cross_entropy_with_logits(real_scores, torch.ones_like(real_scores)) + F.binary_cross_entropy_with_logits(
            fake_scores, torch.zeros_like(fake_scores)
        )

    def g_loss(self, fake_scores, real_scores=None):
        import torch
        import torch.nn.functional as F

        if self.generator_loss == "minimax":  # log(1 - sigmoid(s)) = -softplus(s)
            return -F.softplus(fake_scores).mean()
        return F.binary_cross_entropy_with_logits(fake_scores, torch.ones_like(fake_scores))


class LSGAN(Loss):
    """Mao et al. 2017, least squares with the a-b-c coding (0-1-1 by default):
    D pushes fakes to a and reals to b; G pushes fakes to c."""

    def __init__(self, a: float = 0.0, b: float = 1.0, c: float = 1.0):
        if a == b:
            raise ValueError(f"lsgan needs different targets for fake (a) and real (b), got a = b = {a}")
        self.a, self.b, self.c = a, b, c

    def d_loss(self, real_scores, fake_scores):
        return 0.5 * ((real_scores - self.b) ** 2).mean() + 0.5 * ((fake_scores - self.a) ** 2).mean()

    def g_loss(self, fake_scores, real_scores=None):
        return 0.5 * ((fake_scores - self.c) ** 2).mean()

    def accuracy(self, real_scores, fake_scores):
        mid = (self.a + self.b) / 2  # D "says real" when its output is nearer b than a
        sign = 1.0 if self.b > self.a else -1.0
        return ((real_scores - mid) * sign > 0).float().mean(), ((fake_scores - mid) * sign <= 0).float().mean()


class WGAN(Loss):
    """Arjovsky et al. 2017: the Wasserstein critic loss, the critic kept Lipschitz by
    clipping its weights to [-0.01, 0.01] after each update (the `weight-clip` callback,
    which this loss brings with it). The paper's settings are its defaults: 5 critic steps,
    RMSprop with lr 5e-5 (momentum-based optimizers made the critic unstable there)."""

    defaults = {"n_disc": 5, "optimizer": {"name": "rmsprop", "lr": 5.0e-5}, "callbacks": [{"name": "weight-clip", "c": 0.01}]}

    def d_loss(self, real_scores, fake_scores):
        return fake_scores.mean() - real_scores.mean()

    def g_loss(self, fake_scores, real_scores=None):
        return -fake_scores.mean()

    def accuracy(self, real_scores, fake_scores):
        return WGANGP.accuracy(self, real_scores, fake_scores)  # a critic: no fixed zero either


class WGANGP(Loss):
    """Gulrajani et al. 2017: Wasserstein critic loss + gradient penalty on interpolates.

    The penalty is per sample, so the critic must not use BatchNorm: architectures that
    take a `d_norm` option get layer norm by default. The paper's settings (5 critic
    steps, Adam(1e-4, betas 0, 0.9)) are this loss's defaults when a suite leaves them unset.
    """

    defaults = {"n_disc": 5, "optimizer": {"name": "adam", "lr": 1.0e-4, "betas": [0.0, 0.9]}}
    architecture_defaults = {"d_norm": "layer"}

    def __init__(self, gp_weight: float = 10.0):
        self.gp_weight = gp_weight

    def d_loss(self, real_scores, fake_scores):
        return fake_scores.mean() - real_scores.mean()

    def g_loss(self, fake_scores, real_scores=None):
        return -fake_scores.mean()

    def penalty(self, discriminator, real, fake):
        """gp_weight * E[(||grad_x D(x)|| - 1)^2] at x = eps*real + (1-eps)*fake, eps ~ U[0, 1]."""
        import torch

        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)  # (B, 1, ...)
        x = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
        # D(x).sum(): each score depends only on its own sample (no BatchNorm), so its
        # gradient w.r.t. x holds every per-sample gradient at once. create_graph: the
        # penalty itself is differentiated when D is updated.
        (grad,) = torch.autograd.grad(discriminator(x).sum(), x, create_graph=True)  # (B, *shape)
        return self.gp_weight * ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()

    def accuracy(self, real_scores, fake_scores):
        """A critic's scores have no fixed zero (adding a constant changes neither loss nor
        gradients), so the threshold is the midpoint of the batch's mean real and mean
        fake score: the share of each batch on its own side of it."""
        mid = (real_scores.mean() + fake_scores.mean()) / 2
        return (real_scores > mid).float().mean(), (fake_scores <= mid).float().mean()


class Hinge(Loss):
    """The hinge loss of SNGAN / BigGAN (Miyato et al. 2018, Brock et al. 2019):
    D minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))], G minimises -E[D(G(z))].
    D accuracy is the sign of the score (the hinge's margins sit at +1 and -1)."""

    def d_loss(self, real_scores, fake_scores):
        import torch.nn.functional as F

        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def g_loss(self, fake_scores, real_scores=None):
        return -fake_scores.mean()
