import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pytest

from igan_lite.core.camera import Camera, CameraPrior
from igan_lite.render import pool as render_pool
from igan_lite.render.pool import RenderPool, RenderWorkerError
from igan_lite.render.renderer import RenderSettings, render_voxels

S = RenderSettings(image_size=32)


def batch(n=6, res=12, seed=0):
    rng = np.random.default_rng(seed)
    grids = np.zeros((n, res, res, res), np.float32)
    for i, g in enumerate(grids):  # a box of random size per grid, plus a little speckle
        a, b = rng.integers(1, res // 2, 2)
        g[a:res - b, a:res - a, b:res - b] = rng.uniform(0.55, 1.0)
        g[rng.random(g.shape) > 0.995] = 1.0
    return grids, CameraPrior().sample(n, rng), rng.uniform(0.3, 0.7, n)


def alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def pool():
    with RenderPool(2, S) as p:
        yield p


def test_pool_draws_what_the_in_process_renderer_draws(pool):
    grids, cams, levels = batch()
    expected = render_voxels(grids, cams, S, levels)
    assert (pool.render(grids, cams, levels) == expected).all()
    # several jobs in flight at once come back whole and in their own order
    jobs = [pool.submit(*batch(n, seed=n)[:2]) for n in (1, 5, 3)]
    for job, n in reversed(list(zip(jobs, (1, 5, 3)))):
        g, c, _ = batch(n, seed=n)
        assert (job.result() == render_voxels(g, c, S)).all()
    color = RenderSettings(image_size=32, color=True)
    assert (pool.render(grids, cams, levels, settings=color) == render_voxels(grids, cams, color, levels)).all()


def test_the_next_job_starts_as_soon_as_the_workers_are_free(pool):
    """Run-ahead depends on it: a job submitted while another is being drawn must not wait for its own
    result() call to start."""
    grids, cams, levels = batch(4)
    first, second = pool.submit(grids, cams, levels), pool.submit(grids[::-1], cams[::-1], levels[::-1])
    assert pool.drawing() == 2 and pool.queued() == 2  # first's two chunks are drawn; second's wait here
    first.result()
    assert pool.queued() == 0  # second's chunks went to the workers as they came free (some may be drawn already)
    assert (second.result() == render_voxels(grids[::-1], cams[::-1], S, levels[::-1])).all()
    assert pool.drawing() == 0


def test_in_process_pool_is_the_plain_renderer():
    grids, cams, levels = batch(3)
    with RenderPool(0, S) as p:
        assert p.pids() == []
        assert (p.render(grids, cams, levels) == render_voxels(grids, cams, S, levels)).all()


def test_a_killed_worker_is_replaced_and_its_chunk_drawn_again(pool):
    grids, cams, levels = batch(8)
    expected = render_voxels(grids, cams, S, levels)
    job = pool.submit(grids, cams, levels)
    victim = pool.pids()[0]
    os.kill(victim, signal.SIGKILL)
    assert (job.result() == expected).all()
    assert victim not in pool.pids() and len(pool.pids()) == 2
    assert (pool.render(grids, cams, levels) == expected).all()  # the replacement works too
    idle = pool.pids()[1]
    os.kill(idle, signal.SIGKILL)  # a worker that dies between jobs
    time.sleep(0.2)
    assert (pool.render(grids, cams, levels) == expected).all()
    assert idle not in pool.pids()


def test_a_lone_worker_that_died_between_jobs_is_replaced():
    grids, cams, levels = batch(3)
    with RenderPool(1, S) as p:
        first = p.pids()[0]
        p.render(grids, cams, levels)
        os.kill(first, signal.SIGKILL)
        time.sleep(0.2)
        assert (p.render(grids, cams, levels) == render_voxels(grids, cams, S, levels)).all()
        assert p.pids() != [first]


def test_a_chunk_whose_workers_keep_dying_is_reported(monkeypatch):
    monkeypatch.setattr(render_pool, "MAX_RETRIES", 0)
    grids, cams, _ = batch(2)
    with RenderPool(1, S) as p:
        job = p.submit(grids, cams)
        os.kill(p.pids()[0], signal.SIGKILL)
        with pytest.raises(RenderWorkerError, match="died 1 times drawing chunk 0"):
            job.result()


@dataclass(frozen=True)
class CameraThatFailsInWorkers(Camera):
    parent_pid: int = 0

    def eye(self):
        if os.getpid() != self.parent_pid:
            raise ValueError("this camera was drawn outside the test process")
        return super().eye()


def test_an_error_in_a_worker_is_raised_with_its_traceback(pool):
    grids, cams, levels = batch(2)
    bad = [cams[0], CameraThatFailsInWorkers(30.0, 20.0, parent_pid=os.getpid())]
    with pytest.raises(RenderWorkerError, match="(?s)failed on chunk 1 of job.*drawn outside the test process"):
        pool.render(grids, bad, levels)
    assert (pool.render(grids, cams, levels) == render_voxels(grids, cams, S, levels)).all()  # still usable
    assert pool._done == {}  # the failed job's other chunk was not kept


def test_a_worker_near_its_mesh_budget_is_replaced_and_draws_the_same(monkeypatch):
    """Open3D draws blank images once a process has added ~65,520 meshes; the pool replaces a worker before."""
    grids, cams, levels = batch(5)
    expected = render_voxels(grids, cams, S, levels)
    monkeypatch.setattr(render_pool, "RESERVE", 10**9)  # every worker is "near its budget" after each chunk
    with RenderPool(1, S) as p:
        first = p.pids()
        assert (p.render(grids, cams, levels) == expected).all()
        second = p.pids()
        assert second != first and not alive(first[0])
        assert (p.render(grids, cams, levels) == expected).all() and p.pids() != second


def test_close_ends_every_worker():
    p = RenderPool(2, S)
    pids = p.pids()
    p.render(*batch(2)[:2])
    p.submit(*batch(4)[:2])  # still drawing when closed
    p.close()
    p.close()  # twice is fine
    assert not any(alive(pid) for pid in pids)
    with pytest.raises(RuntimeError, match="closed"):
        p.submit(*batch(2)[:2])


def test_workers_end_when_their_parent_is_killed(tmp_path):
    script = ("import time\nfrom igan_lite.render.pool import RenderPool\n"
              "if __name__ == '__main__':\n"
              "    p = RenderPool(2)\n    print(*p.pids(), flush=True)\n    time.sleep(600)\n")
    (tmp_path / "parent.py").write_text(script)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "parent.py")], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    pids = [int(w) for w in proc.stdout.readline().split()]
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    proc.kill()
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(alive(pid) for pid in pids):
        time.sleep(0.1)
    assert not any(alive(pid) for pid in pids), "orphaned render workers"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="workers: expected an int >= 0"):
        RenderPool(-1, S)
    with RenderPool(0, S) as p, pytest.raises(ValueError, match="thresholds: expected 2 values"):
        p.submit(*batch(2)[:2], thresholds=[0.5])
