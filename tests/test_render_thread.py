"""The renderer is safe from any thread: every Open3D call runs on one owner thread (render_thread.py)."""
import subprocess
import sys
import threading

import pytest

from igan_lite.render.thread import on_render_thread, render_thread


def test_calls_from_many_threads_run_on_the_one_render_thread():
    seen = []

    @on_render_thread
    def where():
        seen.append(threading.current_thread())
        return threading.current_thread().name

    threads = [threading.Thread(target=where) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert where() == "igan-render"
    assert set(seen) == {render_thread()}


def test_an_exception_reaches_the_caller():
    @on_render_thread
    def fail():
        raise ValueError("from the render thread")

    with pytest.raises(ValueError, match="from the render thread"):
        fail()


def test_rendering_from_a_new_thread_each_time_does_not_abort_the_process():
    """Before the owner thread, the second thread to render killed the process (Filament PreconditionPanic),
    as ipywidgets callbacks on JupyterLab's subshell threads did. In a subprocess: an abort would end pytest."""
    code = ("import threading, numpy as np, torch\n"
            "from igan_lite.core.camera import Camera\n"
            "from igan_lite.render.renderer import RenderSettings, render_voxels\n"
            "s, g, out = RenderSettings(image_size=16), np.ones((6, 6, 6), np.float32), []\n"
            "out.append(render_voxels(g, Camera(0, 20), s))\n"
            "for az in (60, 120, 180):\n"
            "    t = threading.Thread(target=lambda: out.append(render_voxels(g, Camera(az, 20), s)))\n"
            "    t.start(); t.join()\n"
            "print(len(out), all(not torch.equal(a, b) for a, b in zip(out, out[1:])))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["4", "True"]
    assert "Panic" not in done.stderr and "terminate called" not in done.stderr
