"""Every logged collapse reproduces at smoke and its diagnostic tells it from the healthy control (notebook 08)."""
import os

import pytest

from igan_lite.notebook.failures import FAILURES, reproduce


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """Runs and the smoke dataset (./data) in one folder for the module."""
    root = tmp_path_factory.mktemp("failures")
    cwd = os.getcwd()
    os.chdir(root)
    yield root
    os.chdir(cwd)


@pytest.mark.parametrize("name", list(FAILURES))
def test_each_failure_is_reproduced_and_caught(root, name):
    outcome = reproduce(name, root)
    broken, healthy = outcome.collapsed()
    assert outcome.failure.kind in broken, (name, broken, [r["warnings"] for r in outcome.broken])
    assert outcome.failure.kind not in healthy, (name, healthy)
    assert outcome.caught


def test_a_dead_proxy_draws_blank_and_passes_no_gradient(root):
    outcome = reproduce("dead proxy", root)
    dead, alive = outcome.broken[-1], outcome.healthy[-1]
    assert dead["proxy_blank"] == 1.0 and alive["proxy_blank"] == 0.0
    assert dead["grad_to_voxels"] < 1e-3 * alive["grad_to_voxels"]


def test_unknown_failure_is_named():
    with pytest.raises(ValueError, match="unknown failure 'x'; expected one of"):
        reproduce("x")
