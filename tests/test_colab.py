"""Colab and Binder entry points: badges, the first cell of every notebook, the set-up's messages."""
import importlib.util
from pathlib import Path

import pytest

from igan_lite.notebook import colab

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("colab_cells", ROOT / "scripts" / "colab_cells.py")
colab_cells = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colab_cells)


@pytest.mark.parametrize("notebook", sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")))
def test_every_notebook_starts_with_the_badge_and_the_colab_cell_from_repo_url(notebook):
    assert colab_cells.updated(ROOT / "notebooks" / notebook) is None, \
        f"{notebook}: Colab cells missing or stale; run python scripts/colab_cells.py"
    assert colab.REPO_URL in colab_cells.SETUP and "google.colab" in colab_cells.SETUP


def test_readme_has_the_colab_and_binder_badges():
    readme = (ROOT / "README.md").read_text()
    assert colab.badge("01_dataset.ipynb") in readme
    assert "mybinder.org/badge_logo.svg" in readme and colab.REPO_URL.removeprefix("https://github.com/") in readme


def test_without_a_gpu_the_setup_says_cpu_and_how_slowly(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    message = colab.device_message()
    assert "CPU" in message and "15 minutes" in message and "Change runtime type" in message


def test_setup_names_a_folder_that_is_not_a_clone(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        colab.setup(tmp_path, apt=False)
