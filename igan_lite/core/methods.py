"""The method table (docs/method.md §2, §8): for IG-GAN and each projection baseline, how the fakes D sees are
drawn, which nets exist and which losses train them. A new baseline is a new row: its image formation, from
the camera-aligned volume v (camera.resample_to_camera) and the background (the formulas: projection.py).

           fakes D sees            nets     losses (losses.py), in the order steps.py applies them
  iggan    f(G(z), c), by f        G R D    D: d_loss; R: proxy_loss (L2 + DOM); G: g_loss of R(G(z), c) + mode seeking
  vh/ao/ea project(G(z), c)        G D      D: d_loss; G: g_loss of the same projection + mode seeking
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from igan_lite.core import projection, steps
from igan_lite.core.camera import resample_to_camera
from igan_lite.core.nets import Nets, build_nets
from igan_lite.presets import Preset


@dataclass(frozen=True)
class Method:
    """One row: `step` is one iteration (steps.py). `image` (a projection baseline's differentiable image
    formation, camera-aligned volume and background -> images) is None for IG-GAN, where the real renderer f
    draws the fakes and a proxy R learns to imitate it."""

    name: str
    step: Callable[..., dict]
    image: Callable[[torch.Tensor, float], torch.Tensor] | None = None
    g_channels: int = 1  # the generator's output: occupancy (EA: and emission)
    silhouettes: bool = False  # D sees silhouettes of the real images (all the method can draw)

    @property
    def proxy(self) -> bool:
        """Whether the method has a proxy R (and f in its training loop)."""
        return self.image is None

    def build_nets(self, p: Preset) -> Nets:
        if not self.proxy and p.color:
            raise ValueError(f"the {self.name} baseline is grayscale; use a preset with color=False")
        occupancy = p.g_init_occupancy or (0.5 if self.proxy else projection.init_occupancy(p.voxel_res))
        return build_nets(p, self.g_channels, occupancy, self.proxy)

    def project(self, x: torch.Tensor, grid: torch.Tensor, background: float = 1.0) -> torch.Tensor:
        """A generator's output x (B, g_channels, N, N, N) seen through the frustum grid -> images (B, 1, H, W)."""
        if x.shape[1] != self.g_channels:
            raise ValueError(f"{self.name} needs generator output with {self.g_channels} channel(s), got shape {tuple(x.shape)}")
        return self.image(resample_to_camera(x, grid), background)


METHODS = {m.name: m for m in (
    Method("iggan", steps.iggan_step),
    Method("vh", steps.projection_step, lambda v, bg: bg * (1 - projection.visual_hull(v)), silhouettes=True),
    Method("ao", steps.projection_step, lambda v, bg: bg * (1 - projection.absorption_only(v)), silhouettes=True),
    Method("ea", steps.projection_step, lambda v, bg: projection.emission_absorption(v[:, :1], v[:, 1:], bg), g_channels=2),
)}


def project(method: str, x: torch.Tensor, grid: torch.Tensor, background: float = 1.0) -> torch.Tensor:
    """A baseline generator's output x seen through the frustum grid -> images (B, 1, H, W) (Method.project)."""
    return get_method(method, "projection").project(x, grid, background)


def get_method(name: str, kind: str = "method") -> Method:
    """METHODS[name]; kind "projection": only the baselines."""
    known = [m for m in METHODS if kind == "method" or not METHODS[m].proxy]
    if name not in known:
        raise ValueError(f"unknown {kind} {name!r}; expected one of {known}")
    return METHODS[name]
