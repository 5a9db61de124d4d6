"""Files written atomically (temp file + rename: a kill never leaves a half-written file), and checkpoints."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch


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


def load(path: str | Path) -> dict:
    """Load a checkpoint dict, or raise a ValueError that names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises several types for truncated or foreign files
        raise ValueError(f"checkpoint {path} is corrupt or not an igan-lite checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or "config" not in state:
        raise ValueError(f"checkpoint {path} is not an igan-lite checkpoint (no config inside)")
    return state
