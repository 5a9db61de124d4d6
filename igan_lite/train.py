"""IG-GAN training (docs/method.md §2): proxy pretraining, then D / proxy / G updates per iteration; and the
baselines (`method` vh / ao / ea), where a differentiable projection replaces renderer and proxy (projection.py).

A run folder holds config.json, metrics.jsonl (one line per step), samples/*.png, generators/*.pt (the
generator every `sample_every` steps) and checkpoint.pt (atomic, every `checkpoint_every` steps, with every
RNG state, so `resume=True` continues bit for bit).
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from . import checkpoint, losses, projection
from .camera import Camera, CameraPrior, frustum_grid
from .data import build_dataset, default_dir, load_dataset, render_settings
from .diagnostics import collapse_warnings, sample_stats
from .nets import Discriminator, Generator, ProxyRenderer
from .presets import Preset, get_preset, preset_from_dict
from .proxy_prior import prior_grids
from .render import render_voxels

METHODS = ("iggan", *projection.METHODS)
SAMPLE_VIEWS = [Camera(30.0, 25.0), Camera(150.0, 25.0), Camera(270.0, 25.0)]  # the figures' three views


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the step, the phase and the last good checkpoint."""


@dataclass
class Nets:
    G: Generator
    R: ProxyRenderer | None  # IG-GAN only: the baselines project differentiably
    D: Discriminator


def build_nets(p: Preset, method: str = "iggan") -> Nets:
    channels = 3 if p.color else 1
    if method != "iggan" and p.color:
        raise ValueError(f"the {method} baseline is grayscale; use a preset with color=False")
    if method == "iggan":
        g_out, occupancy = 1, 0.5
        R = ProxyRenderer(p.voxel_res, p.image_size, channels, p.proxy_width)
    else:
        g_out, occupancy, R = projection.channels(method), projection.init_occupancy(p.voxel_res), None
    return Nets(Generator(p.z_dim, p.voxel_res, p.g_width, p.g_smooth, g_out, occupancy), R,
                Discriminator(p.image_size, channels, p.d_width, p.d_minibatch_std))


def run_config(method: str, category: str, p: Preset, seed: int) -> dict:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {list(METHODS)}")
    return json.loads(json.dumps({"method": method, "category": category, "seed": seed, "preset": asdict(p)}))


class Trainer:
    """Holds the nets, optimisers, RNGs and data of one run; `step()` is one iteration of its method."""

    def __init__(self, config: dict, out: Path):
        self.config, self.out = config, out
        self.p = p = preset_from_dict(config["preset"])
        if p.threads > 0:
            torch.set_num_threads(p.threads)
        torch.manual_seed(config["seed"])
        self.rng = np.random.default_rng(config["seed"])
        self.method = config["method"]
        self.nets = build_nets(p, self.method)
        self.opt_g = torch.optim.Adam(self.nets.G.parameters(), p.lr_g, betas=p.betas)
        self.opt_r = torch.optim.Adam(self.nets.R.parameters(), p.lr_proxy, betas=p.betas) if self.nets.R else None
        self.opt_d = torch.optim.Adam(self.nets.D.parameters(), p.lr_d, betas=p.betas)
        self.settings = render_settings(p)
        self.background = self.settings.background[0]
        self.prior = CameraPrior()
        self.step_count = 0
        data_dir = build_dataset(config["category"], p, default_dir(config["category"], p), progress=False)
        self.real = load_dataset(data_dir)
        self.fixed_z = torch.from_numpy(np.random.default_rng(1234).standard_normal((8, p.z_dim))).float()

    # --- the real renderer and the proxy on the same batch --------------------------------------

    def sample_views(self, b: int):
        """Cameras from the prior, f's surface level per shape, and the proxy's frustum grids."""
        cams = self.prior.sample(b, self.rng)
        thresholds = self.rng.uniform(*self.p.threshold_range, b)
        return cams, thresholds, frustum_grid(cams, self.p.image_size, self.p.voxel_res)

    def f(self, x: torch.Tensor, cams, thresholds) -> torch.Tensor:
        """The real, non-differentiable renderer on detached voxels (occupancy: channel 0)."""
        return render_voxels(x[:, :1].detach(), cams, self.settings, thresholds)

    def proxy(self, x: torch.Tensor, grid: torch.Tensor, thresholds, R: ProxyRenderer | None = None) -> torch.Tensor:
        """R (default: the run's) on x shifted by 0.5 - threshold: f at level t on x equals f at level 0.5
        on the shifted grid, so R learns one renderer instead of a blur over unseen levels (docs/method.md §10)."""
        shift = torch.as_tensor(0.5 - np.asarray(thresholds), dtype=x.dtype).view(-1, 1, 1, 1, 1)
        return (R or self.nets.R)(x + shift, grid)

    # --- proxy pretraining (docs/method.md §3) -------------------------------------------------

    def pretrain_proxy(self, progress: bool = True) -> list[dict]:
        """Fit R to f by pixel L2 on prior_grids (primitives, blobs, speckle, untrained G)."""
        p = self.p
        self.nets.G.eval()
        grids = torch.from_numpy(prior_grids(p.voxel_res, p.pretrain_shapes, self.rng, self.nets.G))[:, None]
        self.nets.G.train()
        cams, thresholds, grid = self.sample_views(len(grids))
        images = torch.cat([self.f(grids[i:i + 64], cams[i:i + 64], thresholds[i:i + 64]) for i in range(0, len(grids), 64)])
        log = []
        for step in tqdm(range(p.pretrain_steps), desc="pretraining proxy", disable=not progress):
            idx = self.rng.choice(len(grids), p.batch_size, replace=False)
            loss = losses.proxy_l2(self.proxy(grids[idx], grid[idx], thresholds[idx]), images[idx])
            self._check_finite(loss, "proxy pretraining", step)
            self.opt_r.zero_grad()
            loss.backward()
            self.opt_r.step()
            log.append({"pretrain_step": step, "proxy_l2": loss.item()})
        return log

    # --- one iteration (docs/method.md §2) -----------------------------------------------------

    def real_batch(self, b: int) -> torch.Tensor:
        """b real images; silhouettes of them for VH and AO, which can draw nothing else."""
        real = self.real.batch(torch.from_numpy(self.rng.choice(len(self.real), b)))
        return projection.silhouettes(real, self.background) if self.method in ("vh", "ao") else real

    def step(self) -> dict:
        p, G, D = self.p, self.nets.G, self.nets.D
        timings, t = {}, time.perf_counter()

        def lap(name):
            nonlocal t
            now = time.perf_counter()
            timings[f"time_{name}"] = now - t
            t = now

        z = torch.randn(p.batch_size, p.z_dim)
        x = G(z)
        cams, thresholds, grid = self.sample_views(p.batch_size)
        lap("generator_forward")
        iggan = self.method == "iggan"
        fake = self.f(x, cams, thresholds) if iggan else projection.project(self.method, x, grid, self.background)
        lap("real_render" if iggan else "projection")

        # 1. discriminator: real images vs images of generated shapes (IG-GAN: by the real renderer)
        real_logits, fake_logits = D(self.real_batch(p.batch_size)), D(fake.detach())
        loss_d = losses.d_loss(real_logits, fake_logits)
        self._check_finite(loss_d, "discriminator")
        acc = losses.d_accuracy(real_logits, fake_logits)
        d_updated = acc < p.d_acc_max
        if d_updated:
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
        lap("discriminator")

        D.requires_grad_(False)
        proxy_stats = self._proxy_steps(x, fake, grid, thresholds) if iggan else {}
        lap("proxy")

        # 3. generator: adversarial loss through the proxy (IG-GAN) or the projection, plus mode seeking
        images = self.proxy(x, grid, thresholds) if iggan else fake
        loss_g = losses.g_loss(D(images))
        loss_ms = losses.mode_seeking_loss(x, z) if p.lambda_ms > 0 else torch.zeros(())
        self._check_finite(loss_g, "generator")
        self.opt_g.zero_grad()
        (loss_g + p.lambda_ms * loss_ms).backward()
        self.opt_g.step()
        D.requires_grad_(True)
        lap("generator")

        self.step_count += 1
        stats = {**sample_stats(x[:, :1], fake, background=self.background), **proxy_stats}
        return {"step": self.step_count, "loss_d": loss_d.item(), "loss_g": loss_g.item(), "loss_ms": loss_ms.item(), "d_acc": acc,
                "d_updated": d_updated, **stats, **timings, "warnings": collapse_warnings(stats)}

    def _proxy_steps(self, x: torch.Tensor, fake: torch.Tensor, grid: torch.Tensor, thresholds) -> dict:
        """2. proxy: pixel L2 + discriminator output matching on the generated shapes, `proxy_steps` times;
        leaves R frozen for the generator update (re-enabled at its next use)."""
        p, R, D = self.p, self.nets.R, self.nets.D
        R.requires_grad_(True)
        for k in range(p.proxy_steps):
            proxy_images = self.proxy(x.detach(), grid, thresholds)
            loss_r, loss_l2, loss_dom = losses.proxy_loss(proxy_images, fake, D, p.lambda_l2, p.lambda_dom)
            if k == 0:
                proxy_error = loss_l2.item()  # R's error on this batch of generator samples, before updating
            self._check_finite(loss_r, "proxy")
            self.opt_r.zero_grad()
            loss_r.backward()
            self.opt_r.step()
        R.requires_grad_(False)
        return {"proxy_l2": loss_l2.item(), "proxy_dom": loss_dom.item(), "proxy_error": proxy_error}

    def _check_finite(self, loss: torch.Tensor, phase: str, step: int | None = None) -> None:
        if not torch.isfinite(loss):
            step = self.step_count + 1 if step is None else step
            last = checkpoint_path(self.out)
            kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint was written yet"
            raise TrainingDiverged(f"{phase} loss became {loss.item()} at step {step}; {kept}. "
                                   "Try lower learning rates or a smaller lambda_dom.")

    # --- state ---------------------------------------------------------------------------------

    def _stateful(self) -> dict:
        n = self.nets
        parts = {"G": n.G, "R": n.R, "D": n.D, "opt_g": self.opt_g, "opt_r": self.opt_r, "opt_d": self.opt_d}
        return {name: part for name, part in parts.items() if part is not None}

    def state(self) -> dict:
        return {"config": self.config, "step": self.step_count,
                **{name: part.state_dict() for name, part in self._stateful().items()},
                "torch_rng": torch.get_rng_state(), "numpy_rng": self.rng.bit_generator.state}

    def load_state(self, state: dict) -> None:
        for name, part in self._stateful().items():
            part.load_state_dict(state[name])
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]
        self.step_count = state["step"]

    def sample_grid(self) -> torch.Tensor:
        """Real-renderer images of 8 fixed-z samples from the three SAMPLE_VIEWS, plus the proxy's (or the
        baseline's projection's) images of the same: (6 * 8, C, H, W), rows f view 1-3 then R view 1-3."""
        G, n = self.nets.G, len(self.fixed_z)
        G.eval()
        with torch.no_grad():
            x = G(self.fixed_z)
            rows = [self.f(x, [c] * n, [0.5] * n) for c in SAMPLE_VIEWS]
            grids = [frustum_grid([c] * n, self.p.image_size, self.p.voxel_res) for c in SAMPLE_VIEWS]
            rows += [self.proxy(x, g, [0.5] * n) if self.method == "iggan"
                     else projection.project(self.method, x, g, self.background) for g in grids]
        G.train()
        return torch.cat(rows)


def checkpoint_path(out: Path) -> Path:
    return out / "checkpoint.pt"


def run_finished(run: Path, steps: int) -> bool:
    """Whether RUN's checkpoint has reached `steps` iterations."""
    ckpt = checkpoint_path(run)
    return ckpt.exists() and checkpoint.load(ckpt)["step"] >= steps


def last_samples(run: str | Path) -> Path:
    """The newest sample grid of a run folder (or an exported run's samples.png)."""
    grids = sorted((Path(run) / "samples").glob("step_*.png"))
    if not grids and not (Path(run) / "samples.png").exists():
        raise FileNotFoundError(f"{run} has no samples/step_*.png or samples.png")
    return grids[-1] if grids else Path(run) / "samples.png"


def save_image_grid(images: torch.Tensor, path: Path, ncols: int) -> None:
    """(B, C, H, W) in [0, 1] -> one PNG, row-major, one pixel of grey between tiles."""
    b, c, h, w = images.shape
    rows = -(-b // ncols)
    canvas = torch.full((c, rows * (h + 1), ncols * (w + 1)), 0.5)
    for i, img in enumerate(images):
        r, k = divmod(i, ncols)
        canvas[:, r * (h + 1):r * (h + 1) + h, k * (w + 1):k * (w + 1) + w] = img
    arr = (canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(arr[..., 0] if c == 1 else arr).save(path)


def _truncate_metrics(path: Path, last_step: int) -> None:
    """Drop log lines of steps after the checkpoint (a killed run may have logged a few more)."""
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln).get("step", 0) <= last_step]
        path.write_text("".join(ln + "\n" for ln in lines))


def _check_resume(saved: dict, wanted: dict, path: Path) -> None:
    """Resuming must not silently change what is being trained (only `steps` may grow)."""
    s, w = dict(saved["preset"]), dict(wanted["preset"])
    s.pop("steps"), w.pop("steps")
    diff = {k: (s.get(k), w.get(k)) for k in set(s) | set(w) if s.get(k) != w.get(k)}
    diff.update({k: (saved[k], wanted[k]) for k in ("method", "category", "seed") if saved[k] != wanted[k]})
    if diff:
        shown = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ValueError(f"checkpoint {path} does not match the requested run ({shown})")


def train(method: str = "iggan", category: str = "chair", preset: str | Preset | None = None,
          out: str | Path = "runs/chair", seed: int = 0, resume: bool = False, progress: bool = True,
          callback=None) -> Path:
    """Train (or resume) one run into `out`; returns `out`. See the module docstring for what is written.
    `callback(row, trainer)`, if given, is called after every step (notebooks draw live plots with it)."""
    p = get_preset(preset)
    config = run_config(method, category, p, seed)
    out = Path(out)
    ckpt = checkpoint_path(out)
    if resume and not ckpt.exists():
        raise FileNotFoundError(f"cannot resume: no checkpoint at {ckpt}; run without --resume to start")
    if not resume and ckpt.exists():
        raise FileExistsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "samples").mkdir(exist_ok=True)
    (out / "generators").mkdir(exist_ok=True)
    metrics = out / "metrics.jsonl"

    state = checkpoint.load(ckpt) if resume else None
    if state is not None:
        _check_resume(state["config"], config, ckpt)
    trainer = Trainer(config, out)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    if state is not None:
        trainer.load_state(state)
        _truncate_metrics(metrics, trainer.step_count)
    else:
        metrics.write_text("")
        if p.pretrain and method == "iggan":
            log = trainer.pretrain_proxy(progress)
            (out / "pretrain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in log))
        checkpoint.save_atomic(trainer.state(), ckpt)

    bar = tqdm(range(trainer.step_count, p.steps), initial=trainer.step_count, total=p.steps,
               desc=f"{method} {category}", disable=not progress)
    seen_warnings: set[str] = set()
    with metrics.open("a") as log:
        for _ in bar:
            row = trainer.step()
            log.write(json.dumps(row) + "\n")
            log.flush()
            if callback is not None:
                callback(row, trainer)
            for kind, message in row["warnings"].items():
                if kind not in seen_warnings or row["step"] % p.sample_every == 0:
                    tqdm.write(f"step {row['step']}: warning: {message}")
                    seen_warnings.add(kind)
            bar.set_postfix(d=f"{row['loss_d']:.2f}", g=f"{row['loss_g']:.2f}", proxy=f"{row.get('proxy_error', 0):.4f}",
                            occ=f"{row['occupancy']:.3f}", div=f"{row['diversity']:.2f}")
            if row["step"] % p.sample_every == 0 or row["step"] == p.steps:
                save_image_grid(trainer.sample_grid(), out / "samples" / f"step_{row['step']:06d}.png", ncols=8)
                checkpoint.save_atomic({"config": config, "step": row["step"], "G": trainer.nets.G.state_dict()},
                                       out / "generators" / f"step_{row['step']:06d}.pt")
            if row["step"] % p.checkpoint_every == 0 or row["step"] == p.steps:
                checkpoint.save_atomic(trainer.state(), ckpt)
    return out


def load_generator(run: str | Path, snapshot: str | Path | None = None) -> tuple[Generator, Preset]:
    """The trained generator of a run folder (eval mode) and the preset it was trained with; `snapshot`
    picks a file from RUN/generators/ (written every `sample_every` steps) instead of the last checkpoint."""
    state = checkpoint.load(Path(snapshot) if snapshot is not None else checkpoint_path(Path(run)))
    p = preset_from_dict(state["config"]["preset"])
    G = build_nets(p, state["config"]["method"]).G
    G.load_state_dict(state["G"])
    return G.eval(), p


def read_metrics(run: str | Path) -> list[dict]:
    """The rows of a run's metrics.jsonl (one per step)."""
    path = Path(run) / "metrics.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{run} has no metrics.jsonl: is it a run folder written by `igan-lite train`?")
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def export_run(run: str | Path, out: str | Path) -> Path:
    """Copy what is needed to sample and inspect a run (config, generator, proxy, curves, last samples, scores)
    into `out`, without D and the optimiser states: a few MB, small enough to ship."""
    run, out = Path(run), Path(out)
    state = checkpoint.load(checkpoint_path(run))
    out.mkdir(parents=True, exist_ok=True)
    checkpoint.save_atomic({k: state[k] for k in ("config", "step", "G", "R") if k in state}, checkpoint_path(out))
    for name in ("config.json", "metrics.jsonl", "evaluation.json"):
        if name != "evaluation.json" or (run / name).exists():
            (out / name).write_bytes((run / name).read_bytes())
    samples = sorted((run / "samples").glob("step_*.png"))
    if samples:
        (out / "samples.png").write_bytes(samples[-1].read_bytes())
    return out
