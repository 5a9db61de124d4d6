"""`igan-lite reproduce`: the paper's comparison in one command (docs/method.md §8-9).

Trains (or resumes, or takes from the shipped `checkpoints/`) IG-GAN, the three projection baselines and
the ablations, evaluates every run on the same protocol (evaluate.py), and writes the results table as
markdown and CSV plus a figure of samples per method to `figures/`. Finished work is never redone: a run
whose checkpoint reached the preset's steps is kept, an unfinished one is resumed, and an evaluation.json
with the same sample count is reused.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .data import build_dataset, default_dir, load_eval_voxels
from .evaluate import evaluate_run
from .presets import Preset, get_preset, preset_from_dict
from .run_folder import RunFolder, checkpoint_path, export_run, last_samples, read_config, run_finished
from .train import train

METRICS = {"fd_lite": "FD-lite ↓", "nearest_iou": "nearest IoU ↑", "cov": "COV ↑", "mmd": "MMD ↓", "1nna": "1-NNA (→0.5)"}
REFERENCES = {"untrained_generator": "untrained generator", "random_boxes": "random boxes", "real_vs_real": "real shapes (floor)"}


@dataclass(frozen=True)
class Variant:
    """One row of the table: a method and the preset fields it changes."""
    key: str
    label: str
    method: str
    overrides: dict = field(default_factory=dict)
    ablation: bool = False  # ablations run on the first category only


VARIANTS = (
    Variant("iggan", "IG-GAN (proxy + DOM)", "iggan"),
    Variant("vh", "visual hull (PrGAN)", "vh"),
    Variant("ao", "absorption only (PlatonicGAN)", "ao"),
    Variant("ea", "emission-absorption (PlatonicGAN)", "ea"),
    Variant("iggan-nodom", "IG-GAN, no DOM (L2-only proxy)", "iggan", {"lambda_dom": 0.0}, ablation=True),
    Variant("iggan-nopretrain", "IG-GAN, no proxy pretraining", "iggan", {"pretrain": False}, ablation=True),
)


def run_name(v: Variant, seed: int) -> str:
    return f"{v.key}-seed{seed}"


def obtain_run(v: Variant, category: str, p: Preset, seed: int, runs: Path, checkpoints: Path, use_shipped: bool,
               only_shipped: bool, progress: bool) -> Path:
    """The run folder for (variant, category, seed): shipped in CHECKPOINTS if there (and `use_shipped`), else
    trained or resumed under RUNS."""
    shipped = checkpoints / p.name / category / run_name(v, seed)
    if use_shipped and checkpoint_path(shipped).exists():
        return shipped
    if only_shipped:
        raise FileNotFoundError(f"no shipped checkpoint {shipped / 'checkpoint.pt'}; "
                                f"drop --from-checkpoints to train it (igan-lite reproduce --preset {p.name})")
    run = runs / p.name / category / run_name(v, seed)
    preset = get_preset(p, **v.overrides)
    if not run_finished(run, preset.steps):
        train(v.method, category, preset, run, seed, resume=checkpoint_path(run).exists(), progress=progress)
    return run


def schedule(run: Path) -> str:
    """How RUN drew f: "run-ahead" (one batch ahead, in a worker) or "serial" (every run shipped before it existed)."""
    config = read_config(run)
    return "run-ahead" if config["method"] == "iggan" and preset_from_dict(config["preset"], f"{run}/config.json").run_ahead else "serial"


def evaluation(run: Path, n: int) -> dict:
    """RUN's evaluation.json, computed unless one with the same n is there (a damaged one is computed again)."""
    path = RunFolder(run).evaluation_file
    if path.exists():
        try:
            result = json.loads(path.read_text())
            if result["label"]["n"] == n:
                return result
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            print(f"{path} is damaged; evaluating again")
    return evaluate_run(run, n=n)


def eval_size(category: str, p: Preset) -> int:
    """Samples per score: 500, or a third of the held-out shapes when there are fewer (evaluate.py needs 3n)."""
    return min(500, len(load_eval_voxels(build_dataset(category, p, default_dir(category, p), progress=False))) // 3)


def reproduce(preset: str | Preset | None = None, categories=("chair", "table"), seeds=(0,), steps: int | None = None,
              runs: str | Path = "runs/reproduce", checkpoints: str | Path = "checkpoints", use_shipped: bool = True,
              only_shipped: bool = False, export: bool = False, figures: str | Path = "figures",
              progress: bool = True) -> list[dict]:
    """Every variant x category x seed -> one row per (variant, category) with mean and std over seeds, plus
    the reference rows; writes figures/results_<preset>.md, .csv and figures/results_<preset>_<category>.png.
    `use_shipped=False` retrains what CHECKPOINTS holds; `only_shipped` fails instead of training;
    `export` copies each trained run, slim (run_folder.export_run), into CHECKPOINTS/<preset>/<category>/."""
    p = get_preset(preset, **({"steps": steps} if steps else {}))
    runs, checkpoints, figures = Path(runs), Path(checkpoints), Path(figures)
    figures.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, category in enumerate(categories):
        n = eval_size(category, p)
        firsts = {}
        for v in VARIANTS:
            if v.ablation and i > 0:
                continue
            found = [obtain_run(v, category, p, s, runs, checkpoints, use_shipped, only_shipped, progress) for s in seeds]
            results = [evaluation(run, n) for run in found]
            if export:
                for s, run in zip(seeds, found):
                    if not run.is_relative_to(checkpoints):
                        export_run(run, checkpoints / p.name / category / run_name(v, s))
            firsts[v.label] = found[0]
            rows.append(summarise(v.label, category, p, n, [r["generator"] for r in results], len(seeds),
                                  " + ".join(sorted({schedule(run) for run in found}))))
            if v.key == "iggan":
                references = results[0]
        for key, label in REFERENCES.items():
            rows.append(summarise(label, category, p, n, [references[key]], 1))
        sample_figure(firsts, figures / f"results_{p.name}_{category}.png", p)
    write_csv(rows, figures / f"results_{p.name}.csv")
    (figures / f"results_{p.name}.md").write_text(markdown(rows, p, seeds))
    return rows


def sample_figure(runs: dict[str, Path], path: Path, p: Preset) -> None:
    """One row per variant: its last sample grid's real-renderer rows (8 fixed-z samples, 3 views)."""
    from matplotlib.figure import Figure  # no pyplot: the process's backend (a notebook's) stays as it is
    from PIL import Image

    fig = Figure(figsize=(8, 3.2 * len(runs)))
    axes = fig.subplots(len(runs), 1, squeeze=False)
    for ax, (label, run) in zip(axes[:, 0], runs.items()):
        image = np.asarray(Image.open(last_samples(run)))
        ax.imshow(image[:3 * (p.image_size + 1)], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"{label} ({run})", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def summarise(label: str, category: str, p: Preset, n: int, scores: list[dict], seeds: int, f_schedule: str = "") -> dict:
    row = {"row": label, "category": category, "preset": p.name, "steps": p.steps, "n": n, "seeds": seeds,
           "f_schedule": f_schedule}
    for m in METRICS:
        values = np.array([s[m] for s in scores])
        row[m], row[f"{m}_std"] = float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return row


def write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown(rows: list[dict], p: Preset, seeds) -> str:
    """The table, one block per category; mean ± std over seeds where there is more than one."""
    lines = [f"# Results: preset `{p.name}`, {p.steps} steps, seeds {list(seeds)}",
             "",
             f"FD-lite: Fréchet distance of FeatureNet features (a small classifier trained on ShapeNet-lite "
             f"{p.image_size}px renders; not Inception), real-renderer images of n generated shapes vs n real images. "
             "3D: voxel IoU against n held-out ground-truth shapes. \"f run ahead\": IG-GAN drew each batch during "
             "the previous step (docs/method.md §10); other rows drew it when needed. Written by `igan-lite reproduce`.", ""]
    for category in dict.fromkeys(r["category"] for r in rows):
        cat = [r for r in rows if r["category"] == category]
        lines += [f"## {category} (n = {cat[0]['n']})", "", "| | " + " | ".join(METRICS.values()) + " |",
                  "|---|" + "---|" * len(METRICS)]
        for r in cat:
            cells = [f"{r[m]:.3f} ± {r[m + '_std']:.3f}" if r["seeds"] > 1 else f"{r[m]:.3f}" for m in METRICS]
            label = r["row"] + (" (f run ahead)" if "run-ahead" in r["f_schedule"] else "")
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)
