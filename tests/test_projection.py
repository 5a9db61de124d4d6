"""The baselines' image formation (projection.py) on rays whose answers are known by hand, and one
smoke run per baseline."""
import math

import numpy as np
import pytest
import torch

from igan_lite.core import projection as P
from igan_lite.core.camera import Camera, frustum_grid
from igan_lite.core.methods import METHODS, project
from igan_lite.presets import get_preset
from igan_lite.training.train import train

BASELINES = [m for m in METHODS if not METHODS[m].proxy]


def ray(*values):
    return torch.tensor(values).view(1, 1, -1, 1, 1)


def test_one_voxel_ray():
    assert math.isclose(P.visual_hull(ray(0.5)).item(), 1 - math.exp(-0.5), rel_tol=1e-6)
    assert math.isclose(P.absorption_only(ray(0.5)).item(), 0.5, rel_tol=1e-6)
    # emission 0.2 at opacity 0.5, the rest of the white background shows through
    assert math.isclose(P.emission_absorption(ray(0.5), ray(0.2), 1.0).item(), 0.2 * 0.5 + 0.5, rel_tol=1e-6)


def test_two_voxel_ray_front_hides_back():
    assert math.isclose(P.visual_hull(ray(0.5, 0.5)).item(), 1 - math.exp(-1.0), rel_tol=1e-6)
    assert math.isclose(P.absorption_only(ray(0.5, 0.5)).item(), 0.75, rel_tol=1e-6)
    # front (index 0) emits 0.2 through T=1, back emits 0.8 through T=0.5, background through 0.25
    assert math.isclose(P.emission_absorption(ray(0.5, 0.5), ray(0.2, 0.8), 1.0).item(), 0.1 + 0.2 + 0.25, rel_tol=1e-6)
    # an opaque front voxel hides everything behind it
    assert P.emission_absorption(ray(1.0, 1.0), ray(0.3, 0.9), 1.0).item() == pytest.approx(0.3, abs=1e-4)


def test_projections_of_a_cube_and_their_gradients():
    x = torch.zeros(1, 2, 16, 16, 16)
    x[:, 0, 4:12, 4:12, 4:12] = 1.0
    x[:, 1] = 0.4
    x.requires_grad_(True)
    grid = frustum_grid([Camera(30.0, 20.0)], 32, 16)
    for method in BASELINES:
        img = project(method, x[:, :METHODS[method].g_channels], grid)
        assert img.shape == (1, 1, 32, 32)
        assert img[0, 0, 0, 0].item() == pytest.approx(1.0)  # corner: background
        assert img[0, 0, 16, 16].item() < 0.5  # centre: the cube
        img.sum().backward()
        assert x.grad.abs().sum() > 0
        x.grad = None


def test_project_rejects_wrong_channels_and_methods():
    grid = frustum_grid([Camera(0.0, 20.0)], 8, 8)
    with pytest.raises(ValueError, match="2 channel"):
        project("ea", torch.zeros(1, 1, 8, 8, 8), grid)
    with pytest.raises(ValueError, match="unknown projection 'nerf'"):
        project("nerf", torch.zeros(1, 1, 8, 8, 8), grid)


def test_silhouettes_keep_only_the_mask():
    img = torch.ones(1, 1, 4, 4)
    img[0, 0, 1, 1] = 0.7
    assert P.silhouettes(img).flatten().tolist() == [1.0] * 5 + [0.0] + [1.0] * 10


@pytest.mark.parametrize("method", BASELINES)
def test_a_baseline_smoke_run(method, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    smoke = get_preset("smoke")
    from igan_lite.training.run_folder import load_generator, read_metrics

    rows = read_metrics(train(method, "chair", smoke, tmp_path / method, progress=False))
    assert len(rows) == smoke.steps and all(np.isfinite(r["loss_g"]) for r in rows)
    assert "proxy_error" not in rows[0] and rows[0]["time_projection"] > 0
    assert not (tmp_path / method / "pretrain.jsonl").exists()
    G, _ = load_generator(tmp_path / method)
    assert G(torch.zeros(1, smoke.z_dim)).shape[1] == METHODS[method].g_channels


def test_baseline_generators_start_grey_not_black():
    from igan_lite.core.diagnostics import collapse_warnings, sample_stats

    p = get_preset("smoke")
    grid = frustum_grid([Camera(a, 20.0) for a in range(0, 360, 45)], p.image_size, p.voxel_res)
    for method in BASELINES:
        torch.manual_seed(0)
        x = METHODS[method].build_nets(p).G(torch.randn(8, p.z_dim))
        images = project(method, x, grid)
        assert 0.5 < images.mean().item() < 0.95, method  # neither blank nor saturated
        opaque = torch.cat([torch.ones_like(x[:, :1]), torch.zeros_like(x[:, 1:])], 1)  # black, every ray opaque
        saturated = project(method, opaque, grid)
        assert "opaque" in collapse_warnings(sample_stats(x[:, :1], saturated))
        assert "opaque" not in collapse_warnings(sample_stats(x[:, :1], images))
