import numpy as np
import torch

from igan_lite.core.camera import Camera, CameraPrior, frustum_grid, resample_to_camera


def test_camera_projection_is_a_look_at_pinhole():
    cam = Camera(azimuth=90, elevation=0, distance=2.0, fov=90)
    assert np.allclose(cam.eye(), [2, 0, 0])
    # the origin lands in the image centre, +y goes up (smaller row)
    uv = cam.project(np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.0]]), 64)
    assert np.allclose(uv[0], [32, 32]) and uv[1, 1] < 32
    r = cam.rotation()
    assert np.allclose(r @ r.T, np.eye(3))


def test_prior_samples_uniform_azimuth_and_elevation_in_range():
    cams = CameraPrior(elevation_range=(10, 40)).sample(500, np.random.default_rng(0))
    az = np.array([c.azimuth for c in cams])
    el = np.array([c.elevation for c in cams])
    assert 0 <= az.min() and az.max() < 360 and abs(az.mean() - 180) < 20
    assert 10 <= el.min() and el.max() <= 40


def test_resampling_a_single_voxel_lands_on_its_projected_pixel():
    n, size = 16, 32
    grid = torch.zeros(1, 1, n, n, n)
    k, j, i = 4, 11, 9  # [z, y, x]
    grid[0, 0, k, j, i] = 1.0
    cam = Camera(30, 20)
    volume = resample_to_camera(grid, frustum_grid([cam], size, depth=64))
    assert volume.shape == (1, 1, 64, size, size)
    image = volume.amax(dim=2)[0, 0]
    row, col = np.unravel_index(image.argmax().item(), image.shape)
    centre = (np.array([i, j, k]) + 0.5) / n - 0.5
    u, v = cam.project(centre[None], size)[0]
    assert abs(col + 0.5 - u) <= 1.0 and abs(row + 0.5 - v) <= 1.0
    # the voxel is reached at the depth of its distance from the eye
    d = volume[0, 0, :, row, col].argmax().item()
    t = np.linspace(cam.distance - 0.866, cam.distance + 0.866, 64)[d]
    assert abs(t - np.linalg.norm(centre - cam.eye())) < 0.1


def test_resampling_is_differentiable():
    grid = torch.rand(2, 1, 8, 8, 8, requires_grad=True)
    cams = CameraPrior().sample(2, np.random.default_rng(1))
    resample_to_camera(grid, frustum_grid(cams, 16, 8)).sum().backward()
    assert grid.grad is not None and grid.grad.abs().sum() > 0
