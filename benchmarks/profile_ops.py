"""Where a lite iteration's time goes by operator (torch.profiler), the real renderer replaced by one fixed batch of
its images (nets only), starting from the shipped lite chair run. Prints the top operators by self CPU time and
the share of each net's phase.

Run: `python benchmarks/profile_ops.py [--steps 4] [--set proxy_steps=1 ...]`.
"""
from __future__ import annotations

import argparse

from machine import describe
from torch.profiler import ProfilerActivity, profile
from train_step import PHASES, measure, parse_sets, trainer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="preset overrides")
    args = ap.parse_args()
    with trainer("lite", 1, 0, False, overrides=parse_sets(args.set)) as t:
        measure(t, 1, nets_only=True)  # warm up, and replace f by a fixed batch
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            rows = [t.method.step(t) for _ in range(args.steps)]
    print(f"# lite iteration by operator, nets only, 1 thread, {args.steps} steps; {describe()}")
    print(", ".join(f"{ph} {1e3 * sum(r[f'time_{ph}'] for r in rows) / len(rows):.0f} ms" for ph in PHASES))
    print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=args.top,
                                                             max_name_column_width=40, max_shapes_column_width=60))


if __name__ == "__main__":
    main()
