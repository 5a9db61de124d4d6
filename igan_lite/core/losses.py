"""IG-GAN's losses, one small function each (docs/method.md §2). Logits come from nets.Discriminator."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator: -log D(y) - log(1 - D(f(G(z), c))), the GAN objective of Goodfellow et al. (2014)
    with D = sigmoid(logit); fakes are *real-renderer* images (docs/method.md §2, choice 2)."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator, non-saturating: -log D(R(G(z), c)); gradients reach G through the proxy R."""
    return F.softplus(-fake_logits).mean()


def mode_seeking_loss(x: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mode seeking (Mao et al. 2019, eq. 3), on voxels: pair the batch's two halves and reward shapes
    that differ as much as their codes do: 1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + eps)."""
    half = len(x) // 2
    ratio = (x[:half] - x[half:2 * half]).abs().mean() / (z[:half] - z[half:2 * half]).abs().mean()
    return 1.0 / (ratio + eps)


def proxy_l2(proxy_images: torch.Tensor, real_renders: torch.Tensor) -> torch.Tensor:
    """Proxy image loss ||R(x, c) - f(x, c)||^2, averaged over pixels."""
    return F.mse_loss(proxy_images, real_renders)


def dom_loss(d_on_proxy: torch.Tensor, d_on_real_render: torch.Tensor) -> torch.Tensor:
    """Discriminator output matching, in this package's form (docs/method.md §2 and §11):

        L_DOM = mean rho( D(R(x, c)) - D(f(x, c)) ),   rho(d) = d^2 if |d| <= 1 else 2|d| - 1

    on D's logits. D(f(x, c)) is the target (no gradient); the gradient moves the proxy, not D.
    Provenance: the paper (Lunz et al. 2020, abstract) states the idea, matching the discriminator's outputs
    on R and on f so that R "smooths over the rasterization appropriately", but the copies we could read
    give no formula. The unofficial code (brian-xu/IGGAN) computes (log D(f) - log D(R))^2 on D's sigmoid
    output, weight 100 beside a summed pixel L2. This form is ours: logits, because log sigmoid saturates
    at 0 for confidently real images and loses the signal there; the slope capped at 2 (2 x Huber, delta 1),
    because the plain square ran away once D was confident (docs/experiments.md, run E seed 1).
    """
    return 2 * F.huber_loss(d_on_proxy, d_on_real_render.detach(), delta=1.0)


def proxy_loss(proxy_images, real_renders, discriminator, lambda_l2: float, lambda_dom: float):
    """The proxy's objective: lambda_l2 * ||R - f||^2 + lambda_dom * L_DOM -> (total, l2, dom).
    `discriminator` must have requires_grad off: DOM trains R, never D."""
    l2 = proxy_l2(proxy_images, real_renders)
    if lambda_dom == 0:
        return lambda_l2 * l2, l2, torch.zeros(())
    with torch.no_grad():
        target = discriminator(real_renders)
    dom = dom_loss(discriminator(proxy_images), target)
    return lambda_l2 * l2 + lambda_dom * dom, l2, dom


def d_ahead(acc: float, loss: float, acc_max: float, ahead_loss: float) -> bool:
    """Whether D is ahead of G and skips its step (PlatonicGAN's balance: accuracy >= acc_max), and, where
    ahead_loss > 0, its loss below ahead_loss too: right answers at near-chance confidence are not a lead."""
    return acc >= acc_max and (ahead_loss == 0 or loss < ahead_loss)


def d_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> float:
    """Fraction of real and fake images D classifies correctly (used to balance D)."""
    correct = (real_logits > 0).float().sum() + (fake_logits < 0).float().sum()
    return (correct / (len(real_logits) + len(fake_logits))).item()
