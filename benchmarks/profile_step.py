"""Where one lite iteration's time goes: cProfile of a few steps of the training process, top functions by
own time, plus the per-phase timings. Starts from the shipped lite chair run (realistic meshes).

Run: `python benchmarks/profile_step.py [--steps 5] [--render-workers 0 --no-run-ahead]`. The default is the
lite preset's setting; `--render-workers 0 --no-run-ahead` profiles f inside the training process.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from machine import describe
from train_step import PHASES, trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--render-workers", type=int, default=1)
    ap.add_argument("--no-run-ahead", action="store_true")
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    with trainer("lite", 1, args.render_workers, not args.no_run_ahead) as t:
        for _ in range(2):
            t.method.step(t)
        profile, t0 = cProfile.Profile(), time.perf_counter()
        profile.enable()
        rows = [t.method.step(t) for _ in range(args.steps)]
        profile.disable()
        wall = (time.perf_counter() - t0) / args.steps
    print(f"# lite iteration, {args.render_workers} render worker(s), run-ahead {not args.no_run_ahead}; {describe()}")
    print(f"wall {1e3 * wall:.0f} ms/it; " + ", ".join(f"{ph} {1e3 * sum(r[f'time_{ph}'] for r in rows) / len(rows):.0f} ms"
                                                      for ph in PHASES))
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
