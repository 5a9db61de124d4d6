"""The runs shipped in checkpoints/ stay slim (issue 13's budget): float16 nets, no D or optimiser state, a proxy
only for seed 0, and 160 MB in all, so that the whole lite grid fits in the repository."""
from pathlib import Path

import pytest
import torch

from igan_lite.training import checkpoint
from igan_lite.training.run_folder import EXPORTED

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
BUDGET = 160e6  # bytes, every file under checkpoints/
SHIPPED = sorted(CHECKPOINTS.glob("lite/*/*/checkpoint.pt"))


def test_checkpoints_fit_the_budget():
    assert SHIPPED, f"no shipped lite run under {CHECKPOINTS}"
    total = sum(f.stat().st_size for f in CHECKPOINTS.rglob("*") if f.is_file())
    assert total < BUDGET, f"checkpoints/ holds {total / 1e6:.1f} MB, over the {BUDGET / 1e6:.0f} MB budget"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}")
def test_a_shipped_run_is_slim(path):
    state = checkpoint.load(path)
    seed0 = path.parent.name.endswith("-seed0")
    assert set(state) <= set(EXPORTED), f"{path} ships more than {', '.join(EXPORTED)}"
    assert "G" in state and ("R" in state) <= seed0, f"{path}: a proxy ships only with seed 0"
    dtypes = {v.dtype for net in ("G", "R") for v in state.get(net, {}).values() if v.is_floating_point()}
    assert dtypes == {torch.float16}, f"{path} stores its nets as {dtypes}, not float16"
