"""Execute one notebook headless many times in a row beside busy processes; count hangs (cell timeouts).

    IGAN_PRESET=smoke python scripts/stress_notebook.py notebooks/01_dataset.ipynb --runs 20 --busy 2

Notebook 01 once hung for ever at its widget cell under `make reproduce` on a loaded machine (1 run in 5
beside two busy processes). This is the check that it no longer does: each run has a per-cell time limit,
so a hang shows as a timeout naming the cell instead of stopping the loop. Not part of CI (minutes).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from run_notebooks import NotebookCellError, run_notebook

BUSY = "while True: pass"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebook", type=Path)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--busy", type=int, default=2, help="CPU-bound processes running beside it")
    ap.add_argument("--cell-timeout", type=int, default=600, help="seconds: a cell running longer counts as a hang")
    ap.add_argument("--out", type=Path, default=Path("runs/stress"), help="executed notebooks (kept for failures)")
    args = ap.parse_args()
    if not args.notebook.is_file():
        ap.error(f"{args.notebook}: no such notebook")
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.busy)]
    failures, times = [], []
    try:
        for i in range(args.runs):
            start = time.monotonic()
            try:
                run_notebook(args.notebook, args.out / f"run{i}.ipynb", cell_timeout=args.cell_timeout, progress=False)
                status = "ok"
            except NotebookCellError as e:
                failures.append(str(e))
                status = f"FAILED: {e}"
            times.append(time.monotonic() - start)
            print(f"run {i + 1}/{args.runs}: {times[-1]:.0f} s {status}", flush=True)
    finally:
        for p in busy:
            p.kill()
    hangs = sum("timed out" in f for f in failures)
    print(f"{args.notebook}: {args.runs} runs beside {args.busy} busy processes, {hangs} hangs (cell timeouts), "
          f"{len(failures) - hangs} other failures; {min(times):.0f}-{max(times):.0f} s per run")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
