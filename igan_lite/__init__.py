"""igan-lite: reproduce and understand IG-GAN (Lunz et al. 2020) on a laptop.

Floors, each importing only the floors below it (tests/test_layers.py checks):

    presets.py, preset_rules.py, infra/   settings and files; import nothing above
    core/          the paper's method: nets, losses, the step, the method table (read it first)
    render/        the real renderer f (Open3D)
    data/          shapes, datasets, splits, the proxy's pretraining grids
    training/      the loop, checkpoints, run folders
    evaluation/    FID, KID, FD-lite, 3D metrics
    experiments/   the comparison grid, the results table, the claims, Figure 1
    notebook/      what the notebooks call
    cli.py         the `igan-lite` command
"""
import os

# Open3D 0.19 segfaults in OffscreenRenderer unless EGL is told to run without a display,
# and the variable must be set before the first `import open3d` anywhere (docs/background.md §3).
os.environ.setdefault("EGL_PLATFORM", "surfaceless")

__version__ = "0.1.0"
