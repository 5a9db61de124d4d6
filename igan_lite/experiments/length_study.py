"""The training-length study (docs/experiments.md, "Training length"): the comparison of the results table again,
where the method has converged. IG-GAN, its two ablations and the three projection baselines on chair and table,
seeds 0-2, each trained with the lite recipe to L steps, a generator snapshot every SNAPSHOT_EVERY steps; the
snapshots at SCORED steps are scored on the test split as the table is (evaluate.py: f's surface level chosen on
validation; FID, KID, FD-lite and the 3D metrics; n = 500).

L is chosen once, on the validation split, from the pilot (chair IG-GAN seed 0) by `choose_length`, a rule written
down before any score was seen: the smallest s of CANDIDATES at which doubling the training to 2s improves the
pilot's (smoothed) validation FID by less than GAIN; CAP if none does.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from igan_lite.core.diagnostics import COLLAPSE_WINDOW, collapsed
from igan_lite.data.splits import split_sets
from igan_lite.evaluation.evaluate import (ImageScorer, choose_threshold, feature_net, generate, load_fid_net,
                                           render_views, score)
from igan_lite.experiments.grid import VARIANTS
from igan_lite.experiments.results_table import failed_to_learn
from igan_lite.infra.files import save_atomic, write_text_atomic
from igan_lite.training import checkpoint
from igan_lite.training.run_folder import RunFolder, export_run, halved, load_generator, read_config, read_metrics

CATEGORIES = ("chair", "table")
SNAPSHOT_EVERY = 250
SCORED = (500, 1000, 2000, 4000)  # the steps every run is scored at (those it reached)
EARLY = SCORED[0]  # the results table's training length
FIGURE_RUN = "iggan-seed0"  # Figure 1 lite's run per category (length_report.figure1_length): ships its EARLY snapshot too
CANDIDATES, CAP, GAIN = (1000, 2000), 4000, 0.05
PILOT = ("chair", "iggan", 0)
N = 500
SHIPPED_LOG_EVERY = 20  # steps: the shipped metrics.jsonl keeps these rows, and the collapse window before each scored step


def snapshot(run: Path, step: int) -> Path:
    """The generator RUN saved at `step` (run_folder.RunFolder.save_snapshot)."""
    path = RunFolder(run).generators / f"step_{step:06d}.pt"
    if not path.is_file():
        raise FileNotFoundError(f"{run} has no generator snapshot at step {step} ({path})")
    return path


def snapshot_steps(run: Path) -> list[int]:
    """The steps RUN saved a generator snapshot at (RunFolder.snapshots), in order."""
    return [int(path.stem.split("_")[1]) for path in RunFolder(run).snapshots()]


def score_file(run: Path, step: int, split: str = "test") -> Path:
    """Where score_snapshot caches the scores of RUN's snapshot at `step` on `split`."""
    return Path(run) / "scores" / f"{split}-step_{step:06d}.json"


def score_snapshot(run: str | Path, step: int, split: str = "test", n: int = N, seed: int = 0, nets=None) -> dict:
    """The snapshot at `step` scored on `split` as evaluate_run scores a run (surface level chosen on validation),
    cached in RUN/scores/<split>-step_<step>.json. `nets`: (FeatureNet, Inception) to reuse across calls."""
    run = Path(run)
    cached = score_file(run, step, split)
    if cached.is_file():
        return json.loads(cached.read_text())
    fd_net, fid_net = nets or (None, None)
    G, p = load_generator(run, snapshot(run, step))
    fd_net, fid_net = fd_net or feature_net(p), fid_net or load_fid_net(True)
    category = read_config(run)["category"]
    sets = split_sets(category, p, split, n)
    tuned = choose_threshold(G, p, category, n, seed, fd_net, fid_net)
    fake = generate(G, n, seed)
    images = render_views(fake, p, seed + 1, tuned["threshold"])
    result = {"step": step, "split": split, "n": n, "seed": seed, **tuned,
              **score(fake, images, sets["reference"], ImageScorer(sets["real"], fd_net, fid_net), tuned["threshold"])}
    cached.parent.mkdir(exist_ok=True)
    write_text_atomic(cached, json.dumps(result, indent=2))
    return result


def smoothed(curve: dict[int, float], step: int) -> float:
    """The median of the curve at step - SNAPSHOT_EVERY, step and step + SNAPSHOT_EVERY (those present)."""
    near = [curve[s] for s in (step - SNAPSHOT_EVERY, step, step + SNAPSHOT_EVERY) if s in curve]
    if step not in curve:
        raise ValueError(f"the curve has no value at step {step} (it has {sorted(curve)})")
    return float(np.median(near))


def choose_length(curve: dict[int, float], candidates=CANDIDATES, cap: int = CAP, gain: float = GAIN) -> int | None:
    """L: the smallest s of `candidates` with smoothed FID(2s) > (1 - gain) x smoothed FID(s), i.e. doubling the
    training improves validation FID by less than `gain`; `cap` if none does; None while the curve does not yet
    reach the step that decides (train the pilot further)."""
    for s in candidates:
        if 2 * s not in curve:
            return None
        if smoothed(curve, 2 * s) > (1 - gain) * smoothed(curve, s):
            return s
    return cap


SEEDS = (0, 1, 2)


def study_order() -> list[str]:
    """Every run of the study as CATEGORY/VARIANT-seedS, in the order `train --all` takes them: chair before table
    (a partial study is already a result), within a category the results table's rows, seeds in order."""
    return [f"{c}/{v.key}-seed{s}" for c in CATEGORIES for v in VARIANTS for s in SEEDS]


def study_runs(root: str | Path):
    """(category, Variant, seed, run folder) of every study run under ROOT/<category>/<variant>-seed<s>."""
    root = Path(root)
    for category in CATEGORIES:
        for v in VARIANTS:
            for folder in sorted((root / category).glob(f"{v.key}-seed*")):
                seed = folder.name.rsplit("-seed", 1)[1]
                if seed.isdigit() and (folder / "config.json").is_file():
                    yield category, v, int(seed), folder


def diverged_file(run: Path) -> Path:
    """Where the queue records that RUN diverged (scripts/length_study.py train): it is not trained again."""
    return Path(run) / "scores" / "diverged.json"


def mark_diverged(run: str | Path, error: str) -> dict:
    """Record that RUN diverged (training.train raised TrainingDiverged) after its last good checkpoint."""
    saved = RunFolder(run).checkpoint
    record = {"step": int(checkpoint.load(saved)["step"]) if saved.is_file() else 0, "error": error}
    diverged_file(run).parent.mkdir(exist_ok=True)
    write_text_atomic(diverged_file(run), json.dumps(record, indent=2))
    return record


def diverged_at(run: Path) -> int | None:
    """The last good step of a run that diverged; None for one that did not."""
    path = diverged_file(run)
    return json.loads(path.read_text())["step"] if path.is_file() else None


def rows(root: str | Path, length: int, references: list[dict] = ()) -> list[dict]:
    """One row per run and scored step (SCORED up to `length`, and `length`): its test scores, whether the run
    had collapsed by then (diagnostics.collapsed over the steps before it), and whether it had failed: a worse FID
    than the `references`' random boxes of its category (results_table.failed_to_learn), or diverged before the
    step (a row without scores: counted, never dropped)."""
    out = []
    for category, v, seed, run in study_runs(root):
        metrics, died = read_metrics(run), diverged_at(run)
        for step in scored_steps(length):
            cached = score_file(run, step)
            if not cached.is_file() and (died is None or step <= died):
                continue
            s = json.loads(cached.read_text()) if cached.is_file() else {"n": N, "threshold": np.nan}
            out.append({"variant": v.key, "row": v.label, "category": category, "seed": seed, "preset": "lite",
                        "steps": step, "n": s["n"], "split": "test", "threshold": s["threshold"],
                        **{m: s.get(m, np.nan) for m in ("fid", "kid", "fd_lite", "nearest_iou", "cov", "mmd", "1nna")},
                        "collapsed": " ".join(collapsed([r for r in metrics if r["step"] <= step])),
                        "f_schedule": "run-ahead" if v.method == "iggan" else "serial", "run": f"{category}/{run.name}@{step}",
                        "failed": f"diverged after step {died}" if died is not None and step > died else ""})
    worse = failed_to_learn(out, list(references), "fid")
    return [{**r, "failed": r["failed"] or ("worse FID than random boxes" if r["run"] in worse else "")} for r in out]


def scored_steps(length: int) -> list[int]:
    """The steps every run is scored at on the test split: SCORED up to L, and L."""
    return sorted({s for s in SCORED if s <= length} | {length})


def ship_snapshot(run: str | Path, out: str | Path, step: int) -> Path:
    """RUN's generator snapshot at `step`, in float16, into OUT/generators/ (where `snapshot` finds it)."""
    state = checkpoint.load(snapshot(Path(run), step))
    path = RunFolder(out).generators / f"step_{step:06d}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomic({**state, "G": halved(state["G"])}, path)
    return path


def ship_run(run: str | Path, out: str | Path, length: int) -> Path:
    """What the repository keeps of a finished (or diverged) study run (the 80 MB budget of issue 31): the final
    generator in float16 without D, R or the optimisers (run_folder.export_run), its last sample grid, its test
    scores (and diverged.json), and metrics.jsonl thinned to every SHIPPED_LOG_EVERY-th step plus the COLLAPSE_WINDOW steps before each scored
    step, so `rows` finds the same collapse verdicts in the shipped folder as in the full one. FIGURE_RUN also
    keeps its EARLY snapshot, so Figure 1 lite at both lengths is drawn from the repository alone."""
    run, out = Path(run), Path(out)
    died = diverged_at(run)
    if died is None and not RunFolder(run).finished(length):
        raise ValueError(f"{run} has not reached L = {length} steps: train it to L before shipping it")
    steps = [s for s in scored_steps(length) if died is None or s <= died]
    missing = [s for s in steps if not score_file(run, s).is_file()]
    if missing:
        raise FileNotFoundError(f"{run} has no test score at steps {missing}: run `score` before shipping it")
    export_run(run, out, proxy=False, half=True)
    if run.name == FIGURE_RUN and EARLY in steps:
        ship_snapshot(run, out, EARLY)
    windows = [range(s - COLLAPSE_WINDOW + 1, s + 1) for s in steps]
    kept = [r for r in read_metrics(run) if r["step"] % SHIPPED_LOG_EVERY == 0 or any(r["step"] in w for w in windows)]
    write_text_atomic(out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in kept))
    (out / "scores").mkdir(exist_ok=True)
    for path in [score_file(run, s) for s in steps] + ([diverged_file(run)] if died is not None else []):
        write_text_atomic(out / "scores" / path.name, path.read_text())
    return out
