"""Files written atomically (temp file + rename: a kill never leaves a half-written file), and checkpoints.

Checkpoints are loaded tensors-only (`torch.load(weights_only=True)`): a crafted file cannot run code, it
gets a ValueError naming it. Only the legacy run-ahead state (cameras and numpy arrays, before tensors-only
loading) needs the small allow-list LEGACY_GLOBALS.
"""
from __future__ import annotations

import json
import os
import pickle
import tempfile
from pathlib import Path

import numpy as np
import torch

from .camera import Camera

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
