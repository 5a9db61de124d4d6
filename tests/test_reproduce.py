"""`igan-lite reproduce` on the smoke preset: every variant trained, evaluated on the test split and tabulated per
seed; nothing redone; shipped runs re-scored with the missing ones listed; runs of another recipe refused."""
import csv
import json
import shutil

import pytest

from igan_lite.experiments.grid import VARIANTS
from igan_lite.experiments.reproduce import reproduce


def test_reproduce_writes_the_table_and_redoes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = reproduce("smoke", categories=("chair",), seeds=(0,), steps=2, use_shipped=False, export=True, progress=False)
    assert [r["variant"] for r in found["runs"]] == [v.key for v in VARIANTS]
    assert {r["split"] for r in found["runs"]} == {"test"} and found["missing"] == []
    assert [r["row"] for r in found["references"]] == ["untrained generator", "random boxes", "real shapes (floor)"]
    with open("figures/results_smoke.csv") as f:
        assert [r["variant"] for r in csv.DictReader(f)] == [r["variant"] for r in found["runs"] + found["references"]]
    table = (tmp_path / "figures/results_smoke.md").read_text()
    assert "FeatureNet" in table and "n = 50" in table and "| visual hull (PrGAN) | 1 |" in table
    assert (tmp_path / "figures/results_smoke_chair.png").exists() and (tmp_path / "figures/fig1_smoke.png").exists()

    checkpoints = sorted((tmp_path / "runs/reproduce/smoke/chair").glob("*/checkpoint.pt"))
    assert len(checkpoints) == len(VARIANTS)
    before = {p: p.stat().st_mtime_ns for p in checkpoints}
    again = reproduce("smoke", categories=("chair",), seeds=(0,), steps=2, use_shipped=False, progress=False)
    assert again == found  # the same numbers, read back, with no training
    assert {p: p.stat().st_mtime_ns for p in checkpoints} == before

    shipped = tmp_path / "checkpoints/smoke/chair"
    assert sorted(p.parent.name for p in shipped.glob("*/checkpoint.pt")) == sorted(f"{v.key}-seed0" for v in VARIANTS)
    shutil.rmtree(shipped / "vh-seed0")
    partial = reproduce("smoke", categories=("chair",), seeds=(0,), steps=2, only_shipped=True, progress=False)
    assert partial["missing"] == ["smoke/chair/vh-seed0"]
    assert [r["variant"] for r in partial["runs"]] == [v.key for v in VARIANTS if v.key != "vh"]
    assert "Missing from this table (1 runs): smoke/chair/vh-seed0" in (tmp_path / "figures/results_smoke.md").read_text()

    config_path = shipped / "ao-seed0/config.json"
    config = json.loads(config_path.read_text())
    config["preset"]["lambda_ms"] = 0.5
    config_path.write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"ao-seed0 was trained with another recipe \(lambda_ms differ"):
        reproduce("smoke", categories=("chair",), seeds=(0,), steps=2, only_shipped=True, progress=False)


def test_a_run_whose_d_gate_never_differed_counts_for_the_d_ahead_loss_recipe(tmp_path, monkeypatch):
    """Trained with d_ahead_loss 0, a run is the d_ahead_loss = L run if D was never held at a loss >= L."""
    from igan_lite.experiments.reproduce import recipe_mismatch
    from igan_lite.presets import get_preset
    from igan_lite.training.run_folder import read_metrics
    from igan_lite.training.train import train

    monkeypatch.chdir(tmp_path)
    run = train("vh", "chair", get_preset("smoke", d_acc_max=0.3), "run", progress=False)
    rows = read_metrics(run)
    held = [r["loss_d"] for r in rows if not r["d_updated"]]
    assert held, "the smoke run should hold D at least once for this test to mean anything"
    wanted = get_preset("smoke", d_acc_max=0.3, d_ahead_loss=max(held) + 0.01)
    assert recipe_mismatch(run, wanted) == []
    assert recipe_mismatch(run, get_preset("smoke", d_acc_max=0.3, d_ahead_loss=max(held))) == ["d_ahead_loss"]
    # and it is the same run: trained under the other rule, every number but the timings comes out equal
    again = train("vh", "chair", wanted, "again", progress=False)
    untimed = lambda r: {k: v for k, v in r.items() if not k.startswith("time_")}  # noqa: E731
    assert list(map(untimed, read_metrics(again))) == list(map(untimed, rows))


def test_from_checkpoints_with_nothing_shipped_says_so(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no run of the grid is in .*none/smoke; drop --from-checkpoints"):
        reproduce("smoke", categories=("chair",), checkpoints=tmp_path / "none", only_shipped=True, progress=False)
