import numpy as np
import pytest
import torch
from scipy import linalg

from igan_lite.evaluation.metrics import (FeatureNet, fd_lite, features_fd, frechet_distance, iou_matrix, shape_metrics,
                                          train_feature_net)


def _independent_fd(mu1, c1, mu2, c2):
    """Fréchet distance via the symmetric form Tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2)."""
    r1 = linalg.sqrtm(c1).real
    return ((mu1 - mu2) ** 2).sum() + np.trace(c1 + c2 - 2 * linalg.sqrtm(r1 @ c2 @ r1).real)


def test_frechet_distance_matches_an_independent_computation():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
    c1, c2 = a @ a.T + np.eye(6), b @ b.T + 0.5 * np.eye(6)
    mu1, mu2 = rng.standard_normal(6), rng.standard_normal(6)
    assert np.isclose(frechet_distance(mu1, c1, mu2, c2), _independent_fd(mu1, c1, mu2, c2), rtol=1e-6)
    assert abs(frechet_distance(mu1, c1, mu1, c1)) < 1e-6
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2
    assert np.isclose(frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])), 4 + 1)


def test_features_fd_without_covariances_equals_the_covariance_formula():
    rng = np.random.default_rng(5)
    for m, n, d in ((30, 40, 64), (200, 150, 8)):  # fewer samples than dimensions, and more
        fa, fb = rng.normal(size=(m, d)), rng.normal(0.2, 1.3, size=(n, d)) @ rng.normal(size=(d, d))
        want = frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))
        assert np.isclose(features_fd(fa, fb), want, rtol=1e-6)


def test_fd_lite_tells_categories_apart_and_rejects_bad_input():
    rng = torch.Generator().manual_seed(0)
    bright = torch.rand(120, 1, 16, 16, generator=rng) * 0.3 + 0.7
    dark = torch.rand(120, 1, 16, 16, generator=rng) * 0.3
    labels = torch.cat([torch.zeros(120), torch.ones(120)]).long()
    net = train_feature_net(torch.cat([bright, dark]), labels, epochs=2)
    same = fd_lite(net, bright[:60], bright[60:])
    different = fd_lite(net, bright[:60], dark[:60])
    assert different > 10 * same
    with pytest.raises(ValueError, match="too few.*at least 50"):
        fd_lite(net, bright[:10], dark[:60])
    with pytest.raises(ValueError, match="differ in shape"):
        fd_lite(net, bright[:60], torch.rand(60, 1, 8, 8))
    assert isinstance(net, FeatureNet)


def test_iou_and_shape_metrics():
    cube = np.zeros((8, 8, 8), np.float32)
    cube[2:6, 2:6, 2:6] = 1
    half = cube.copy()
    half[2:4] = 0
    m = iou_matrix(np.stack([cube, half]), np.stack([cube]))
    assert np.allclose(m[:, 0], [1.0, 0.5])
    rng = np.random.default_rng(0)
    ref = (rng.random((10, 8, 8, 8)) < 0.3).astype(np.float32)
    perfect = shape_metrics(ref.copy(), ref)
    assert perfect["nearest_iou"] == 1.0 and perfect["cov"] == 1.0 and perfect["mmd"] == 0.0
    collapsed = shape_metrics(np.repeat(ref[:1], 10, 0), ref)
    assert collapsed["cov"] == 0.1 and collapsed["1nna"] > 0.5


def test_the_lite_feature_net_ships_and_loads_without_data(tmp_path, monkeypatch):
    from igan_lite.evaluation import evaluate
    from igan_lite.presets import get_preset

    monkeypatch.setattr(evaluate, "CACHE", tmp_path / "empty-cache")
    monkeypatch.chdir(tmp_path)  # no datasets here: training it would fail
    net = evaluate.feature_net(get_preset("lite"))
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 5)
