import os

# Before anything imports open3d: 0.19's OffscreenRenderer segfaults without it (docs/background.md §3).
os.environ.setdefault("EGL_PLATFORM", "surfaceless")
os.environ.setdefault("IGAN_PRESET", "smoke")
