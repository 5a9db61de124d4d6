"""Real-renderer throughput: images/s in this process vs 1 and 2 render worker processes (render/pool.py).

Grids are 32³ unless --res says otherwise: the shipped lite chair generator's samples (what training draws),
clean procedural chairs, and two failure modes whose meshes are costly (smooth noise blobs, isolated speckle;
docs/background.md §3). Batches of 32, as in the lite preset; every configuration is timed in this one run, side by side.
Also prints where one image's time goes in this process (marching cubes + mesh vs Filament's frame).
Run: `python benchmarks/render_throughput.py [--n 96] [--sizes 64 128]`.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from machine import describe
from scipy import ndimage

from igan_lite.core.camera import CameraPrior
from igan_lite.data.shapes import make_shape
from igan_lite.render.pool import RenderPool
from igan_lite.render.renderer import RenderSettings, get_renderer, voxels_to_mesh
from igan_lite.training.run_folder import load_generator

GENERATOR = "checkpoints/lite/chair/iggan-seed0"


def grids(kind: str, n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "generator":
        G, p = load_generator(GENERATOR)
        if p.voxel_res != n:
            raise ValueError(f"--res {n}: the shipped generator makes {p.voxel_res}³ grids")
        with torch.no_grad():
            return G(torch.randn(count, p.z_dim, generator=torch.Generator().manual_seed(0)))[:, 0].numpy()
    if kind == "clean":
        return np.stack([make_shape("chair", i).voxels(n) for i in range(count)])
    noise = rng.random((count, n, n, n)).astype(np.float32)
    if kind == "speckle":  # an early collapsed generator: isolated voxels
        return (noise > 0.95).astype(np.float32)
    blobs = ndimage.gaussian_filter(noise, sigma=(0, n / 16, n / 16, n / 16))
    return (blobs > np.quantile(blobs, 0.7)).astype(np.float32)  # an untrained generator: blobs


def images_per_second(pool: RenderPool, voxels, cameras, settings: RenderSettings, batch: int = 32) -> float:
    pool.render(voxels[:batch], cameras[:batch], settings=settings)  # warm up (and size the renderers)
    t0 = time.perf_counter()
    for i in range(0, len(voxels), batch):
        pool.render(voxels[i:i + batch], cameras[i:i + batch], settings=settings)
    return len(voxels) / (time.perf_counter() - t0)


def split_ms(voxels, cameras, settings: RenderSettings) -> tuple[float, float]:
    """Mean ms per image for marching cubes + mesh, and for the frame, in this process."""
    renderer, t_mesh, t_frame = get_renderer(settings), 0.0, 0.0
    for grid, cam in zip(voxels, cameras):
        t0 = time.perf_counter()
        mesh = voxels_to_mesh(grid, settings.threshold, settings.max_triangles)
        t1 = time.perf_counter()
        renderer.render_mesh(mesh, cam)
        t_mesh, t_frame = t_mesh + t1 - t0, t_frame + time.perf_counter() - t1
    return 1e3 * t_mesh / len(voxels), 1e3 * t_frame / len(voxels)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=96, help="images per configuration (after one warm-up batch)")
    ap.add_argument("--res", type=int, default=32, help="voxel grid side")
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sides")
    ap.add_argument("--kinds", nargs="+", default=["generator", "clean", "blobs", "speckle"])
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    cameras = CameraPrior().sample(args.n, rng)
    sets = {kind: grids(kind, args.res, args.n, rng) for kind in args.kinds}
    pools = {0: RenderPool(0), 1: RenderPool(1), 2: RenderPool(2)}
    print(f"# render throughput, {args.res}³ grids, batches of 32, {args.n} images per cell; {describe()}")
    print("| image | grids | mesh ms | frame ms | in-process img/s | 1 worker img/s | 2 workers img/s | 2 workers / in-process |")
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        settings = RenderSettings(image_size=size)
        for kind, voxels in sets.items():
            rate = {w: images_per_second(pool, voxels, cameras, settings) for w, pool in pools.items()}
            mesh_ms, frame_ms = split_ms(voxels[:32], cameras[:32], settings)
            print(f"| {size}² | {kind} | {mesh_ms:.1f} | {frame_ms:.1f} | {rate[0]:.1f} | {rate[1]:.1f} | {rate[2]:.1f} "
                  f"| {rate[2] / rate[0]:.2f}x |", flush=True)
    for pool in pools.values():
        pool.close()


if __name__ == "__main__":
    main()
