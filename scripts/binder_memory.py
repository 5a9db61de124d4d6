"""Peak memory of running every notebook at one preset: does it fit mybinder.org (1-2 GB)?

    python scripts/binder_memory.py --preset smoke [--limit-mib 1536]

Runs notebooks/0*.ipynb one after the other (scripts/run_notebooks.py) while summing the proportional set
size (PSS) of every process of the run (the runner, each kernel, render workers) every 0.2 s, as
benchmarks/peak_memory.py does for training. binder/start picks the preset this reports under the limit.
Exit status 1 if the peak exceeds --limit-mib or a notebook fails.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from peak_memory import pss_mib, tree  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="smoke")
    ap.add_argument("--limit-mib", type=float, default=1536.0)
    ap.add_argument("--cell-timeout", type=int, default=3600)
    args = ap.parse_args()
    notebooks = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("0*.ipynb"))
    out = tempfile.mkdtemp(prefix="binder-memory-")
    cmd = [sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), *notebooks, "--out", out,
           "--cell-timeout", str(args.cell_timeout)]
    start, peak, where = time.monotonic(), 0.0, ""
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "IGAN_PRESET": args.preset},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    os.set_blocking(proc.stdout.fileno(), False)
    done = []
    while proc.poll() is None:
        total = sum(pss_mib(p) for p in tree(proc.pid))
        if total > peak:
            peak, where = total, f"during the notebook after {done[-1] if done else 'none'}"
        for line in iter(proc.stdout.readline, ""):
            if ": done in" in line:
                done.append(line.split(":")[0])
            print(line, end="", flush=True)
        time.sleep(0.2)
    print(proc.stdout.read(), end="")
    ok = proc.returncode == 0 and peak <= args.limit_mib
    print(f"preset {args.preset}: {len(done)}/{len(notebooks)} notebooks in {time.monotonic() - start:.0f} s, "
          f"peak PSS of all processes {peak:.0f} MiB ({where}); limit {args.limit_mib:.0f} MiB: "
          f"{'fits' if ok else 'DOES NOT FIT' if proc.returncode == 0 else 'a notebook failed'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
