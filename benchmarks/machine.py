"""One line describing the machine a benchmark ran on (CPU, cores, memory, torch, Open3D)."""
from __future__ import annotations

import os
import platform

import torch


def describe() -> str:
    cpu = platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        mem = int(next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))) / 2**20
    except (OSError, StopIteration):
        mem = float("nan")
    import open3d

    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ", no GPU"
    return (f"{cpu}, {len(os.sched_getaffinity(0))} cores, {mem:.0f} GiB{gpu}; torch {torch.__version__}, "
            f"Open3D {open3d.__version__} (Filament, headless EGL)")
