"""Held-out ShapeNet-lite shapes for scoring: a validation split, on which anything tuned is chosen (IG-GAN's
recipe, a baseline's initial occupancy, the surface level f draws a soft grid at), and a test split, on which
every reported number is measured and nothing is chosen (docs/experiments.md, "A fair fight").

Each split is 3n procedural shapes that no training set contains: training draws shape numbers
seed * 1,000,003 + i (below 2^53 for every allowed seed and size); the splits start at 2^60 and 2^61. The first
n are rendered once each, from the training camera prior, as the real images FD-lite compares with; the next n
are the 3D reference; the last n the real-vs-real floor.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from igan_lite.core.camera import CameraPrior
from igan_lite.data.datasets import (cache_status, dataset_config, load_dataset, load_eval_voxels, render_settings,
                                     write_dataset)
from igan_lite.data.shapes import make_shape
from igan_lite.infra.folder_lock import locked
from igan_lite.presets import Preset
from igan_lite.render.renderer import render_voxels

FIRST_SHAPE = {"validation": 2**60, "test": 2**61}
SPLITS = tuple(FIRST_SHAPE)


def _check(split: str, n: int) -> None:
    if split not in FIRST_SHAPE:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"split size n: expected a positive int, got {n!r}")


def split_dir(category: str, p: Preset, split: str, n: int, root: str | Path = "data") -> Path:
    return Path(root) / f"{category}-{p.name}-{split}-n{n}"


def build_split(category: str, p: Preset, split: str, n: int, root: str | Path = "data", progress: bool = False) -> Path:
    """Voxelise the split's 3n shapes and render its first n; cached like a dataset (datasets.py), rebuilt when stale."""
    _check(split, n)
    out = split_dir(category, p, split, n, root)
    config = {**dataset_config(category, p, 0), "split": split, "n": n}
    out.mkdir(parents=True, exist_ok=True)
    with locked(out, wait=True):
        if cache_status(out, config) == "ok":
            return out
        first = FIRST_SHAPE[split]
        grids = [make_shape(category, first + i).voxels(p.voxel_res)
                 for i in tqdm(range(3 * n), desc=f"{category} {split} shapes", disable=not progress)]
        cameras = CameraPrior().sample(n, np.random.default_rng(first % 2**32 + 1))
        images = (render_voxels(np.stack(grids[:n]).astype(np.float32), cameras, render_settings(p)) * 255).round()
        write_dataset(out, config, images.byte().numpy(), {
            "azimuth": np.array([c.azimuth for c in cameras]), "elevation": np.array([c.elevation for c in cameras]),
            "voxels_packed": np.stack([np.packbits(g.astype(bool)) for g in grids])})
    return out


def split_sets(category: str, p: Preset, split: str, n: int, root: str | Path = "data") -> dict:
    """What a run is scored against on `split`: n `real` images, n `reference` shapes, n `floor` shapes."""
    path = build_split(category, p, split, n, root)
    truth = load_eval_voxels(path)
    return {"real": load_dataset(path).batch(slice(None)), "reference": truth[n:2 * n], "floor": truth[2 * n:],
            "note": None, "data": str(path), "split": split}
