"""Train, ship and score chosen runs of the reproduce grid, one after another (docs/experiments.md, "The grid").

`make checkpoints` trains the whole grid in one process; this script takes a part of it, so that two processes
(one torch thread each) can share a 2-core machine, each finished run landing in CHECKPOINTS as it ends:

    python scripts/grid_run.py --preset lite lamp/iggan-seed0 lamp/vh-seed0 ...

Each RUN is CATEGORY/VARIANT-seedS with VARIANT a reproduce.VARIANTS key. A run is trained (or resumed) under
--runs, exported slim to CHECKPOINTS/<preset>/CATEGORY/VARIANT-seedS (fp16 G; R only for seed 0) and scored
there on the test split (reproduce.evaluation; an IG-GAN run also scores the reference rows the table takes from
it). A run already shipped is only scored, if it is not yet. Every RUN is checked before the first one starts; a
run that fails (a crash, a folder of another recipe) is reported and the queue goes on; the exit status is 1 if
any failed, and the last lines list them.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
import traceback
from pathlib import Path

from igan_lite.evaluation.evaluate import wants_fid
from igan_lite.experiments.grid import VARIANTS
from igan_lite.experiments.reproduce import eval_size, evaluation, obtain_run
from igan_lite.presets import PRESETS, get_preset
from igan_lite.training.run_folder import export_run

SPEC = re.compile(r"(?P<category>[a-z]+)/(?P<variant>[a-z-]+)-seed(?P<seed>\d+)")


def parse_spec(text: str):
    """"lamp/iggan-seed0" -> (Variant, "lamp", 0), or a one-line error naming what was expected."""
    m = SPEC.fullmatch(text)
    variants = {v.key: v for v in VARIANTS}
    if not m or m["variant"] not in variants:
        raise SystemExit(f"run {text!r}: expected CATEGORY/VARIANT-seedS with VARIANT one of {sorted(variants)}")
    return variants[m["variant"]], m["category"], int(m["seed"])


def ship(variant, category: str, seed: int, p, checkpoints: Path, runs_dir: Path) -> str:
    """Train (or resume) one run, export it slim into CHECKPOINTS and score it there; a line saying what it took."""
    start = time.time()
    run = obtain_run(variant, category, p, seed, runs_dir, checkpoints, use_shipped=True, only_shipped=False,
                     progress=True)
    trained = time.time()
    shipped = checkpoints / p.name / category / f"{variant.key}-seed{seed}"
    if run != shipped:
        export_run(run, shipped, proxy=seed == 0, half=True)
    result = evaluation(shipped, eval_size(p), references=variant.key == "iggan", fid=wants_fid(p))  # + the table's reference rows
    return (f"{shipped}: trained in {(trained - start) / 60:.1f} min, scored in {(time.time() - trained) / 60:.1f} min; "
            f"test FID {result['generator'].get('fid', float('nan')):.1f}, FD-lite {result['generator']['fd_lite']:.3f}, "
            f"nearest IoU {result['generator']['nearest_iou']:.3f}")


def main(argv: list[str] | None = None) -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("runs", nargs="+", metavar="RUN", help="CATEGORY/VARIANT-seedS, e.g. lamp/iggan-seed0")
    a.add_argument("--preset", default="lite", choices=sorted(PRESETS))
    a.add_argument("--checkpoints", default="checkpoints", type=Path)
    a.add_argument("--runs-dir", default="runs/reproduce", type=Path)
    args = a.parse_args(argv)
    p = get_preset(args.preset)
    failed = []
    for spec, (variant, category, seed) in [(text, parse_spec(text)) for text in args.runs]:
        try:
            print(ship(variant, category, seed, p, args.checkpoints, args.runs_dir), flush=True)
        except Exception as e:  # one run's failure must not cost the rest of the queue
            traceback.print_exc()
            failed.append(f"{spec}: {type(e).__name__}: {e}")
    for line in failed:
        print(f"FAILED {line}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
