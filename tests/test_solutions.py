"""Each exercise's prediction (igan_lite/notebook/solutions.py docstrings) holds at the smoke preset."""
import os

import pytest

from igan_lite.notebook import solutions
from igan_lite.notebook.lab import ProxyLab


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("exercises")
    cwd = os.getcwd()
    os.chdir(root)
    yield root
    os.chdir(cwd)


@pytest.fixture(scope="module")
def lab(root):
    return ProxyLab("smoke")


def test_2_1_capped_and_squared_dom_agree_up_to_one_logit_only():
    r = solutions.squared_dom()
    for gap, row in ((float(k.split("= ")[1]), v) for k, v in r.items()):
        if gap <= 1:
            assert row["capped"] == pytest.approx(row["squared"]) and row["capped gradient"] == pytest.approx(2 * gap)
        else:
            assert row["capped"] == pytest.approx(2 * gap - 1) and row["capped gradient"] == pytest.approx(2.0)
            assert row["squared gradient"] == pytest.approx(2 * gap) and row["squared gradient"] > row["capped gradient"]


def test_2_2_a_plain_sigmoid_proxy_dies(root):
    r = solutions.plain_sigmoid_proxy()
    plain, stretched = r["plain sigmoid"], r["stretched sigmoid"]
    assert plain["blank proxy images"] == 1.0 and stretched["blank proxy images"] == 0.0
    assert plain["gradient reaching the voxels"] < 1e-3 * stretched["gradient reaching the voxels"]
    assert plain["pixel L2"] > stretched["pixel L2"]


def test_2_3_the_proxy_lags_when_f_changes(lab):
    learned, relit, refit = solutions.relit_proxy(lab).values()
    assert relit > learned and refit < relit


def test_3_1_a_held_generator_does_not_move(root):
    held, off = solutions.hold_generator(root).values()
    moved = [k for k in held if k.startswith("G's largest")][0]
    assert held["steps G was updated"] == 0 and held[moved] == 0.0
    assert off["steps G was updated"] == off["steps"] and off[moved] > 0.0


def test_3_2_mode_seeking_at_weight_1_swamps_the_gan_loss(root):
    recipe, heavy = solutions.mode_seeking_weight(root).values()
    assert heavy["smallest λ_ms·L_ms / L_G"] > 10
    assert recipe["largest"] < 3


def test_4_1_thin_fog_is_invisible_to_f_but_not_to_projections():
    r = solutions.thinner_fog()
    assert r["f: darkest pixel"] > 0.99
    assert r["VH: darkest pixel"] < 0.5 and r["AO never lighter than VH"]


def test_4_2_only_emission_absorption_cares_which_slab_is_in_front():
    r = solutions.swapped_ray()
    for method in ("vh", "ao"):
        assert r[method]["dark slab in front"] == pytest.approx(r[method]["light slab in front"], abs=1e-6)
    ea = r["ea"]
    assert ea["light slab in front"] - ea["dark slab in front"] > 0.3


def test_5_1_longer_pretraining_lowers_the_first_proxy_errors(root):
    short, long = solutions.longer_pretraining(root).values()
    assert long["proxy error at step 1"] < short["proxy error at step 1"]
    assert long["mean proxy error"] < short["mean proxy error"]


def test_5_2_dom_weight_barely_matters_before_d_is_confident(root):
    recipe, heavy = solutions.dom_weight_early(root).values()
    assert recipe["mean DOM"] < 0.05
    gaps = [abs(a - b) for a, b in zip(recipe["proxy pixel L2 by step"], heavy["proxy pixel L2 by step"])]
    assert max(gaps) < 0.01
