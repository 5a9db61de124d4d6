"""The "what you should see" values come from the shipped runs' files, and a Band says what lies inside it."""
import json

import pytest

from igan_lite.notebook.expected import Band, check, last_window, metric_band, score_band, shipped_runs, window_mean
from igan_lite.training.run_folder import read_metrics


def test_a_band_spans_the_runs_widened_by_its_tolerance():
    band = Band("x", {"a": 1.0, "b": 2.0}, tol=0.5)
    assert (band.lo, band.hi) == (0.5, 3.0)
    assert 0.5 in band and 3.0 in band and 0.49 not in band and 3.01 not in band
    assert band.verdict(2.5).startswith("✓") and band.verdict(4.0).startswith("✗")


def test_metric_and_score_bands_are_read_from_the_shipped_files():
    runs = shipped_runs("chair", "iggan")
    assert "iggan-seed0" in runs
    rows = read_metrics(runs["iggan-seed0"])
    assert metric_band("proxy_error", (1, 1)).values["iggan-seed0"] == rows[0]["proxy_error"]
    assert metric_band("d_acc", (451, 500)).values["iggan-seed0"] == pytest.approx(
        sum(r["d_acc"] for r in rows[450:500]) / 50)
    scores = json.loads((runs["iggan-seed0"] / "evaluation.json").read_text())
    assert score_band("nearest_iou").values["iggan-seed0"] == scores["generator"]["nearest_iou"]
    assert score_band("occupancy", entry="real_vs_real").values["iggan-seed0"] == scores["real_vs_real"]["occupancy"]
    assert score_band("occupancy", snapshot=100).values["iggan-seed0"] == scores["snapshots"]["step_000100"]["occupancy"]


def test_missing_runs_and_steps_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no shipped runs vh-seed\\* for lamp"):
        shipped_runs("lamp", "vh", root=tmp_path)  # an empty checkpoints folder
    with pytest.raises(ValueError, match="no rows with 'proxy_error' in steps \\(600, 700\\)"):
        window_mean([{"step": 1, "proxy_error": 0.1}], "proxy_error", (600, 700))
    with pytest.raises(ValueError, match=r"has fd_lite scores \(step 7\) yet"):
        score_band("fd_lite", snapshot=7)


def test_last_window_and_check():
    assert last_window([{"step": s} for s in range(1, 7)]) == (4, 6)  # a short run: its second half
    assert last_window([{"step": s} for s in range(1, 201)]) == (151, 200)
    check(True, "fine")
    check(False, "printed only", strict=False)
    with pytest.raises(AssertionError, match="expected: broken"):
        check(False, "broken")


def test_snapshot_scores_survive_a_rescore_only_at_the_same_surface_level(tmp_path):
    """Scoring a run again (e.g. for FID) without --snapshots keeps the earlier snapshot scores when they were
    measured as the new ones are (their generators may not ship); a new surface level drops them."""
    from igan_lite.evaluation.evaluate import kept_snapshots

    old = tmp_path / "evaluation.json"
    label = {"threshold": 0.7, "n": 500, "seed": 0, "split": "test"}
    old.write_text(json.dumps({"label": label, "snapshots": {"step_000100": {"fd_lite": 9.0}}}))
    new = dict(label)
    assert kept_snapshots(old, new) == {"snapshots": {"step_000100": {"fd_lite": 9.0}}} and "kept" in new["snapshots_note"]
    assert kept_snapshots(old, {**label, "threshold": 0.5}) == {}
    assert kept_snapshots(tmp_path / "absent.json", dict(label)) == {}
