"""The evaluation's own noise (docs/fid.md, "The evaluation's own noise"): shipped runs scored again on the test split
with evaluation seeds 0-4 (new samples and cameras, the same real images), written to
figures/evaluation_noise_lite.json with, per score, the margin the claims use: the largest (max - min) / mean
any measured run showed.

    python scripts/evaluation_noise.py chair/iggan-seed0 table/vh-seed1 car/ea-seed0 --seeds 0 1 2 3 4
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from igan_lite.evaluation.evaluate import reevaluate
from igan_lite.experiments.grid import METRICS
from igan_lite.infra.files import write_text_atomic

ROOT = Path(__file__).resolve().parents[1]


def margins(runs: dict[str, dict[int, dict]]) -> dict[str, float]:
    """Per score, the largest relative spread (max - min) / |mean| over the seeds of any one run."""
    out = {}
    for metric in METRICS:
        spreads = []
        for scores in runs.values():
            values = np.array([s[metric] for s in scores.values() if metric in s], dtype=float)
            if len(values) > 1 and values.mean() != 0:
                spreads.append(float((values.max() - values.min()) / abs(values.mean())))
        if spreads:
            out[metric] = round(max(spreads), 4)
    return out


def main(argv: list[str] | None = None) -> int:
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("runs", nargs="+", help="CATEGORY/VARIANT-seedS under CHECKPOINTS/lite")
    a.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    a.add_argument("--checkpoints", type=Path, default=ROOT / "checkpoints")
    a.add_argument("--out", type=Path, default=ROOT / "figures" / "evaluation_noise_lite.json")
    args = a.parse_args(argv)
    torch.set_num_threads(1)
    found = json.loads(args.out.read_text())["runs"] if args.out.is_file() else {}
    for name in args.runs:
        done = found.get(name, {})
        todo = [s for s in args.seeds if str(s) not in done]
        scores = reevaluate(args.checkpoints / "lite" / name, todo) if todo else {}
        found[name] = {**done, **{str(s): v for s, v in scores.items()}}
        record = {"protocol": "test split, n = 500, f's surface level of the run's evaluation.json, evaluation seeds "
                              "as keys (0 is evaluation.json's own)", "margin": margins(found), "runs": found}
        write_text_atomic(args.out, json.dumps(record, indent=1) + "\n")  # after every run: a kill loses one run
        fid = [v["fid"] for v in found[name].values()]
        print(f"{name}: FID over seeds {min(fid):.2f}-{max(fid):.2f}", flush=True)
    print("margins:", margins(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
