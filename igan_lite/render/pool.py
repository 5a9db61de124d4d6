"""Render worker processes: f(x, c) in parallel, and in the background while the nets compute.

Each worker is a spawned process holding its own Open3D OffscreenRenderer (one per process is all Filament
allows). `RenderPool.submit` splits a batch into one chunk per worker and returns at once; `.result()` on
the returned job waits for the images. A worker that dies is replaced and its chunk drawn again; closing
the pool (or the parent dying) ends every worker. `RenderPool(0, ...)` draws in the calling process.
A worker near its process's mesh budget (renderer.MESHES_PER_PROCESS: Open3D draws blank images past it)
is replaced by a fresh one after its chunk, so a pool draws any number of images.

f is a pure function (renderer.py), so the pool's images equal `render_voxels`' bit for bit.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import traceback
import weakref
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import wait

import numpy as np
import torch

from igan_lite.render.renderer import (RESERVE, RenderSettings, become_worker, meshes_left, render_grids, render_inputs,
                                      to_tensor)

MAX_RETRIES = 2  # a chunk whose worker dies this many times in a row is reported, not retried forever


class RenderWorkerError(RuntimeError):
    """A render worker raised, or kept dying on the same chunk; the message says which and why."""


def _worker_main(conn, env: dict, nice: int) -> None:
    """Worker loop: receive (settings, grids, levels, cams), reply ("ok", uint8 images, meshes left) or
    ("error", traceback, meshes left). Exits when the parent says so (None) or disappears (EOF / broken pipe)."""
    os.environ.update(env)
    become_worker()  # never hands work on to a spare process: its pool replaces it in time
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent cleans up
    os.nice(nice)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            reply = ("ok", render_grids(*task[1:], task[0]), meshes_left())
        except Exception:  # report to the parent, which raises it with the traceback
            reply = ("error", traceback.format_exc(), meshes_left())
        try:
            conn.send(reply)
        except (BrokenPipeError, OSError):
            return


@dataclass
class _Chunk:
    job: int
    index: int
    task: tuple  # (settings, grids, levels, cams)
    deaths: int = 0


@dataclass
class _Worker:
    process: mp.Process
    conn: object
    chunk: _Chunk | None = None  # what it is drawing now (a worker gets one chunk at a time: no pipe deadlock)


@dataclass
class RenderJob:
    """A submitted batch; `result()` waits for its images (B, C, H, W) in [0, 1]."""

    pool: RenderPool
    id: int
    chunks: int
    color: bool
    _images: torch.Tensor | None = field(default=None, repr=False)

    def result(self) -> torch.Tensor:
        if self._images is None:
            self._images = to_tensor(np.concatenate(self.pool._collect(self.id, self.chunks)), self.color)
        return self._images


class RenderPool:
    """`workers` render processes (0: draw in this process). `gl_threads` sets Mesa llvmpipe's threads per
    worker (LP_NUM_THREADS; None: Mesa's default, one per core). `nice` lowers the workers' CPU priority:
    running ahead, f has slack (it needs ~0.4 s of CPU per 1.1 s lite iteration), so when both want a core
    the nets should get it (benchmarks/RESULTS.md)."""

    def __init__(self, workers: int, settings: RenderSettings = RenderSettings(), gl_threads: int | None = 1,
                 nice: int = 10):
        if not isinstance(workers, int) or workers < 0:
            raise ValueError(f"workers: expected an int >= 0 (0 = render in this process), got {workers!r}")
        self.settings = settings
        self._env = {"LP_NUM_THREADS": str(gl_threads)} if gl_threads else {}
        self._nice = nice
        self._ctx = mp.get_context("spawn")  # a fork would copy this process's Filament engine and threads
        self._workers: list[_Worker] = []
        self._queue: deque[_Chunk] = deque()
        self._done: dict[tuple[int, int], np.ndarray] = {}
        self._failed: set[int] = set()
        self._jobs = 0
        self._finalizer = weakref.finalize(self, _stop, self._workers)
        for _ in range(workers):
            self._workers.append(self._start())

    @property
    def workers(self) -> int:
        return len(self._workers)

    def drawing(self) -> int:
        """Chunks the workers are drawing now (submitted work waiting in this process is not counted)."""
        return sum(w.chunk is not None for w in self._workers)

    def queued(self) -> int:
        """Chunks submitted but not yet sent to a worker: they wait in this process for a free one."""
        return len(self._queue)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]

    def _start(self) -> _Worker:
        parent, child = self._ctx.Pipe()
        process = self._ctx.Process(target=_worker_main, args=(child, self._env, self._nice), daemon=True, name="igan-render")
        process.start()
        child.close()
        return _Worker(process, parent)

    def submit(self, voxels, cameras, thresholds=None, settings: RenderSettings | None = None) -> RenderJob:
        """Start drawing f(voxels, cameras) (arguments as render.render_voxels) and return at once."""
        if not self._finalizer.alive:
            raise RuntimeError("this RenderPool is closed")
        settings = settings or self.settings
        grids, levels, cams = render_inputs(voxels, cameras, settings, thresholds)
        job, self._jobs = self._jobs, self._jobs + 1
        if not self._workers:
            self._done[(job, 0)] = render_grids(grids, levels, cams, settings)
            return RenderJob(self, job, 1, settings.color)
        parts = np.array_split(np.arange(len(grids)), min(len(self._workers), len(grids)))
        for i, idx in enumerate(parts):
            self._queue.append(_Chunk(job, i, (settings, grids[idx], [levels[k] for k in idx], [cams[k] for k in idx])))
        self._dispatch()
        return RenderJob(self, job, len(parts), settings.color)

    def render(self, voxels, cameras, thresholds=None, settings: RenderSettings | None = None) -> torch.Tensor:
        """f(voxels, cameras), waiting for the images (same as render.render_voxels, in parallel)."""
        return self.submit(voxels, cameras, thresholds, settings).result()

    def _dispatch(self) -> None:
        for w in self._workers:
            while w.chunk is None and self._queue:
                w.chunk = self._queue.popleft()
                try:
                    w.conn.send(w.chunk.task)
                except (BrokenPipeError, OSError):  # it died while idle
                    self._replace(w)

    def _collect(self, job: int, chunks: int) -> list[np.ndarray]:
        """Wait until every chunk of `job` is drawn (drawing other jobs' chunks queued before it too)."""
        keys = [(job, i) for i in range(chunks)]
        while not all(k in self._done for k in keys):
            self._dispatch()
            busy = [w for w in self._workers if w.chunk is not None]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for w in busy:
                if w.conn in ready and w.conn.poll():
                    self._receive(w)
                elif w.process.sentinel in ready:
                    self._replace(w)
        self._dispatch()  # chunks queued behind this job start now, not at the next wait
        return [self._done.pop(k) for k in keys]

    def _receive(self, w: _Worker) -> None:
        try:
            status, payload, left = w.conn.recv()
        except (EOFError, OSError):
            return self._replace(w)
        chunk, w.chunk = w.chunk, None
        if left < RESERVE:
            self._retire(w)
        if status == "error":
            self._failed.add(chunk.job)  # its other chunks are dropped when they arrive
            self._done = {k: v for k, v in self._done.items() if k[0] != chunk.job}
            raise RenderWorkerError(f"render worker {w.process.pid} failed on chunk {chunk.index} of job {chunk.job}:\n{payload}")
        if chunk.job not in self._failed:
            self._done[(chunk.job, chunk.index)] = payload

    def _replace(self, w: _Worker) -> None:
        """A worker died: start another in its place and put its chunk back at the front of the queue."""
        chunk, code = w.chunk, w.process.exitcode
        w.process.join(timeout=1)
        w.conn.close()
        chunk.deaths += 1
        if chunk.deaths > MAX_RETRIES:
            raise RenderWorkerError(f"render workers died {chunk.deaths} times drawing chunk {chunk.index} of job "
                                    f"{chunk.job} (last exit code {code}); giving up on it")
        fresh = self._start()
        w.process, w.conn, w.chunk = fresh.process, fresh.conn, None
        self._queue.appendleft(chunk)

    def _retire(self, w: _Worker) -> None:
        """An idle worker near its mesh budget: end it and start a fresh one in its place."""
        old = _Worker(w.process, w.conn)
        fresh = self._start()
        w.process, w.conn = fresh.process, fresh.conn
        _stop([old])

    def close(self) -> None:
        """End every worker (asked first, then terminated, then killed). Safe to call twice."""
        self._finalizer()

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _stop(workers: list[_Worker], timeout: float = 5.0) -> None:
    for w in workers:
        if w.chunk is not None:  # mid-chunk: its result would never be read
            w.process.terminate()
            continue
        try:
            w.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
    for w in workers:
        w.process.join(timeout)
        if w.process.is_alive():
            w.process.terminate()
            w.process.join(1)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        w.conn.close()
    workers.clear()
