"""Import Open3D for headless rendering, failing with an actionable message instead of a segfault."""
from __future__ import annotations

import ctypes.util
import functools
import importlib
import os
import tempfile
from pathlib import Path

APT_PACKAGES = "libegl1 libgl1 libgl1-mesa-dri libegl-mesa0 libusb-1.0-0 libgomp1"
APT_LINE = f"sudo apt-get update && sudo apt-get install -y {APT_PACKAGES}"

# shared library -> what it is for
REQUIRED_LIBRARIES = {
    "EGL": "EGL, for Open3D's headless OffscreenRenderer",
    "GL": "OpenGL (Mesa llvmpipe renders on the CPU)",
    "usb-1.0": "libusb, which `import open3d` links against",
    "gomp": "OpenMP runtime used by Open3D",
}


class RenderBackendError(RuntimeError):
    """Open3D cannot render headless on this machine; the message says what to install."""


def missing_system_libraries() -> list[str]:
    """Names of the shared libraries in REQUIRED_LIBRARIES that the dynamic loader cannot find."""
    return [lib for lib in REQUIRED_LIBRARIES if ctypes.util.find_library(lib) is None]


def ensure_runtime_dir() -> None:
    """Point XDG_RUNTIME_DIR at a private folder when it is unset or gone (servers, CI, containers):
    without one, EGL prints "error: XDG_RUNTIME_DIR is invalid" each time a renderer starts, though
    rendering works. Inherited by the render workers (pool.py)."""
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and os.path.isdir(current):
        return
    folder = Path(tempfile.gettempdir()) / f"igan-lite-runtime-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_uid != os.getuid():  # someone else's folder of that name: take a fresh one
        folder = Path(tempfile.mkdtemp(prefix="igan-lite-runtime-"))
    os.environ["XDG_RUNTIME_DIR"] = str(folder)


@functools.cache
def open3d():
    """Return the `open3d` module, or raise RenderBackendError naming the packages to install.

    Checked once per process (a failure is not cached): the library lookup runs `ldconfig`, which cost
    150 ms per lite iteration when it ran for every mesh (benchmarks/RESULTS.md, profile)."""
    missing = missing_system_libraries()
    if missing:
        what = "; ".join(f"lib{m} ({REQUIRED_LIBRARIES[m]})" for m in missing)
        raise RenderBackendError(
            f"Open3D cannot render headless: missing {what}. On Debian/Ubuntu run:\n  {APT_LINE}"
        )
    ensure_runtime_dir()
    try:
        o3d = importlib.import_module("open3d")
    except (ImportError, OSError) as e:
        raise RenderBackendError(
            f"`import open3d` failed ({e}). Install open3d 0.19.x (`pip install 'open3d>=0.19,<0.20'`) "
            f"and the system libraries:\n  {APT_LINE}"
        ) from e
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d
