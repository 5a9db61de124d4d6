"""The runs shipped in checkpoints/ stay slim: float16 nets, no D or optimiser state, a proxy only for the grid's
seed 0 and never for the training-length study's runs; 160 MB for the lite grid and the rest (issue 13's budget),
80 MB for the study (issue 31's)."""
from pathlib import Path

import pytest
import torch

from igan_lite.training import checkpoint
from igan_lite.training.run_folder import EXPORTED

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
STUDY = "length_lite"  # scripts/length_study.py ship
BUDGET, STUDY_BUDGET = 160e6, 80e6  # bytes: every file under checkpoints/ but the study's, and the study's
SHIPPED = sorted(CHECKPOINTS.glob("lite/*/*/checkpoint.pt")) + sorted(CHECKPOINTS.glob(f"{STUDY}/*/*/checkpoint.pt"))
SNAPSHOTS = sorted(CHECKPOINTS.glob(f"{STUDY}/*/*/generators/*.pt"))  # Figure 1 lite's 500-step generators


def test_checkpoints_fit_the_budget():
    assert SHIPPED, f"no shipped lite run under {CHECKPOINTS}"
    size = lambda files: sum(f.stat().st_size for f in files if f.is_file())
    study = size((CHECKPOINTS / STUDY).rglob("*"))
    total = size(CHECKPOINTS.rglob("*")) - study
    assert total < BUDGET, f"checkpoints/ holds {total / 1e6:.1f} MB, over the {BUDGET / 1e6:.0f} MB budget"
    assert study < STUDY_BUDGET, f"checkpoints/{STUDY} holds {study / 1e6:.1f} MB, over its {STUDY_BUDGET / 1e6:.0f} MB"


@pytest.mark.parametrize("path", SHIPPED + SNAPSHOTS, ids=lambda p: str(p.relative_to(CHECKPOINTS).parent))
def test_a_shipped_run_is_slim(path):
    state = checkpoint.load(path)
    seed0 = path.parent.name.endswith("-seed0") and path.parents[2].name != STUDY
    assert set(state) <= set(EXPORTED), f"{path} ships more than {', '.join(EXPORTED)}"
    assert "G" in state and ("R" in state) <= seed0, f"{path}: a proxy ships only with seed 0"
    dtypes = {v.dtype for net in ("G", "R") for v in state.get(net, {}).values() if v.is_floating_point()}
    assert dtypes == {torch.float16}, f"{path} stores its nets as {dtypes}, not float16"
