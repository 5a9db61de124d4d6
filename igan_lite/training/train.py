"""Training a run (docs/method.md §2): `build` makes its Parts (core/steps.py: nets, optimisers, RNGs, real
images, f); the loop in `train` takes the method's step (core/methods.py, core/steps.py) until the preset's steps are done, writing the
run folder through RunFolder (run_folder.py) with a checkpoint that holds every RNG state, so `resume=True`
continues bit for bit. Under torchrun every rank trains on its own batches (distributed.py).
"""
from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from igan_lite.core import steps
from igan_lite.core.methods import METHODS, get_method
from igan_lite.core.nets import Nets
from igan_lite.core.steps import Parts, TrainingDiverged
from igan_lite.data.datasets import ImageDataset, build_dataset, default_dir, load_dataset, render_settings
from igan_lite.data.own_data import data_record, load_run_data
from igan_lite.data.proxy_prior import prior_grids
from igan_lite.data.shapes import CATEGORIES
from igan_lite.infra import distributed, files
from igan_lite.infra.folder_lock import locked
from igan_lite.preset_rules import check_seed
from igan_lite.presets import Preset, get_preset, preset_from_dict
from igan_lite.render.pool import RenderPool
from igan_lite.training import checkpoint
from igan_lite.training.run_folder import RunFolder

__all__ = ["METHODS", "Parts", "TrainingDiverged", "build", "run_config", "train", "use_amp"]


def use_amp(p: Preset, device: torch.device) -> bool:
    """The preset's `amp` where the device has native bf16 (distributed.bf16_native), else float32."""
    return p.amp and distributed.bf16_native(device)


def run_config(method: str, category: str, p: Preset, seed: int, world_size: int = 1, data: dict | None = None) -> dict:
    """What a run's numbers depend on; `world_size` (torchrun processes, each with its own batch) only when > 1;
    `data` (own_data.data_record) when the run trains on a dataset folder instead of ShapeNet-lite `category`."""
    get_method(method)
    if data is None and category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {sorted(CATEGORIES)}")
    check_seed(seed)
    config = {"method": method, "category": category, "seed": seed, "preset": asdict(p)}
    if world_size > 1:
        config["world_size"] = world_size
    if data is not None:
        config["data"] = data
    return json.loads(json.dumps(config))


def build(config: dict, device: str = "cpu", amp: bool | None = None, rank: distributed.Rank = distributed.SINGLE) -> Parts:
    """A run's Parts from its run_config: nets seeded by its seed (the same on every rank), Adam optimisers,
    the real images and f (render workers for IG-GAN; a baseline draws its sample grids in this process).
    `device`: "auto", "cpu" or "cuda"; `amp`: bf16 autocast for G and R (default: use_amp)."""
    p, method, seed = preset_from_dict(config["preset"]), get_method(config["method"]), config["seed"]
    dev = distributed.resolve_device(device)
    torch.manual_seed(seed)
    built = method.build_nets(p)
    nets = Nets(*(net.to(dev) if net is not None else None for net in (built.G, built.R, built.D)))
    if rank.world > 1:  # each rank draws its own z, cameras and real batches
        torch.manual_seed(seed * 1000 + rank.rank)
        if p.d_minibatch_std:
            raise ValueError("d_minibatch_std mixes real and fake statistics in the data-parallel D pass; turn it off for torchrun")
    rng = np.random.default_rng(seed if rank.world == 1 else [seed, rank.rank])
    ddp = Nets(*(rank.wrap(net, dev) if net is not None else None for net in (nets.G, nets.R, nets.D)))
    adam = lambda net, lr: torch.optim.Adam(net.parameters(), lr, betas=p.betas) if net is not None else None  # noqa: E731
    settings, real = render_settings(p), real_images(config, p, rank)
    return Parts(config, p, method, dev, use_amp(p, dev) if amp is None else amp, rank, nets, ddp,
                 adam(nets.G, p.lr_g), adam(nets.R, p.lr_proxy), adam(nets.D, p.lr_d), rng, real,
                 RenderPool(p.render_workers if method.proxy else 0, settings), settings.background[0])


def real_images(config: dict, p: Preset, rank: distributed.Rank) -> ImageDataset:
    """A dataset folder's images (own_data.py, checked to be the one the run started with), or ShapeNet-lite's
    category, whose cache one rank builds while the others wait."""
    if "data" in config:
        return load_run_data(config["data"], p)
    data_dir = default_dir(config["category"], p)
    if rank.main:
        build_dataset(config["category"], p, data_dir, progress=False)
    rank.barrier()
    return load_dataset(build_dataset(config["category"], p, data_dir, progress=False))


def train(method: str = "iggan", category: str = "chair", preset: str | Preset | None = None,
          out: str | Path = "runs/chair", seed: int = 0, resume: bool = False, progress: bool = True,
          callback=None, device: str = "cpu", amp: bool | None = None, data: str | Path | None = None) -> Path:
    """Train (or resume) one run into the run folder `out`; returns `out`.
    `data`: a dataset folder (`igan-lite dataset build`, own_data.py) to train on instead of ShapeNet-lite
    `category`; config.json records its path and manifest hash, and the run takes the dataset's name.
    `callback(row, parts)`, if given, is called after every step (notebooks draw live plots with it). `progress`:
    a progress bar and each collapse warning as it fires (either way metrics.jsonl records the warnings).
    `device` "auto" picks cuda when present; `amp` (default: on cuda) autocasts G and R to bf16."""
    p = get_preset(preset)
    dev = distributed.resolve_device(device)
    rank = distributed.init_from_env(dev)
    record = data_record(data, p) if data is not None else None
    config = run_config(method, record["name"] if record else category, p, seed, rank.world, record)
    config["amp"] = use_amp(p, dev) if amp is None else amp  # what this machine runs: part of the run's numbers
    folder, threads = RunFolder(out), torch.get_num_threads()
    state = _saved_state(folder, resume, config)
    try:
        torch.set_num_threads(p.threads or threads)  # the preset's (0: as it is) while training, restored after
        with locked(folder.path) if rank.main else nullcontext(), \
                build(config, distributed.cuda_device_of(dev), config["amp"], rank) as parts:
            if rank.main and not resume and folder.checkpoint.exists():  # written by another process meanwhile
                raise FileExistsError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
            _loop(parts, folder, state, progress and rank.main, callback)
    except TrainingDiverged as e:
        kept = f"the last good checkpoint is {folder.checkpoint}" if folder.checkpoint.exists() else "no checkpoint was written yet"
        raise TrainingDiverged(f"{e}; {kept}. Try lower learning rates or a smaller lambda_dom.") from None
    finally:
        torch.set_num_threads(threads)
        if rank.world > 1:
            distributed.leave()
    return folder.path


def _saved_state(folder: RunFolder, resume: bool, config: dict) -> dict | None:
    """The checkpoint to resume from (checked to fit `config` and its config.json), or None for a new run; the
    folder checked to be one train may write into. Nothing is written before this returns."""
    folder.check_writable()
    if resume and not folder.checkpoint.exists():
        raise FileNotFoundError(f"cannot resume: no checkpoint at {folder.checkpoint}; run without --resume to start")
    if not resume and folder.checkpoint.exists():
        raise FileExistsError(f"{folder.path} already holds a run; pass --resume to continue it or choose another --out")
    if not resume:
        return None
    state = checkpoint.load(folder.checkpoint)
    checkpoint.check_resumable(state, config, folder.checkpoint)
    if folder.config_file.is_file():
        checkpoint.check_same_config(state["config"], folder.read_config(), folder.checkpoint, folder.config_file)
    return state


def _loop(t: Parts, folder: RunFolder, state: dict | None, progress: bool, callback) -> None:
    """A new run pretrains its proxy (IG-GAN) and saves step 0; a resumed one restores its checkpoint. Then
    steps to p.steps, logging each, with sample grids and checkpoints as the preset says."""
    p, rank = t.p, t.rank
    if state is not None:  # loaded before anything is written: a checkpoint that does not fit changes nothing
        pending = checkpoint.restore(t, state, None if rank.main else checkpoint.load(folder.rank_state(rank.rank)), folder.path)
        t.pending = steps.submit(t, pending) if pending is not None and t.run_ahead else None
    folder.path.mkdir(parents=True, exist_ok=True)
    if rank.main:
        folder.start(t.config, t.step_count if state is not None else None)
    if state is None:
        if p.pretrain and t.method.proxy:
            prior = prior_grids(p.voxel_res, p.pretrain_shapes, t.rng, t.nets.G)  # primitives, blobs, speckle, G's
            log = steps.pretrain_proxy(t.ddp.R, t.opt_r, partial(steps.f, t), prior, p, t.rng, t.amp, progress)
            if rank.main:
                folder.write_pretrain(log)
        _save(t, folder)
    bar = tqdm(range(t.step_count, p.steps), initial=t.step_count, total=p.steps,
               desc=f"{t.method.name} {t.config['category']}", disable=not progress)
    warned: set[str] = set()
    for _ in bar:
        row = t.method.step(t)
        if rank.main:
            folder.append_metrics(row)
        if callback is not None:
            callback(row, t)
        for kind, message in row["warnings"].items() if progress else ():  # quiet: metrics.jsonl keeps them
            if kind not in warned or row["step"] % p.sample_every == 0:
                tqdm.write(f"step {row['step']}: warning: {message}")
                warned.add(kind)
        bar.set_postfix(d=f"{row['loss_d']:.2f}", g=f"{row['loss_g']:.2f}", proxy=f"{row.get('proxy_error', 0):.4f}",
                        occ=f"{row['occupancy']:.3f}", div=f"{row['diversity']:.2f}")
        if rank.main and (row["step"] % p.sample_every == 0 or row["step"] == p.steps):
            folder.save_snapshot(t.config, row["step"], steps.sample_grid(t), t.nets.G)
        if row["step"] % p.checkpoint_every == 0 or row["step"] == p.steps:
            _save(t, folder)


def _save(t: Parts, folder: RunFolder) -> None:
    """The checkpoint (rank 0), or this rank's RNG state beside it."""
    state = checkpoint.run_state(t) if t.rank.main else {"config": t.config, **checkpoint.rank_state(t)}
    files.save_atomic(state, folder.checkpoint if t.rank.main else folder.rank_state(t.rank.rank))
