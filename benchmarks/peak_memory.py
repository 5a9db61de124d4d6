"""Peak memory of a lite training run: the training process and its render workers, sampled every 0.2 s.

Counts proportional set size (PSS: shared libraries split between the processes that map them), so the
sum over processes is what the run costs the machine. Each configuration trains `--steps` iterations
after the full proxy pretraining, in a fresh process, one after the other.
Run: `python benchmarks/peak_memory.py [--steps 20] [--workers 0 1 2]`.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

from machine import describe


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc)."""
    parent = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent[int(entry)] = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [c for c, p in parent.items() if p in frontier]
        found += frontier
    return found


def pss_mib(pid: int) -> float:
    try:
        for line in open(f"/proc/{pid}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def peak(cmd: list[str]) -> tuple[float, float, float]:
    """Run cmd; return (peak total PSS of its process tree, peak of the main process, seconds)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    total = main = 0.0
    while proc.poll() is None:
        sizes = {p: pss_mib(p) for p in tree(proc.pid)}
        total, main = max(total, sum(sizes.values())), max(main, sizes.get(proc.pid, 0.0))
        time.sleep(0.2)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}")
    return total, main, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()
    print(f"# peak memory, lite chair run: 400 proxy pretraining steps + {args.steps} iterations; {describe()}")
    print("| render workers | run-ahead | peak PSS, all processes (MiB) | peak PSS, training process (MiB) | wall s |")
    print("|---|---|---|---|---|")
    for workers in args.workers:
        out = tempfile.mkdtemp(prefix="igan-mem-")
        cmd = [sys.executable, "-m", "igan_lite.cli", "train", "--preset", "lite", "--steps", str(args.steps), "--quiet",
               "--out", f"{out}/run", "--render-workers", str(workers)] + (["--no-run-ahead"] if workers == 0 else [])
        total, main, wall = peak(cmd)
        print(f"| {workers} | {'no' if workers == 0 else 'yes'} | {total:.0f} | {main:.0f} | {wall:.0f} |", flush=True)


if __name__ == "__main__":
    main()
