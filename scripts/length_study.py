"""The training-length study (docs/experiments.md, "Training length"; igan_lite/experiments/length_study.py).

    python scripts/length_study.py pilot RUNS/lite/chair/iggan-seed0     # validation curve, and L by the rule
    python scripts/length_study.py score RUNS/lite --length L            # test scores of every run's snapshots
    python scripts/length_study.py table RUNS/lite --length L            # csv, curves, claims at 500 and L
    python scripts/length_study.py ship RUNS/lite --length L             # slim copies into checkpoints/lite-study

Runs are trained by `igan-lite train` (one per variant, --steps L --set sample_every=250, the variant's overrides);
scores are cached in each run's scores/ folder, so every command can be stopped and run again.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from igan_lite.evaluation.evaluate import feature_net, load_fid_net
from igan_lite.experiments import length_study as study
from igan_lite.presets import get_preset


def pilot(run: Path) -> None:
    nets = (feature_net(get_preset("lite")), load_fid_net(True))
    steps = sorted(int(p.stem.split("_")[1]) for p in (run / "generators").glob("step_*.pt"))
    curve = {}
    for step in [s for s in steps if s >= 500]:
        curve[step] = study.score_snapshot(run, step, "validation", nets=nets)["fid"]
        print(f"step {step}: validation FID {curve[step]:.2f}", flush=True)
    length = study.choose_length(curve)
    print(f"L = {length}" if length else f"L undecided: train the pilot on (the curve reaches step {max(curve)})")


def score(root: Path, length: int) -> None:
    nets = (feature_net(get_preset("lite")), load_fid_net(True))
    for category, v, seed, run in study.study_runs(root):
        for step in sorted({s for s in study.SCORED if s <= length} | {length}):
            if (run.joinpath("generators", f"step_{step:06d}.pt")).is_file():
                s = study.score_snapshot(run, step, "test", nets=nets)
                print(f"{category}/{v.key}-seed{seed} step {step}: FID {s['fid']:.2f}, KID {s['kid']:.4f}, "
                      f"FD-lite {s['fd_lite']:.2f}, nearest IoU {s['nearest_iou']:.3f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("command", choices=("pilot", "score"))
    a.add_argument("path", type=Path, help="the pilot's run folder (pilot), or the study's runs root (score)")
    a.add_argument("--length", type=int, default=None, help="L, as `pilot` chose it")
    args = a.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "pilot":
        pilot(args.path)
    else:
        if args.length is None:
            a.error("score needs --length (from `pilot`)")
        score(args.path, args.length)
    return 0


if __name__ == "__main__":
    sys.exit(main())
