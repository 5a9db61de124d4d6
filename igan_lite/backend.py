"""Import Open3D for headless rendering, failing with an actionable message instead of a segfault."""
from __future__ import annotations

import ctypes.util
import functools
import importlib

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
    try:
        o3d = importlib.import_module("open3d")
    except (ImportError, OSError) as e:
        raise RenderBackendError(
            f"`import open3d` failed ({e}). Install open3d 0.19.x (`pip install 'open3d>=0.19,<0.20'`) "
            f"and the system libraries:\n  {APT_LINE}"
        ) from e
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    return o3d
