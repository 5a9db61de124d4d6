"""Where a lite training process's memory goes: its peak PSS (proportional set size, /proc/PID/smaps_rollup,
sampled every 50 ms by a thread) during each stage of building and running a run, render workers included. The stages follow
train.py: imports, Open3D's renderer, the dataset, the nets and optimisers, the pretraining bank (prior grids
and f's images of them), pretraining steps, then training iterations.

Run: `python benchmarks/memory_breakdown.py [--pretrain-steps 20] [--steps 10] [--set field=value ...]`.
"""
from __future__ import annotations

import argparse
import os
import threading
import time
from functools import partial

from peak_memory import pss_mib, tree

STAGES: list[tuple[str, float, float]] = []  # (stage, peak PSS during it, PSS at its end)
_peak = [0.0]


def _total() -> float:
    return sum(pss_mib(p) for p in tree(os.getpid()))


def _sample() -> None:
    while True:
        _peak[0] = max(_peak[0], _total())
        time.sleep(0.05)


def mark(stage: str) -> None:
    """Record the peak PSS of this process and its children (render workers) during `stage`, and at its end."""
    end = _total()
    STAGES.append((stage, max(_peak[0], end), end))
    _peak[0] = end
    print(f"{stage}: peak {STAGES[-1][1]:.0f} MiB, end {end:.0f} MiB", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pretrain-steps", type=int, default=20)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    args = ap.parse_args()
    threading.Thread(target=_sample, daemon=True).start()
    mark("python, torch")
    from igan_lite.render import backend
    backend.open3d()
    mark("import open3d")
    import torch
    from train_step import parse_sets

    from igan_lite.core import steps
    from igan_lite.data.proxy_prior import prior_grids
    from igan_lite.presets import get_preset
    from igan_lite.training.train import build, run_config
    p = get_preset("lite", pretrain_steps=args.pretrain_steps, **parse_sets(args.set))
    torch.set_num_threads(p.threads)  # what train() does while it trains
    with build(run_config("iggan", "chair", p, 0)) as t:
        mark(f"run built (nets, optimisers, dataset of {len(t.real)} images, {p.render_workers} render worker)")
        prior = prior_grids(p.voxel_res, p.pretrain_shapes, t.rng, t.nets.G)
        steps.pretrain_proxy(t.ddp.R, t.opt_r, partial(steps.f, t), prior, p, t.rng, t.amp, progress=False)
        mark(f"proxy pretrained ({p.pretrain_shapes} prior grids and their images, {p.pretrain_steps} steps)")
        for _ in range(args.steps):
            t.method.step(t)
        mark(f"{args.steps} training iterations")
    from machine import describe
    print(f"\n# PSS of the training process and its render workers, lite; {describe()}")
    print("| stage | peak PSS during it, MiB | PSS at its end, MiB |\n|---|---|---|")
    for stage, peak, end in STAGES:
        print(f"| {stage} | {peak:.0f} | {end:.0f} |")


if __name__ == "__main__":
    main()
