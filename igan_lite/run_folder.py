"""A run folder, as `train()` writes it and everything else reads it.

RUN/config.json (what the numbers depend on), metrics.jsonl (one line per step), samples/step_*.png (the
sample grid every `sample_every` steps), generators/step_*.pt (the generator at those steps) and checkpoint.pt
(atomic, every `checkpoint_every` steps, with every RNG state, so a resumed run continues bit for bit; under
torchrun the other ranks' RNGs sit beside it in rng-rank<r>.pt). `export_run` keeps the slim part of it.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image

from . import checkpoint
from .nets import Generator, build_nets
from .presets import Preset, preset_from_dict


def checkpoint_path(out: Path) -> Path:
    return out / "checkpoint.pt"


def rank_state_path(out: Path, rank: int) -> Path:
    """Under torchrun, ranks other than 0 keep their RNG state here, saved with every checkpoint."""
    return out / f"rng-rank{rank}.pt"


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


def read_metrics(run: str | Path) -> list[dict]:
    """The rows of a run's metrics.jsonl (one per step)."""
    path = Path(run) / "metrics.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{run} has no metrics.jsonl: is it a run folder written by `igan-lite train`?")
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop log lines of steps after the checkpoint (a killed run may have logged a few more)."""
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln).get("step", 0) <= last_step]
        path.write_text("".join(ln + "\n" for ln in lines))


def save_image_grid(images: torch.Tensor, path: Path, ncols: int) -> None:
    """(B, C, H, W) in [0, 1] -> one PNG, row-major, one pixel of grey between tiles."""
    b, c, h, w = images.shape
    rows = -(-b // ncols)
    canvas = torch.full((c, rows * (h + 1), ncols * (w + 1)), 0.5)
    for i, img in enumerate(images):
        r, k = divmod(i, ncols)
        canvas[:, r * (h + 1):r * (h + 1) + h, k * (w + 1):k * (w + 1) + w] = img
    arr = (canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(arr[..., 0] if c == 1 else arr).save(path)


def load_generator(run: str | Path, snapshot: str | Path | None = None) -> tuple[Generator, Preset]:
    """The trained generator of a run folder (eval mode) and the preset it was trained with; `snapshot`
    picks a file from RUN/generators/ (written every `sample_every` steps) instead of the last checkpoint."""
    state = checkpoint.load(Path(snapshot) if snapshot is not None else checkpoint_path(Path(run)))
    p = preset_from_dict(state["config"]["preset"])
    G = build_nets(p, state["config"]["method"]).G
    G.load_state_dict(state["G"])
    return G.eval(), p


def export_run(run: str | Path, out: str | Path, proxy: bool = True, half: bool = False) -> Path:
    """Copy what is needed to sample and inspect a run (config, generator, proxy, curves, last samples, scores)
    into `out`, without D and the optimiser states: a few MB, small enough to ship. `proxy=False` leaves R out;
    `half` stores the nets in float16 (the lite G: 1.7 MB; load_generator casts back to float32)."""
    run, out = Path(run), Path(out)
    state = checkpoint.load(checkpoint_path(run))
    out.mkdir(parents=True, exist_ok=True)
    kept = {k: state[k] for k in ("config", "step", "G", "R") if k in state and (proxy or k != "R")}
    for net in ("G", "R"):
        if half and net in kept:
            kept[net] = {k: v.half() if v.is_floating_point() else v for k, v in kept[net].items()}
    checkpoint.save_atomic(kept, checkpoint_path(out))
    for name in ("config.json", "metrics.jsonl", "evaluation.json"):
        if name != "evaluation.json" or (run / name).exists():
            (out / name).write_bytes((run / name).read_bytes())
    samples = sorted((run / "samples").glob("step_*.png"))
    if samples:
        (out / "samples.png").write_bytes(samples[-1].read_bytes())
    return out
