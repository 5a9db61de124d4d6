"""What the training-length study shows (docs/experiments.md, "Training length"), written by code from its csv
(`scripts/length_study.py table`): the curves, the table at 500 steps and at L, and the verdicts of the results
table's claims (claims.py) at both lengths, those that change named first. README.md and notebook 06 carry the
block `length_markdown` writes; tests/test_length_study.py checks that it is current.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from igan_lite.experiments.claims import LABELS, against_baselines, as_named, combined, replace_blocks, scores
from igan_lite.experiments.grid import METRICS, VARIANTS
from igan_lite.experiments.figure1 import category_meshes, draw
from igan_lite.experiments.length_study import CATEGORIES, EARLY, FIGURE_RUN, score_file, snapshot, study_order
from igan_lite.experiments.results_table import DIGITS, by_variant, cell, compare, format_cell, read_csv

START, END = "<!-- LENGTH:START", "<!-- LENGTH:END -->"
BLOCK = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
TABLED = ("fid", "kid", "nearest_iou")  # the scores of the table at 500 steps and at L


def curves_figure(records: list[dict], category: str, path: str | Path, scores=("fid", "kid", "fd_lite", "nearest_iou")):
    """Each score against training steps for one category: per variant, the mean over seeds and the seed range
    (a note instead while no run of the category has been scored)."""
    from matplotlib.figure import Figure  # no pyplot: the process's backend stays as it is

    if not any(r["category"] == category for r in records):
        fig = Figure(figsize=(6.0, 0.5))  # shown as wide as the curves: large enough to read there
        fig.text(0.5, 0.5, f"{category}: no run of the length study has reached L yet", ha="center", va="center",
                 fontsize=11)
        fig.savefig(path, dpi=110)
        return Path(path)
    fig = Figure(figsize=(4.2 * len(scores), 3.6))
    axes = fig.subplots(1, len(scores))
    for ax, metric in zip(axes, scores):
        for i, v in enumerate(VARIANTS):  # a method keeps its colour in every category's figure
            mine = [r for r in records if r["category"] == category and r["variant"] == v.key]
            steps = sorted({r["steps"] for r in mine})
            if not steps:
                continue
            values = [[r[metric] for r in mine if r["steps"] == s] for s in steps]
            seeds = max(len(x) for x in values)
            line, = ax.plot(steps, [np.mean(x) for x in values], marker="o", color=f"C{i}",
                            label=f"{v.label} ({seeds} seed{'s' if seeds > 1 else ''})")
            ax.fill_between(steps, [min(x) for x in values], [max(x) for x in values], color=line.get_color(), alpha=0.15)
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks := sorted({r["steps"] for r in records}), [f"{s:,.0f}" for s in ticks])
        ax.minorticks_off()
        ax.set_xlabel("training steps")
        ax.set_title(f"{category}: {METRICS[metric]}", fontsize=10)
        if metric in ("fid", "kid", "fd_lite"):
            ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)


def figure1_length(root: str | Path, category: str, length: int, path: str | Path, n: int = 3) -> Path:
    """Figure 1 lite at EARLY steps and at L for one category: the first n shapes of IG-GAN seed 0 (FIGURE_RUN)
    from its EARLY snapshot and its generator at L, beside the test split's first n shapes; f's level as each was
    scored. ROOT holds run folders as `train` leaves them or as `ship` keeps them (checkpoints/length_lite). No
    picking: the same latent codes at both lengths."""
    run, rows = Path(root) / category / FIGURE_RUN, {}
    if not score_file(run, length).is_file():
        raise FileNotFoundError(f"{run} is not scored at L = {length}: train, score and ship it first")
    for step, weights in ((EARLY, snapshot(run, EARLY)), (length, None)):  # None: the run's last checkpoint, at L
        level = json.loads(score_file(run, step).read_text())["threshold"]
        rows[f"{category}, {step:,} steps"] = category_meshes(run, n, 0, weights, level)
    return draw(rows, path)


def verdicts(records: list[dict], noise: dict) -> dict[tuple[str, str], dict[str, str]]:
    """{(category, comparison): {score: verdict}} for every verdict the claims state (claims.scores): IG-GAN against
    the baselines together (claims.combined, the results table's rule) and, where there are several, against each
    on its own, so a decided pair stays visible while another baseline has under two seeds; and the full recipe
    against each ablation ("win": the ablation hurts; compare)."""
    found = {}
    for category in sorted({r["category"] for r in records}):
        group = by_variant(records, category)
        for metric in scores(records):
            noisy = noise.get(metric, 0.0)
            each = against_baselines(group, metric, noisy)
            pairs = {"IG-GAN against the baselines": combined(each)}
            pairs |= {f"IG-GAN against {LABELS[k]}": o for k, o in each.items()} if len(each) > 1 else {}
            pairs |= {f"the full recipe against {v.label}": compare(group["iggan"], group[v.key], metric, noisy)
                      for v in VARIANTS if v.ablation and "iggan" in group and v.key in group}
            for name, verdict in pairs.items():
                if verdict is not None:
                    found.setdefault((category, name), {})[METRICS[metric]] = verdict
    return found


def claims(records: list[dict], length: int, noise: dict) -> list[str]:
    """The verdicts at EARLY steps and at L: those that change first, then the rest comparison by comparison."""
    early = verdicts([r for r in records if r["steps"] == EARLY], noise)
    late = verdicts([r for r in records if r["steps"] == length], noise)
    at = lambda found, pair, score: found.get(pair, {}).get(score, "no runs")  # noqa: E731
    pairs = list(dict.fromkeys([*late, *early]))
    every = [(pair, score) for pair in pairs for score in dict.fromkeys([*late.get(pair, {}), *early.get(pair, {})])]
    changed = [(pair, score) for pair, score in every if at(early, pair, score) != at(late, pair, score)]
    lines = [f"- **Changed between {EARLY} and {length:,} steps** ({len(changed)} of {len(every)} verdicts): "
             + ("; ".join(f"{c}, {name}, {score}: {at(early, (c, name), score)} → {at(late, (c, name), score)}"
                          for (c, name), score in changed) or "none") + "."]
    rest = [(pair, [f"{score} {at(late, pair, score)}" for p, score in every if p == pair and (p, score) not in changed])
            for pair in pairs]
    kept = [f"  - {c}, {name}: {', '.join(v)}." for (c, name), v in rest if v]
    return lines + (["- **Unchanged**:", *kept] if kept else ["- **Unchanged**: none."])


def table(records: list[dict], length: int, references: list[dict] = ()) -> list[str]:
    """Per category and variant: seeds, collapsed and failed runs, and TABLED scores as mean ± std (min-max) over
    seeds, at EARLY steps and at L; then the category's `references` (untrained, random boxes, real shapes)."""
    steps = (EARLY, length)
    head = " | ".join(f"{METRICS[m]} at {s:,}" for m in TABLED for s in steps)
    lines = []
    for category in sorted({r["category"] for r in records}):
        lines += ["", f"| {category} | seeds | collapsed ({EARLY} / L) | failed ({EARLY} / L) | {head} |",
                  "|---|---|---|---|" + "---|" * len(TABLED) * 2]
        for v in VARIANTS:
            at = {s: [r for r in records if (r["category"], r["variant"], r["steps"]) == (category, v.key, s)] for s in steps}
            if not at[length]:
                continue
            count = lambda column: " / ".join(str(sum(bool(r[column]) for r in at[s])) for s in steps)  # noqa: E731
            cells = [format_cell(cell(at[s], m), len(at[s]), DIGITS.get(m, 3)) for m in TABLED for s in steps]
            lines.append(f"| {v.label} | {len(at[length])} | {count('collapsed')} | {count('failed')} | " + " | ".join(cells) + " |")
        for r in references:
            if r["category"] == category:
                cells = [format_cell(cell([r], m), 1, DIGITS.get(m, 3)) for m in TABLED for _ in steps]
                lines.append(f"| {r['row']} (reference) | | | | " + " | ".join(cells) + " |")
    return lines


def courses(records: list[dict], length: int) -> list[str]:
    """Per category and variant with runs at L: each seed's FID at EARLY steps and at L, and in how many seeds FID
    ended better than at EARLY steps, improved at every scored step, and failed or collapsed at L."""
    lines = []
    for category in sorted({r["category"] for r in records}):
        for v in VARIANTS:
            mine = [r for r in records if (r["category"], r["variant"]) == (category, v.key)]
            seeds = sorted({int(r["seed"]) for r in mine if r["steps"] == length})
            if seeds:
                lines.append(f"  - {category}, {v.label}: " + course(mine, seeds, length))
    return ["- **Each method's FID from 500 steps to L**, seed by seed:", *lines] if lines else []


def course(runs: list[dict], seeds: list[int], length: int) -> str:
    """One variant's line of `courses` (a diverged run's FID is NaN from the step it reached on: never better)."""
    fid = {s: dict(sorted((r["steps"], r["fid"]) for r in runs if int(r["seed"]) == s)) for s in seeds}
    at_l = {s: next(r for r in runs if int(r["seed"]) == s and r["steps"] == length) for s in seeds}
    early = {s: fid[s].get(EARLY, np.nan) for s in seeds}
    shown = lambda x: "unscored" if np.isnan(x) else f"{x:.1f}"  # noqa: E731
    of = lambda flags: f"{sum(flags)} of {len(seeds)}"  # noqa: E731
    return ("; ".join(f"seed {s}: {shown(early[s])} → {shown(fid[s][length])}" for s in seeds)
            + f". Better at L than at {EARLY} steps in {of(fid[s][length] < early[s] for s in seeds)} seeds, "
            f"at every scored step in {of(bool(np.all(np.diff(list(fid[s].values())) < 0)) for s in seeds)}; "
            f"failed at L: {of(bool(at_l[s]['failed']) for s in seeds)}; "
            f"collapsed at L: {of(bool(at_l[s]['collapsed']) for s in seeds)}.")


def progress(records: list[dict], length: int) -> str:
    """How many of the study's runs have reached L, per category and variant."""
    done = {(r["category"], r["variant"], int(r["seed"])) for r in records if r["steps"] == length}
    per = [f"{c}: " + (", ".join(f"{LABELS[v.key]} {n}" for v in VARIANTS if (n := sum(k[:2] == (c, v.key) for k in done)))
                       or "none") for c in CATEGORIES]
    return f"{len(done)} of the study's {len(study_order())} runs have reached L ({'; '.join(per)})"


def length_markdown(csv_path: str | Path, noise: dict) -> str:
    """The block for README.md and notebook 06, from the study's csv (`scripts/length_study.py table`)."""
    records, references = read_csv(csv_path)
    length = int(max(r["steps"] for r in records))
    steps = ", ".join(f"{s:,}" for s in sorted({int(r["steps"]) for r in records}))
    lines = [f"{START} (written by `python scripts/length_study.py table` from `{as_named(csv_path)}`; do not edit) -->",
             f"Preset `lite`, float32, trained to L = {length:,} steps (L chosen on the validation split by the pilot), "
             f"scored on the test split (n = {int(records[0]['n'])}) at {steps} steps; {progress(records, length)}. "
             "Cells: mean ± std (min-max) over seeds; collapsed: `diagnostics.collapsed`; failed: a worse FID than random "
             "boxes, or diverged before the step; all counted. Verdicts, by the results table's rule: win (IG-GAN, or the full recipe "
             "against an ablation, better: seed ranges apart by more than the evaluation's noise), loss (worse), tie "
             "(closer ranges), open (under two seeds a side), unscored (a run has no score there: it diverged).",
             *table(records, length, references), "", *claims(records, length, noise), *courses(records, length), END]
    return "\n".join(lines)


def write_block(doc: str | Path, block: str) -> None:
    """Replace DOC's length block (between its markers: README.md, docs/experiments.md) with `block`
    (length_markdown's)."""
    replace_blocks(doc, {(BLOCK, START): lambda: block})
