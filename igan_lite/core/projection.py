"""The baselines' differentiable image formation (docs/method.md §8): IG-GAN's renderer replaced by a
projection of the camera-aligned grid, so the generator gets exact gradients but a poorer image model.

All three work on `camera.resample_to_camera` output, (B, C, depth, H, W) with depth index 0 nearest
the camera, and treat each of the `depth` samples along a ray as one voxel with opacity x_i in [0, 1]:

- visual hull, PrGAN (Gadelha et al. 2017, eq. 1):           alpha = 1 - exp(-sum_i x_i)
- absorption only, PlatonicGAN (Henzler et al. 2019, §3.3):  alpha = 1 - prod_i (1 - x_i)
- emission-absorption, PlatonicGAN §3.3 in the exclusive-transmittance form of standard volume
  rendering (Max 1995; PyTorch3D's EmissionAbsorptionRaymarcher, no weight normalisation):
      I = sum_i e_i x_i T_i + background * T_N,   T_i = prod_{j<i} (1 - x_j)

VH and AO produce only opacity: their images are dark silhouettes on the background, and they are
trained against silhouettes of the real images (`silhouettes`), as PrGAN is. EA needs an emission e_i
per voxel: its generator has a second output channel. None of them shades. Which baseline uses which image
formation, and with how many generator channels, and `project` by a baseline's name: methods.py.
"""
from __future__ import annotations

import math

import torch

EPS = 1e-6


def init_occupancy(depth: int) -> float:
    """The baselines' initial occupancy: ln 2 / depth makes a ray of `depth` samples half opaque, so the first
    images are grey, not black. At the IG-GAN generator's 0.5 every ray is opaque (VH: 1 - e^-16 at 32
    samples), the gradient exp(-sum) vanishes and nothing learns (docs/experiments.md, run G)."""
    return math.log(2) / depth


def visual_hull(volume: torch.Tensor) -> torch.Tensor:
    """(B, 1, D, H, W) opacities -> (B, 1, H, W) alpha = 1 - exp(-sum along depth)."""
    return 1 - torch.exp(-volume.sum(2))


def absorption_only(volume: torch.Tensor) -> torch.Tensor:
    """(B, 1, D, H, W) opacities -> (B, 1, H, W) alpha = 1 - prod (1 - x), in log space for stability."""
    return 1 - torch.exp(torch.log1p(-volume.clamp(max=1 - EPS)).sum(2))


def transmittance(volume: torch.Tensor) -> torch.Tensor:
    """T_i = prod_{j<i} (1 - x_j) along depth (exclusive: a voxel does not hide itself), (B, 1, D+1, H, W);
    the last slice is what reaches the background."""
    log_t = torch.log1p(-volume.clamp(max=1 - EPS)).cumsum(2)
    return torch.exp(torch.cat([torch.zeros_like(log_t[:, :, :1]), log_t], 2))


def emission_absorption(volume: torch.Tensor, emission: torch.Tensor, background: float) -> torch.Tensor:
    """Opacities and emissions (B, 1, D, H, W) -> (B, 1, H, W) image sum_i e_i x_i T_i + background * T_D."""
    t = transmittance(volume)
    return (emission * volume * t[:, :, :-1]).sum(2) + background * t[:, :, -1]


def silhouettes(images: torch.Tensor, background: float = 1.0, tol: float = 1 / 255) -> torch.Tensor:
    """Real images -> dark silhouettes on the background (what VH and AO can express), (B, 1, H, W)."""
    mask = ((images - background).abs() > tol).any(1, keepdim=True)
    return background * (~mask).float()
