"""Seconds per lite IG-GAN iteration: nets only (no real render) vs f drawn in the training process vs the
render pool running ahead, for 1 and 2 torch threads and 0/1/2 render workers, side by side in one run.

The nets start from the shipped lite chair run (a trained generator's meshes cost what training's do;
an untrained one's speckle costs 3x more). Run: `python benchmarks/train_step.py [--steps 8] [--threads 1 2]`.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from igan_lite import checkpoint
from igan_lite.presets import get_preset
from igan_lite.train import Trainer, run_config

from machine import describe

START = "checkpoints/lite/chair/iggan-seed0/checkpoint.pt"
PHASES = ("generator_forward", "real_render", "discriminator", "proxy", "generator")
VARIANTS = {  # name: (render_workers, run_ahead, nets only)
    "nets only": (0, False, True),
    "f in process": (0, False, False),
    "run-ahead, 1 worker": (1, True, False),
    "run-ahead, 2 workers": (2, True, False),
}


def trainer(preset: str, threads: int, workers: int, run_ahead: bool) -> Trainer:
    p = get_preset(preset, threads=threads, render_workers=workers, run_ahead=run_ahead, pretrain=False)
    t = Trainer(run_config("iggan", "chair", p, 0), Path(tempfile.mkdtemp()))
    start = checkpoint.load(START)
    t.nets.G.load_state_dict(start["G"]), t.nets.R.load_state_dict(start["R"])
    return t


def measure(t: Trainer, steps: int, nets_only: bool) -> dict:
    if nets_only:  # the real renderer replaced by one fixed batch of its images
        cached = t.f(t.nets.G(torch.randn(t.p.batch_size, t.p.z_dim)), *t.sample_views(t.p.batch_size)[:2])
        t.f = lambda x, cams, thresholds: cached
    for _ in range(2):  # warm up (and fill the run-ahead pipeline)
        t.step()
    rows, t0 = [], time.perf_counter()
    for _ in range(steps):
        rows.append(t.step())
    return {"total": (time.perf_counter() - t0) / steps, **{ph: float(np.mean([r[f"time_{ph}"] for r in rows])) for ph in PHASES}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="lite")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    print(f"# ms per {args.preset} iteration, mean of {args.steps} after 2 warm-up; {describe()}")
    print("| torch threads | variant | " + " | ".join(PHASES) + " | total ms | / nets only |")
    print("|---|---|" + "---|" * (len(PHASES) + 2))
    for threads in args.threads:
        base = None
        for name, (workers, run_ahead, nets_only) in VARIANTS.items():
            with trainer(args.preset, threads, workers, run_ahead) as t:
                r = measure(t, args.steps, nets_only)
            base = base or r["total"]
            print(f"| {threads} | {name} | " + " | ".join(f"{1e3 * r[ph]:.0f}" for ph in PHASES)
                  + f" | {1e3 * r['total']:.0f} | {r['total'] / base:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
