"""The library leaves the process as it found it: importing it, training, drawing the results figure and the
notebooks' ProxyLab change no thread count, no matplotlib backend, and leave no folder or process behind."""
import json
import multiprocessing
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib
import pytest
import torch
from fixture_machine import matches

from igan_lite.experiments.reproduce import sample_figure
from igan_lite.notebook.lab import ProxyLab
from igan_lite.presets import get_preset
from igan_lite.training.run_folder import save_image_grid
from igan_lite.training.train import train

IMPORT_EVERYTHING = """
import pkgutil, importlib, torch, matplotlib
import igan_lite
torch.set_num_threads(3)
backend = matplotlib.get_backend()
for m in pkgutil.iter_modules(igan_lite.__path__):
    importlib.import_module(f"igan_lite.{m.name}")
assert torch.get_num_threads() == 3, torch.get_num_threads()
assert matplotlib.get_backend() == backend, matplotlib.get_backend()
print("unchanged")
"""


def test_importing_every_module_changes_no_global_state():
    done = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "unchanged" in done.stdout, done.stderr[-2000:]


@pytest.fixture(autouse=True)
def keep_threads():
    """The tests below set torch's thread count; the test process gets its own back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_training_restores_the_thread_count(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(3)
    train("iggan", "chair", get_preset("smoke", steps=1, pretrain=False, threads=1), tmp_path / "run", progress=False)
    assert torch.get_num_threads() == 3  # the preset's one thread only while it trained


def test_the_results_figure_keeps_the_matplotlib_backend(tmp_path):
    p = get_preset("smoke")
    (tmp_path / "run" / "samples").mkdir(parents=True)
    save_image_grid(torch.rand(48, 1, p.image_size, p.image_size), tmp_path / "run" / "samples" / "step_000001.png", ncols=8)
    before = matplotlib.get_backend()
    matplotlib.use("pdf")  # as a notebook's inline backend would be: anything but Agg
    try:
        sample_figure({"IG-GAN": tmp_path / "run"}, tmp_path / "figure.png", p)
        assert matplotlib.get_backend() == "pdf"
    finally:
        matplotlib.use(before)
    assert (tmp_path / "figure.png").stat().st_size > 0


def test_proxy_lab_pretrains_as_a_training_run_and_leaves_nothing_behind(tmp_path, monkeypatch):
    """Built from the nets, f and the pretraining a run uses, ProxyLab's pretraining is the smoke iggan run's
    (tests/fixtures/bit_for_bit/iggan.json); it ends its render worker and writes no temporary folder."""
    monkeypatch.chdir(tmp_path)  # the dataset cache
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    children = set(multiprocessing.active_children())
    torch.set_num_threads(1)  # as the run was trained
    lab = ProxyLab(get_preset("smoke", render_workers=1), n_grids=8, d_steps=2)
    recorded = json.loads((Path(__file__).parent / "fixtures" / "bit_for_bit" / "iggan.json").read_text())
    matches(lab.pretrain_log, recorded["pretrain"], "pretrain")  # another CPU rounds a few ulps apart
    assert set(multiprocessing.active_children()) <= children
    # torch makes its own torchinductor_<user> cache on first use in a process (whichever test comes first)
    left = [p.name for p in (tmp_path / "tmp").iterdir() if not p.name.startswith(("igan-lite-runtime", "torchinductor_"))]
    assert left == []
    assert lab.fit(steps=2)["proxy"].shape == (4, 1, 32, 32)
