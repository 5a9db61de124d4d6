"""Named presets: one dataclass, three sizes (smoke for tests, lite for a laptop, paper for a GPU).

Choose one by name everywhere: CLI `--preset`, notebooks' parameters cell, env `IGAN_PRESET`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Preset:
    name: str
    voxel_res: int  # N: generated and ground-truth grids are N^3
    image_size: int  # rendered images are image_size^2
    n_shapes: int  # dataset size per category (one random view per shape)
    color: bool = False  # RGB images instead of grayscale


PRESETS = {
    "smoke": Preset(name="smoke", voxel_res=16, image_size=32, n_shapes=48),
    "lite": Preset(name="lite", voxel_res=32, image_size=32, n_shapes=2000),
    "paper": Preset(name="paper", voxel_res=64, image_size=128, n_shapes=20000),
}


def get_preset(name: str | Preset | None = None, **overrides) -> Preset:
    """Return the preset called `name` (default: env `IGAN_PRESET`, else "lite"), with overrides."""
    if isinstance(name, Preset):
        preset = name
    else:
        name = name or os.environ.get("IGAN_PRESET", "lite")
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
        preset = PRESETS[name]
    return replace(preset, **overrides) if overrides else preset
