import os

# Before anything imports open3d: 0.19's OffscreenRenderer segfaults without it (docs/background.md §3).
os.environ.setdefault("EGL_PLATFORM", "surfaceless")
os.environ.setdefault("IGAN_PRESET", "smoke")

import shutil  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One 2-step smoke run (and its dataset under ./data), trained once per test module that asks for it."""
    from igan_lite.presets import get_preset
    from igan_lite.training.train import train

    root = tmp_path_factory.mktemp("runs")
    cwd = os.getcwd()
    os.chdir(root)
    try:
        train("iggan", "chair", get_preset("smoke", steps=2, pretrain=False), root / "run", progress=False)
    finally:
        os.chdir(cwd)
    return root / "run"


@pytest.fixture
def run(trained, tmp_path, monkeypatch):
    """A private copy of the trained run, with the dataset where the run looks for it."""
    monkeypatch.chdir(tmp_path)
    os.symlink(trained.parent / "data", tmp_path / "data")
    return shutil.copytree(trained, tmp_path / "run")
