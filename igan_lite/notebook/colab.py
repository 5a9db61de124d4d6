"""Google Colab set-up, run by the first cell of every notebook (and only on Colab).

REPO_URL is the one place the repository's address is written: the notebooks' Colab badges and first
cells are generated from it (scripts/colab_cells.py; tests/test_colab.py checks they agree).
`setup(root)` installs the system libraries Open3D renders with, installs igan-lite from the clone at
`root`, makes rendering headless and says which device `--device auto` will train on.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_URL = "https://github.com/igan-lite/igan-lite"  # set to the published repository before release
BRANCH = "main"
CLONE = "/content/igan-lite"  # where the first cell clones the repository on Colab


def badge(notebook: str) -> str:
    """Markdown for an "Open in Colab" badge of notebooks/NOTEBOOK."""
    path = REPO_URL.removeprefix("https://github.com/")
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"(https://colab.research.google.com/github/{path}/blob/{BRANCH}/notebooks/{notebook})")


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stderr[-2000:]}")


def device_message() -> str:
    """Which device training will use, and how slow the CPU is if there is no GPU."""
    import torch

    if torch.cuda.is_available():
        return (f"Training will use the GPU ({torch.cuda.get_device_name(0)}): the notebooks train with "
                "device=\"auto\", which picks cuda.")
    return ("No GPU on this runtime: training will run on the CPU, slowly (the lite recipe takes about "
            "15 minutes on 2 CPU cores; Colab's free CPU runtime has 2). For a GPU: Runtime > Change runtime type.")


def enable_widgets() -> None:
    """Colab renders ipywidgets 8 only through its custom widget manager; where even that fails, every widget
    cell also shows a static picture of its first view."""
    try:
        from google.colab import output
    except ImportError:  # not on Colab
        return
    output.enable_custom_widget_manager()


def setup(root: str | Path = CLONE, apt: bool = True) -> None:
    """Install system libraries (apt, needs root as on Colab) and igan-lite from `root`; headless rendering;
    change into root/notebooks so the notebooks' relative paths (../data, ../figures) work."""
    from igan_lite.render.backend import APT_PACKAGES

    root = Path(root)
    if not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(f"{root}: no igan-lite clone here (expected {root / 'pyproject.toml'})")
    if apt:
        _run(["apt-get", "-qq", "update"])
        _run(["apt-get", "-qq", "install", "-y", *APT_PACKAGES.split()])
    _run([sys.executable, "-m", "pip", "install", "-q", "-e", str(root)])
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")  # before Open3D is imported: no display here
    enable_widgets()
    os.chdir(root / "notebooks")
    print(f"igan-lite installed from {root}; working in {root / 'notebooks'}.")
    print(device_message())
