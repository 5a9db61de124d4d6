"""Milliseconds per lite IG-GAN iteration: nets only (no real render) vs f drawn in the training process vs the
render pool running ahead, for 1 and 2 torch threads and 0/1/2 render workers (niced or not), side by side.
Phases: with run-ahead, real_render is the wait for the batch drawn during the previous step, and
generator_forward includes the no-grad forward of the next batch.

The nets start from the shipped lite chair run (a trained generator's meshes cost what training's do;
an untrained one's speckle costs 3x more). Run: `python benchmarks/train_step.py [--steps 8] [--threads 1 2] [--busy-neighbour] [--device cuda --preset paper]`.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch
from machine import describe

from igan_lite.core import steps
from igan_lite.data.datasets import render_settings
from igan_lite.presets import get_preset
from igan_lite.render.pool import RenderPool
from igan_lite.training import checkpoint
from igan_lite.training.train import Parts, build, run_config

START = "checkpoints/lite/chair/iggan-seed0/checkpoint.pt"
PHASES = ("generator_forward", "real_render", "discriminator", "proxy", "generator")
VARIANTS = {  # name: (render_workers, run_ahead, workers' nice, nets only)
    "nets only": (0, False, 0, True),
    "f in process": (0, False, 0, False),
    "run-ahead, 1 worker, nice 0": (1, True, 0, False),
    "run-ahead, 1 worker": (1, True, 10, False),
    "run-ahead, 2 workers": (2, True, 10, False),
}
# The speed variants of benchmarks/RESULTS.md §7, nets only at 1 thread, each adding one change to the row above:
# name: (preset overrides, proxy's 2D layers channels-last, bf16 autocast of G and R)
SPEED = {
    "before: 2 proxy steps, NCHW, fp32": ({"proxy_steps": 2}, False, False),
    "+ channels-last proxy: the lite preset": ({"proxy_steps": 2}, True, False),
    "+ bf16 autocast (CPU; run L, not the default)": ({"proxy_steps": 2}, True, True),
    "+ 1 proxy step (run K, not the default)": ({"proxy_steps": 1}, True, True),
}


def parse_sets(items: list[str]) -> dict:
    """`--set field=value` pairs as preset overrides (values parsed as JSON where they can be)."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


class FixedImages:
    """f replaced by one fixed batch of its images (the nets-only rows)."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def render(self, *args) -> torch.Tensor:
        return self.images

    def close(self) -> None:
        pass


def trainer(preset: str, threads: int, workers: int, run_ahead: bool, nice: int = 10, device: str = "cpu",
            overrides: dict | None = None, amp: bool | None = None, channels_last: bool = True) -> Parts:
    """A run's Parts (no pretraining), at `threads` torch threads; at lite, with the shipped chair run's G and R."""
    p = get_preset(preset, threads=threads, render_workers=workers, run_ahead=run_ahead, pretrain=False, **(overrides or {}))
    torch.set_num_threads(threads)  # what train() does while it trains
    t = build(run_config("iggan", "chair", p, 0), device, amp)
    if nice != 10:  # the pool's default
        t.renderer.close()
        t.renderer = RenderPool(workers, render_settings(p), nice=nice)
    if preset == "lite":
        start = checkpoint.load(START)
        t.nets.G.load_state_dict(start["G"]), t.nets.R.load_state_dict(start["R"])
    t.nets.R.set_channels_last(channels_last)
    return t


def measure(t: Parts, n_steps: int, nets_only: bool) -> dict:
    if t.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    if nets_only:  # the real renderer replaced by one fixed batch of its images
        b = steps.new_batch(t, grad=False)
        images = steps.f(t, b.x, b.cams, b.thresholds)
        t.renderer.close()
        t.renderer = FixedImages(images)
    for _ in range(2):  # warm up (and fill the run-ahead pipeline)
        t.method.step(t)
    rows, t0 = [], time.perf_counter()
    for _ in range(n_steps):
        rows.append(t.method.step(t))
    if t.device.type == "cuda":
        torch.cuda.synchronize()
    return {"total": (time.perf_counter() - t0) / n_steps, **{ph: float(np.mean([r[f"time_{ph}"] for r in rows])) for ph in PHASES}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preset", default="lite")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto; on cuda the peak GPU memory is printed too")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="VARIANT")
    ap.add_argument("--speed", action="store_true", help="the speed variants (SPEED), nets only at 1 thread, "
                    "in rounds A B C D A B C D ... so that drift hits every variant alike")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --speed")
    ap.add_argument("--busy-neighbour", action="store_true", help="keep one core busy with another process meanwhile "
                    "(a browser, a second run): how the thread count behaves on a machine that is not idle")
    args = ap.parse_args()
    neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if args.busy_neighbour else None
    try:
        speed(args) if args.speed else run(args)
    finally:
        if neighbour is not None:
            neighbour.kill()


def run(args) -> None:
    beside = ", one core kept busy by another process" if args.busy_neighbour else ""
    print(f"# ms per {args.preset} iteration on {args.device}{beside}, mean of {args.steps} after 2 warm-up; {describe()}")
    print("| torch threads | variant | " + " | ".join(PHASES) + " | total ms | / nets only |")
    print("|---|---|" + "---|" * (len(PHASES) + 2))
    for threads in args.threads:
        base = None
        for name in args.variants:
            workers, run_ahead, nice, nets_only = VARIANTS[name]
            with trainer(args.preset, threads, workers, run_ahead, nice, args.device) as t:
                r = measure(t, args.steps, nets_only)
            base = base or r["total"]
            gpu = f" (peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB)" if t.device.type == "cuda" else ""
            print(f"| {threads} | {name}{gpu} | " + " | ".join(f"{1e3 * r[ph]:.0f}" for ph in PHASES)
                  + f" | {1e3 * r['total']:.0f} | {r['total'] / base:.2f}x |", flush=True)


def speed(args) -> None:
    """Each SPEED variant `args.rounds` times, interleaved; the median per phase."""
    print(f"# ms per {args.preset} iteration, nets only, 1 torch thread, median of {args.rounds} interleaved rounds of "
          f"{args.steps} steps after 2 warm-up; {describe()}")
    results = {name: [] for name in SPEED}
    for _ in range(args.rounds):
        for name, (overrides, channels_last, amp) in SPEED.items():
            with trainer(args.preset, 1, 0, False, 0, args.device, overrides, amp, channels_last) as t:
                results[name].append(measure(t, args.steps, nets_only=True))
    print("| variant | " + " | ".join(PHASES) + " | total ms | / before |")
    print("|---|" + "---|" * (len(PHASES) + 2))
    base = None
    for name, rows in results.items():
        med = {k: float(np.median([r[k] for r in rows])) for k in rows[0]}
        base = base or med["total"]
        print(f"| {name} | " + " | ".join(f"{1e3 * med[ph]:.0f}" for ph in PHASES)
              + f" | {1e3 * med['total']:.0f} | {base / med['total']:.2f}x faster |", flush=True)


if __name__ == "__main__":
    main()
