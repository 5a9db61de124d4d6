"""Voxel grids the proxy renderer is pretrained on, before it ever sees a trained generator.

The proxy must be right on whatever the generator may produce (docs/method.md §3; docs/background.md §2): clean solids,
soft blobs with occupancies around f's threshold, isolated speckle, and an untrained generator's output.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from scipy.special import expit

from igan_lite.data.shapes import Shape, box, ellipsoid, frustum, rotation

MIX = {"primitives": 0.4, "blobs": 0.25, "speckle": 0.15, "generator": 0.2}


def primitive_grids(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Unions of 1-4 random boxes, frustums and ellipsoids, randomly posed."""
    grids = []
    for _ in range(count):
        parts = []
        for _ in range(rng.integers(1, 5)):
            c, d = rng.uniform(-0.25, 0.25, 3), rng.uniform(0.03, 0.25, 3)
            r = rotation("y", rng.uniform(0, 360)) @ rotation("x", rng.uniform(-30, 30))
            kind = rng.integers(3)
            parts.append(box(c, d, r) if kind == 0 else frustum(c, d[0], d[1], d[2], r) if kind == 1 else ellipsoid(c, d))
        grids.append(Shape("primitives", 0, parts).voxels(n))
    return np.stack(grids)


def blob_grids(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Smoothed noise squashed into soft occupancies: many values near the threshold."""
    noise = rng.standard_normal((count, n, n, n)).astype(np.float32)
    out = []
    for g in noise:
        b = ndimage.gaussian_filter(g, sigma=rng.uniform(0.5, 3.0))
        b = (b - np.quantile(b, rng.uniform(0.6, 0.97))) / (b.std() + 1e-6)
        out.append(expit(rng.uniform(2, 20) * b))
    return np.stack(out).astype(np.float32)


def speckle_grids(n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """Isolated voxels: the collapse mode a proxy must not be blind to."""
    on = rng.random((count, n, n, n)) < rng.uniform(0.005, 0.08, (count, 1, 1, 1))
    return (on * rng.uniform(0.5, 1.0, (count, n, n, n))).astype(np.float32)


def prior_grids(n: int, count: int, rng: np.random.Generator, generator: torch.nn.Module | None = None) -> np.ndarray:
    """A shuffled mixture (MIX) of the kinds above; `generator` (untrained) supplies its share, if given."""
    counts = {k: int(round(w * count)) for k, w in MIX.items()}
    if generator is None:
        counts["primitives"] += counts.pop("generator")
    counts["primitives"] += count - sum(counts.values())
    parts = [primitive_grids(n, counts["primitives"], rng), blob_grids(n, counts["blobs"], rng),
             speckle_grids(n, counts["speckle"], rng)]
    if generator is not None:  # in eval mode (batch norm's running statistics), as it was before
        training = generator.training
        generator.eval()
        with torch.no_grad():
            z = torch.from_numpy(rng.standard_normal((counts["generator"], generator.z_dim))).float()
            device = next(generator.parameters()).device
            parts.append(generator(z.to(device))[:, 0].float().cpu().numpy())
        generator.train(training)
    grids = np.concatenate(parts)
    return grids[rng.permutation(len(grids))]
