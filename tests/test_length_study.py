"""The training-length study's rule for L (docs/experiments.md, "Training length") and its 500-step-against-L
claims, on made-up curves and records: nothing is trained here."""
import pytest
import torch

from igan_lite.experiments.length_report import claims, table, verdicts
from igan_lite.experiments.length_study import choose_length, smoothed


def curve(values: dict[int, float]) -> dict[int, float]:
    return {s: float(v) for s, v in values.items()}


def test_smoothing_takes_the_median_of_three_snapshots():
    c = curve({750: 100, 1000: 10, 1250: 90})
    assert smoothed(c, 1000) == 90  # one noisy snapshot does not decide
    with pytest.raises(ValueError, match="no value at step 1500"):
        smoothed(c, 1500)


def test_length_is_the_first_doubling_that_gains_under_five_percent():
    flat_after_1000 = curve({s: 100 if s < 1000 else 80 for s in range(500, 2001, 250)})
    assert choose_length(flat_after_1000) == 1000
    improving = curve({s: 1e5 / s for s in range(500, 4001, 250)})  # halves with every doubling
    assert choose_length(improving) == 4000
    assert choose_length(curve({s: 1e5 / s for s in range(500, 1751, 250)})) is None  # 2000 not reached: undecided


def record(variant, seed, steps, fid):
    return {"variant": variant, "category": "chair", "seed": seed, "steps": steps, "fid": fid, "kid": 0.1,
            "fd_lite": 1.0, "nearest_iou": 0.3, "run": f"r/{variant}-{seed}@{steps}"}


def test_claims_name_the_verdicts_that_change_with_training_length():
    rows = []
    for s in range(3):
        rows += [record("iggan", s, 500, 100 + s), record("vh", s, 500, 101 + s),  # overlapping at 500: a tie
                 record("iggan", s, 1000, 50 + s), record("vh", s, 1000, 90 + s)]  # apart at L: a win
    changed, *unchanged = claims(rows, 1000, {})
    assert "(1 of 4 verdicts)" in changed and "chair, IG-GAN against the baselines, FID ↓: tie → win" in changed
    assert unchanged == ["- **Unchanged**:", "  - chair, IG-GAN against the baselines: KID ↓ tie, FD-lite ↓ tie, nearest IoU ↑ tie."]


def test_a_decided_pair_stays_visible_while_another_baseline_has_one_seed():
    rows = [record("iggan", s, steps, 50 + s) for s in range(2) for steps in (500, 1000)]
    rows += [record("vh", s, steps, 150 + s) for s in range(2) for steps in (500, 1000)]
    rows += [record("ao", 0, steps, 160) for steps in (500, 1000)]  # AO's first seed: no range yet
    found = verdicts([r for r in rows if r["steps"] == 1000], {})
    assert found[("chair", "IG-GAN against the baselines")]["FID ↓"] == "open"
    assert found[("chair", "IG-GAN against visual hull (PrGAN)")]["FID ↓"] == "win"
    assert found[("chair", "IG-GAN against absorption only (PlatonicGAN)")]["FID ↓"] == "open"


def test_the_table_counts_every_seed_collapses_and_failures_at_both_lengths():
    rows = [{**record("iggan", s, steps, fid), "collapsed": "empty" if (s, steps) == (2, 1000) else "",
             "failed": "worse" if steps == 500 else ""} for s, fid in enumerate((60, 70, 200)) for steps in (500, 1000)]
    header, rule, line = table(rows, 1000)[1:]
    assert "collapsed (500 / L)" in header and "FID ↓ at 1,000" in header
    assert line.startswith("| IG-GAN (proxy + DOM) | 3 | 0 / 1 | 3 / 0 | 110.0 ± 78.1 (60.0-200.0) |")


def test_the_shipped_pilot_chose_its_length_by_the_rule():
    """figures/length_pilot_lite.json (scripts/length_study.py pilot) holds the L the rule gives for its own curve,
    docs/experiments.md states that L, and notebook 03 quotes its curve."""
    import json
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    pilot = json.loads((root / "figures" / "length_pilot_lite.json").read_text())
    curve = {int(s): v for s, v in pilot["curve"].items()}
    assert pilot["L"] == choose_length(curve)
    assert {int(s): v for s, v in pilot["smoothed"].items()} == {s: smoothed(curve, s) for s in curve}
    assert f"L = {pilot['L']:,}" in (root / "docs" / "experiments.md").read_text()
    told = (root / "notebooks" / "03_train_iggan.ipynb").read_text()  # "how long" in notebook 03 quotes the curve
    assert all(f"{curve[s]:.1f} at {s:,}" in told for s in (2000, 4000)) and f"{curve[500]:.1f} at 500" in told


def test_a_shipped_run_gives_the_same_rows_as_the_full_one(run, tmp_path):
    """ship_run keeps the final generator, test scores and a thinned log, from which `rows` reads the same scores
    and collapse verdicts as from the full run folder (2-step smoke run; its test score is made up here)."""
    import json
    import shutil

    from igan_lite.experiments.length_study import rows, ship_run
    from igan_lite.training.run_folder import read_metrics

    full = shutil.copytree(run, tmp_path / "runs" / "chair" / "iggan-seed0")
    with pytest.raises(FileNotFoundError, match=r"no test score at steps \[2\]"):
        ship_run(full, tmp_path / "shipped" / "chair" / "iggan-seed0", 2)
    (full / "scores").mkdir()
    (full / "scores" / "test-step_000002.json").write_text(json.dumps({"n": 500, "threshold": 0.5, "fid": 80.0}))
    with pytest.raises(ValueError, match="has not reached L = 4 steps"):
        ship_run(full, tmp_path / "shipped" / "chair" / "iggan-seed0", 4)
    shipped = ship_run(full, tmp_path / "shipped" / "chair" / "iggan-seed0", 2)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "run"} for r in rs]
    assert strip(rows(tmp_path / "shipped", 2)) == strip(rows(tmp_path / "runs", 2)) != []
    assert [r["step"] for r in read_metrics(shipped)] == [1, 2]  # inside the collapse window before step 2
    assert "opt_g" not in torch.load(shipped / "checkpoint.pt") and (shipped / "samples.png").is_file()


def test_figure1_at_both_lengths_is_drawn_from_the_shipped_runs_alone(run, tmp_path, monkeypatch):
    """IG-GAN seed 0 ships its EARLY snapshot too (float16), so Figure 1 lite at EARLY steps and at L needs no run
    folder that a fresh machine lacks (2-step smoke run, EARLY moved to step 1: its snapshot and test scores are
    stand-ins made here)."""
    import json
    import shutil

    from igan_lite.experiments import length_report, length_study

    monkeypatch.setattr(length_study, "EARLY", 1)
    monkeypatch.setattr(length_report, "EARLY", 1)
    full = shutil.copytree(run, tmp_path / "runs" / "chair" / "iggan-seed0")
    (full / "scores").mkdir()
    for step in (1, 2):
        (full / "scores" / f"test-step_{step:06d}.json").write_text(json.dumps({"n": 500, "threshold": 0.5}))
    shutil.copy(full / "generators" / "step_000002.pt", full / "generators" / "step_000001.pt")  # a stand-in
    monkeypatch.setattr(length_study, "scored_steps", lambda length: [1, 2])
    shipped = length_study.ship_run(full, tmp_path / "shipped" / "chair" / "iggan-seed0", 2)
    assert [p.name for p in (shipped / "generators").iterdir()] == ["step_000001.pt"]
    weights = torch.load(shipped / "generators" / "step_000001.pt")["G"].values()
    assert {w.dtype for w in weights if w.is_floating_point()} == {torch.float16}
    path = length_report.figure1_length(tmp_path / "shipped", "chair", 2, tmp_path / "fig1.png")
    assert path.stat().st_size > 10_000
    other = length_study.ship_run(shutil.copytree(full, tmp_path / "runs" / "chair" / "vh-seed0"),
                                  tmp_path / "shipped" / "chair" / "vh-seed0", 2)
    assert not (other / "generators").exists()  # only Figure 1's run ships a snapshot


def test_docs_quote_the_shipped_pilots_test_scores():
    """The pilot's test-split row in docs/experiments.md is the shipped scores, not typed numbers."""
    import json
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    scores = [json.loads((root / "checkpoints" / "length_lite" / "chair" / "iggan-seed0" / "scores" /
                          f"test-step_{s:06d}.json").read_text()) for s in (500, 1000, 2000, 4000)]
    fid_row = "| Inception FID | " + " | ".join(f"{s['fid']:.1f}" for s in scores) + " |"
    assert fid_row in (root / "docs" / "experiments.md").read_text()


def test_the_shipped_csv_and_readme_block_are_what_the_shipped_runs_give():
    """figures/length_study_lite.csv holds exactly the rows `length_study.rows` reads from checkpoints/length_lite
    (a run shipped since needs `scripts/length_study.py table`), and README's length block is the one
    length_report writes from that csv, as is docs/experiments.md's."""
    import math
    from pathlib import Path

    from igan_lite.experiments.claims import noise_file, readme_block
    from igan_lite.experiments.length_report import BLOCK, length_markdown
    from igan_lite.experiments.length_study import rows
    from igan_lite.experiments.results_table import noise_margins, read_csv
    root = Path(__file__).resolve().parents[1]
    figures, length = root / "figures", json_length(root)
    grid_csv = figures / "results_lite.csv"
    same = lambda a, b: a == b or (isinstance(a, float) and math.isnan(a) and b in ("", None))  # noqa: E731
    grid_references = [r for r in read_csv(grid_csv)[1] if r["category"] in ("chair", "table")]
    fresh = rows(root / "checkpoints" / "length_lite", length, grid_references)
    shipped, references = read_csv(figures / "length_study_lite.csv")
    assert len(fresh) == len(shipped) and len(fresh) >= 8
    assert [{k: r[k] for k in ("variant", "category", "fid")} for r in references] == \
        [{k: r[k] for k in ("variant", "category", "fid")} for r in grid_references]
    for new, old in zip(fresh, shipped):
        assert all(same(old[k], v) or same(v, old[k]) for k, v in new.items()), (new, old)
    noise = noise_margins(noise_file(grid_csv, "lite"))
    for doc in (root / "README.md", root / "docs" / "experiments.md"):
        assert readme_block(doc, BLOCK) == length_markdown(figures / "length_study_lite.csv", noise), doc


def json_length(root) -> int:
    import json
    return json.loads((root / "figures" / "length_pilot_lite.json").read_text())["L"]


def test_a_queue_with_one_bad_run_name_stops_before_training_any(tmp_path):
    script = _script()
    with pytest.raises(SystemExit, match=r"run 'chiar/vh-seed1': expected CATEGORY/VARIANT-seedS with CATEGORY one of"):
        script.main(["train", str(tmp_path), "chair/vh-seed0", "chiar/vh-seed1", "--length", "10"])
    assert not any(tmp_path.iterdir())


def test_two_queues_share_their_runs_a_held_run_is_skipped(tmp_path, capsys):
    """`train` skips a run whose folder another process holds (here: this test, by its lock), so two processes
    given the same list never train one run twice."""
    from igan_lite.infra.folder_lock import locked
    script = _script()
    with locked(tmp_path / "chair" / "vh-seed0"):
        assert script.main(["train", str(tmp_path), "chair/vh-seed0", "--length", "10", "--score"]) == 0
    out = capsys.readouterr().out
    assert "skipped chair/vh-seed0: " in out and "is being written by pid" in out
    assert sorted(p.name for p in (tmp_path / "chair" / "vh-seed0").iterdir()) == [".lock"]  # nothing trained


def _script():
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("length_study_script", Path(__file__).parents[1] / "scripts" / "length_study.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_study_order_holds_every_run_once_chair_first():
    from igan_lite.experiments.length_study import study_order
    order = study_order()
    assert len(set(order)) == len(order) == 36 and order[0] == "chair/iggan-seed0"
    assert all(o.startswith("chair/") for o in order[:18]) and len(_script().parse_runs(order)) == 36


def test_a_diverged_run_is_counted_as_failed_never_dropped(run, tmp_path, capsys):
    """A run the queue recorded as diverged gets rows without scores, marked failed, from the step it reached on;
    the queue does not train it again; it ships like a finished one, and the shipped copy gives the same rows
    (2-step smoke run, L = 4 here)."""
    import shutil

    from igan_lite.experiments.length_report import courses
    from igan_lite.experiments.length_study import mark_diverged, rows, ship_run
    full = shutil.copytree(run, tmp_path / "runs" / "chair" / "iggan-seed0")
    assert rows(tmp_path / "runs", 4) == []  # unfinished, unscored: nothing to count yet
    assert mark_diverged(full, "loss is nan at step 3")["step"] == 2
    (found,) = rows(tmp_path / "runs", 4)
    assert found["steps"] == 4 and found["failed"] == "diverged after step 2" and found["fid"] != found["fid"]  # NaN
    (line,) = courses([found], 4)[1:]
    assert "seed 0: unscored → unscored" in line and "failed at L: 1 of 1" in line
    shipped = ship_run(full, tmp_path / "shipped" / "chair" / "iggan-seed0", 4)
    assert (shipped / "scores" / "diverged.json").is_file()
    assert [r["failed"] for r in rows(tmp_path / "shipped", 4)] == ["diverged after step 2"]
    assert _script().main(["train", str(tmp_path / "runs"), "chair/iggan-seed0", "--length", "4"]) == 0
    assert "skipped chair/iggan-seed0: it diverged after step 2" in capsys.readouterr().out
