"""The held-out splits: deterministic, disjoint from each other, cached, and refused when misnamed."""
import numpy as np
import pytest

from igan_lite.data.datasets import load_eval_voxels
from igan_lite.data.splits import build_split, split_sets
from igan_lite.presets import get_preset


def test_splits_are_deterministic_and_disjoint(tmp_path):
    p = get_preset("smoke")
    val, test = (split_sets("chair", p, s, 4, root=tmp_path) for s in ("validation", "test"))
    assert val["real"].shape == (4, 1, p.image_size, p.image_size) and test["reference"].shape == (4, 16, 16, 16)
    flat = lambda v: {g.tobytes() for g in (v > 0.5)}  # noqa: E731
    assert not flat(load_eval_voxels(val["data"])) & flat(load_eval_voxels(test["data"]))
    again = split_sets("chair", p, "test", 4, root=tmp_path / "again")
    assert np.array_equal(again["reference"], test["reference"]) and np.array_equal(again["real"], test["real"])
    before = (tmp_path / "chair-smoke-test-n4" / "eval.npz").stat().st_mtime_ns
    build_split("chair", p, "test", 4, root=tmp_path)
    assert (tmp_path / "chair-smoke-test-n4" / "eval.npz").stat().st_mtime_ns == before  # cached, not rebuilt


def test_a_misnamed_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"split: expected one of \('validation', 'test'\), got 'train'"):
        build_split("chair", get_preset("smoke"), "train", 4, root=tmp_path)
