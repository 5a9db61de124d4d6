"""The collapses this project logged, each reproduced in seconds at the smoke preset beside a healthy control,
and the diagnostic (diagnostics.py) that catches it: notebook 08.

A recipe is the preset with one or two settings changed (`Failure.broken`), next to the same preset with only
the cause undone (`Failure.healthy`). Where the lite runs took a hundred iterations to fail, the recipe raises a
learning rate so that the same failure comes within ten smoke steps; each says so. Runs are written to a folder
and reused when asked again. `reproduce(name)` returns both runs' metrics rows (one per step, with their warnings).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from igan_lite.core import losses
from igan_lite.core.diagnostics import collapse_warnings, collapsed, sample_stats
from igan_lite.core.nets import StretchedSigmoid, proxy_render
from igan_lite.core.steps import draw_views, f
from igan_lite.core.steps import grids as frustum_grids
from igan_lite.data.proxy_prior import blob_grids, primitive_grids, prior_grids
from igan_lite.presets import get_preset
from igan_lite.training.run_folder import checkpoint_path, read_metrics, run_finished
from igan_lite.training.train import build, run_config, train


@dataclass(frozen=True)
class Failure:
    """A logged collapse: where it was logged, the warning kind that catches it, the preset changes that reproduce
    it (`broken`) and the control that undoes its cause (`healthy`), for `steps` steps; a run counts as collapsed
    when the warning fires in more than half of its last `window` steps (`diagnostics.collapsed`)."""

    logged: str
    kind: str
    broken: dict
    healthy: dict
    steps: int
    window: int
    method: str = "iggan"
    note: str = ""


FAILURES = {
    "speckle": Failure(
        "docs/background.md §2 (first two prototypes); the early phase of runs A and A2", "speckle",
        broken={"lambda_ms": 0.0, "lr_g": 1e-3}, healthy={"lr_g": 1e-3}, steps=10, window=4,
        note="G's learning rate ×5 so that the occupancy falls within ten steps, as it did over A2's first 14"),
    "mode collapse": Failure(
        "docs/experiments.md, runs A and A2 (all samples one chair)", "alike",
        broken={"lambda_ms": 0.0, "lr_g": 5e-3}, healthy={"lr_g": 5e-3}, steps=5, window=2,
        note="G's learning rate ×25: within four steps every code gives nearly the same block, a crude "
             "form of A2's one chair"),
    "DOM runaway": Failure(
        "docs/experiments.md, run E seed 1 (and F-table seed 1)", "dom",
        broken={"lr_d": 5e-3, "d_acc_max": 1.0}, healthy={}, steps=12, window=6,
        note="D updated at every step at 25× its learning rate: D wins, as it did in E seed 1 after step 331"),
    "dead proxy": Failure(
        "docs/experiments.md, run A3 (plain sigmoid output)", "proxy",
        broken={"plain_sigmoid": True}, healthy={"plain_sigmoid": False}, steps=100, window=2,
        note="the proxy alone, on held-out prior grids; 50 high-rate steps on white images first, as the "
             "white background pulled A3's proxy over its first 25 iterations"),
    "opaque baseline": Failure(
        "docs/experiments.md, run G (visual hull starting at occupancy 0.5)", "opaque",
        broken={"g_init_occupancy": 0.5}, healthy={}, steps=3, window=2, method="vh",
        note="the preset's own rates: the first image is already black"),
}


@dataclass
class Outcome:
    """The broken and the healthy run of a `Failure`, as metrics rows; `caught` is the verdict notebook 08 shows."""

    name: str
    failure: Failure
    broken: list[dict]
    healthy: list[dict] = field(default_factory=list)
    folders: tuple[Path, ...] = ()  # the broken and the healthy run folder (none for the proxy-only recipe)

    def collapsed(self) -> tuple[list[str], list[str]]:
        """diagnostics.collapsed of the broken run and of the healthy one, over the failure's window."""
        w = self.failure.window
        return collapsed(self.broken, w), collapsed(self.healthy, w)

    def messages(self) -> list[str]:
        """The failure's warning, as training printed it, at each step of the broken run where it fired."""
        return [f"step {r['step']}: {r['warnings'][self.failure.kind]}" for r in self.broken
                if self.failure.kind in r["warnings"]]

    @property
    def caught(self) -> bool:
        """The failure's warning marks the broken run as collapsed and not the healthy one."""
        broken, healthy = self.collapsed()
        return self.failure.kind in broken and self.failure.kind not in healthy


def reproduce(name: str, root: str | Path | None = None, preset: str = "smoke", seed: int = 0) -> Outcome:
    """Run failure `name` (a key of FAILURES) and its control at `preset`; runs go to ROOT (default: a temp folder)."""
    if name not in FAILURES:
        raise ValueError(f"unknown failure {name!r}; expected one of {list(FAILURES)}")
    failure = FAILURES[name]
    root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="igan-failures-"))
    if name == "dead proxy":
        return Outcome(name, failure, dead_proxy(True, preset, seed), dead_proxy(False, preset, seed))
    runs = [_trained(root / f"{name.replace(' ', '-')}-{label}", failure, changes, preset, seed)
            for label, changes in (("broken", failure.broken), ("healthy", failure.healthy))]
    return Outcome(name, failure, *map(read_metrics, runs), folders=tuple(runs))


def _trained(run: Path, failure: Failure, changes: dict, preset: str, seed: int) -> Path:
    """A finished run of `failure.method` with the preset changed by `changes` (trained now unless one is there)."""
    if not run_finished(run, failure.steps):
        p = get_preset(preset, steps=failure.steps, **changes)
        print(f"-- {run.name}: {', '.join(f'{k}={v}' for k, v in changes.items()) or 'the preset'} --")  # labels its log
        train(failure.method, "chair", p, run, seed, resume=checkpoint_path(run).exists(), progress=False,
              device="auto")
    return run


def dead_proxy(plain_sigmoid: bool, preset: str = "smoke", seed: int = 0, saturate_steps: int = 50,
               saturate_lr: float = 1e-2, steps: int = 100, every: int = 25) -> list[dict]:
    """Run A3's failure on the proxy alone. Its output activation is a plain sigmoid (A3) or the StretchedSigmoid
    that replaced it; `saturate_steps` Adam steps at `saturate_lr` fit it to white images (the background that
    pulled A3's proxy), then `steps` steps at the preset's rate fit it to f on prior grids. Every `every` steps
    a row: held-out pixel L2 ("proxy_error"), the share of blank proxy images, the mean gradient that reaches the
    voxels (what G would get), and collapse_warnings of the held-out grids."""
    p = get_preset(preset)
    with build(run_config("iggan", "chair", p, seed)) as t:
        R = t.nets.R
        if not isinstance(R.decoder[-1], StretchedSigmoid):
            raise RuntimeError("ProxyRenderer's output activation is no longer decoder[-1]; update failures.dead_proxy")
        if plain_sigmoid:
            R.decoder[-1] = nn.Sigmoid()
        rng = np.random.default_rng(seed)
        grids = torch.from_numpy(prior_grids(p.voxel_res, 64, rng, t.nets.G))[:, None]
        held = torch.from_numpy(np.concatenate([primitive_grids(p.voxel_res, 8, rng), blob_grids(p.voxel_res, 8, rng)]))[:, None]
        cams, levels = draw_views(t.rng, len(grids), p.threshold_range)
        held_cams, held_levels = draw_views(t.rng, len(held), p.threshold_range)
        grid, held_grid = frustum_grids(cams, p, t.device), frustum_grids(held_cams, p, t.device)
        images, held_images = f(t, grids, cams, levels), f(t, held, held_cams, held_levels)

    def fit(targets, n, lr, on_step=None):
        opt = torch.optim.Adam(R.parameters(), lr, betas=p.betas)
        for k in range(n):
            idx = rng.choice(len(grids), p.batch_size, replace=False)
            loss = losses.proxy_l2(proxy_render(R, grids[idx], grid[idx], levels[idx]), targets[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if on_step:
                on_step(k + 1)

    def row(step):
        if step % every:
            return
        x = held.clone().requires_grad_(True)
        proxy_images = proxy_render(R, x, held_grid, held_levels)
        proxy_images.sum().backward()
        stats = {**sample_stats(held, held_images, t.background),
                 "proxy_error": losses.proxy_l2(proxy_images.detach(), held_images).item()}
        blank = ((proxy_images.detach() - t.background).abs().flatten(1).amax(1) < 0.02).float().mean().item()
        rows.append({"step": step, **stats, "proxy_blank": blank, "grad_to_voxels": x.grad.abs().mean().item(),
                     "warnings": collapse_warnings(stats)})

    rows: list[dict] = []
    fit(torch.full_like(images, t.background), saturate_steps, saturate_lr)
    fit(images, steps, p.lr_proxy, row)
    return rows
