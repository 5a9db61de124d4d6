"""What you should see: expected values, with a tolerance, read from the runs that ship in checkpoints/lite/.

The notebooks' "What you should see" cells print these next to what your run gave. No number here is typed
by hand: each comes from a shipped run's metrics.jsonl (one row per training step, `read_metrics`) or its
evaluation.json (`igan-lite evaluate`). The shipped runs are the `lite` preset's, 500 steps, seeds 0-2. Each
band names its category and variant, so tests/test_stored_outputs.py can compute it again and find stale cells.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from igan_lite.training.run_folder import read_metrics

SHIPPED = Path(__file__).resolve().parents[2] / "checkpoints" / "lite"


@dataclass(frozen=True)
class Band:
    """An expected value: what each shipped run gave, and the range [lo, hi] they span, widened on each side by
    `tol` times the value at that end (runs of the same recipe differ by seed; docs/experiments.md)."""

    what: str
    values: dict[str, float]
    tol: float = 0.0

    @property
    def lo(self) -> float:
        v = min(self.values.values())
        return v - self.tol * abs(v)

    @property
    def hi(self) -> float:
        v = max(self.values.values())
        return v + self.tol * abs(v)

    def __contains__(self, value: float) -> bool:
        return self.lo <= value <= self.hi

    def __str__(self) -> str:
        values = set(self.values.values())
        runs = ", ".join(f"{run} {v:.3g}" for run, v in self.values.items()) if len(values) > 1 else "shipped runs"
        span = f"{self.lo:.3g} to {self.hi:.3g}" if self.lo != self.hi else f"{self.lo:.3g}"
        return f"{self.what}: {span} ({runs}{f'; ±{self.tol:.0%}' if self.tol else ''})"

    def verdict(self, value: float) -> str:
        """One line: your value, the band, and whether it is inside."""
        return f"{'✓' if value in self else '✗'} {self.what}: yours {value:.3g}; expected {self.lo:.3g} to {self.hi:.3g}"


def shipped_runs(category: str = "chair", variant: str = "iggan", root: str | Path = SHIPPED) -> dict[str, Path]:
    """{label: folder} of the shipped runs `<root>/<category>/<variant>-seed<s>/` (variant e.g. iggan,
    iggan-nodom, iggan-nopretrain, vh, ao, ea)."""
    runs = {p.name: p for p in sorted(Path(root, category).glob(f"{variant}-seed*")) if (p / "metrics.jsonl").exists()}
    if not runs:
        raise FileNotFoundError(f"no shipped runs {variant}-seed* for {category} in {root} "
                                "(they come with a clone of the repository; `make checkpoints` retrains them)")
    return runs


def window_mean(rows: list[dict], metric: str, steps: tuple[int, int] | None = None) -> float:
    """The mean of `metric` over the rows whose step lies in [first, last] (all rows if `steps` is None)."""
    values = [r[metric] for r in rows if metric in r and (steps is None or steps[0] <= r["step"] <= steps[1])]
    if not values:
        raise ValueError(f"no rows with {metric!r} in steps {steps}")
    return float(np.mean(values))


def metric_band(metric: str, steps: tuple[int, int] | None = None, category: str = "chair", variant: str = "iggan",
                tol: float = 0.0, root: str | Path = SHIPPED) -> Band:
    """`window_mean` of a metrics.jsonl column over the same steps in every shipped run."""
    what = f"{category} {variant}: " + (f"{metric}, all steps" if steps is None else (
        f"{metric}, step {steps[0]}" if steps[0] == steps[1] else f"{metric}, steps {steps[0]}-{steps[1]}"))
    return Band(what, {run: window_mean(read_metrics(p), metric, steps)
                       for run, p in shipped_runs(category, variant, root).items()}, tol)


def score_band(score: str, category: str = "chair", variant: str = "iggan", tol: float = 0.0,
               root: str | Path = SHIPPED, entry: str = "generator", snapshot: int | None = None) -> Band:
    """A score of evaluation.json (fd_lite, nearest_iou, cov, mmd, 1nna, occupancy) over the shipped runs;
    `entry` "generator" is the trained one, "untrained_generator", "random_boxes" and "real_vs_real" the references;
    `snapshot` (a step, e.g. 100) the generator at that step, in the runs evaluated with --snapshots. A band over
    fewer runs than ship says so (FID: the runs scored so far); a ValueError when none has the score."""
    what = f"step {snapshot}" if snapshot is not None else entry.replace("_", " ")
    values = {}
    for run, p in shipped_runs(category, variant, root).items():
        path = p / "evaluation.json"
        scores = json.loads(path.read_text()) if path.exists() else {}
        found = scores.get("snapshots", {}).get(f"step_{snapshot:06d}") if snapshot is not None else scores.get(entry)
        if found and score in found:  # references are scored once per category; FID only where the weights were
            values[run] = found[score]
    runs = len(shipped_runs(category, variant, root))
    if not values:
        raise ValueError(f"no shipped {variant} run for {category} has {score} scores ({what}) yet; `igan-lite "
                         "reproduce --preset lite --from-checkpoints` scores them")
    partial = len(values) < runs and entry == "generator"  # the references are scored once per category
    scored = f"; {len(values)} of {runs} runs scored so far" if partial else ""
    return Band(f"{category} {variant}: {score} ({what}{scored})", values, tol)


def last_window(rows: list[dict], size: int = 50) -> tuple[int, int]:
    """The steps of a run's last `size` rows (or of half its rows, if it is shorter than 2 * size)."""
    last = rows[-1]["step"]
    size = max(1, min(size, len(rows) // 2))
    return last - size + 1, last


def check(ok: bool, claim: str, strict: bool = True) -> None:
    """Print `claim` with ✓ or ✗; when `strict` (the notebooks: at the smoke preset, where the claim was checked
    to hold run after run), a ✗ is an AssertionError, so nbval fails on it."""
    print(f"{'✓' if ok else '✗'} {claim}")
    if strict and not ok:
        raise AssertionError(f"expected: {claim}")
