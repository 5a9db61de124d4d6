"""`igan-lite reproduce` on the smoke preset: every variant trained, evaluated and tabulated; nothing redone."""
import csv

import pytest

from igan_lite.reproduce import VARIANTS, reproduce


def test_reproduce_writes_the_table_and_redoes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rows = reproduce("smoke", categories=("chair",), seeds=(0,), steps=2, use_shipped=False, export=True, progress=False)
    labels = [r["row"] for r in rows]
    assert labels[:len(VARIANTS)] == [v.label for v in VARIANTS]
    assert labels[len(VARIANTS):] == ["untrained generator", "random boxes", "real shapes (floor)"]
    with open("figures/results_smoke.csv") as f:
        assert [r["row"] for r in csv.DictReader(f)] == labels
    table = (tmp_path / "figures/results_smoke.md").read_text()
    assert "FeatureNet" in table and "n = 50" in table and "| visual hull (PrGAN) |" in table
    assert (tmp_path / "figures/results_smoke_chair.png").exists()

    checkpoints = sorted((tmp_path / "runs/reproduce/smoke/chair").glob("*/checkpoint.pt"))
    assert len(checkpoints) == len(VARIANTS)
    before = {p: p.stat().st_mtime_ns for p in checkpoints}
    again = reproduce("smoke", categories=("chair",), seeds=(0,), steps=2, use_shipped=False, progress=False)
    assert again == rows  # the same numbers, read back, with no training
    assert {p: p.stat().st_mtime_ns for p in checkpoints} == before
    shipped = sorted(p.parent.name for p in (tmp_path / "checkpoints/smoke/chair").glob("*/checkpoint.pt"))
    assert shipped == sorted(f"{v.key}-seed0" for v in VARIANTS)
    assert reproduce("smoke", categories=("chair",), seeds=(0,), steps=2, only_shipped=True, progress=False) == rows


def test_from_checkpoints_names_the_missing_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"smoke/chair/iggan-seed0/checkpoint.pt.*drop --from-checkpoints"):
        reproduce("smoke", categories=("chair",), checkpoints=tmp_path / "none", only_shipped=True, progress=False)
