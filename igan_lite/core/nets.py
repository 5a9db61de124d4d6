"""The three networks of IG-GAN (docs/method.md §4): generator G, neural proxy renderer R, discriminator D."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.parametrizations import spectral_norm

from igan_lite.core.camera import resample_to_camera
from igan_lite.infra import distributed
from igan_lite.presets import Preset


def _levels(n: int) -> int:
    levels = math.log2(n / 4)
    if n < 8 or not levels.is_integer():
        raise ValueError(f"voxel_res must be a power of two >= 8, got {n}")
    return int(levels)


def voxel_shuffle(x: torch.Tensor) -> torch.Tensor:
    """(B, 8C, n, n, n) -> (B, C, 2n, 2n, 2n): sub-pixel upsampling (Shi et al. 2016) in 3D."""
    b, c8, n = x.shape[0], x.shape[1], x.shape[2]
    x = x.view(b, c8 // 8, 2, 2, 2, n, n, n).permute(0, 1, 5, 2, 6, 3, 7, 4)  # b, c, z, dz, y, dy, x, dx
    return x.reshape(b, c8 // 8, 2 * n, 2 * n, 2 * n)


class VoxelShuffle(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return voxel_shuffle(x)


class Generator(nn.Module):
    """G(z): z (B, z_dim) -> occupancies (B, out_channels, N, N, N) in [0, 1] (a second channel is the
    emission of the emission-absorption baseline, projection.py).

    A linear layer to a 4^3 feature grid, then per doubling a 3x3x3 conv to 8x the channels and a
    voxel shuffle (each output voxel has its own weights: one-voxel detail is possible), BatchNorm, ReLU.
    On a CPU this is ~5x faster than upsample + conv, whose 1-channel output conv is very slow.
    The occupancy's last bias starts at logit(init_occupancy): 0.5 straddles f's threshold (docs/background.md §2, third
    failure); a projection baseline starts lower so that its first images are neither blank nor black.
    `smooth` > 1 averages the output logits over a smooth^3 box: a low-pass that makes isolated-voxel
    speckle (docs/background.md §2, first collapse) expensive to produce (docs/experiments.md).
    """

    def __init__(self, z_dim: int, voxel_res: int, width: int, smooth: int = 0, out_channels: int = 1,
                 init_occupancy: float = 0.5):
        super().__init__()
        levels = _levels(voxel_res)
        self.z_dim, self.width = z_dim, width
        self.fc = nn.Sequential(nn.Linear(z_dim, width * 4**3), nn.ReLU())
        blocks, ch = [], width
        for i in range(levels):
            last = i == levels - 1
            out = out_channels if last else max(ch // 2, 8)
            blocks += [nn.Conv3d(ch, 8 * out, 3, padding=1), VoxelShuffle()]
            blocks += [nn.BatchNorm3d(out), nn.ReLU()] if not last else (
                [nn.AvgPool3d(smooth, 1, smooth // 2, count_include_pad=False)] if smooth > 1 else []) + [nn.Sigmoid()]
            ch = out
        self.blocks = nn.Sequential(*blocks)
        nn.init.zeros_(self.output_conv.bias)
        with torch.no_grad():  # channels 0-7 become occupancy after the voxel shuffle; the rest (emission) stay 0
            self.output_conv.bias[:8] = math.log(init_occupancy / (1 - init_occupancy))

    @property
    def output_conv(self) -> nn.Conv3d:
        return next(m for m in reversed(self.blocks) if isinstance(m, nn.Conv3d))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.fc(z).view(-1, self.width, 4, 4, 4))


class StretchedSigmoid(nn.Module):
    """sigmoid scaled to [-0.05, 1.05]: pixel values 0 and 1 (the white background) are reached at finite
    logits. A plain sigmoid is pulled into saturation by the background, where its gradient vanishes: the
    proxy then renders everything blank and the generator gets no gradient (docs/experiments.md, run A3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(x) * 1.1 - 0.05


class ProxyRenderer(nn.Module):
    """R_φ(x, c): a neural imitation of the real renderer f, differentiable in x (RenderNet-style).

    1. resample the voxels into the camera's frustum (differentiable grid_sample, depth along rays);
    2. group every 4 depth slices as channels (a reshape: nothing is lost, a single voxel stays visible),
       then a 3x3x3 conv: local surface orientation;
    3. projection unit: fold depth into channels, then 1x1 convs = a small MLP along each ray
       (which surface is in front, how it is lit);
    4. 3x3 2D convs to the image, through a StretchedSigmoid.

    The 2D layers run channels-last (NHWC), which oneDNN's CPU convolutions take without reordering
    (benchmarks/RESULTS.md §7); `channels_last=False` gives the plain layout, for comparison.
    """

    def __init__(self, voxel_res: int, image_size: int, channels: int, width: int, channels_last: bool = True):
        super().__init__()
        if voxel_res % 4:
            raise ValueError(f"voxel_res must be a multiple of 4, got {voxel_res}")
        self.depth, self.image_size = voxel_res, image_size
        w = width
        act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
        self.encoder = nn.Sequential(nn.Conv3d(4, w, 3, padding=1), act())
        self.projection = nn.Sequential(nn.Conv2d(w * voxel_res // 4, 8 * w, 1), act(), nn.Conv2d(8 * w, 4 * w, 1), act())
        self.decoder = nn.Sequential(
            nn.Conv2d(4 * w, 4 * w, 3, padding=1), act(),
            nn.Conv2d(4 * w, 4 * w, 3, padding=1), act(),
            nn.Conv2d(4 * w, channels, 3, padding=1), StretchedSigmoid(),
        )
        self.set_channels_last(channels_last)

    def set_channels_last(self, on: bool) -> None:
        """Lay the 2D layers' weights (and, in forward, their inputs) out as NHWC (on) or NCHW (off)."""
        self.layout = torch.channels_last if on else torch.contiguous_format
        self.projection.to(memory_format=self.layout)
        self.decoder.to(memory_format=self.layout)

    def forward(self, voxels: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        """voxels (B, 1, N, N, N), grid from camera.frustum_grid(cams, image_size, depth=N) -> (B, C, H, W)."""
        v = resample_to_camera(voxels, grid)[:, 0]  # (B, D, H, W), depth 0 nearest the camera
        b, d, h, w = v.shape
        v = self.encoder(v.view(b, d // 4, 4, h, w).transpose(1, 2))  # (B, C, D/4, H, W)
        v = v.reshape(b, -1, h, w).contiguous(memory_format=self.layout)
        return self.decoder(self.projection(v)).contiguous()


def proxy_render(R: nn.Module, x: torch.Tensor, grid: torch.Tensor, thresholds, amp: bool = False) -> torch.Tensor:
    """R on x shifted by 0.5 - threshold: f at level t on x equals f at level 0.5 on the shifted grid, so R
    learns one renderer instead of a blur over unseen levels (docs/method.md §10). `amp`: bf16 autocast."""
    shift = torch.as_tensor(0.5 - np.asarray(thresholds), dtype=x.dtype, device=x.device).view(-1, 1, 1, 1, 1)
    with distributed.autocast(x.device, amp):
        return R(x + shift, grid).float()


class Discriminator(nn.Module):
    """D_ψ(y): images (B, C, H, W) in [0, 1] -> logits (B,). DCGAN-style strided 4x4 convs with
    spectral norm on every layer (docs/method.md §4), down to 4x4, then a linear layer.

    `minibatch_std` appends the batch's feature standard deviation as one more 4x4 channel (Karras et
    al. 2018): a batch of near-identical fakes looks unlike a batch of varied real images, so D can
    punish mode collapse (docs/experiments.md)."""

    def __init__(self, image_size: int, channels: int, width: int, minibatch_std: bool = False):
        super().__init__()
        layers, ch, size = [], channels, image_size
        out = width
        while size > 4:
            layers += [spectral_norm(nn.Conv2d(ch, out, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            ch, size, out = out, size // 2, min(out * 2, 8 * width)
        self.features = nn.Sequential(*layers)
        self.minibatch_std = minibatch_std
        self.head = spectral_norm(nn.Linear((ch + minibatch_std) * size * size, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h = self.features(images * 2 - 1)
        if self.minibatch_std:
            std = h.std(dim=0, unbiased=False).mean().expand(h.shape[0], 1, *h.shape[2:])
            h = torch.cat([h, std], 1)
        return self.head(h.flatten(1)).squeeze(1)


@dataclass
class Nets:
    G: Generator
    R: ProxyRenderer | None  # IG-GAN only: the baselines project differentiably
    D: Discriminator


def build_nets(p: Preset, g_channels: int = 1, init_occupancy: float = 0.5, proxy: bool = True) -> Nets:
    """G, R and D as preset `p` sizes them (a method's: methods.Method.build_nets); R only with `proxy`."""
    channels = 3 if p.color else 1
    # R before G: the seed's draws, as every shipped run was initialised
    R = ProxyRenderer(p.voxel_res, p.image_size, channels, p.proxy_width) if proxy else None
    return Nets(Generator(p.z_dim, p.voxel_res, p.g_width, p.g_smooth, g_channels, init_occupancy), R,
                Discriminator(p.image_size, channels, p.d_width, p.d_minibatch_std))
