"""Open3D's mesh limit per process: how many meshes one process can draw before the images come back blank.

    python benchmarks/open3d_mesh_limit.py --meshes 68000 --reopen-every 30000   # about 15 minutes here

Draws one small box again and again in this process, straight through the Renderer with the package's budget
(renderer.MESHES_PER_PROCESS) lifted, and prints the first blank image's number (counting every mesh the
process gave Open3D, warm-up frames included) and how many came back blank; `--reopen-every K` closes the
renderer and opens a new one every K meshes, to see whether that resets the count. Then draws the same box once more
through render_voxels with the budget in force, which hands the work to a fresh process. Measured here with
Open3D 0.19 (benchmarks/RESULTS.md §8): blank from the 65,530th mesh on; reopening the renderer does not help.
"""
from __future__ import annotations

import argparse

import numpy as np
from tqdm import tqdm

from igan_lite.core.camera import Camera
from igan_lite.render import renderer as r


def first_blank(meshes: int, reopen_every: int = 0) -> tuple[int | None, int]:
    """(number of the first blank image, blank images in all) over `meshes` draws in this process."""
    box = np.zeros((8, 8, 8), np.float32)
    box[2:6, 2:6, 2:6] = 1.0
    mesh, cam, budget = r.voxels_to_mesh(box), Camera(30.0, 20.0), r.MESHES_PER_PROCESS
    r.MESHES_PER_PROCESS = 10**9  # lifted: this script measures what the budget protects against
    try:
        settings, first, blank = r.RenderSettings(image_size=16), None, 0
        draw = r.get_renderer(settings).render_mesh
        for i in tqdm(range(meshes), desc="meshes"):
            if reopen_every and i and i % reopen_every == 0:
                r._close_active()  # the next get_renderer opens a new OffscreenRenderer
                draw = r.get_renderer(settings).render_mesh
            if (draw(mesh, cam) == 255).all():
                first, blank = first or r._meshes_added, blank + 1
        return first, blank
    finally:
        r.MESHES_PER_PROCESS = budget


def main() -> None:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--meshes", type=int, default=70_000, help="meshes to draw in this process")
    a.add_argument("--reopen-every", type=int, default=0, help="close and reopen the renderer every this many meshes")
    args = a.parse_args()
    first, blank = first_blank(args.meshes, args.reopen_every)
    print(f"Open3D {r.open3d().__version__}: {r._meshes_added} meshes given to Open3D in this process; "
          f"renderer reopened every {args.reopen_every or 'never'}; first blank image: {first or 'none'}; "
          f"blank images: {blank} of {args.meshes}")
    box = np.zeros((1, 8, 8, 8), np.float32)
    box[:, 2:6, 2:6, 2:6] = 1.0
    again = r.render_voxels(box, Camera(30.0, 20.0), r.RenderSettings(image_size=16))
    print(f"the same box through render_voxels now (budget {r.MESHES_PER_PROCESS}, left {r.meshes_left()}): "
          f"{'blank' if (again == 1).all() else 'drawn'}")


if __name__ == "__main__":
    main()
