"""A lock on a folder that one process writes (a run folder, a dataset folder): FOLDER/.lock, held with
flock, so the kernel releases it when the holder exits, also on SIGKILL, and no stale lock is ever left."""
from __future__ import annotations

import fcntl
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

LOCK = ".lock"


class FolderBusy(OSError):
    """Another process holds the folder's lock; the message names it (pid, host, since when)."""


@contextmanager
def locked(folder: str | Path, wait: bool = False):
    """Hold an exclusive lock on FOLDER/.lock (created with the folder) while writing FOLDER; the kernel
    releases it when the holder exits, also on SIGKILL. Held: wait for it (`wait`) or raise FolderBusy."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise FolderBusy(f"{folder} is being written by {holder}; wait for it to end or choose another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
        yield folder
        os.ftruncate(fd, 0)  # released: name no holder
    finally:
        os.close(fd)  # releases the lock
