"""Files written atomically (temp file + rename: a kill never leaves a half-written file), checkpoints, and a
training run's state in them (`run_state`, `restore`, `check_resumable`).

Checkpoints are loaded tensors-only (`torch.load(weights_only=True)`): a crafted file cannot run code, it
gets a ValueError naming it. Only the legacy run-ahead state (cameras and numpy arrays, before tensors-only
loading) needs the small allow-list LEGACY_GLOBALS.
"""
from __future__ import annotations

import json
import os
import pickle
import tempfile
from dataclasses import asdict, astuple
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .camera import Camera
from .methods import METHODS
from .presets import SPEED_ONLY, preset_from_dict
from .steps import Batch, grids

if TYPE_CHECKING:
    from .train import Parts

# what checkpoints written before tensors-only loading hold besides tensors: Camera and float64 numpy arrays
_NP_CORE = getattr(np, "_core", None) or np.core  # numpy 2 renamed it
LEGACY_GLOBALS = [Camera, np.ndarray, np.dtype, type(np.dtype(np.float64)), _NP_CORE.multiarray._reconstruct]


def write_atomic(path: str | Path, write) -> None:
    """Call write(binary_file) on a temp file beside `path`, then rename it over `path`."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_atomic(obj, path: str | Path) -> None:
    write_atomic(path, lambda f: torch.save(obj, f))


def write_text_atomic(path: str | Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text.encode()))


def read_json(path: str | Path, what: str = "JSON file"):
    """The parsed content of `path`, or a FileNotFoundError / ValueError naming the file and what it should be."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{what} {path} is corrupt (not valid JSON: {e})") from None


def _torch_load(path: Path):
    safe = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5; older: tensors and containers only
    if safe is None:
        return torch.load(path, map_location="cpu", weights_only=True)
    with safe(LEGACY_GLOBALS):
        return torch.load(path, map_location="cpu", weights_only=True)


def load(path: str | Path) -> dict:
    """Load a checkpoint dict, or raise a ValueError that names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = _torch_load(path)
    except pickle.UnpicklingError as e:
        # weights_only refused a function or class (code, or a foreign object): torch's message names its GLOBAL
        reason = next((ln for ln in str(e).splitlines() if "GLOBAL" in ln), None)
        if reason is None:  # a damaged file
            detail = str(e).split("WeightsUnpickler error:")[-1].strip().split("\n")[0]
            raise ValueError(f"checkpoint {path} is corrupt or not an igan-lite checkpoint ({detail[:200]})") from None
        raise ValueError(f"checkpoint {path} holds more than tensors and was not loaded "
                         f"({reason.split('error: ')[-1].strip()[:160]}); "
                         "igan-lite loads tensors only, so a file from elsewhere cannot run code") from None
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise ValueError(f"checkpoint {path} is corrupt or not an igan-lite checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or not isinstance(state.get("config"), dict):
        raise ValueError(f"checkpoint {path} is not an igan-lite checkpoint (no config inside)")
    return state


# --- a training run's state (train.py's Parts) --------------------------------------------------------

def _stateful(t: Parts) -> dict:
    parts = {"G": t.nets.G, "R": t.nets.R, "D": t.nets.D, "opt_g": t.opt_g, "opt_r": t.opt_r, "opt_d": t.opt_d}
    return {name: part for name, part in parts.items() if part is not None}


def rank_state(t: Parts) -> dict:
    """What differs between torchrun ranks: the RNGs, and the batch the render workers are drawing (run-ahead)."""
    state = {"step": t.step_count, "torch_rng": torch.get_rng_state(), "numpy_rng": t.rng.bit_generator.state}
    if t.pending is not None:
        b = t.pending[0]  # tensors only
        state["pending"] = {"z": b.z, "x": b.x.detach().cpu(), "thresholds": torch.from_numpy(np.asarray(b.thresholds)),
                            "cams": torch.tensor([astuple(c) for c in b.cams], dtype=torch.float64)}
    return state


def run_state(t: Parts) -> dict:
    """Everything a resumed run needs: config, nets, optimisers and rank_state."""
    return {"config": t.config, **{name: part.state_dict() for name, part in _stateful(t).items()}, **rank_state(t)}


def restore(t: Parts, state: dict, rank: dict | None = None, source: Path | str = "") -> Batch | None:
    """Nets and optimisers from `state` (of run_state), the step and RNGs from `rank` (default: `state`), into t;
    returns the batch that was being drawn (run-ahead), if any."""
    rank = rank or state
    try:
        for name, part in _stateful(t).items():
            part.load_state_dict(state[name])
        torch.set_rng_state(rank["torch_rng"])
        t.rng.bit_generator.state = rank["numpy_rng"]
    except (KeyError, RuntimeError, TypeError, ValueError) as e:  # a damaged or hand-made checkpoint
        raise ValueError(f"checkpoint in {source} does not fit this run ({type(e).__name__}: {str(e)[:200]})") from None
    t.step_count = state["step"]
    pending = rank.get("pending")
    if pending is None:
        return None
    cams = [c if isinstance(c, Camera) else Camera(*map(float, c)) for c in pending["cams"]]  # older: Camera objects
    return Batch(pending["z"], pending["x"].to(t.device), cams, np.asarray(pending["thresholds"]), grids(cams, t.p, t.device))


def check_resumable(state: dict, wanted: dict, path: Path) -> None:
    """Resuming must not silently change what is being trained (only `steps` may grow), and needs the full
    state `train` saves (an exported run has no D or optimisers). Checked before anything is written."""
    saved = state["config"]
    parts = ["G", "D", "opt_g", "opt_d", "step", "torch_rng", "numpy_rng"] + (["R", "opt_r"] if METHODS[wanted["method"]].proxy else [])
    missing = [k for k in parts if k not in state]
    if missing:
        raise ValueError(f"checkpoint {path} cannot be resumed: it lacks {missing} (an exported run keeps only "
                         "the generator and proxy); start a new run with another --out")
    s, w = asdict(preset_from_dict(saved.get("preset"), f"checkpoint {path}")), asdict(preset_from_dict(wanted["preset"]))
    for field in ("steps", *SPEED_ONLY):
        s.pop(field), w.pop(field)
    diff = {k: (s.get(k), w.get(k)) for k in set(s) | set(w) if s.get(k) != w.get(k)}
    defaults = {"world_size": 1, "amp": False}  # absent from older configs ("data" from ShapeNet-lite runs)
    diff.update({k: (saved.get(k, defaults.get(k)), wanted.get(k, defaults.get(k)))
                 for k in ("method", "category", "seed", "world_size", "amp", "data")
                 if saved.get(k, defaults.get(k)) != wanted.get(k, defaults.get(k))})
    if diff:
        shown = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ValueError(f"checkpoint {path} does not match the requested run ({shown})")
