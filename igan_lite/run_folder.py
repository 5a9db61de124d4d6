"""A run folder, as `train()` writes it and everything else reads it.

RUN/config.json (what the numbers depend on), metrics.jsonl (one line per step), samples/step_*.png (the
sample grid every `sample_every` steps), generators/step_*.pt (the generator at those steps) and checkpoint.pt
(atomic, every `checkpoint_every` steps, with every RNG state, so a resumed run continues bit for bit; under
torchrun the other ranks' RNGs sit beside it in rng-rank<r>.pt). `export_run` keeps the slim part of it.
A writer holds RUN/.lock (folder_lock.py): a second writer of the same folder gets FolderBusy naming the first.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image

from . import checkpoint
from .folder_lock import locked
from .nets import Generator, build_nets
from .presets import Preset, preset_from_dict


def checkpoint_path(out: Path) -> Path:
    return out / "checkpoint.pt"


def rank_state_path(out: Path, rank: int) -> Path:
    """Under torchrun, ranks other than 0 keep their RNG state here, saved with every checkpoint."""
    return out / f"rng-rank{rank}.pt"


def read_config(run: str | Path) -> dict:
    """RUN/config.json, or an error naming the file when it is missing, corrupt or not a run config."""
    path = Path(run) / "config.json"
    config = checkpoint.read_json(path, "run config")
    missing = [k for k in ("method", "category", "seed", "preset") if not isinstance(config, dict) or k not in config]
    if missing:
        raise ValueError(f"run config {path} is not one `igan-lite train` writes (missing {missing})")
    return config


def run_finished(run: Path, steps: int) -> bool:
    """Whether RUN's checkpoint has reached `steps` iterations."""
    ckpt = checkpoint_path(run)
    return ckpt.exists() and checkpoint.load(ckpt)["step"] >= steps


def last_samples(run: str | Path) -> Path:
    """The newest sample grid of a run folder (or an exported run's samples.png)."""
    grids = sorted((Path(run) / "samples").glob("step_*.png"))
    if not grids and not (Path(run) / "samples.png").exists():
        raise FileNotFoundError(f"{run} has no samples/step_*.png or samples.png")
    return grids[-1] if grids else Path(run) / "samples.png"


def metric_rows(path: Path) -> list[dict]:
    """The rows of a metrics.jsonl file. An unterminated last line (a write cut short by a kill) is left
    out; any other line that is not a JSON object is a ValueError naming the file and the line."""
    lines = path.read_text(errors="replace").split("\n")
    lines.pop()  # "" after the final newline, or a torn line
    rows = []
    for i, line in enumerate(lines, 1):
        try:
            row = json.loads(line) if line else {}
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict):
            raise ValueError(f"{path} line {i} is not a JSON object: {line[:80]!r}")
        if row:
            rows.append(row)
    return rows


def read_metrics(run: str | Path) -> list[dict]:
    """The rows of a run's metrics.jsonl (one per step)."""
    path = Path(run) / "metrics.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{run} has no metrics.jsonl: is it a run folder written by `igan-lite train`?")
    return metric_rows(path)


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop log lines of steps after the checkpoint (a killed run may have logged a few more, or half a line)."""
    if path.exists():
        rows = [r for r in metric_rows(path) if r.get("step", 0) <= last_step]
        checkpoint.write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def save_image_grid(images: torch.Tensor, path: Path, ncols: int) -> None:
    """(B, C, H, W) in [0, 1] -> one PNG, row-major, one pixel of grey between tiles."""
    b, c, h, w = images.shape
    rows = -(-b // ncols)
    canvas = torch.full((c, rows * (h + 1), ncols * (w + 1)), 0.5)
    for i, img in enumerate(images):
        r, k = divmod(i, ncols)
        canvas[:, r * (h + 1):r * (h + 1) + h, k * (w + 1):k * (w + 1) + w] = img
    arr = (canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    checkpoint.write_atomic(path, lambda f: Image.fromarray(arr[..., 0] if c == 1 else arr).save(f, format="PNG"))


def load_generator(run: str | Path, snapshot: str | Path | None = None) -> tuple[Generator, Preset]:
    """The trained generator of a run folder (eval mode) and the preset it was trained with; `snapshot`
    picks a file from RUN/generators/ (written every `sample_every` steps) instead of the last checkpoint."""
    path = Path(snapshot) if snapshot is not None else checkpoint_path(Path(run))
    state = checkpoint.load(path)
    p = preset_from_dict(state["config"].get("preset"), f"checkpoint {path}")
    method = state["config"].get("method", "iggan")
    try:
        G = build_nets(p, method).G
        G.load_state_dict(state["G"])
    except (KeyError, RuntimeError) as e:  # no generator, or weights of another shape
        raise ValueError(f"checkpoint {path} has no generator matching its config ({type(e).__name__}: {str(e)[:200]})") from None
    return G.eval(), p


def export_run(run: str | Path, out: str | Path, proxy: bool = True, half: bool = False) -> Path:
    """Copy what is needed to sample and inspect a run (config, generator, proxy, curves, last samples, scores)
    into `out`, without D and the optimiser states: a few MB, small enough to ship. `proxy=False` leaves R out;
    `half` stores the nets in float16 (the lite G: 1.7 MB; load_generator casts back to float32). Refuses to
    write over the run itself or over any other resumable run (its full checkpoint would be lost)."""
    run, out = Path(run), Path(out)
    state = checkpoint.load(checkpoint_path(run))
    if out.resolve() == run.resolve():
        raise ValueError(f"export --out {out} is the run itself: the slim checkpoint would replace the full one "
                         "and the run could not be resumed; choose another --out")
    if checkpoint_path(out).exists() and "opt_g" in checkpoint.load(checkpoint_path(out)):
        raise FileExistsError(f"export --out {out} holds a resumable training run; choose another --out")
    kept = {k: state[k] for k in ("config", "step", "G", "R") if k in state and (proxy or k != "R")}
    for net in ("G", "R"):
        if half and net in kept:
            kept[net] = {k: v.half() if v.is_floating_point() else v for k, v in kept[net].items()}
    with locked(out):
        checkpoint.save_atomic(kept, checkpoint_path(out))
        for name in ("config.json", "metrics.jsonl", "evaluation.json"):
            if name != "evaluation.json" or (run / name).exists():
                data = (run / name).read_bytes()
                checkpoint.write_atomic(out / name, lambda f: f.write(data))
        samples = sorted((run / "samples").glob("step_*.png"))
        if samples:
            data = samples[-1].read_bytes()
            checkpoint.write_atomic(out / "samples.png", lambda f: f.write(data))
    return out
