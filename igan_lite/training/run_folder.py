"""A run folder, and `RunFolder`, the one place that knows its layout: `train()` writes through it, evaluate,
reproduce, sample and the notebooks read through it.

RUN/config.json (what the numbers depend on), metrics.jsonl (one line per step), pretrain.jsonl (IG-GAN's proxy
pretraining), samples/step_*.png (the sample grid every `sample_every` steps), generators/step_*.pt (the
generator at those steps), checkpoint.pt (atomic, every `checkpoint_every` steps, with every RNG state, so a
resumed run continues bit for bit; under torchrun the other ranks' RNGs sit beside it in rng-rank<r>.pt) and
evaluation.json (evaluate.py). `export_run` keeps the slim part of it, the last sample grid as samples.png.
A writer holds RUN/.lock (folder_lock.py): a second writer of the same folder gets FolderBusy naming the first.
It writes only into a new or empty folder or one holding its own run (`check_writable`), never through a link.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from PIL import Image

from igan_lite.core.methods import METHODS
from igan_lite.core.nets import Generator
from igan_lite.infra import files
from igan_lite.infra.files import check_folder, check_no_links, foreign_files
from igan_lite.infra.folder_lock import locked
from igan_lite.presets import Preset, preset_from_dict
from igan_lite.training import checkpoint

# what a run folder holds, as train, evaluate, sample, export and the training-length study write it
OWN = ("config.json", "metrics.jsonl", "pretrain.jsonl", "checkpoint.pt", "evaluation*.json", "samples", "generators",
       "samples.png", "samples-final", "rng-rank*.pt", "scores", "*.tmp")


class RunFolder:
    """RUN/'s files by name; reading them (with errors that name the file) and writing them (atomically)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_file, self.metrics_file = self.path / "config.json", self.path / "metrics.jsonl"
        self.checkpoint, self.evaluation_file = self.path / "checkpoint.pt", self.path / "evaluation.json"
        self.samples, self.generators = self.path / "samples", self.path / "generators"
        self.exported_samples = self.path / "samples.png"  # export_run's copy of the last sample grid
        self.final_samples = self.path / "samples-final"  # sample.py's meshes and renders, by default

    def rank_state(self, rank: int) -> Path:
        """Under torchrun, ranks other than 0 keep their RNG state here, saved with every checkpoint."""
        return self.path / f"rng-rank{rank}.pt"

    def check_writable(self) -> None:
        """Refuse, naming what was found, a RUN that is a file, holds anything igan-lite does not write there, holds
        such files without a run config.json of its own, or has a symbolic link where igan-lite writes."""
        check_folder(self.path)
        if not self.path.is_dir():
            return
        check_no_links(self.path, [q.name for pattern in OWN for q in self.path.glob(pattern)])
        if foreign := foreign_files(self.path, OWN):
            raise FileExistsError(f"{self.path} holds files igan-lite did not write ({', '.join(foreign[:5])}); "
                                  "train into a new or empty folder, or one holding an igan-lite run")
        if foreign_files(self.path, ()) and not self.config_file.is_file():
            raise FileExistsError(f"{self.path} holds {', '.join(foreign_files(self.path, ())[:5])} but no run config.json: "
                                  "not a run igan-lite wrote; choose a new or empty folder")
        if self.config_file.is_file():
            self.read_config()  # a config.json igan-lite did not write is refused, naming the file

    def read_config(self) -> dict:
        """config.json, or an error naming the file when it is missing, corrupt or not a run config."""
        config = files.read_json(self.config_file, "run config")
        missing = [k for k in ("method", "category", "seed", "preset") if not isinstance(config, dict) or k not in config]
        if missing:
            raise ValueError(f"run config {self.config_file} is not one `igan-lite train` writes (missing {missing})")
        return config

    def read_metrics(self) -> list[dict]:
        """metrics.jsonl's rows. An unterminated last line (a write cut short by a kill) is left out; any other
        line that is not a JSON object is a ValueError naming the file and the line."""
        if not self.metrics_file.exists():
            raise FileNotFoundError(f"{self.path} has no metrics.jsonl: is it a run folder written by `igan-lite train`?")
        lines = self.metrics_file.read_text(errors="replace").split("\n")
        lines.pop()  # "" after the final newline, or a torn line
        rows = []
        for i, line in enumerate(lines, 1):
            try:
                row = json.loads(line) if line else {}
            except json.JSONDecodeError:
                row = None
            if not isinstance(row, dict):
                raise ValueError(f"{self.metrics_file} line {i} is not a JSON object: {line[:80]!r}")
            if row:
                rows.append(row)
        return rows

    def finished(self, steps: int) -> bool:
        """Whether the checkpoint has reached `steps` iterations."""
        return self.checkpoint.exists() and checkpoint.load(self.checkpoint)["step"] >= steps

    def last_samples(self) -> Path:
        """The newest sample grid (or an exported run's samples.png)."""
        grids = sorted(self.samples.glob("step_*.png"))
        if not grids and not self.exported_samples.exists():
            raise FileNotFoundError(f"{self.path} has no samples/step_*.png or samples.png")
        return grids[-1] if grids else self.exported_samples

    def snapshots(self) -> list[Path]:
        """The generators saved every `sample_every` steps, oldest first."""
        return sorted(self.generators.glob("step_*.pt"))

    def generator(self, snapshot: str | Path | None = None) -> tuple[Generator, Preset]:
        """The trained generator (eval mode) and the preset it was trained with; `snapshot`: one of snapshots()
        instead of the checkpoint's."""
        path = Path(snapshot) if snapshot is not None else self.checkpoint
        state = checkpoint.load(path)
        p = preset_from_dict(state["config"].get("preset"), f"checkpoint {path}")
        if self.config_file.is_file():
            checkpoint.check_same_config(state["config"], self.read_config(), path, self.config_file)
        try:
            G = METHODS[state["config"].get("method", "iggan")].build_nets(p).G
            G.load_state_dict(state["G"])
        except (KeyError, RuntimeError) as e:  # no generator, or weights of another shape
            raise ValueError(f"checkpoint {path} has no generator matching its config ({type(e).__name__}: {str(e)[:200]})") from None
        return G.eval(), p

    # --- written by train() ---

    def start(self, config: dict, resumed_at: int | None) -> None:
        """Folders and config.json; metrics.jsonl emptied for a new run, or cut back to the checkpoint's step
        for a resumed one (a killed run may have logged a few more steps, or half a line)."""
        for folder in (self.path, self.samples, self.generators):
            folder.mkdir(parents=True, exist_ok=True)
        files.write_text_atomic(self.config_file, json.dumps(config, indent=2))
        if resumed_at is None:
            self.metrics_file.write_text("")
        elif self.metrics_file.exists():
            rows = [r for r in self.read_metrics() if r.get("step", 0) <= resumed_at]
            files.write_text_atomic(self.metrics_file, "".join(json.dumps(r) + "\n" for r in rows))

    def write_pretrain(self, log: list[dict]) -> None:
        files.write_text_atomic(self.path / "pretrain.jsonl", "".join(json.dumps(r) + "\n" for r in log))

    def append_metrics(self, row: dict) -> None:
        files.append_line(self.metrics_file, json.dumps(row) + "\n")

    def save_snapshot(self, config: dict, step: int, grid: torch.Tensor, G: torch.nn.Module) -> None:
        """The sample grid (8 columns) and the generator at `step`."""
        save_image_grid(grid, self.samples / f"step_{step:06d}.png", ncols=8)
        files.save_atomic({"config": config, "step": step, "G": G.state_dict()}, self.generators / f"step_{step:06d}.pt")


EXPORTED = ("config", "step", "G", "R")  # what export_run keeps of a checkpoint: no D, no optimiser states


def halved(weights: dict) -> dict:
    """A state dict with its floating-point tensors in float16, half the bytes to ship (load_state_dict casts back)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}


def checkpoint_path(run: str | Path) -> Path:
    return RunFolder(run).checkpoint


def _of_path(method):
    """RunFolder(run).method(...) as a function of the run folder's path."""
    def of_path(run: str | Path, *args):
        return method(RunFolder(run), *args)
    of_path.__doc__ = f"RunFolder(run).{method.__name__}(...): {method.__doc__}"
    return of_path


# the names the notebooks, evaluate.py and reproduce.py read run folders by
read_config, read_metrics, run_finished, last_samples, load_generator = map(_of_path, (
    RunFolder.read_config, RunFolder.read_metrics, RunFolder.finished, RunFolder.last_samples, RunFolder.generator))


def save_image_grid(images: torch.Tensor, path: Path, ncols: int) -> None:
    """(B, C, H, W) in [0, 1] -> one PNG, row-major, one pixel of grey between tiles."""
    b, c, h, w = images.shape
    rows = -(-b // ncols)
    canvas = torch.full((c, rows * (h + 1), ncols * (w + 1)), 0.5)
    for i, img in enumerate(images):
        r, k = divmod(i, ncols)
        canvas[:, r * (h + 1):r * (h + 1) + h, k * (w + 1):k * (w + 1) + w] = img
    arr = (canvas.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    files.write_atomic(path, lambda f: Image.fromarray(arr[..., 0] if c == 1 else arr).save(f, format="PNG"))


def export_run(run: str | Path, out: str | Path, proxy: bool = True, half: bool = False) -> Path:
    """Copy what is needed to sample and inspect a run (config, generator, proxy, curves, last samples, scores)
    into `out`, without D and the optimiser states: a few MB, small enough to ship. `proxy=False` leaves R out;
    `half` stores the nets in float16 (the lite G: 1.7 MB; load_generator casts back to float32). Refuses to
    write over the run itself or over any other resumable run (its full checkpoint would be lost)."""
    run, out = RunFolder(run), RunFolder(out)
    state = checkpoint.load(run.checkpoint)
    check_folder(out.path, "export --out")
    if out.path.resolve() == run.path.resolve():
        raise ValueError(f"export --out {out.path} is the run itself: the slim checkpoint would replace the full one "
                         "and the run could not be resumed; choose another --out")
    if out.checkpoint.exists() and "opt_g" in checkpoint.load(out.checkpoint):
        raise FileExistsError(f"export --out {out.path} holds a resumable training run; choose another --out")
    out.check_writable()
    kept = {k: state[k] for k in EXPORTED if k in state and (proxy or k != "R")}
    for net in ("G", "R"):
        if half and net in kept:
            kept[net] = halved(kept[net])
    copies = [(run.config_file, out.config_file), (run.metrics_file, out.metrics_file)]
    copies += [(run.evaluation_file, out.evaluation_file)] if run.evaluation_file.exists() else []
    grids = sorted(run.samples.glob("step_*.png"))
    copies += [(grids[-1], out.exported_samples)] if grids else []
    with locked(out.path):
        files.save_atomic(kept, out.checkpoint)
        for source, target in copies:
            data = source.read_bytes()
            files.write_atomic(target, lambda f: f.write(data))
    return out.path
