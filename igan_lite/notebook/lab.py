"""Small experiments the notebooks run live: `ProxyLab` (notebook 02) pretrains a proxy and shows what DOM
changes; `ablation_run` (notebook 05) trains short IG-GAN runs with DOM, pretraining or a weight changed.

`ProxyLab` pretrains a proxy R0 on the prior (docs/method.md §3) and trains a discriminator D to tell
real chair images from real-renderer images of generator-like grids, from the public pieces: the nets
(a training run's initial ones for the seed), f (a RenderPool, closed once its images are drawn) and the
pretraining of steps.py. `fit(lambda_l2, lambda_dom)` then
fine-tunes a copy of R0 on generator-like grids and reports, on held-out grids, the pixel error
||R - f||^2 and the discriminator mismatch |D(R) - D(f)|: DOM trades the first for the second.
"""
from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from igan_lite.core import losses
from igan_lite.core.nets import build_nets, proxy_render
from igan_lite.core.steps import draw_views, grids, optimise, pretrain_proxy
from igan_lite.data.datasets import build_dataset, default_dir, load_dataset, render_settings
from igan_lite.data.proxy_prior import blob_grids, prior_grids, speckle_grids
from igan_lite.presets import Preset, get_preset
from igan_lite.render.pool import RenderPool
from igan_lite.training.run_folder import checkpoint_path, run_finished
from igan_lite.training.train import train


def ablation_run(root: str | Path, category: str = "chair", preset: str | Preset | None = None, steps: int = 60,
                 seed: int = 0, progress: bool = True, **overrides) -> Path:
    """A short IG-GAN run with preset fields changed (e.g. lambda_dom=0, pretrain=False), in a folder of ROOT
    named by the changes; trained once, then reused (or resumed if interrupted)."""
    base = get_preset(preset, steps=steps)
    overrides = {k: v for k, v in overrides.items() if getattr(base, k) != v}
    p = get_preset(base, **overrides)
    changes = "-".join(f"{k}={v}" for k, v in sorted(overrides.items())) or "recipe"
    run = Path(root) / f"{category}-{p.name}-{steps}steps-seed{seed}-{changes}"
    if not run_finished(run, steps):
        train("iggan", category, p, run, seed, resume=checkpoint_path(run).exists(), progress=progress, device="auto")
    return run


class ProxyLab:
    def __init__(self, preset: str | Preset | None = None, category: str = "chair", seed: int = 0,
                 n_grids: int = 64, d_steps: int = 60):
        p = get_preset(preset)
        torch.manual_seed(seed)
        nets = build_nets(p)
        self.R0, self.D = nets.R, nets.D
        rng = np.random.default_rng(seed)  # pretraining and cameras draw what a training run with this seed does
        real = load_dataset(build_dataset(category, p, default_dir(category, p), progress=False))
        self.settings = render_settings(p)  # f's
        with RenderPool(p.render_workers, self.settings) as f:
            adam = torch.optim.Adam(self.R0.parameters(), p.lr_proxy, betas=p.betas)
            prior = prior_grids(p.voxel_res, p.pretrain_shapes, rng, nets.G)
            self.pretrain_log = pretrain_proxy(self.R0, adam, f.render, prior, p, rng, progress=False)
            grid_rng, half = np.random.default_rng(seed + 1), n_grids // 2
            x = np.concatenate([blob_grids(p.voxel_res, half, grid_rng), speckle_grids(p.voxel_res, n_grids - half, grid_rng)])
            self.x = torch.from_numpy(x[grid_rng.permutation(n_grids)])[:, None]
            self.cams, self.thresholds = draw_views(rng, n_grids, p.threshold_range)
            self.grid, self.f_images = grids(self.cams, p, "cpu"), f.render(self.x, self.cams, self.thresholds)
        self.train_idx, self.test_idx = np.arange(half), np.arange(half, n_grids)
        adam, self.d_log = torch.optim.Adam(self.D.parameters(), p.lr_d, betas=p.betas), []
        for _ in range(d_steps):  # D learns real chairs (label 1) vs f-renders of the lab's grids (label 0)
            batch = real.batch(torch.from_numpy(rng.choice(len(real), n_grids)))
            self.d_log.append(optimise(adam, losses.d_loss(self.D(batch), self.D(self.f_images))).item())
        self.D.requires_grad_(False)

    def proxy_images(self, R: torch.nn.Module, idx) -> torch.Tensor:
        with torch.no_grad():
            return proxy_render(R, self.x[idx], self.grid[idx], self.thresholds[idx])

    def fit(self, lambda_l2: float = 1.0, lambda_dom: float = 0.0, steps: int = 40, lr: float = 1e-3) -> dict:
        """Fine-tune a copy of R0 with lambda_l2 * L2 + lambda_dom * DOM; evaluate on held-out grids."""
        R = copy.deepcopy(self.R0)
        opt = torch.optim.Adam(R.parameters(), lr)
        tr = self.train_idx
        for _ in range(steps):
            proxy = proxy_render(R, self.x[tr], self.grid[tr], self.thresholds[tr])
            optimise(opt, losses.proxy_loss(proxy, self.f_images[tr], self.D, lambda_l2, lambda_dom)[0])
        te = self.test_idx
        proxy, real = self.proxy_images(R, te), self.f_images[te]
        with torch.no_grad():
            d_gap = (self.D(proxy) - self.D(real)).abs().mean().item()
        return {"pixel_l2": losses.proxy_l2(proxy, real).item(), "d_output_gap": d_gap, "proxy": proxy, "real": real}
