"""Files written atomically (a temp file beside the target, then a rename: a kill never leaves a half-written
file, a full disk leaves the old one), never through a symbolic link; JSON read with errors that name the file;
tensors-only torch loading with the zip CRCs checked. The bottom floor: it imports nothing of igan_lite.
"""
from __future__ import annotations

import errno
import fnmatch
import json
import os
import pickle
import shutil
import tempfile
import zipfile
from pathlib import Path

import torch

DISK_FULL = 1 << 20  # bytes free below which a failed write is reported as a full disk


def write_atomic(path: str | Path, write) -> None:
    """Call write(binary_file) on a temp file beside `path`, then rename it over `path` (a link at `path` is
    replaced, never followed). A write that fails on a full disk raises an OSError saying so."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except (OSError, RuntimeError) as e:  # torch.save reports a full disk as RuntimeError("... unexpected pos ...")
        if getattr(e, "errno", None) == errno.ENOSPC or shutil.disk_usage(path.parent).free < DISK_FULL:
            raise OSError(errno.ENOSPC, f"disk full: {path} could not be written ({shutil.disk_usage(path.parent).free:,} "
                                        "bytes free); its previous version, if any, is untouched") from None
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def append_line(path: str | Path, line: str) -> None:
    """Append `line` to `path`, refusing to follow a symbolic link there."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise linked(Path(path)) from None
        raise
    with os.fdopen(fd, "a") as f:
        f.write(line)


def linked(path: Path) -> PermissionError:
    return PermissionError(f"{path} is a symbolic link (to {os.readlink(path)}); igan-lite never writes through "
                           "links: remove it, or choose another folder")


def check_folder(path: str | Path, what: str = "--out") -> Path:
    """`path` if it is a folder or does not exist yet; a NotADirectoryError naming it if it is anything else."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{what} {path} is a file; expected a folder (new, or one igan-lite wrote)")
    return path


def check_no_links(folder: Path, names) -> None:
    """Refuse (PermissionError naming it) any of `names` inside `folder` that is a symbolic link."""
    for name in names:
        if (folder / name).is_symlink():
            raise linked(folder / name)


def foreign_files(folder: Path, own) -> list[str]:
    """The entries of `folder` that are not among `own` (names, or glob patterns) and not its lock file."""
    if not folder.is_dir():
        return []
    patterns = (*own, ".lock")  # one listing, matched by name: a file another writer adds meanwhile is judged too
    return sorted(p.name for p in folder.iterdir() if not any(fnmatch.fnmatchcase(p.name, q) for q in patterns))


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


def load_tensors(path: str | Path, allowed=()):
    """torch.load(path) tensors-only (a crafted file cannot run code), with the classes in `allowed` (objects, or
    (object, "old.module.Name") pairs for classes that have moved) admitted; errors are ValueErrors naming the file."""
    path = Path(path)
    safe = getattr(torch.serialization, "safe_globals", None)  # torch >= 2.5; older: tensors and containers only
    check_zip(path)
    try:
        if safe is None:
            return torch.load(path, map_location="cpu", weights_only=True)
        with safe(list(allowed)):
            return torch.load(path, map_location="cpu", weights_only=True)
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


def check_zip(path: Path) -> None:
    """torch.save's zip archive with every record's CRC verified (torch.load checks none): damaged bytes are a
    ValueError naming the file and the record, not silently changed weights."""
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise ValueError(f"checkpoint {path} is corrupt or not an igan-lite checkpoint ({e})") from None
    if bad is not None:
        raise ValueError(f"checkpoint {path} is damaged: its record {bad} fails its CRC check (bytes changed on disk)")
