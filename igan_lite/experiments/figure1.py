"""The paper's Figure 1, lite: IG-GAN's generated shapes of several categories as smooth meshes from two views,
beside held-out real shapes of the same categories (`igan-lite figure1`, figures/fig1_lite.png).

Nothing is picked by hand: the generated shapes are the first n of a run's generator for z drawn from `seed`,
the real ones the first n shapes of the test split (splits.py). Both are smoothed the same way (a Gaussian blur of
the occupancies before marching cubes, then Taubin smoothing), which changes the look, not the shape.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

from igan_lite.core.camera import Camera
from igan_lite.data.splits import split_sets
from igan_lite.evaluation.evaluate import generate
from igan_lite.render.renderer import RenderSettings, render_meshes, voxels_to_mesh
from igan_lite.training.run_folder import load_generator, read_config

VIEWS = (Camera(35.0, 25.0), Camera(145.0, 25.0))


def smooth_mesh(grid: np.ndarray, threshold: float = 0.5, sigma: float = 0.8, taubin: int = 10):
    """A smooth Open3D mesh of one (N, N, N) occupancy grid, or None where nothing exceeds `threshold`."""
    mesh = voxels_to_mesh(gaussian_filter(grid.astype(np.float32), sigma), threshold)
    if mesh is None:
        return None
    mesh = mesh.filter_smooth_taubin(taubin)
    mesh.compute_vertex_normals()
    return mesh


def run_threshold(run: Path) -> float:
    """The surface level the run was scored at (evaluation.json, chosen on the validation split), else 0.5."""
    path = Path(run) / "evaluation.json"
    return json.loads(path.read_text())["label"].get("threshold", 0.5) if path.exists() else 0.5


def category_meshes(run: str | Path, n: int = 3, seed: int = 0, snapshot: Path | None = None,
                    threshold: float | None = None) -> dict[str, list]:
    """{"generated": n meshes from RUN's generator (or its `snapshot`, at `threshold`), "real": n meshes of the
    test split's first shapes}."""
    G, p = load_generator(run, snapshot)
    real = split_sets(read_config(run)["category"], p, "test", n)["reference"]
    t = run_threshold(Path(run)) if threshold is None else threshold
    return {"generated": [smooth_mesh(g, t) for g in generate(G, n, seed)], "real": [smooth_mesh(g) for g in real]}


def figure1(runs: dict[str, str | Path], path: str | Path, n: int = 3, size: int = 160, seed: int = 0):
    """Write the figure: one row per category, n generated shapes then n real ones, each from VIEWS at size^2."""
    return draw({category: category_meshes(run, n, seed) for category, run in runs.items()}, path, size)


def draw(rows: dict[str, dict[str, list]], path: str | Path, size: int = 160):
    """One row per label of `rows` (category_meshes), its generated meshes then its real ones, each from VIEWS."""
    from matplotlib.figure import Figure  # no pyplot: the process's backend (a notebook's) stays as it is

    settings = RenderSettings(image_size=size)
    n = max(len(m["generated"]) for m in rows.values())
    cols = 2 * n * len(VIEWS)
    fig = Figure(figsize=(cols * 1.1, len(rows) * 1.25))
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for row, (label, meshes) in zip(axes, rows.items()):
        tiles = [(kind, m) for kind in ("generated", "real") for m in meshes[kind] for _ in VIEWS]
        cams = [c for _ in range(2 * n) for c in VIEWS]
        images = render_meshes([m for _, m in tiles], cams, settings)
        for i, (ax, image) in enumerate(zip(row, images)):
            ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([]), ax.set_yticks([])
            if i % (n * len(VIEWS)) == 0:  # the real shapes are the category's, whatever the row's label adds
                ax.set_title(f"{label if tiles[i][0] == 'generated' else label.split(',')[0]}: {tiles[i][0]}", fontsize=8, loc="left")
        row[0].set_ylabel(label.split(",")[0], fontsize=9)
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=150)
    return Path(path)
