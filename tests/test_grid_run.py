"""scripts/grid_run.py: a bad RUN stops it before any training; a run that fails is reported and the queue goes on."""
import importlib.util
import json
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("grid_run", Path(__file__).parents[1] / "scripts" / "grid_run.py")
grid_run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(grid_run)


def test_a_misspelt_run_stops_the_queue_before_it_trains(tmp_path):
    with pytest.raises(SystemExit, match=r"run 'chair/vhh-seed0': expected CATEGORY/VARIANT-seedS"):
        grid_run.main(["--preset", "smoke", "--runs-dir", str(tmp_path / "runs"), "chair/vh-seed0", "chair/vhh-seed0"])
    assert not (tmp_path / "runs").exists()


def test_a_failed_run_is_reported_and_the_next_one_still_ships(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / "checkpoints/smoke/chair/vh-seed0"  # a shipped folder of another recipe: reproduce refuses it
    assert grid_run.main(["--preset", "smoke", "chair/vh-seed0"]) == 0
    config = json.loads((broken / "config.json").read_text())
    config["preset"]["lambda_ms"] = 0.5
    (broken / "config.json").write_text(json.dumps(config))

    assert grid_run.main(["--preset", "smoke", "chair/vh-seed0", "chair/ao-seed0"]) == 1
    out = capsys.readouterr().out
    assert "FAILED chair/vh-seed0: ValueError:" in out and "lambda_ms differ" in out
    shipped = tmp_path / "checkpoints/smoke/chair/ao-seed0"
    assert (shipped / "checkpoint.pt").exists() and json.loads((shipped / "evaluation.json").read_text())["label"]["split"] == "test"
