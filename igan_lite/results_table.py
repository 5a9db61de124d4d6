"""The results table and the claims drawn from it: per-seed records (reproduce.py) -> mean ± std (min-max)
per method and category, and sentences that state only what the records show.

A comparison is a win only when the seed ranges do not overlap (the winner's worst seed beats the loser's best);
overlapping ranges are a tie; with fewer than two seeds a side it stays open. Every run counts, collapsed ones included (diagnostics.collapsed marks them).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .reproduce import METRICS, VARIANTS, grid
from .shapes import CATEGORIES

LOWER_IS_BETTER = {"fd_lite": True, "nearest_iou": False, "cov": False, "mmd": True, "1nna": True}
NUMERIC = ("seed", "steps", "n", "threshold", *METRICS)
BASELINES = ("vh", "ao", "ea")
FULL_GRID = grid(sorted(CATEGORIES), (0, 1, 2))  # what `igan-lite reproduce --preset lite` trains


def write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | Path) -> tuple[list[dict], list[dict]]:
    """(run records, reference rows) of a results csv written by `igan-lite reproduce`."""
    with open(path, newline="") as f:
        rows = [{k: (float(v) if k in NUMERIC else v) for k, v in r.items()} for r in csv.DictReader(f)]
    runs = [r for r in rows if r["run"]]
    return runs, [r for r in rows if not r["run"]]


def cell(rows: list[dict], metric: str) -> dict:
    """Mean, std (ddof 1; 0 for one seed), min and max of `metric` over `rows`."""
    v = np.array([r[metric] for r in rows], dtype=float)
    return {"mean": v.mean(), "std": v.std(ddof=1) if len(v) > 1 else 0.0, "min": v.min(), "max": v.max()}


def by_variant(records: list[dict], category: str) -> dict[str, list[dict]]:
    found = {}
    for r in records:
        if r["category"] == category:
            found.setdefault(r["variant"], []).append(r)
    return found


MIN_SEEDS = 2  # a side with fewer seeds has no range: no win, loss or tie can be called


def compare(a: list[dict], b: list[dict], metric: str) -> str:
    """"win" if every seed of `a` beats every seed of `b` on `metric`, "loss" the other way round, else "tie";
    "open" while either side has fewer than MIN_SEEDS seeds."""
    if min(len(a), len(b)) < MIN_SEEDS:
        return "open"
    ca, cb = cell(a, metric), cell(b, metric)
    if LOWER_IS_BETTER[metric]:
        ca, cb = {"min": -ca["max"], "max": -ca["min"]}, {"min": -cb["max"], "max": -cb["min"]}
    return "win" if ca["min"] > cb["max"] else "loss" if ca["max"] < cb["min"] else "tie"


def failed_to_learn(records: list[dict], references: list[dict]) -> set[str]:
    """The runs (their folders) scored worse on FD-lite than unions of random boxes of their category: no better
    than a shape prior with no training, whatever the collapse warnings said during the run."""
    boxes = {r["category"]: r["fd_lite"] for r in references if r["variant"] == "random_boxes"}
    return {r["run"] for r in records if r["category"] in boxes and r["fd_lite"] > boxes[r["category"]]}


def markdown(records: list[dict], references: list[dict], missing: list[str], p, seeds) -> str:
    """The table, one block per category: mean ± std (min-max) over seeds, seeds found, collapsed runs."""
    lines = [f"# Results: preset `{p.name}`, {p.steps} steps, seeds {list(seeds)}", "",
             f"FD-lite: Fréchet distance of FeatureNet features (a small classifier trained on ShapeNet-lite "
             f"{p.image_size}px renders; not Inception), real-renderer images of n generated shapes vs n real images of "
             "held-out test shapes. 3D: voxel IoU against n test shapes. f's surface level for each run was chosen "
             "on the validation split (evaluate.choose_threshold). Cells: mean ± std (min-max) over seeds; "
             "\"collapsed\": runs diagnostics.collapsed flags; \"failed\": runs with a higher FD-lite than random boxes "
             "(failed_to_learn); both counted in the means. Written by `igan-lite reproduce`.", ""]
    failed = failed_to_learn(records, references)
    for category in dict.fromkeys(r["category"] for r in records):
        found = by_variant(records, category)
        lines += [f"## {category} (n = {int(records[0]['n'])})", "",
                  "| | seeds | collapsed | failed | " + " | ".join(METRICS.values()) + " |", "|---|---|---|---|" + "---|" * len(METRICS)]
        for v in VARIANTS:
            if v.key in found:
                rows = found[v.key]
                cells = [_format(cell(rows, m), len(rows)) for m in METRICS]
                bad = sum(bool(r["collapsed"]) for r in rows)
                lines.append(f"| {v.label} | {len(rows)} | {bad} | {sum(r['run'] in failed for r in rows)} | "
                             + " | ".join(cells) + " |")
        for r in references:
            if r["category"] == category:
                lines.append(f"| {r['row']} (reference) | | | | " + " | ".join(f"{r[m]:.3f}" for m in METRICS) + " |")
        lines.append("")
    if missing:
        lines += [f"Missing from this table ({len(missing)} runs): " + ", ".join(missing), ""]
    return "\n".join(lines)


def _format(c: dict, n: int) -> str:
    return f"{c['mean']:.3f}" if n == 1 else f"{c['mean']:.3f} ± {c['std']:.3f} ({c['min']:.3f}-{c['max']:.3f})"
