"""`igan-lite reproduce`: the paper's comparison in one command (docs/method.md §8-9).

Trains (or resumes, or takes from the shipped `checkpoints/`) IG-GAN and the three projection baselines on
every category, and the two ablations on chair and table, for every seed; evaluates every run on the same
protocol (evaluate.py: surface level chosen on the validation split, scores on the test split); writes one csv
row per run (failed runs marked, never dropped) and a markdown table of mean ± std (min-max) over seeds, plus a
figure of samples per method, to `figures/`. Finished work is never redone: a run whose checkpoint reached the
preset's steps is kept, an unfinished one is resumed, and an evaluation.json of the same protocol is reused.
With `only_shipped` nothing is trained: the table is made of what `checkpoints/` holds and lists what it lacks.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from igan_lite.core.diagnostics import collapsed
from igan_lite.core.methods import get_method
from igan_lite.data.shapes import CATEGORIES
from igan_lite.evaluation.evaluate import evaluate_run, wants_fid
from igan_lite.experiments.figure1 import figure1
from igan_lite.experiments.grid import METRICS, REFERENCES, VARIANTS, Variant, grid, run_name
from igan_lite.experiments.results_table import markdown, write_csv
from igan_lite.presets import SPEED_ONLY, Preset, get_preset, preset_from_dict
from igan_lite.training.run_folder import (RunFolder, checkpoint_path, export_run, last_samples, read_config,
                                           read_metrics, run_finished)
from igan_lite.training.train import train

SPEED_FIELDS = (*SPEED_ONLY, "threads", "checkpoint_every", "sample_every")  # fields no number depends on
# fields only a method with a proxy reads (R, f's schedule and surface level); a projection baseline ignores them
IGGAN_FIELDS = ("proxy_width", "lr_proxy", "lambda_l2", "lambda_dom", "proxy_steps", "g_hold_proxy_error",
                "threshold_range", "pretrain", "pretrain_shapes", "pretrain_steps", "run_ahead")


def recipe_mismatch(run: Path, wanted: Preset) -> list[str]:
    """The preset fields RUN's numbers depend on in which it was trained differently from `wanted`."""
    config = read_config(run)
    have = preset_from_dict(config["preset"], f"{run}/config.json")
    ignored = SPEED_FIELDS + ("name",) + (IGGAN_FIELDS if not get_method(config["method"]).proxy else ())
    if have.d_ahead_loss == 0 < wanted.d_ahead_loss and d_gate_agrees(run, wanted.d_ahead_loss):  # reads the log only then
        ignored += ("d_ahead_loss",)
    return [k for k in wanted.__dataclass_fields__ if k not in ignored and getattr(have, k) != getattr(wanted, k)]


def d_gate_agrees(run: Path, ahead_loss: float) -> bool:
    """Whether RUN, trained with D's accuracy gate alone, took at every step the decision `d_ahead_loss =
    ahead_loss` takes (losses.d_ahead): D held only at losses below it. The gate being the fields' one
    difference, such a run is, step for step, the run the other rule trains (docs/experiments.md, run O)."""
    return all(r["d_updated"] or r["loss_d"] < ahead_loss for r in read_metrics(run))


def obtain_run(v: Variant, category: str, p: Preset, seed: int, runs: Path, checkpoints: Path, use_shipped: bool,
               only_shipped: bool, progress: bool) -> Path | None:
    """The run folder for (variant, category, seed): shipped in CHECKPOINTS if there (and `use_shipped`), else
    trained or resumed under RUNS; None where `only_shipped` and CHECKPOINTS lacks it. A run of another recipe
    never enters the table: it raises, naming the fields that differ."""
    preset = get_preset(p, **v.overrides)
    shipped = checkpoints / p.name / category / run_name(v, seed)
    if use_shipped and checkpoint_path(shipped).exists():
        run = shipped
    elif only_shipped:
        return None
    else:
        run = runs / p.name / category / run_name(v, seed)
        if not run_finished(run, preset.steps):
            train(v.method, category, preset, run, seed, resume=checkpoint_path(run).exists(), progress=progress)
    if differ := recipe_mismatch(run, preset):
        raise ValueError(f"{run} was trained with another recipe ({', '.join(differ)} differ from preset "
                         f"{p.name!r}); move it out of the table's folders or retrain it (--retrain)")
    return run


def schedule(run: Path) -> str:
    """How RUN drew f: "run-ahead" (one batch ahead, in a worker) or "serial" (every run shipped before it existed)."""
    config = read_config(run)
    return "run-ahead" if get_method(config["method"]).proxy and preset_from_dict(config["preset"], f"{run}/config.json").run_ahead else "serial"


def evaluation(run: Path, n: int, references: bool, fid: bool = True) -> dict:
    """RUN's evaluation.json, computed unless one of this protocol is there: n, the test split, the reference rows
    if `references`, and with `fid` FID and KID with the surface level chosen by FID (a damaged file is computed
    again). With `fid`, Inception's weights are required (inception.find_weights says how to install them)."""
    path = RunFolder(run).evaluation_file
    if path.exists():
        try:
            result = json.loads(path.read_text())
            label = result["label"]
            if (label["n"] == n and label.get("split") == "test" and (not references or "random_boxes" in result)
                    and (not fid or ("fid" in result["generator"] and "validation_fid" in label))):
                return result
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            print(f"{path} is damaged; evaluating again")
    return evaluate_run(run, n=n, baselines=references, inception=fid)


def eval_size(p: Preset) -> int:
    """Samples per score: 500, or a third of the training set's size when that is smaller (smoke: 50)."""
    return min(500, p.n_shapes // 3)


def relative(run: Path, root: Path) -> str:
    """RUN's path from ROOT (the folder that holds figures/): the same csv and titles whatever the working folder."""
    return Path(os.path.relpath(Path(run).resolve(), Path(root).resolve())).as_posix()


def run_record(v: Variant, category: str, seed: int, run: Path, result: dict, root: Path = Path(".")) -> dict:
    """One csv row: a run's test scores, its evaluation threshold, and whether it collapsed (diagnostics.collapsed);
    `run` is written as its path from ROOT (`relative`)."""
    label = result["label"]
    return {"variant": v.key, "row": v.label, "category": category, "seed": seed, "preset": label["preset"],
            "steps": read_config(run)["preset"]["steps"], "n": label["n"], "split": label["split"],
            "threshold": label["threshold"], **{m: result["generator"].get(m, math.nan) for m in METRICS},
            "collapsed": " ".join(collapsed(read_metrics(run))), "f_schedule": schedule(run), "run": relative(run, root)}


def reference_records(category: str, seed: int, result: dict) -> list[dict]:
    """The reference rows (untrained generator, random boxes, real-vs-real floor) of one IG-GAN evaluation."""
    label = result["label"]
    return [{"variant": key, "row": name, "category": category, "seed": seed, "preset": label["preset"], "steps": 0,
             "n": label["n"], "split": label["split"], "threshold": 0.5,
             **{m: result[key].get(m, math.nan) for m in METRICS}, "collapsed": "", "f_schedule": "", "run": ""}
            for key, name in REFERENCES.items() if key in result]


def reproduce(preset: str | Preset | None = None, categories=tuple(sorted(CATEGORIES)), seeds=(0, 1, 2),
              steps: int | None = None, runs: str | Path = "runs/reproduce", checkpoints: str | Path = "checkpoints",
              use_shipped: bool = True, only_shipped: bool = False, export: bool = False,
              figures: str | Path = "figures", fid: bool | None = None, progress: bool = True) -> dict:
    """Every variant x category x seed (grid) -> {"runs": one record per run, "references": reference rows,
    "missing": what CHECKPOINTS lacks (only_shipped)}; writes figures/results_<preset>.csv (runs then references),
    .md (results_table.markdown), figures/results_<preset>_<category>.png and figures/fig1_<preset>.png
    (figure1.py, from each category's first IG-GAN run). `use_shipped=False` retrains what
    CHECKPOINTS holds; `export` copies each trained run, slim (run_folder.export_run), into CHECKPOINTS.
    `fid` (default: evaluate.wants_fid, every preset but smoke) computes FID and KID where a run lacks them;
    False keeps what each evaluation.json holds."""
    p = get_preset(preset, **({"steps": steps} if steps is not None else {}))  # 0 is refused by the rules, not ignored
    runs, checkpoints, figures = Path(runs), Path(checkpoints), Path(figures)
    figures.mkdir(parents=True, exist_ok=True)
    records, references, missing, firsts = [], [], [], {}
    for v, category, seed in grid(categories, seeds):
        run = obtain_run(v, category, p, seed, runs, checkpoints, use_shipped, only_shipped, progress)
        if run is None:
            missing.append(f"{p.name}/{category}/{run_name(v, seed)}")
            continue
        first_reference = v.key == "iggan" and not any(r["category"] == category for r in references)
        result = evaluation(run, eval_size(p), references=first_reference, fid=wants_fid(p) if fid is None else fid)
        if first_reference:
            references += reference_records(category, seed, result)
        records.append(run_record(v, category, seed, run, result, figures.parent))
        firsts.setdefault(category, {}).setdefault(v.label, run)
        if export and not run.is_relative_to(checkpoints):
            export_run(run, checkpoints / p.name / category / run_name(v, seed), proxy=seed == 0, half=True)
    if not records:
        raise FileNotFoundError(f"no run of the grid is in {checkpoints / p.name}; drop --from-checkpoints to train them "
                                f"(igan-lite reproduce --preset {p.name})")
    for category, found in firsts.items():
        sample_figure(found, figures / f"results_{p.name}_{category}.png", p, figures.parent)
    if iggan := {c: found[VARIANTS[0].label] for c, found in firsts.items() if VARIANTS[0].label in found}:
        figure1(iggan, figures / f"fig1_{p.name}.png")
    write_csv(records + references, figures / f"results_{p.name}.csv")
    if any(math.isfinite(r["fid"]) for r in records):
        scores_figure(records, references, figures / f"fid_vs_fd_lite_{p.name}.png")
    (figures / f"results_{p.name}.md").write_text(markdown(records, references, missing, p, seeds))
    return {"runs": records, "references": references, "missing": missing}


def sample_figure(runs: dict[str, Path], path: Path, p: Preset, root: Path = Path(".")) -> None:
    """One row per variant: its last sample grid's real-renderer rows (8 fixed-z samples, 3 views), titled with the
    run's path from ROOT."""
    from matplotlib.figure import Figure  # no pyplot: the process's backend (a notebook's) stays as it is
    from PIL import Image

    fig = Figure(figsize=(8, 3.2 * len(runs)))
    axes = fig.subplots(len(runs), 1, squeeze=False)
    for ax, (label, run) in zip(axes[:, 0], runs.items()):
        image = np.asarray(Image.open(last_samples(run)))
        ax.imshow(image[:3 * (p.image_size + 1)], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(f"{label} ({relative(run, root)})", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def scores_figure(records: list[dict], references: list[dict], path: Path) -> None:
    """FD-lite against FID, one point per run (marker: method), one panel per category, the reference rows as
    grey crosses: where the two scores rank runs differently (docs/experiments.md, "Two scores"). Runs not yet
    scored by FID are left out."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    records = [r for r in records if math.isfinite(r["fid"])]
    categories = sorted({r["category"] for r in records})
    fig = Figure(figsize=(3.3 * len(categories), 4.2))
    axes = fig.subplots(1, len(categories), squeeze=False)[0]
    markers = dict(zip([v.key for v in VARIANTS], "osD^vP"))
    for ax, category in zip(axes, categories):
        for v in VARIANTS:
            mine = [r for r in records if r["category"] == category and r["variant"] == v.key]
            if mine:
                ax.scatter([r["fid"] for r in mine], [r["fd_lite"] for r in mine], marker=markers[v.key], label=v.label, s=30)
        refs = [r for r in references if r["category"] == category and math.isfinite(r["fid"])]
        ax.scatter([r["fid"] for r in refs], [r["fd_lite"] for r in refs], marker="x", color="grey", label="references")
        ax.set(xscale="log", yscale="log", xlabel="FID (Inception) ↓", title=category)
        ax.xaxis.set_minor_formatter(NullFormatter())  # decades only: the minor labels overlap
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("FD-lite (FeatureNet) ↓")
    handles = {h.get_label(): h for ax in axes for h in ax.get_legend_handles_labels()[0]}
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=4, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path, dpi=100)
