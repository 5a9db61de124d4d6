import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from igan_lite.core.camera import Camera, CameraPrior
from igan_lite.data.shapes import make_shape
from igan_lite.render import renderer
from igan_lite.render.renderer import RenderSettings, as_voxel_batch, render_voxels, voxels_to_mesh

S64 = RenderSettings(image_size=64)


def raycast_silhouette(grid, camera, size, steps=512):
    """Independent silhouette: march each pixel-centre ray through the grid's box voxels."""
    n = grid.shape[0]
    centre = (np.arange(size) + 0.5) / size * 2 - 1
    x, y = np.meshgrid(centre, -centre)  # rows go down the image, camera y goes up
    focal = 1.0 / np.tan(np.deg2rad(camera.fov) / 2)
    rays = np.stack([x / focal, y / focal, -np.ones_like(x)], -1) @ camera.rotation()  # camera -> world
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    t = np.linspace(camera.distance - 0.9, camera.distance + 0.9, steps)
    points = camera.eye() + rays[:, :, None, :] * t[:, None]
    idx = np.floor((points + 0.5) * n).astype(int)
    ok = np.all((idx >= 0) & (idx < n), axis=-1)
    idx = np.clip(idx, 0, n - 1)
    hit = ok & (grid[idx[..., 2], idx[..., 1], idx[..., 0]] > 0.5)  # grid is [z, y, x]
    return hit.any(-1)


@pytest.mark.parametrize("category,seed", [("chair", 0), ("table", 1), ("car", 2), ("lamp", 3)])
def test_rendered_silhouette_matches_independent_projection(category, seed):
    grid = make_shape(category, seed).voxels(32)
    camera = CameraPrior().sample(1, np.random.default_rng(seed))[0]
    image = render_voxels(grid, camera, S64)[0, 0].numpy()
    rendered = image < 0.98  # anything not background
    expected = raycast_silhouette(grid, camera, 64)
    iou = (rendered & expected).sum() / (rendered | expected).sum()
    assert iou >= 0.9, iou


def test_empty_grid_renders_background_and_full_grid_a_cube():
    empty = render_voxels(np.zeros((16, 16, 16), np.float32), Camera(30, 20), S64)
    assert torch.all(empty == 1.0)
    colored = RenderSettings(image_size=64, color=True, background=(0.0, 0.0, 1.0))
    blue = render_voxels(np.zeros((16, 16, 16), np.float32), Camera(30, 20), colored)
    assert blue.shape == (1, 3, 64, 64) and torch.allclose(blue[0, :, 5, 5], torch.tensor([0.0, 0.0, 1.0]))
    cube = render_voxels(np.ones((16, 16, 16), np.float32), Camera(30, 20, distance=3.0), S64)[0, 0]
    solid = (cube < 0.98).numpy()
    assert solid[32, 32] and not solid[0, 0] and 0.2 < solid.mean() < 0.8
    # three faces seen with different shading: a cube, not a flat disc
    rows, cols = np.nonzero(solid)
    assert len(np.unique(np.round(cube.numpy()[solid], 1))) >= 3


def test_marching_cubes_normals_face_outward():
    mesh = voxels_to_mesh(np.ones((8, 8, 8), np.float32))
    v, n = np.asarray(mesh.vertices), np.asarray(mesh.vertex_normals)
    assert (np.sum(v * n, axis=1) > 0).mean() > 0.95


def test_batch_api_takes_numpy_or_torch_and_any_layout():
    grids = np.stack([make_shape("chair", s).voxels(16) for s in range(3)])
    cams = CameraPrior().sample(3, np.random.default_rng(0))
    settings = RenderSettings(image_size=32)
    a = render_voxels(grids, cams, settings)
    b = render_voxels(torch.from_numpy(grids)[:, None], cams, settings)
    c = render_voxels(torch.from_numpy(grids > 0.5), cams, settings)
    assert a.shape == (3, 1, 32, 32) and a.dtype == torch.float32
    assert torch.equal(a, b) and torch.equal(a, c)  # reproducible to the bit
    assert not torch.equal(a[0], a[1])
    rgb = render_voxels(grids, cams, RenderSettings(image_size=32, color=True))
    assert rgb.shape == (3, 3, 32, 32)


def test_threshold_decides_what_is_solid():
    soft = np.full((16, 16, 16), 0.4, np.float32)
    assert torch.all(render_voxels(soft, Camera(0, 20), RenderSettings(image_size=32)) == 1.0)
    low = RenderSettings(image_size=32, threshold=0.3)
    assert (render_voxels(soft, Camera(0, 20, distance=3.0), low) < 0.98).any()


@pytest.mark.parametrize("bad,match", [
    (np.zeros((4, 4)), "expected shape"),
    (np.zeros((2, 4, 4, 5)), "cubic grid"),
    (np.zeros((4, 4, 4), dtype=np.int64), "dtype int64"),
    (np.full((4, 4, 4), np.nan), "NaN"),
    (np.full((4, 4, 4), 1.5), r"\[0, 1\]"),
    (np.full((4, 4, 4), -0.1), r"\[0, 1\]"),
    ([[0.0]], "numpy array or torch tensor"),
])
def test_bad_voxels_are_rejected_with_a_specific_message(bad, match):
    with pytest.raises((ValueError, TypeError), match=match):
        as_voxel_batch(bad)


def test_camera_count_must_match_batch():
    with pytest.raises(ValueError, match="sequence of 2 Cameras"):
        render_voxels(np.zeros((2, 8, 8, 8), np.float32), [Camera(0, 0)], RenderSettings(image_size=32))


def test_missing_egl_names_the_packages(monkeypatch):
    import ctypes.util

    from igan_lite.render import backend

    real = ctypes.util.find_library
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None if name == "EGL" else real(name))
    backend.open3d.cache_clear()  # the check runs once per process
    with pytest.raises(backend.RenderBackendError, match="(?s)libEGL.*apt-get install -y libegl1"):
        backend.open3d()


def test_a_renderer_starts_without_an_egl_error_where_xdg_runtime_dir_is_unset():
    """Servers and CI have no XDG_RUNTIME_DIR; EGL then printed 'error: XDG_RUNTIME_DIR is invalid' per renderer."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    code = ("import numpy as np\n"
            "from igan_lite.core.camera import Camera\n"
            "from igan_lite.render.renderer import RenderSettings, render_voxels\n"
            "print(tuple(render_voxels(np.ones((4, 4, 4), np.float32), Camera(0, 0), RenderSettings(image_size=16)).shape))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "(1, 1, 16, 16)" in done.stdout
    assert "XDG_RUNTIME_DIR" not in done.stderr + done.stdout


def test_a_process_that_used_up_its_meshes_draws_in_a_spare_process(monkeypatch):
    """Open3D draws blank images once a process has added ~65,520 meshes: past MESHES_PER_PROCESS f draws the
    same images in a spare process, and a worker (which its pool replaces in time) refuses clearly instead."""
    grids = np.stack([make_shape("chair", s).voxels(16) for s in range(3)])
    cams = CameraPrior().sample(3, np.random.default_rng(0))
    expected = render_voxels(grids, cams)
    monkeypatch.setattr(renderer, "_meshes_added", renderer.MESHES_PER_PROCESS - 2)
    monkeypatch.setattr(renderer, "RESERVE", 10**9)  # and the spare is replaced after the call
    assert (render_voxels(grids, cams) == expected).all()
    assert renderer._meshes_added == renderer.MESHES_PER_PROCESS - 2 and renderer._spare is None  # none drawn here
    monkeypatch.setattr(renderer, "_IN_WORKER", True)
    with pytest.raises(RuntimeError, match="given Open3D 60000 meshes; past about 65,520 it draws blank images"):
        render_voxels(grids, cams)
