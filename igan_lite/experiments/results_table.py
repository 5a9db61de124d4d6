"""The results table and the claims drawn from it: per-seed records (reproduce.py) -> mean ± std (min-max)
per method and category, and sentences that state only what the records show.

The headline image score is FID (docs/fid.md) wherever the records have it, else FD-lite (the smoke preset).
A comparison on a score some of its runs lack is "unscored", never decided on the runs that have it. A comparison is a win only when the seed ranges do not overlap, by more than the evaluation's own noise (the
winner's worst seed beats the loser's best by more than re-scoring one run with new samples can move it:
`noise_margins`); otherwise it is a tie; with fewer than two seeds a side it stays open. Every run counts,
collapsed ones included (diagnostics.collapsed marks them).
"""
from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np

from igan_lite.experiments.grid import METRICS, VARIANTS

LOWER_IS_BETTER = {"fid": True, "kid": True, "fd_lite": True, "nearest_iou": False, "cov": False, "mmd": True, "1nna": True}
DIGITS = {"fid": 1, "kid": 4}  # decimals in the table (3 elsewhere)
NUMERIC = ("seed", "steps", "n", "threshold", *METRICS)
BASELINES = ("vh", "ao", "ea")


def write_csv(rows: list[dict], path: Path) -> None:
    """One row per dict; a score not computed (NaN: no FID at the smoke preset) is an empty cell."""
    blank = lambda v: "" if isinstance(v, float) and math.isnan(v) else v  # noqa: E731
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: blank(v) for k, v in row.items()} for row in rows)


def _number(value: str) -> float:
    return float(value) if value != "" else math.nan  # a score this evaluation did not compute (smoke: no FID)


REQUIRED = ("variant", "row", "category", "seed", "preset", "steps", "n", "split", "fd_lite", "nearest_iou", "collapsed", "run")


def read_csv(path: str | Path) -> tuple[list[dict], list[dict]]:
    """(run records, reference rows) of a results csv written by `igan-lite reproduce`; a ValueError naming the
    file when it is not one (columns missing, no runs)."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"results csv {path} lacks the columns {missing}; expected one `igan-lite reproduce` wrote")
        try:
            rows = [{k: (_number(v) if k in NUMERIC else v) for k, v in r.items()} for r in reader]
        except ValueError as e:
            raise ValueError(f"results csv {path}: a number column holds something else ({e})") from None
    if not any(r["run"] for r in rows):
        raise ValueError(f"results csv {path} holds no runs; expected one `igan-lite reproduce` wrote")
    runs = [r for r in rows if r["run"]]
    return runs, [r for r in rows if not r["run"]]


def cell(rows: list[dict], metric: str) -> dict:
    """Mean, std (ddof 1; 0 for one seed), min and max of `metric` over the rows that have it, and their count."""
    v = np.array([r[metric] for r in rows], dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan, "count": 0}
    return {"mean": v.mean(), "std": v.std(ddof=1) if len(v) > 1 else 0.0, "min": v.min(), "max": v.max(), "count": len(v)}


def has(rows: list[dict], metric: str) -> bool:
    """Whether every row has a value of `metric` (a run not yet scored by FID has none)."""
    return all(math.isfinite(r.get(metric, math.nan)) for r in rows)


def by_variant(records: list[dict], category: str) -> dict[str, list[dict]]:
    found = {}
    for r in records:
        if r["category"] == category:
            found.setdefault(r["variant"], []).append(r)
    return found


MIN_SEEDS = 2  # a side with fewer seeds has no range: no win, loss or tie can be called


def headline(records: list[dict]) -> str:
    """The image score claims lead with: "fid" when the records have it (all of them, or the runs scored so far:
    the rest are "unscored" in every comparison), else "fd_lite" (the smoke preset has no FID)."""
    return "fid" if any(math.isfinite(r.get("fid", math.nan)) for r in records) else "fd_lite"


def compare(a: list[dict], b: list[dict], metric: str, noise: float = 0.0) -> str:
    """"win" if every seed of `a` beats every seed of `b` on `metric` by more than `noise` (relative: the facing
    bounds differ by more than noise x the larger of them), "loss" the other way round, else "tie"; "open" while
    either side has fewer than MIN_SEEDS seeds; "unscored" while a run of either side lacks `metric`."""
    if not (has(a, metric) and has(b, metric)):
        return "unscored"
    if min(len(a), len(b)) < MIN_SEEDS:
        return "open"
    ca, cb = cell(a, metric), cell(b, metric)
    if LOWER_IS_BETTER[metric]:
        ca, cb = {"min": -ca["max"], "max": -ca["min"]}, {"min": -cb["max"], "max": -cb["min"]}

    def apart(worse: float, better: float) -> bool:  # `better` beats `worse` by more than the noise
        return better - worse > noise * max(abs(worse), abs(better))
    return "win" if apart(cb["max"], ca["min"]) else "loss" if apart(ca["max"], cb["min"]) else "tie"


def noise_margins(path: str | Path) -> dict[str, float]:
    """{metric: relative margin} from an evaluation-noise file (scripts/evaluation_noise.py): the largest
    (max - min) / mean any measured run showed over evaluation seeds; {} (no margin) when the file is absent."""
    path = Path(path)
    return json.loads(path.read_text())["margin"] if path.is_file() else {}


def failed_to_learn(records: list[dict], references: list[dict], metric: str | None = None) -> set[str]:
    """The runs (their folders) scored worse on `metric` (default: the headline score; FD-lite for a run or category
    not yet scored by it) than unions of random boxes of their category: no better than a shape prior with no
    training, whatever the collapse warnings said."""
    metric = metric or headline(records)
    boxes = {r["category"]: r for r in references if r["variant"] == "random_boxes"}

    def worse(r: dict) -> bool:
        m = metric if has([r, boxes[r["category"]]], metric) else "fd_lite"
        return r[m] > boxes[r["category"]][m]
    return {r["run"] for r in records if r["category"] in boxes and worse(r)}


def markdown(records: list[dict], references: list[dict], missing: list[str], p, seeds) -> str:
    """The table, one block per category: mean ± std (min-max) over seeds, seeds found, collapsed runs."""
    score = METRICS[headline(records)]
    lines = [f"# Results: preset `{p.name}`, {p.steps} steps, seeds {list(seeds)}", "",
             "Image scores of real-renderer images of n generated shapes against n real images of held-out test "
             "shapes: FID and KID, InceptionV3 pool3 features with the standard TF weights (docs/fid.md), and FD-lite, "
             f"the fast score (features of FeatureNet, a small classifier trained on ShapeNet-lite {p.image_size}px "
             "renders; not Inception). 3D: voxel IoU against n test shapes. f's surface level for each run was "
             "chosen on the validation split (evaluate.choose_threshold). Cells: mean ± std (min-max) over seeds; "
             "\"collapsed\": runs diagnostics.collapsed flags; \"failed\": runs with a worse "
             f"{score} than random boxes (failed_to_learn); both counted in the means. Written by `igan-lite reproduce`.", ""]
    if score != METRICS["fd_lite"] and not has(records, "fid"):
        lines += [f"{sum(has([r], 'fid') for r in records)} of the {len(records)} runs are scored by FID so far; a cell "
                  "says how many of its seeds are, a comparison with an unscored run is left undecided (claims), and a run "
                  "with no FID counts as failed by FD-lite.", ""]
    failed = failed_to_learn(records, references)
    shown = [m for m in METRICS if any(math.isfinite(r[m]) for r in records)]
    for category in dict.fromkeys(r["category"] for r in records):
        found = by_variant(records, category)
        lines += [f"## {category} (n = {int(records[0]['n'])})", "",
                  "| | seeds | collapsed | failed | " + " | ".join(METRICS[m] for m in shown) + " |",
                  "|---|---|---|---|" + "---|" * len(shown)]
        for v in VARIANTS:
            if v.key in found:
                rows = found[v.key]
                cells = [format_cell(cell(rows, m), len(rows), DIGITS.get(m, 3)) for m in shown]
                bad = sum(bool(r["collapsed"]) for r in rows)
                lines.append(f"| {v.label} | {len(rows)} | {bad} | {sum(r['run'] in failed for r in rows)} | "
                             + " | ".join(cells) + " |")
        for r in references:
            if r["category"] == category:
                lines.append(f"| {r['row']} (reference) | | | | " + " | ".join(_value(r[m], DIGITS.get(m, 3)) for m in shown) + " |")
        lines.append("")
    if missing:
        lines += [f"Missing from this table ({len(missing)} runs): " + ", ".join(missing), ""]
    return "\n".join(lines)


def _value(v: float, digits: int) -> str:
    return f"{v:.{digits}f}" if math.isfinite(v) else "not scored"


def format_cell(c: dict, n: int, digits: int = 3) -> str:
    """A cell; one over fewer than its row's n seeds says how many it holds."""
    f = lambda v: f"{v:.{digits}f}"  # noqa: E731
    if c["count"] == 0:
        return "not scored"
    text = f(c["mean"]) if c["count"] == 1 else f"{f(c['mean'])} ± {f(c['std'])} ({f(c['min'])}-{f(c['max'])})"
    return text if c["count"] == n else f"{text} [{c['count']} of {n} seeds scored]"
