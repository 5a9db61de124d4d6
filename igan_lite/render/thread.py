"""The one thread of a process that drives Open3D's renderer (renderer.py).

Filament, Open3D's rendering engine, belongs to the thread that created it: a call from any other thread
aborts the whole process (`utils::PreconditionPanic ... JobSystem::getState(): This thread has not been
adopted`). Notebooks meet this through ipywidgets, whose callbacks JupyterLab 4.6 runs on an ipykernel
subshell thread by default. `on_render_thread` makes a function run on a single daemon thread, started on
first use; the caller waits for its result (or exception). Calls made on that thread run directly, so
decorated functions may call each other. Render worker processes (pool.py) each have their own.
"""
from __future__ import annotations

import atexit
import functools
import os
import queue
import threading
from concurrent.futures import Future

_lock = threading.Lock()
_thread: threading.Thread | None = None
_tasks: queue.SimpleQueue = queue.SimpleQueue()
_at_exit: list = []  # callables run on the render thread when the interpreter exits (renderer.py's cleanup)


def _serve() -> None:
    while True:
        future, fn, args, kwargs = _tasks.get()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as e:  # handed to the caller, which re-raises it
                future.set_exception(e)


def render_thread() -> threading.Thread:
    """The render thread, started if it is not running yet."""
    global _thread
    with _lock:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_serve, name="igan-render", daemon=True)
            _thread.start()
        return _thread


def run_on_render_thread(fn, *args, **kwargs):
    """fn(*args, **kwargs) on the render thread; returns its result or raises its exception."""
    if threading.current_thread() is _thread:
        return fn(*args, **kwargs)
    render_thread()
    future: Future = Future()
    _tasks.put((future, fn, args, kwargs))
    return future.result()


def on_render_thread(fn):
    """Decorator: every call of fn runs on the render thread."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return run_on_render_thread(fn, *args, **kwargs)
    return wrapper


def call_at_exit(fn) -> None:
    """Run fn on the render thread at interpreter exit (daemon threads still run during atexit)."""
    _at_exit.append(fn)


@atexit.register
def _cleanup() -> None:
    if _thread is not None and _thread.is_alive():
        for fn in _at_exit:
            run_on_render_thread(fn)


def _forget_after_fork() -> None:
    """A forked child has no render thread (only the forking thread survives a fork): start afresh."""
    global _thread, _lock, _tasks
    _thread, _lock, _tasks = None, threading.Lock(), queue.SimpleQueue()


os.register_at_fork(after_in_child=_forget_after_fork)
