"""The claims block: a win needs seed ranges apart, overlapping ranges tie, every run counts; README's block is
what igan_lite.experiments.claims writes from the shipped results csv."""
from pathlib import Path

import pytest

from igan_lite.experiments.claims import STATUS, claims_markdown, readme_block, status_markdown, update_readme
from igan_lite.experiments.results_table import compare, markdown, read_csv, write_csv
from igan_lite.presets import get_preset

ROOT = Path(__file__).parent.parent


def record(variant, category, seed, fd, iou, collapsed=""):
    return {"variant": variant, "row": variant, "category": category, "seed": seed, "preset": "lite", "steps": 500,
            "n": 500, "split": "test", "threshold": 0.5, "fd_lite": fd, "nearest_iou": iou, "cov": 0.1, "mmd": 0.6,
            "1nna": 1.0, "collapsed": collapsed, "f_schedule": "serial", "run": f"runs/{variant}-{category}-{seed}"}


def test_a_win_needs_seed_ranges_apart():
    a = [record("iggan", "chair", s, fd, 0.3) for s, fd in enumerate((4, 5, 6))]
    apart = [record("vh", "chair", s, fd, 0.3) for s, fd in enumerate((7, 8, 9))]
    overlapping = [record("vh", "chair", s, fd, 0.3) for s, fd in enumerate((5.5, 8, 9))]
    assert compare(a, apart, "fd_lite") == "win" and compare(apart, a, "fd_lite") == "loss"
    assert compare(a, overlapping, "fd_lite") == "tie"
    assert compare(a, apart, "nearest_iou") == "tie"
    assert compare(a[:1], apart[:1], "fd_lite") == "open"  # one seed a side has no range: nothing is decided


def test_claims_count_wins_ties_losses_and_collapses(tmp_path):
    rows = []
    for s in range(3):
        rows += [record("iggan", "chair", s, 4 + s, 0.35), record("vh", "chair", s, 20 + s, 0.2),
                 record("iggan", "table", s, 30 + s, 0.4, "proxy" if s == 1 else ""), record("ea", "table", s, 31 + s, 0.2),
                 record("iggan-nodom", "chair", s, 5 + s, 0.35)]
    csv_path = tmp_path / "results.csv"
    write_csv(rows, csv_path)
    text = claims_markdown(csv_path)
    assert "IG-GAN wins on 1 (chair), ties on 1 (table), loses on 0, is undecided (under two seeds a side) on 0" in text
    assert "IG-GAN, no DOM (L2-only proxy)** against the full recipe: FD-lite ↓ chair: tie" in text
    assert "No measurable effect at this scale" in text
    assert "IG-GAN (proxy + DOM) 1 and 0 of 6" in text  # no references in this csv: nothing is compared with boxes

    readme = tmp_path / "README.md"
    readme.write_text("intro <!-- STATUS:START -->old<!-- STATUS:END -->.\n<!-- CLAIMS:START -->\nold\n<!-- CLAIMS:END -->\nrest\n")
    update_readme(readme, csv_path)
    assert readme_block(readme) == text and readme.read_text().endswith("rest\n")
    assert "15 of the grid's 72 runs" in readme_block(readme, STATUS) and "57 runs are still missing" in readme_block(readme, STATUS)
    readme.write_text("no block")
    with pytest.raises(ValueError, match="has no claims block"):
        update_readme(readme, csv_path)

    boxes = {**record("random_boxes", "table", 0, 30.5, 0.1), "run": ""}  # table's random-boxes reference
    write_csv(rows + [boxes], csv_path)
    assert "IG-GAN (proxy + DOM) 1 and 2 of 6" in claims_markdown(csv_path)  # table seeds 1, 2: FD-lite 31, 32 > 30.5
    write_csv(rows[:5], csv_path)  # seed 0 alone
    assert "is undecided (under two seeds a side) on 2 (chair, table)" in claims_markdown(csv_path)
    assert "No measurable effect" not in claims_markdown(csv_path)


def test_an_ablation_that_is_better_is_said_to_contradict_the_paper(tmp_path):
    rows = []
    for s in range(3):
        rows += [record("iggan", "table", s, 12 + s, 0.4), record("vh", "table", s, 20 + s, 0.4),
                 record("iggan-nopretrain", "table", s, 6 + s, 0.4), record("iggan-nodom", "table", s, 20 + s, 0.4)]
    csv_path = tmp_path / "results.csv"
    write_csv(rows, csv_path)
    text = claims_markdown(csv_path)
    assert ("no proxy pretraining** against the full recipe: FD-lite ↓ table: the ablation better; nearest IoU ↑ "
            "table: tie. The ablation is better (FD-lite ↓ on table): this contradicts the paper.") in text
    assert "FD-lite ↓ table: the full recipe better; nearest IoU ↑ table: tie. The full recipe is better (FD-lite ↓ on " \
           "table), as the paper argues." in text
    assert "No measurable effect" not in text


def test_against_the_paper_names_a_baseline_that_is_wholly_better(tmp_path):
    rows = []
    for s in range(2):
        rows += [record("iggan", "chair", s, 4 + s, 0.35), record("vh", "chair", s, 20 + s, 0.2),
                 record("iggan", "car", s, 9 + s, 0.3), record("ea", "car", s, 1 + s, 0.3), record("vh", "car", s, 30, 0.2),
                 record("iggan", "table", s, 5 + s, 0.3), record("ao", "table", s, 5.5 + s, 0.3)]
    rows += [record("iggan", "lamp", 0, 3, 0.3), record("vh", "lamp", 0, 9, 0.2)]
    csv_path = tmp_path / "results.csv"
    write_csv(rows, csv_path)
    line = next(x for x in claims_markdown(csv_path).splitlines() if x.startswith("- **Against the paper**"))
    assert line.endswith("on FD-lite ↓: reproduced on 1 of 4 categories (chair); contradicted on car, where "
                         "emission-absorption (PlatonicGAN) is wholly better; a tie with at least one baseline on table; "
                         "undecided (under two seeds a side) on lamp.")


def test_readme_block_is_generated_from_the_shipped_results(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert readme_block("README.md") == claims_markdown("figures/results_lite.csv"), \
        "README's claims block is stale: run `igan-lite claims --readme README.md`"
    assert readme_block("README.md", STATUS) == status_markdown("figures/results_lite.csv"), \
        "README's status sentence is stale: run `igan-lite claims --readme README.md`"


def test_a_category_not_yet_scored_by_fid_is_left_undecided_on_fid(tmp_path):
    rows = []
    for s in range(3):
        rows += [{**record("iggan", "chair", s, 4 + s, 0.35), "fid": 50.0 + s},
                 {**record("vh", "chair", s, 20 + s, 0.2), "fid": 90.0 + s},
                 {**record("iggan", "table", s, 5 + s, 0.35), "fid": 60.0 + s},
                 {**record("vh", "table", s, 20 + s, 0.2), "fid": 99.0 if s == 0 else float("nan")}]
    rows = [{**r, "kid": r["fid"] / 1000} for r in rows]
    csv_path = tmp_path / "results.csv"
    write_csv(rows, csv_path)
    text = claims_markdown(csv_path)
    assert "**FID ↓**: of 2 categories, IG-GAN wins on 1 (chair), ties on 0, loses on 0, is undecided (under two " \
           "seeds a side) on 0, is not yet scored (a run lacks the score) on 1 (table)" in text
    assert "**FD-lite ↓**: of 2 categories, IG-GAN wins on 2 (chair, table)" in text  # FD-lite decides table
    assert "reproduced on 1 of 2 categories (chair); not yet scored on table." in text
    assert "for 10 of them so far" in status_markdown(csv_path)
    records, references = read_csv(csv_path)
    table = markdown(records, references, [], get_preset("lite"), (0, 1, 2))
    assert "99.0 [1 of 3 seeds scored]" in table and "10 of the 12 runs are scored by FID so far" in table


def test_the_shipped_csv_holds_what_each_shipped_run_evaluation_says(monkeypatch):
    """figures/results_lite.csv is `igan-lite reproduce --from-checkpoints`'s reading of the shipped evaluation.json
    files: a run re-scored since (FID added, a new surface level) makes it stale."""
    import json
    import math

    monkeypatch.chdir(ROOT)
    records, _ = read_csv("figures/results_lite.csv")
    for r in records:
        scores = json.loads((Path(r["run"]) / "evaluation.json").read_text())["generator"]
        for metric in ("fid", "kid", "fd_lite", "nearest_iou"):
            if metric in scores or math.isfinite(r.get(metric, math.nan)):
                assert r.get(metric) == pytest.approx(scores.get(metric, math.nan)), \
                    f"{r['run']}: {metric} is {r.get(metric)} in the csv, {scores.get(metric)} in evaluation.json: " \
                    "run `igan-lite reproduce --preset lite --from-checkpoints --no-fid` and `igan-lite claims --readme README.md`"
