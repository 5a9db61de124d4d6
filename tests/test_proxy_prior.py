import numpy as np
import torch

from igan_lite.core.diagnostics import sample_stats
from igan_lite.core.nets import Generator
from igan_lite.data.proxy_prior import blob_grids, primitive_grids, prior_grids, speckle_grids


def test_each_kind_is_a_valid_occupancy_grid_with_its_character():
    rng = np.random.default_rng(0)
    prim, blobs, speckle = primitive_grids(16, 6, rng), blob_grids(16, 6, rng), speckle_grids(16, 6, rng)
    for g in (prim, blobs, speckle):
        assert g.shape == (6, 16, 16, 16) and g.dtype == np.float32 and g.min() >= 0 and g.max() <= 1
    assert set(np.unique(prim)) <= {0.0, 1.0} and prim.mean() > 0.005
    assert ((blobs > 0.3) & (blobs < 0.7)).mean() > 0.01  # soft values around the threshold
    stats = sample_stats(torch.from_numpy(speckle)[:, None], torch.zeros(6, 1, 4, 4))
    assert stats["isolated"] > 0.5


def test_mixture_has_the_requested_size_and_includes_the_generator():
    rng = np.random.default_rng(1)
    G = Generator(8, 16, 16).eval()
    grids = prior_grids(16, 20, rng, G)
    assert grids.shape == (20, 16, 16, 16)
    # the untrained generator's share (20 %): occupancies all near 0.5, unlike any other kind
    near_half = lambda gs: sum(((g > 0.3) & (g < 0.7)).mean() > 0.8 for g in gs)  # noqa: E731
    assert near_half(grids) == 4
    without = prior_grids(16, 20, np.random.default_rng(2))
    assert without.shape == (20, 16, 16, 16) and near_half(without) == 0
