"""How far FD-lite and nearest IoU agree with FID (docs/experiments.md, "Two scores"): per category, the Spearman
rank correlation over the runs scored by FID, and the runs each score puts first.

    python scripts/two_scores.py figures/results_lite.csv
"""
from __future__ import annotations

import math
import sys

from scipy.stats import spearmanr

from igan_lite.experiments.results_table import read_csv


def main(path: str) -> None:
    records, references = read_csv(path)
    print("| category | runs with FID | ρ(FID, FD-lite) | ρ(FID, −nearest IoU) | best by FID | best by FD-lite | random boxes' FID |")
    print("|---|---|---|---|---|---|---|")
    for category in sorted({r["category"] for r in records}):
        rows = [r for r in records if r["category"] == category and math.isfinite(r.get("fid", math.nan))]
        if len(rows) < 3:
            continue
        name = lambda r: f"{r['variant']}-seed{int(r['seed'])}"  # noqa: E731
        boxes = [f"{b['fid']:.1f}" for b in references if b["category"] == category and b["variant"] == "random_boxes"]
        rho = lambda other: spearmanr([r["fid"] for r in rows], other).statistic  # noqa: E731
        print(f"| {category} | {len(rows)} | {rho([r['fd_lite'] for r in rows]):.2f} | "
              f"{rho([-r['nearest_iou'] for r in rows]):.2f} | {name(min(rows, key=lambda r: r['fid']))} | "
              f"{name(min(rows, key=lambda r: r['fd_lite']))} | {', '.join(boxes) or '-'} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "figures/results_lite.csv")
