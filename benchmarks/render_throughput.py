"""Real-renderer throughput, one process: images/s per shape (marching cubes + scene swap + render).

Grids: clean procedural chairs, and generator-like grids (smooth noise blobs, isolated speckle), because
render cost depends on the mesh (DESIGN §4). Run: `python benchmarks/render_throughput.py [--n 60]`.
"""
from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from scipy import ndimage

from igan_lite.camera import CameraPrior
from igan_lite.render import RenderSettings, get_renderer, voxels_to_mesh
from igan_lite.shapes import make_shape


def grids(kind: str, n: int, count: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "clean":
        return np.stack([make_shape("chair", i).voxels(n) for i in range(count)])
    noise = rng.random((count, n, n, n)).astype(np.float32)
    if kind == "speckle":  # an early collapsed generator: isolated voxels
        return (noise > 0.95).astype(np.float32)
    blobs = ndimage.gaussian_filter(noise, sigma=(0, n / 16, n / 16, n / 16))
    return (blobs > np.quantile(blobs, 0.7)).astype(np.float32)  # an untrained generator: blobs


def measure(voxels: np.ndarray, settings: RenderSettings, cameras) -> dict:
    renderer = get_renderer(settings)
    renderer.render_mesh(voxels_to_mesh(voxels[0]), cameras[0])  # warm up
    t_mesh = t_render = 0.0
    triangles = 0
    for grid, cam in zip(voxels, cameras):
        t0 = time.perf_counter()
        mesh = voxels_to_mesh(grid, settings.threshold, settings.max_triangles)
        t1 = time.perf_counter()
        renderer.render_mesh(mesh, cam)
        t_render += time.perf_counter() - t1
        t_mesh += t1 - t0
        triangles += 0 if mesh is None else len(mesh.triangles)
    k = len(voxels)
    return dict(mesh_ms=1e3 * t_mesh / k, render_ms=1e3 * t_render / k,
                img_s=k / (t_mesh + t_render), triangles=triangles / k)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=60, help="shapes per configuration")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    cameras = CameraPrior().sample(args.n, rng)
    print(f"# render throughput, one process, {args.n} shapes each; {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} torch thread")
    print(f"{'grid':>5} {'image':>6} {'kind':>8} {'triangles':>9} {'mesh ms':>8} {'render ms':>9} {'ms/img':>7} {'img/s':>6}")
    for n in (32, 64):
        sets = {kind: grids(kind, n, args.n, rng) for kind in ("clean", "blobs", "speckle")}
        for size in (64, 128):
            for kind, voxels in sets.items():
                r = measure(voxels, RenderSettings(image_size=size), cameras)
                print(f"{n:>4}³ {size:>5}² {kind:>8} {r['triangles']:>9.0f} {r['mesh_ms']:>8.1f} {r['render_ms']:>9.1f} "
                      f"{r['mesh_ms'] + r['render_ms']:>7.1f} {r['img_s']:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
