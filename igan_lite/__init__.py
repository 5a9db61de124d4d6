"""igan-lite: reproduce and understand IG-GAN (Lunz et al. 2020) on a laptop.

Data flows one way: shapes -> render -> data -> nets/losses -> train -> metrics -> viz.
"""
import os

# Open3D 0.19 segfaults in OffscreenRenderer unless EGL is told to run without a display,
# and the variable must be set before the first `import open3d` anywhere (docs/background.md §3).
os.environ.setdefault("EGL_PLATFORM", "surfaceless")

__version__ = "0.1.0"
