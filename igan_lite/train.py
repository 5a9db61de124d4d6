"""IG-GAN training (docs/method.md §2): proxy pretraining, then D / proxy / G updates per iteration; and the
baselines (`method` vh / ao / ea), where a differentiable projection replaces renderer and proxy (projection.py).

f draws in render worker processes (render_pool.py); with `run_ahead` (the lite default) the next batch is
drawn while the nets compute this one (`Trainer.rendered_batch`). Under torchrun every rank trains on its own
batches (distributed.py).

`train()` writes a run folder (run_folder.py: config, metrics, samples, generators, an atomic checkpoint with
every RNG state, so `resume=True` continues bit for bit).
"""
from __future__ import annotations

import json
import os
import time
from contextlib import nullcontext
from dataclasses import asdict, astuple
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import checkpoint, distributed, losses, projection
from .camera import Camera, CameraPrior, frustum_grid
from .data import build_dataset, default_dir, load_dataset, render_settings
from .diagnostics import collapse_warnings, sample_stats
from .folder_lock import locked
from .nets import ProxyRenderer, build_nets
from .own_data import data_record, load_run_data
from .preset_rules import check_seed
from .presets import SPEED_ONLY, Preset, get_preset, preset_from_dict
from .proxy_prior import prior_grids
from .render_pool import RenderJob, RenderPool
from .run_folder import checkpoint_path, rank_state_path, save_image_grid, truncate_metrics
from .shapes import CATEGORIES

METHODS = ("iggan", *projection.METHODS)
SAMPLE_VIEWS = [Camera(30.0, 25.0), Camera(150.0, 25.0), Camera(270.0, 25.0)]  # the figures' three views


def use_amp(p: Preset, device: torch.device) -> bool:
    """The preset's `amp` where the device has native bf16 (distributed.bf16_native), else float32."""
    return p.amp and distributed.bf16_native(device)


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the step, the phase and the last good checkpoint."""


def run_config(method: str, category: str, p: Preset, seed: int, world_size: int = 1, data: dict | None = None) -> dict:
    """What a run's numbers depend on; `world_size` (torchrun processes, each with its own batch) only when > 1;
    `data` (own_data.data_record) when the run trains on a dataset folder instead of ShapeNet-lite `category`."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {list(METHODS)}")
    if data is None and category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {sorted(CATEGORIES)}")
    check_seed(seed)
    config = {"method": method, "category": category, "seed": seed, "preset": asdict(p)}
    if world_size > 1:
        config["world_size"] = world_size
    if data is not None:
        config["data"] = data
    return json.loads(json.dumps(config))


class Trainer:
    """Holds the nets, optimisers, RNGs, render workers and data of one run; `step()` is one iteration of
    its method. `device`: "auto", "cpu" or "cuda"; `amp`: bf16 autocast for G and R (default: on cuda);
    `rank`: this process's place in a torchrun job (distributed.py). Call `close()` (or use `with`) to end
    the render workers."""

    def __init__(self, config: dict, out: Path, device: str = "cpu", amp: bool | None = None,
                 rank: distributed.Rank = distributed.SINGLE):
        self.config, self.out, self.rank = config, out, rank
        self.p = p = preset_from_dict(config["preset"])
        self.device = distributed.resolve_device(device)
        self.amp = use_amp(p, self.device) if amp is None else amp
        if p.threads > 0:
            torch.set_num_threads(p.threads)
        torch.manual_seed(config["seed"])  # the same initial nets on every rank
        self.method = config["method"]
        self.nets = build_nets(p, self.method)
        for net in (self.nets.G, self.nets.R, self.nets.D):
            if net is not None:
                net.to(self.device)
        if rank.world > 1:  # each rank draws its own z, cameras and real batches
            torch.manual_seed(config["seed"] * 1000 + rank.rank)
            if p.d_minibatch_std:
                raise ValueError("d_minibatch_std mixes real and fake statistics in the data-parallel D pass; turn it off for torchrun")
        self.rng = np.random.default_rng(config["seed"] if rank.world == 1 else [config["seed"], rank.rank])
        # the nets as used by the forward pass that precedes their own update (DDP-wrapped under torchrun)
        self.train_G, self.train_D = rank.wrap(self.nets.G, self.device), rank.wrap(self.nets.D, self.device)
        self.train_R = rank.wrap(self.nets.R, self.device) if self.nets.R is not None else None
        self.opt_g = torch.optim.Adam(self.nets.G.parameters(), p.lr_g, betas=p.betas)
        self.opt_r = torch.optim.Adam(self.nets.R.parameters(), p.lr_proxy, betas=p.betas) if self.nets.R else None
        self.opt_d = torch.optim.Adam(self.nets.D.parameters(), p.lr_d, betas=p.betas)
        self.settings = render_settings(p)
        # f is in the loop only for IG-GAN; the baselines draw their sample grids in this process
        self.renderer = RenderPool(p.render_workers if self.method == "iggan" else 0, self.settings)
        self.run_ahead = p.run_ahead and self.method == "iggan"
        self._pending: dict | None = None  # run-ahead: the batch the render workers are drawing
        self.background = self.settings.background[0]
        self.prior = CameraPrior()
        self.step_count = 0
        if "data" in config:  # a dataset folder (own_data.py), checked to be the one the run started with
            self.real = load_run_data(config["data"], p)
        else:
            data_dir = default_dir(config["category"], p)
            if rank.main:  # one rank builds the dataset cache, the others wait and read it
                build_dataset(config["category"], p, data_dir, progress=False)
            rank.barrier()
            self.real = load_dataset(build_dataset(config["category"], p, data_dir, progress=False))
        self.fixed_z = torch.from_numpy(np.random.default_rng(1234).standard_normal((8, p.z_dim))).float()

    def close(self) -> None:
        """End the render workers (train() does this, also on errors and Ctrl-C)."""
        self.renderer.close()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _amp(self):
        return distributed.autocast(self.device, self.amp)

    # --- the real renderer and the proxy on the same batch --------------------------------------

    def sample_cameras(self, b: int):
        """Cameras from the prior and f's surface level per shape."""
        return self.prior.sample(b, self.rng), self.rng.uniform(*self.p.threshold_range, b)

    def sample_views(self, b: int):
        """sample_cameras, plus the proxy's frustum grids for those cameras."""
        cams, thresholds = self.sample_cameras(b)
        return cams, thresholds, frustum_grid(cams, self.p.image_size, self.p.voxel_res).to(self.device)

    def _draw(self, x: torch.Tensor, cams, thresholds) -> RenderJob:
        """Send detached occupancies (channel 0) to the render workers; returns at once."""
        return self.renderer.submit(x[:, :1].detach().float().cpu(), cams, thresholds)

    def f(self, x: torch.Tensor, cams, thresholds) -> torch.Tensor:
        """The real, non-differentiable renderer on detached voxels (occupancy: channel 0), by the render workers."""
        return self._draw(x, cams, thresholds).result().to(self.device)

    def proxy(self, x: torch.Tensor, grid: torch.Tensor, thresholds, R: ProxyRenderer | None = None) -> torch.Tensor:
        """R (default: the run's) on x shifted by 0.5 - threshold: f at level t on x equals f at level 0.5
        on the shifted grid, so R learns one renderer instead of a blur over unseen levels (docs/method.md §10)."""
        shift = torch.as_tensor(0.5 - np.asarray(thresholds), dtype=x.dtype, device=x.device).view(-1, 1, 1, 1, 1)
        with self._amp():
            return (R or self.nets.R)(x + shift, grid).float()

    def generate(self, z: torch.Tensor, G: torch.nn.Module | None = None) -> torch.Tensor:
        with self._amp():
            return (G or self.nets.G)(z.to(self.device)).float()

    def discriminate(self, images: torch.Tensor, D: torch.nn.Module | None = None) -> torch.Tensor:
        """D in float32 even under --amp: its spectral norm's power iteration and the logits that DOM matches
        would lose precision in bf16; D is the smallest of the three nets."""
        return (D or self.nets.D)(images.float())

    # --- proxy pretraining (docs/method.md §3) -------------------------------------------------

    def pretrain_proxy(self, progress: bool = True) -> list[dict]:
        """Fit R to f by pixel L2 on prior_grids (primitives, blobs, speckle, untrained G)."""
        p = self.p
        self.nets.G.eval()
        grids = torch.from_numpy(prior_grids(p.voxel_res, p.pretrain_shapes, self.rng, self.nets.G))[:, None]
        self.nets.G.train()
        cams, thresholds = self.sample_cameras(len(grids))
        images = torch.cat([self.f(grids[i:i + 64], cams[i:i + 64], thresholds[i:i + 64]) for i in range(0, len(grids), 64)])
        grids = grids.to(self.device)
        log = []
        for step in tqdm(range(p.pretrain_steps), desc="pretraining proxy", disable=not progress):
            idx = self.rng.choice(len(grids), p.batch_size, replace=False)
            grid = frustum_grid([cams[i] for i in idx], p.image_size, p.voxel_res).to(self.device)  # per batch: 400 MB as a bank
            loss = losses.proxy_l2(self.proxy(grids[idx], grid, thresholds[idx], self.train_R), images[idx])
            self._check_finite(loss, "proxy pretraining", step)
            self.opt_r.zero_grad()
            loss.backward()
            self.opt_r.step()
            log.append({"pretrain_step": step, "proxy_l2": loss.item()})
        return log

    # --- one iteration (docs/method.md §2) -----------------------------------------------------

    def real_batch(self, b: int) -> torch.Tensor:
        """b real images; silhouettes of them for VH and AO, which can draw nothing else."""
        real = self.real.batch(torch.from_numpy(self.rng.choice(len(self.real), b))).to(self.device)
        return projection.silhouettes(real, self.background) if self.method in ("vh", "ao") else real

    def _new_batch(self, grad: bool) -> dict:
        z = torch.randn(self.p.batch_size, self.p.z_dim)
        with torch.set_grad_enabled(grad):
            x = self.generate(z, self.train_G if grad else None)
        cams, thresholds, grid = self.sample_views(self.p.batch_size)
        return {"z": z, "x": x, "cams": cams, "thresholds": thresholds, "grid": grid}

    def _submit(self, batch: dict) -> dict:
        """Send a generated batch to the render workers; its images arrive while the nets compute."""
        return {**batch, "job": self._draw(batch["x"], batch["cams"], batch["thresholds"])}

    def rendered_batch(self) -> tuple[dict, torch.Tensor, dict]:
        """A generated batch, f's images of it, and timings. Serial: x = G(z) now, drawn now. Run-ahead
        (preset.run_ahead, IG-GAN): this batch was generated and sent to the workers during the previous step,
        by G before that step's update; the next batch is sent now, to be drawn during this step's updates."""
        t0 = time.perf_counter()
        if not self.run_ahead:
            batch = self._new_batch(grad=True)
            t1 = time.perf_counter()
            fake = self.f(batch["x"], batch["cams"], batch["thresholds"])
            return batch, fake, {"time_generator_forward": t1 - t0, "time_real_render": time.perf_counter() - t1}
        if self._pending is None:  # the first step (or a resumed run without a pending batch) fills the pipeline
            self._pending = self._submit(self._new_batch(grad=False))
        batch = self._pending
        fake = batch.pop("job").result().to(self.device)  # waits only if f is slower than the nets
        t1 = time.perf_counter()
        self._pending = self._submit(self._new_batch(grad=False))
        return batch, fake, {"time_real_render": t1 - t0, "time_generator_forward": time.perf_counter() - t1}

    def step(self) -> dict:
        p, D = self.p, self.nets.D
        t = time.perf_counter()
        iggan = self.method == "iggan"
        if iggan:
            batch, fake, timings = self.rendered_batch()
        else:
            batch = self._new_batch(grad=True)
            timings = {"time_generator_forward": time.perf_counter() - t}
            t = time.perf_counter()
            fake = projection.project(self.method, batch["x"], batch["grid"], self.background)
            timings["time_projection"] = time.perf_counter() - t
        z, x, cams, thresholds, grid = (batch[k] for k in ("z", "x", "cams", "thresholds", "grid"))
        t = time.perf_counter()

        def lap(name):
            nonlocal t
            now = time.perf_counter()
            timings[f"time_{name}"] = now - t
            t = now

        # 1. discriminator: real images vs images of generated shapes (IG-GAN: by the real renderer)
        real_logits, fake_logits = self._d_logits(self.real_batch(p.batch_size), fake.detach())
        loss_d = losses.d_loss(real_logits, fake_logits)
        self._check_finite(loss_d, "discriminator")
        acc = self.rank.mean(losses.d_accuracy(real_logits, fake_logits))  # every rank takes the same decision
        d_updated = acc < p.d_acc_max
        if d_updated:
            self.opt_d.zero_grad()
            loss_d.backward()
            self.opt_d.step()
        lap("discriminator")

        D.requires_grad_(False)
        proxy_stats = self._proxy_steps(x, fake, grid, thresholds) if iggan else {}
        lap("proxy")

        # 3. generator: adversarial loss through the proxy (IG-GAN) or the projection, plus mode seeking.
        # Run-ahead: x came from G before its last update, without a graph; G's own update uses G(z) now.
        x_g = self.generate(z, self.train_G) if self.run_ahead else x
        images = self.proxy(x_g, grid, thresholds) if iggan else fake
        loss_g = losses.g_loss(self.discriminate(images))
        loss_ms = losses.mode_seeking_loss(x_g, z.to(self.device)) if p.lambda_ms > 0 else torch.zeros(())
        self._check_finite(loss_g, "generator")
        g_updated = not (iggan and p.g_hold_proxy_error > 0
                         and self.rank.mean(proxy_stats["proxy_error"]) > p.g_hold_proxy_error)
        if g_updated:
            self.opt_g.zero_grad()
            (loss_g + p.lambda_ms * loss_ms).backward()
            self.opt_g.step()
        D.requires_grad_(True)
        lap("generator")

        self.step_count += 1
        stats = {**sample_stats(x[:, :1].cpu(), fake.cpu(), background=self.background), **proxy_stats}
        return {"step": self.step_count, "loss_d": loss_d.item(), "loss_g": loss_g.item(), "loss_ms": loss_ms.item(), "d_acc": acc,
                "d_updated": d_updated, "g_updated": g_updated, **stats, **timings, "warnings": collapse_warnings(stats)}

    def _d_logits(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """D on a real and a fake batch. Under torchrun both go through DDP in one pass (DDP allows one
        forward per backward); alone, two passes, as every shipped run was trained."""
        if self.rank.world == 1:
            return self.discriminate(real), self.discriminate(fake)
        return self.discriminate(torch.cat([real, fake]), self.train_D).split(len(real))

    def _proxy_steps(self, x: torch.Tensor, fake: torch.Tensor, grid: torch.Tensor, thresholds) -> dict:
        """2. proxy: pixel L2 + discriminator output matching on the generated shapes, `proxy_steps` times;
        leaves R frozen for the generator update (re-enabled at its next use)."""
        p, R = self.p, self.nets.R
        R.requires_grad_(True)
        for k in range(p.proxy_steps):
            proxy_images = self.proxy(x.detach(), grid, thresholds, self.train_R)
            loss_r, loss_l2, loss_dom = losses.proxy_loss(proxy_images, fake, self.discriminate, p.lambda_l2, p.lambda_dom)
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

    def rank_state(self) -> dict:
        """What differs between ranks: the RNGs, and the batch the render workers are drawing (run-ahead)."""
        state = {"step": self.step_count, "torch_rng": torch.get_rng_state(), "numpy_rng": self.rng.bit_generator.state}
        if self._pending is not None:
            state["pending"] = {"z": self._pending["z"], "x": self._pending["x"].detach().cpu(),  # tensors only
                                "cams": torch.tensor([astuple(c) for c in self._pending["cams"]], dtype=torch.float64),
                                "thresholds": torch.from_numpy(np.asarray(self._pending["thresholds"]))}
        return state

    def state(self) -> dict:
        return {"config": self.config, **{name: part.state_dict() for name, part in self._stateful().items()},
                **self.rank_state()}

    def load_state(self, state: dict, rank_state: dict | None = None) -> None:
        """Nets and optimisers from `state`; RNGs (and a pending run-ahead batch) from `rank_state` (default: `state`)."""
        rank_state = rank_state or state
        try:
            for name, part in self._stateful().items():
                part.load_state_dict(state[name])
            torch.set_rng_state(rank_state["torch_rng"])
            self.rng.bit_generator.state = rank_state["numpy_rng"]
        except (KeyError, RuntimeError, TypeError, ValueError) as e:  # a damaged or hand-made checkpoint
            raise ValueError(f"checkpoint in {self.out} does not fit this run ({type(e).__name__}: {str(e)[:200]})") from None
        self.step_count = state["step"]
        pending = rank_state.get("pending")
        if pending is not None and self.run_ahead:  # cameras as rows (or Camera objects, from older checkpoints)
            cams = [c if isinstance(c, Camera) else Camera(*map(float, c)) for c in pending["cams"]]
            grid = frustum_grid(cams, self.p.image_size, self.p.voxel_res).to(self.device)
            self._pending = self._submit({**pending, "cams": cams, "thresholds": np.asarray(pending["thresholds"]),
                                          "x": pending["x"].to(self.device), "grid": grid})

    def sample_grid(self) -> torch.Tensor:
        """Real-renderer images of 8 fixed-z samples from the three SAMPLE_VIEWS, plus the proxy's (or the
        baseline's projection's) images of the same: (6 * 8, C, H, W), rows f view 1-3 then R view 1-3."""
        G, n = self.nets.G, len(self.fixed_z)
        G.eval()
        with torch.no_grad():
            x = self.generate(self.fixed_z)
            rows = [self.f(x, [c] * n, [0.5] * n) for c in SAMPLE_VIEWS]
            grids = [frustum_grid([c] * n, self.p.image_size, self.p.voxel_res).to(self.device) for c in SAMPLE_VIEWS]
            rows += [self.proxy(x, g, [0.5] * n) if self.method == "iggan"
                     else projection.project(self.method, x, g, self.background) for g in grids]
        G.train()
        return torch.cat(rows).cpu()


def _check_resume(state: dict, wanted: dict, path: Path) -> None:
    """Resuming must not silently change what is being trained (only `steps` may grow), and needs the full
    state `train` saves (an exported run has no D or optimisers). Checked before anything is written."""
    saved = state["config"]
    parts = ["G", "D", "opt_g", "opt_d", "step", "torch_rng", "numpy_rng"] + (["R", "opt_r"] if wanted["method"] == "iggan" else [])
    missing = [k for k in parts if k not in state]
    if missing:
        raise ValueError(f"checkpoint {path} cannot be resumed: it lacks {missing} (an exported run keeps only "
                         "the generator and proxy); start a new run with another --out")
    s, w = asdict(preset_from_dict(saved.get("preset"), f"checkpoint {path}")), asdict(preset_from_dict(wanted["preset"]))
    for field in ("steps", *SPEED_ONLY):
        s.pop(field), w.pop(field)
    diff = {k: (s.get(k), w.get(k)) for k in set(s) | set(w) if s.get(k) != w.get(k)}
    defaults = {"world_size": 1, "amp": False}  # absent from older configs ("data" from ShapeNet-lite runs)
    diff.update({k: (saved.get(k, defaults.get(k)), wanted.get(k, defaults.get(k)))
                 for k in ("method", "category", "seed", "world_size", "amp", "data")
                 if saved.get(k, defaults.get(k)) != wanted.get(k, defaults.get(k))})
    if diff:
        shown = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ValueError(f"checkpoint {path} does not match the requested run ({shown})")


def train(method: str = "iggan", category: str = "chair", preset: str | Preset | None = None,
          out: str | Path = "runs/chair", seed: int = 0, resume: bool = False, progress: bool = True,
          callback=None, device: str = "cpu", amp: bool | None = None, data: str | Path | None = None) -> Path:
    """Train (or resume) one run into `out`; returns `out`. See the module docstring for what is written.
    `data`: a dataset folder (`igan-lite dataset build`, own_data.py) to train on instead of ShapeNet-lite
    `category`; config.json records its path and manifest hash, and the run takes the dataset's name.
    `callback(row, trainer)`, if given, is called after every step (notebooks draw live plots with it).
    `device` "auto" picks cuda when present; `amp` (default: on cuda) autocasts G and R to bf16.
    Launched by torchrun, every rank trains on its own batches and rank 0 writes (distributed.py)."""
    p = get_preset(preset)
    dev = distributed.resolve_device(device)
    rank = distributed.init_from_env(dev)
    record = data_record(data, p) if data is not None else None
    config = run_config(method, record["name"] if record else category, p, seed, rank.world, record)
    config["amp"] = use_amp(p, dev) if amp is None else amp  # what this machine runs: part of the run's numbers
    out = Path(out)
    ckpt = checkpoint_path(out)
    if resume and not ckpt.exists():
        raise FileNotFoundError(f"cannot resume: no checkpoint at {ckpt}; run without --resume to start")
    if not resume and ckpt.exists():
        raise FileExistsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
    state = checkpoint.load(ckpt) if resume else None
    if state is not None:
        _check_resume(state, config, ckpt)
    try:
        with locked(out) if rank.main else nullcontext(), \
                Trainer(config, out, distributed.cuda_device_of(dev), config["amp"], rank) as trainer:
            if rank.main and not resume and ckpt.exists():  # written by another process meanwhile
                raise FileExistsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
            _train_loop(trainer, state, progress and rank.main, callback)
    finally:
        if rank.world > 1:
            distributed.leave()
    return out


def _train_loop(trainer: Trainer, state: dict | None, progress: bool, callback) -> None:
    p, config, out, rank = trainer.p, trainer.config, trainer.out, trainer.rank
    ckpt, metrics = checkpoint_path(out), out / "metrics.jsonl"

    def save_checkpoint():
        if rank.main:
            checkpoint.save_atomic(trainer.state(), ckpt)
        else:
            checkpoint.save_atomic({"config": config, **trainer.rank_state()}, rank_state_path(out, rank.rank))

    if state is not None:  # loaded before anything is written: a checkpoint that does not fit changes nothing
        trainer.load_state(state, None if rank.main else checkpoint.load(rank_state_path(out, rank.rank)))
    out.mkdir(parents=True, exist_ok=True)
    if rank.main:
        for folder in (out / "samples", out / "generators"):
            folder.mkdir(exist_ok=True)
        checkpoint.write_text_atomic(out / "config.json", json.dumps(config, indent=2))
    if state is not None:
        if rank.main:
            truncate_metrics(metrics, trainer.step_count)
    else:
        if rank.main:
            metrics.write_text("")
        if p.pretrain and trainer.method == "iggan":
            log = trainer.pretrain_proxy(progress)
            if rank.main:
                checkpoint.write_text_atomic(out / "pretrain.jsonl", "".join(json.dumps(r) + "\n" for r in log))
        save_checkpoint()

    bar = tqdm(range(trainer.step_count, p.steps), initial=trainer.step_count, total=p.steps,
               desc=f"{trainer.method} {config['category']}", disable=not progress)
    seen_warnings: set[str] = set()
    with metrics.open("a") if rank.main else open(os.devnull, "w") as log:
        for _ in bar:
            row = trainer.step()
            log.write(json.dumps(row) + "\n")
            log.flush()
            if callback is not None:
                callback(row, trainer)
            for kind, message in row["warnings"].items() if rank.main else ():
                if kind not in seen_warnings or row["step"] % p.sample_every == 0:
                    tqdm.write(f"step {row['step']}: warning: {message}")
                    seen_warnings.add(kind)
            bar.set_postfix(d=f"{row['loss_d']:.2f}", g=f"{row['loss_g']:.2f}", proxy=f"{row.get('proxy_error', 0):.4f}",
                            occ=f"{row['occupancy']:.3f}", div=f"{row['diversity']:.2f}")
            if rank.main and (row["step"] % p.sample_every == 0 or row["step"] == p.steps):
                save_image_grid(trainer.sample_grid(), out / "samples" / f"step_{row['step']:06d}.png", ncols=8)
                checkpoint.save_atomic({"config": config, "step": row["step"], "G": trainer.nets.G.state_dict()},
                                       out / "generators" / f"step_{row['step']:06d}.pt")
            if row["step"] % p.checkpoint_every == 0 or row["step"] == p.steps:
                save_checkpoint()
