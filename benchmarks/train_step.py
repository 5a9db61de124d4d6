"""Milliseconds per IG-GAN iteration by phase, with the real renderer and without it (nets only).

Run: `python benchmarks/train_step.py [--presets smoke lite] [--steps 10] [--threads 1]`. Both variants of a
preset are measured in the same process, one after the other, so their ratio is fair on a noisy machine.
"""
from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from igan_lite.presets import get_preset
from igan_lite.train import Trainer, run_config

PHASES = ("generator_forward", "real_render", "discriminator", "proxy", "generator")


def measure(trainer: Trainer, steps: int) -> dict:
    trainer.step()  # warm up
    rows, t0 = [], time.perf_counter()
    for _ in range(steps):
        rows.append(trainer.step())
    total = (time.perf_counter() - t0) / steps
    return {"total": total, **{ph: float(np.mean([r[f"time_{ph}"] for r in rows])) for ph in PHASES}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--presets", nargs="+", default=["smoke", "lite"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    print(f"# ms per iteration; {platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), {args.steps} steps")
    print(f"{'preset':>6} {'variant':>10} {'batch':>5} " + " ".join(f"{p[:12]:>12}" for p in PHASES) + f" {'total':>8}")
    for name in args.presets:
        p = get_preset(name, threads=args.threads, pretrain=False)
        trainer = Trainer(run_config("iggan", "chair", p, 0), Path(tempfile.mkdtemp()))
        real = measure(trainer, args.steps)
        cached = trainer.f(trainer.nets.G(torch.randn(p.batch_size, p.z_dim)), *trainer.sample_views(p.batch_size)[:2])
        trainer.f = lambda x, cams, thresholds: cached  # nets only: the real renderer replaced by fixed images
        nets = measure(trainer, args.steps)
        for variant, r in (("with f", real), ("nets only", nets)):
            print(f"{name:>6} {variant:>10} {p.batch_size:>5} " + " ".join(f"{1e3 * r[ph]:>12.0f}" for ph in PHASES)
                  + f" {1e3 * r['total']:>8.0f}")
        print(f"{name:>6} with f / nets only = {real['total'] / nets['total']:.2f}x")


if __name__ == "__main__":
    main()
