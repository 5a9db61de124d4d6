"""Sample a trained generator: voxels -> .ply meshes (view them in any 3D viewer) + real-renderer images."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from igan_lite.core.camera import SAMPLE_VIEWS
from igan_lite.data.datasets import render_settings
from igan_lite.infra.files import check_folder, check_no_links, foreign_files, write_atomic
from igan_lite.preset_rules import check_seed
from igan_lite.render.backend import open3d
from igan_lite.render.renderer import render_voxels, voxels_to_mesh
from igan_lite.training.run_folder import RunFolder, save_image_grid

MAX_SAMPLES = 1024  # renders.png is one row per view, n tiles wide
SAMPLES = ("voxels.npz", "sample_*.ply", "renders.png", "*.tmp")  # what an --out folder of samples holds

def sample_run(run: str | Path, n: int = 16, out: str | Path | None = None, seed: int = 0) -> Path:
    """Write n samples of RUN's generator to OUT: sample_XX.ply, voxels.npz, renders.png (3 views)."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"sample n: expected an int in [1, {MAX_SAMPLES}], got {n!r}")
    check_seed(seed, "sample seed")
    folder = RunFolder(run)
    G, p = folder.generator()
    out = check_folder(out if out is not None else folder.final_samples, "sample --out")
    check_no_links(out, [q.name for pattern in SAMPLES for q in out.glob(pattern)])
    if foreign := foreign_files(out, SAMPLES):
        raise FileExistsError(f"sample --out {out} holds files igan-lite did not write ({', '.join(foreign[:5])}); "
                              "choose a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, p.z_dim))).float()
    with torch.no_grad():
        x = G(z)
    voxels = x[:, 0].numpy()
    write_atomic(out / "voxels.npz", lambda f: np.savez_compressed(f, voxels=voxels))
    o3d = open3d()
    for i, grid in enumerate(voxels):
        mesh = voxels_to_mesh(grid)
        if mesh is not None:
            o3d.io.write_triangle_mesh(str(out / f"sample_{i:02d}.ply"), mesh)
    settings = render_settings(p)
    views = torch.cat([render_voxels(voxels, [cam] * n, settings) for cam in SAMPLE_VIEWS])
    save_image_grid(views, out / "renders.png", ncols=n)
    return out
