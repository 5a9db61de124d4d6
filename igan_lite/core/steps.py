"""One training iteration per method (docs/method.md §2, §8) as a flat function of a run's `Parts`: `iggan_step`,
`projection_step` (methods.py says which method takes which), the batches they draw (f with `run_ahead` one batch
ahead: `rendered_batch`), proxy pretraining (§3) and the sample grid.

The real renderer f and the real images come in from outside, typed only by what the step asks of them
(`Renderer`, `RealImages`): IG-GAN's premise is that f is a black box it cannot differentiate.
"""
from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from tqdm.auto import tqdm

from igan_lite.core import losses
from igan_lite.core.camera import SAMPLE_VIEWS, Camera, CameraPrior, frustum_grid
from igan_lite.core.diagnostics import collapse_warnings, sample_stats
from igan_lite.core.nets import Nets, proxy_render
from igan_lite.core.projection import silhouettes
from igan_lite.infra import distributed
from igan_lite.presets import Preset

if TYPE_CHECKING:  # the one type-only import of the floor: the method table names these steps
    from igan_lite.core.methods import Method


class RenderJob(Protocol):
    def result(self) -> torch.Tensor:
        """The images, once drawn."""


class Renderer(Protocol):
    """The real renderer f, a black box: occupancy grids (B, 1, N, N, N) on the CPU, cameras and surface levels ->
    images (B, C, H, W) in [0, 1]. render/pool.py's RenderPool is one (Open3D, in worker processes)."""

    def render(self, voxels: torch.Tensor, cameras: list[Camera], thresholds) -> torch.Tensor: ...
    def submit(self, voxels: torch.Tensor, cameras: list[Camera], thresholds) -> RenderJob: ...
    def close(self) -> None: ...


class RealImages(Protocol):
    """The unstructured training images: no poses, only a count and batches (B, C, H, W) in [0, 1]."""

    def __len__(self) -> int: ...
    def batch(self, idx: torch.Tensor) -> torch.Tensor: ...


@dataclass
class Batch:
    """Generated shapes x = G(z) and the views they are drawn from: cameras, f's surface levels, R's grids."""

    z: torch.Tensor
    x: torch.Tensor
    cams: list[Camera]
    thresholds: np.ndarray
    grid: torch.Tensor


@dataclass
class Parts(AbstractContextManager):
    """What one run trains and draws with, and where it stands: `step_count`, and the run-ahead batch f is
    drawing (`pending`). `nets` are the nets themselves; `ddp` the same nets as the forward pass before their own
    update uses them (DDP-wrapped under torchrun, else the same objects). Leaving `with` closes f and drops the
    DDP wrappers, so none still holds the process group when distributed.leave() destroys it.
    Built by training/train.py's `build`."""

    config: dict
    p: Preset
    method: Method
    device: torch.device
    amp: bool  # bf16 autocast of G and R
    rank: distributed.Rank
    nets: Nets
    ddp: Nets
    opt_g: torch.optim.Optimizer
    opt_r: torch.optim.Optimizer | None
    opt_d: torch.optim.Optimizer
    rng: np.random.Generator
    real: RealImages
    renderer: Renderer
    background: float
    step_count: int = 0
    pending: tuple[Batch, RenderJob] | None = None

    @property
    def run_ahead(self) -> bool:
        return self.p.run_ahead and self.method.proxy

    def __exit__(self, *exc) -> None:
        self.renderer.close()
        self.ddp = self.nets


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the step, the phase (and, from train(), the last checkpoint)."""


def finite(loss: torch.Tensor, phase: str, step: int) -> torch.Tensor:
    if not torch.isfinite(loss):
        raise TrainingDiverged(f"{phase} loss became {loss.item()} at step {step}")
    return loss


def optimise(opt: torch.optim.Optimizer, loss: torch.Tensor) -> torch.Tensor:
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


class Clock:
    """Seconds per phase of a step: metrics.jsonl's time_* fields."""

    def __init__(self):
        self.times, self.last = {}, time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.times[f"time_{phase}"], self.last = now - self.last, now


def draw_views(rng: np.random.Generator, n: int, threshold_range) -> tuple[list[Camera], np.ndarray]:
    """n cameras from the prior p(c) and f's surface level per shape, U[threshold_range] (docs/method.md §10)."""
    return CameraPrior().sample(n, rng), rng.uniform(*threshold_range, n)


def grids(cams: list[Camera], p: Preset, device: torch.device) -> torch.Tensor:
    """The frustum grids through which R and the projections see the voxels."""
    return frustum_grid(cams, p.image_size, p.voxel_res).to(device)


def generate(t: Parts, z: torch.Tensor, G: torch.nn.Module) -> torch.Tensor:
    with distributed.autocast(t.device, t.amp):
        return G(z.to(t.device)).float()


def discriminate(D: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """D in float32 even under amp: its spectral norm and the logits DOM matches need the precision."""
    return D(images.float())


def f(t: Parts, x: torch.Tensor, cams, thresholds) -> torch.Tensor:
    """The real, non-differentiable renderer's images of x's detached occupancy (channel 0), on the run's device."""
    return t.renderer.render(x[:, :1].detach().float().cpu(), cams, thresholds).to(t.device)


def submit(t: Parts, b: Batch) -> tuple[Batch, RenderJob]:
    """b, and the render workers' job drawing it with f; returns at once."""
    return b, t.renderer.submit(b.x[:, :1].detach().float().cpu(), b.cams, b.thresholds)


def new_batch(t: Parts, grad: bool) -> Batch:
    """z ~ N(0, I), x = G(z) (with a graph, through DDP's G, when `grad`) and views from the prior."""
    z = torch.randn(t.p.batch_size, t.p.z_dim)
    with torch.set_grad_enabled(grad):
        x = generate(t, z, t.ddp.G if grad else t.nets.G)
    cams, thresholds = draw_views(t.rng, t.p.batch_size, t.p.threshold_range)
    return Batch(z, x, cams, thresholds, grids(cams, t.p, t.device))


def rendered_batch(t: Parts, clock: Clock) -> tuple[Batch, torch.Tensor]:
    """A generated batch and f's images of it: drawn now (serial), or sent to the workers during the previous
    step, by G before that step's update, while the next one is sent now (run-ahead, docs/method.md §10)."""
    if not t.run_ahead:
        b = new_batch(t, grad=True)
        clock.lap("generator_forward")
        fake = f(t, b.x, b.cams, b.thresholds)
        clock.lap("real_render")
        return b, fake
    if t.pending is None:  # the first step (or a resumed run without a pending batch) fills the pipeline
        t.pending = submit(t, new_batch(t, grad=False))
    b, job = t.pending
    fake = job.result().to(t.device)  # waits only if f is slower than the nets
    clock.lap("real_render")
    t.pending = submit(t, new_batch(t, grad=False))
    clock.lap("generator_forward")
    return b, fake


def d_update(t: Parts, fake: torch.Tensor) -> dict:
    """D: min -log D(y) - log(1 - D(fake)) on real images y (silhouettes for VH and AO: all they can draw), only
    while it is not ahead (losses.d_ahead); two passes alone (as every shipped run), one under DDP."""
    real = t.real.batch(torch.from_numpy(t.rng.choice(len(t.real), t.p.batch_size))).to(t.device)
    real = silhouettes(real, t.background) if t.method.silhouettes else real
    if t.rank.world == 1:
        real_logits, fake_logits = discriminate(t.nets.D, real), discriminate(t.nets.D, fake)
    else:
        real_logits, fake_logits = discriminate(t.ddp.D, torch.cat([real, fake])).split(len(real))
    loss = finite(losses.d_loss(real_logits, fake_logits), "discriminator", t.step_count + 1)
    acc = t.rank.mean(losses.d_accuracy(real_logits, fake_logits))  # every rank takes the same decision
    update = not losses.d_ahead(acc, t.rank.mean(loss.item()), t.p.d_acc_max, t.p.d_ahead_loss)
    if update:
        optimise(t.opt_d, loss)
    return {"loss_d": loss.item(), "d_acc": acc, "d_updated": update}


def g_update(t: Parts, z: torch.Tensor, x: torch.Tensor, images: torch.Tensor, hold: bool = False) -> dict:
    """G: min -log D(images) + lambda_ms / (mean|G(z1) - G(z2)| / mean|z1 - z2| + eps), images differentiable
    in x = G(z) (losses.g_loss, losses.mode_seeking_loss); no update while `hold`."""
    loss_g = finite(losses.g_loss(discriminate(t.nets.D, images)), "generator", t.step_count + 1)
    loss_ms = losses.mode_seeking_loss(x, z.to(t.device)) if t.p.lambda_ms > 0 else torch.zeros(())
    if not hold:
        optimise(t.opt_g, loss_g + t.p.lambda_ms * loss_ms)
    return {"loss_g": loss_g.item(), "loss_ms": loss_ms.item(), "g_updated": not hold}


def iggan_step(t: Parts) -> dict:
    """One IG-GAN iteration (docs/method.md §2): D on f's images of G's shapes, R towards f on the same
    shapes, G through R. Each net is frozen outside its own update."""
    p, clock, D, R = t.p, Clock(), t.nets.D, t.nets.R
    b, fake = rendered_batch(t, clock)  # x = G(z); fake = f(x, c), by the render workers
    d = d_update(t, fake.detach())  # D: -log D(y) - log(1 - D(f(x, c)))
    clock.lap("discriminator")
    D.requires_grad_(False)
    R.requires_grad_(True)
    for k in range(p.proxy_steps):  # R: lambda_l2 ||R(x, c) - f(x, c)||^2 + lambda_dom rho(D(R(x, c)) - D(f(x, c)))
        images = proxy_render(t.ddp.R, b.x.detach(), b.grid, b.thresholds, t.amp)
        loss_r, loss_l2, loss_dom = losses.proxy_loss(images, fake, partial(discriminate, D), p.lambda_l2, p.lambda_dom)
        if k == 0:
            proxy_error = loss_l2.item()  # R's error on this batch of G's samples, before updating
        optimise(t.opt_r, finite(loss_r, "proxy", t.step_count + 1))
    R.requires_grad_(False)
    clock.lap("proxy")
    x = generate(t, b.z, t.ddp.G) if t.run_ahead else b.x  # run-ahead: b.x came from G before its last update
    hold = p.g_hold_proxy_error > 0 and t.rank.mean(proxy_error) > p.g_hold_proxy_error  # R catches up first
    g = g_update(t, b.z, x, proxy_render(R, x, b.grid, b.thresholds, t.amp), hold)  # G: -log D(R(G(z), c)) + MS
    D.requires_grad_(True)
    clock.lap("generator")
    proxy = {"proxy_l2": loss_l2.item(), "proxy_dom": loss_dom.item(), "proxy_error": proxy_error}
    return end_step(t, b, fake, clock, {**d, **g}, proxy)


def projection_step(t: Parts) -> dict:
    """One iteration of a projection baseline (docs/method.md §8): D, then G through the same projection."""
    clock = Clock()
    b = new_batch(t, grad=True)  # x = G(z)
    clock.lap("generator_forward")
    fake = t.method.project(b.x, b.grid, t.background)  # differentiable in x: G's gradient is exact
    clock.lap("projection")
    d = d_update(t, fake.detach())  # D: -log D(y) - log(1 - D(project(x, c)))
    clock.lap("discriminator")
    t.nets.D.requires_grad_(False)
    g = g_update(t, b.z, b.x, fake)  # G: -log D(project(G(z), c)) + mode seeking
    t.nets.D.requires_grad_(True)
    clock.lap("generator")
    return end_step(t, b, fake, clock, {**d, **g})


def end_step(t: Parts, b: Batch, fake: torch.Tensor, clock: Clock, updates: dict, proxy: dict | None = None) -> dict:
    """Count the step; its metrics.jsonl row: the updates, sample statistics, timings and warnings."""
    t.step_count += 1
    stats = {**sample_stats(b.x[:, :1].cpu(), fake.cpu(), background=t.background), **(proxy or {})}
    return {"step": t.step_count, **updates, **stats, **clock.times, "warnings": collapse_warnings(stats)}


def pretrain_proxy(R: torch.nn.Module, opt: torch.optim.Optimizer, f, prior: np.ndarray, p: Preset,
                   rng: np.random.Generator, amp: bool = False, progress: bool = True) -> list[dict]:
    """Fit R to f by pixel L2 on the grids `prior` (N, n, n, n) (data/proxy_prior.py: primitives, blobs, speckle,
    an untrained G; docs/method.md §3), each from a camera and surface level drawn here.
    `f(x, cams, thresholds)`: the real renderer's images, on R's device."""
    device = next(R.parameters()).device
    x = torch.from_numpy(prior)[:, None]
    cams, thresholds = draw_views(rng, len(x), p.threshold_range)
    images = torch.cat([f(x[i:i + 64], cams[i:i + 64], thresholds[i:i + 64]) for i in range(0, len(x), 64)])
    x, log = x.to(device), []
    for step in tqdm(range(p.pretrain_steps), desc="pretraining proxy", disable=not progress):
        idx = rng.choice(len(x), p.batch_size, replace=False)
        grid = grids([cams[i] for i in idx], p, device)  # per batch: 400 MB as a bank
        loss = losses.proxy_l2(proxy_render(R, x[idx], grid, thresholds[idx], amp), images[idx])
        optimise(opt, finite(loss, "proxy pretraining", step))
        log.append({"pretrain_step": step, "proxy_l2": loss.item()})
    return log


def sample_grid(t: Parts) -> torch.Tensor:
    """f's images of 8 fixed samples from the SAMPLE_VIEWS, then R's (a baseline: its projection's): (48, C, H, W)."""
    G, n = t.nets.G, 8
    G.eval()
    with torch.no_grad():
        x = generate(t, torch.from_numpy(np.random.default_rng(1234).standard_normal((n, t.p.z_dim))).float(), G)
        rows = [f(t, x, [c] * n, [0.5] * n) for c in SAMPLE_VIEWS]
        for grid in [grids([c] * n, t.p, t.device) for c in SAMPLE_VIEWS]:
            rows.append(proxy_render(t.nets.R, x, grid, [0.5] * n, t.amp) if t.method.proxy
                        else t.method.project(x, grid, t.background))
    G.train()
    return torch.cat(rows).cpu()
