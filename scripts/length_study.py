"""The training-length study (docs/experiments.md, "Training length"; igan_lite/experiments/length_study.py).

    python scripts/length_study.py train RUNS/lite chair/iggan-seed0 --length L --score  # train (or resume), score
    python scripts/length_study.py train RUNS/lite --all --length L --score  # the whole study; run two of these
    python scripts/length_study.py pilot RUNS/lite/chair/iggan-seed0     # validation curve, and L by the rule
    python scripts/length_study.py score RUNS/lite --length L            # test scores of every run's snapshots
    python scripts/length_study.py ship RUNS/lite --length L             # slim copies of finished runs -> checkpoints/
    python scripts/length_study.py table checkpoints/length_lite --length L  # csv, curves, README's block
    python scripts/length_study.py figure1 checkpoints/length_lite --length L  # Figure 1 lite at 500 steps and at L

`train` runs `igan_lite.training.train` with the lite recipe, the variant's overrides (experiments/grid.py),
`steps` L and a generator snapshot every 250 steps, resuming a run whose checkpoint exists and skipping one that
another process is training, so two processes given the same runs share them. Scores are cached in
each run's scores/ folder, so every command can be stopped and run again.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from igan_lite.core.steps import TrainingDiverged
from igan_lite.evaluation.evaluate import feature_net, load_fid_net
from igan_lite.experiments import length_report as report
from igan_lite.experiments import length_study as study
from igan_lite.experiments.claims import noise_file
from igan_lite.experiments.grid import VARIANTS
from igan_lite.experiments.results_table import noise_margins, read_csv, write_csv
from igan_lite.infra.files import write_text_atomic
from igan_lite.infra.folder_lock import FolderBusy, locked
from igan_lite.presets import get_preset
from igan_lite.training.train import train as train_run

ROOT = Path(__file__).resolve().parents[1]


def parse_runs(specs: list[str]) -> list[tuple[str, object, int]]:
    """(category, Variant, seed) of every CATEGORY/VARIANT-seedS, all checked before any run starts."""
    keys, runs = {v.key: v for v in VARIANTS}, []
    for spec in specs:
        category, _, name = spec.partition("/")
        key, _, seed = name.rpartition("-seed")
        if category not in study.CATEGORIES or key not in keys or not seed.isdigit():
            raise SystemExit(f"run {spec!r}: expected CATEGORY/VARIANT-seedS with CATEGORY one of {list(study.CATEGORIES)} "
                             f"and VARIANT one of {sorted(keys)}, e.g. chair/iggan-nodom-seed1")
        runs.append((category, keys[key], int(seed)))
    return runs


def train(root: Path, specs: list[str], length: int, then_score: bool = False) -> None:
    """Each run in turn, trained (or resumed) to L and, with `then_score`, scored. A queue: a run another process
    holds (its folder's lock) is skipped, so two processes given the same list share its runs; a run that diverges
    is recorded (length_study.mark_diverged), scored where it got to, and never trained again."""
    nets = None
    for category, v, seed in parse_runs(specs):
        out = root / category / f"{v.key}-seed{seed}"
        if (died := study.diverged_at(out)) is not None:
            print(f"skipped {category}/{out.name}: it diverged after step {died} ({study.diverged_file(out)})", flush=True)
            continue
        p = get_preset("lite", steps=length, sample_every=study.SNAPSHOT_EVERY, **v.overrides)
        try:
            try:
                train_run(v.method, category, p, out, seed, resume=(out / "checkpoint.pt").is_file())
            except TrainingDiverged as e:  # counted by `rows` as failed from the step it reached on
                print(f"failed {category}/{out.name}: {e}", flush=True)
                study.mark_diverged(out, str(e))
            if then_score:
                with locked(out):
                    nets = nets or scoring_nets()
                    score_run(category, v, seed, out, length, nets)
        except FolderBusy as e:
            print(f"skipped {category}/{out.name}: {e}", flush=True)


def table(root: Path, length: int) -> None:
    grid_csv = ROOT / "figures" / "results_lite.csv"
    references = [{**r, **{k: int(r[k]) for k in ("seed", "steps", "n")}}  # the grid's, as it wrote them
                  for r in read_csv(grid_csv)[1] if r["category"] in study.CATEGORIES]
    records = study.rows(root, length, references)  # failed: against the grid's random boxes
    if not records:
        raise SystemExit(f"no scored snapshot under {root}: run `score` first")
    out = ROOT / "figures"
    write_csv(records + references, out / "length_study_lite.csv")
    for category in study.CATEGORIES:
        print("written", report.curves_figure(records, category, out / f"length_study_{category}.png"))
    noise = noise_margins(noise_file(grid_csv, "lite"))
    block = report.length_markdown(out / "length_study_lite.csv", noise)
    for doc in (ROOT / "README.md", ROOT / "docs" / "experiments.md"):
        report.write_block(doc, block)
    print(block)


def figure1(root: Path, length: int) -> None:
    """One figure per category, figures/fig1_length_lite_<category>.png, for those whose seed-0 run can draw it."""
    for category in study.CATEGORIES:
        try:
            path = report.figure1_length(root, category, length, ROOT / "figures" / f"fig1_length_lite_{category}.png")
        except FileNotFoundError as e:
            print(f"not drawn: {e}")
            continue
        print("written", path)


def scoring_nets() -> tuple:
    """(FeatureNet, Inception) of the lite preset, loaded once per command and shared by every score."""
    return feature_net(get_preset("lite")), load_fid_net(True)


def pilot(run: Path) -> None:
    nets = scoring_nets()
    steps = study.snapshot_steps(run)
    curve = {}
    for step in [s for s in steps if s >= 500]:
        curve[step] = study.score_snapshot(run, step, "validation", nets=nets)["fid"]
        print(f"step {step}: validation FID {curve[step]:.2f}", flush=True)
    length = study.choose_length(curve)
    print(f"L = {length}" if length else f"L undecided: train the pilot on (the curve reaches step {max(curve)})")
    record = {"run": f"{run.parent.name}/{run.name}", "preset": "lite", "split": "validation", "n": study.N,
              "score": "Inception FID (evaluation/inception.py)", "curve": curve,
              "smoothed": {s: study.smoothed(curve, s) for s in curve},
              "rule": f"L = smallest s of {list(study.CANDIDATES)} with smoothed FID(2s) > {1 - study.GAIN:g} x "
                      f"smoothed FID(s), else {study.CAP}", "L": length}
    write_text_atomic(out := ROOT / "figures" / "length_pilot_lite.json", json.dumps(record, indent=2))
    print("written", out)


def score(root: Path, length: int) -> None:
    nets = scoring_nets()
    for category, v, seed, run in study.study_runs(root):
        score_run(category, v, seed, run, length, nets)


def score_run(category: str, v, seed: int, run: Path, length: int, nets) -> None:
    saved = study.snapshot_steps(run)
    for step in [s for s in study.scored_steps(length) if s in saved]:
        s = study.score_snapshot(run, step, "test", nets=nets)
        print(f"{category}/{v.key}-seed{seed} step {step}: FID {s['fid']:.2f}, KID {s['kid']:.4f}, "
              f"FD-lite {s['fd_lite']:.2f}, nearest IoU {s['nearest_iou']:.3f}", flush=True)


def ship(root: Path, length: int) -> None:
    for category, v, seed, run in study.study_runs(root):
        try:
            out = study.ship_run(run, ROOT / "checkpoints" / "length_lite" / category / run.name, length)
        except (ValueError, FileNotFoundError) as e:
            print(f"not shipped: {e}")
            continue
        print("shipped", out, flush=True)


def main(argv: list[str] | None = None) -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("command", choices=("train", "pilot", "score", "ship", "table", "figure1"))
    a.add_argument("path", type=Path, help="the pilot's run folder (pilot), the study's runs root, "
                   "or (table, figure1) the shipped runs, checkpoints/length_lite")
    a.add_argument("runs", nargs="*", help="train: CATEGORY/VARIANT-seedS, e.g. chair/iggan-nodom-seed1")
    a.add_argument("--all", action="store_true", help="train: every run of the study, chair first (study_order)")
    a.add_argument("--length", type=int, default=None, help="L, as `pilot` chose it (train: the steps to train to)")
    a.add_argument("--score", action="store_true", help="train: score each run's snapshots on the test split once it "
                   "reaches L, before the next run starts (as `score` does)")
    args = a.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "pilot":
        pilot(args.path)
        return 0
    if args.length is None:
        a.error(f"{args.command} needs --length (from `pilot`; the pilot itself trains to 2000)")
    {"train": lambda: train(args.path, args.runs + (study.study_order() if args.all else []), args.length, args.score), "score": lambda: score(args.path, args.length),
     "ship": lambda: ship(args.path, args.length), "table": lambda: table(args.path, args.length),
     "figure1": lambda: figure1(args.path, args.length)}[args.command]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
