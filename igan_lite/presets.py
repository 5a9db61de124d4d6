"""Named presets: one dataclass, three sizes (smoke for tests, lite for a laptop, paper for a GPU).

Choose one by name everywhere: CLI `--preset`, notebooks' parameters cell, env `IGAN_PRESET`.
"""
from __future__ import annotations

import os
from dataclasses import MISSING, dataclass, replace

from igan_lite.preset_rules import validated


@dataclass(frozen=True)
class Preset:
    """Everything a run's numbers depend on. Sources for each choice: docs/method.md §10."""

    name: str
    # data (docs/method.md §6-7)
    voxel_res: int  # N: generated and ground-truth grids are N^3
    image_size: int  # rendered images are image_size^2
    n_shapes: int  # dataset size per category (one random view per shape)
    color: bool = False  # RGB images instead of grayscale
    # networks (docs/method.md §4)
    z_dim: int = 64
    g_width: int = 64  # generator channels at 4^3, halved at each doubling
    g_smooth: int = 0  # box filter size on the generator's output logits (0: none)
    g_init_occupancy: float = 0.0  # G's starting occupancy; 0 = the method's default (IG-GAN 0.5, projections ln 2 / N)
    proxy_width: int = 16  # proxy's 3D conv channels (2D layers use 4x)
    d_width: int = 32  # discriminator's first conv channels
    d_minibatch_std: bool = False  # D sees the batch's feature spread (against mode collapse)
    # optimisation (docs/method.md §2, §5)
    batch_size: int = 32
    steps: int = 1000
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_proxy: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    lambda_l2: float = 1.0  # proxy's pixel loss weight
    lambda_dom: float = 0.1  # discriminator output matching weight (0 = off)
    proxy_steps: int = 2  # proxy updates per iteration, so it keeps up with the generator (1: see run K)
    lambda_ms: float = 0.05  # mode-seeking term on the generator (against mode collapse; 0 = off)
    d_acc_max: float = 0.8  # update D only while its accuracy is below this (PlatonicGAN-style balance)
    # ...or while its loss is above this (0 = accuracy alone): a D right on every image but barely above chance
    # (loss near 2 ln 2 = 1.39) is not ahead; held by accuracy alone it can freeze at step 1 (docs/experiments.md, run O)
    d_ahead_loss: float = 0.0
    # hold G (skip its update) while the proxy's L2 error on G's samples is above this, so R catches up before
    # G follows R's gradients (docs/experiments.md, run M); 0 = never hold
    g_hold_proxy_error: float = 0.0
    threshold_range: tuple[float, float] = (0.3, 0.7)  # f's surface level, drawn per generated shape
    # proxy pretraining (docs/method.md §3)
    pretrain: bool = True
    pretrain_shapes: int = 1024
    pretrain_steps: int = 400
    # speed (benchmarks/RESULTS.md); render_workers does not change a run's numbers, run_ahead does
    render_workers: int = 1  # processes drawing f (render/pool.py); 0 = in the training process
    run_ahead: bool = True  # draw batch t+1 while the nets compute step t (D and proxy see G one update late)
    threads: int = 1  # torch threads for the nets (0: torch's default); 1 measured best on a shared CPU
    # bf16 autocast of G and R where the device computes bf16 natively (CUDA; a CPU with AVX512-BF16 or AMX),
    # float32 elsewhere; D and the losses stay float32. Off for lite: 1.65x faster on such a CPU, but nearest IoU
    # fell below the recipe's range on 2 of 3 chair seeds (docs/experiments.md, run L).
    amp: bool = False
    checkpoint_every: int = 50
    sample_every: int = 100


PRESETS = {
    "smoke": Preset(name="smoke", voxel_res=16, image_size=32, n_shapes=150, z_dim=16, g_width=32, proxy_width=4,
                    d_width=16, batch_size=8, steps=6, pretrain_shapes=16, pretrain_steps=4,
                    render_workers=0, run_ahead=False, checkpoint_every=2, sample_every=3),
    # lite holds G while the proxy's error is above 0.04: table seed 1 collapsed without it (docs/experiments.md, run M);
    # D trains on while its loss is above 1.25 (0.9 x chance): airplane seed 0 froze D at step 1 without it (run O)
    "lite": Preset(name="lite", voxel_res=32, image_size=32, n_shapes=2000, steps=500, g_hold_proxy_error=0.04,
                   d_ahead_loss=1.25),
    # paper: render_workers and threads are guesses for a GPU machine with ~16 cores, not measured (no GPU was lent)
    "paper": Preset(name="paper", voxel_res=64, image_size=128, n_shapes=20000, z_dim=200, g_width=256,
                    proxy_width=16, d_width=64, batch_size=64, steps=50000, pretrain_shapes=8192,
                    pretrain_steps=5000, render_workers=6, threads=0, amp=True, checkpoint_every=500, sample_every=1000),
}


def get_preset(name: str | Preset | None = None, **overrides) -> Preset:
    """Return the preset called `name` (default: env `IGAN_PRESET`, else "lite"), with overrides, validated."""
    if isinstance(name, Preset):
        preset = name
    else:
        name = name or os.environ.get("IGAN_PRESET", "lite")
        if not isinstance(name, str) or name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
        preset = PRESETS[name]
    unknown = set(overrides) - set(Preset.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown preset field(s) {sorted(unknown)}; fields are {sorted(Preset.__dataclass_fields__)}")
    return validated(replace(preset, **overrides) if overrides else preset)


# Fields added after runs were shipped, with the value those runs were trained with.
BEFORE_FIELD = {"render_workers": 0, "run_ahead": False}
# Fields that change how fast a run goes but not its numbers (render/pool.py draws the same images).
SPEED_ONLY = ("render_workers",)


def preset_from_dict(d: dict, source: str = "config") -> Preset:
    """Rebuild a Preset from its JSON form (as stored in run configs and checkpoints), validated; `source`
    (e.g. the file it came from) is named in the error when it is not a preset this version can use."""
    if not isinstance(d, dict):
        raise ValueError(f"{source}: expected the preset as a JSON object, got {type(d).__name__}")
    fields = Preset.__dataclass_fields__
    unknown = sorted(set(d) - set(fields))
    missing = sorted(k for k in fields if k not in d and k not in BEFORE_FIELD and fields[k].default is MISSING)
    if unknown or missing:
        raise ValueError(f"{source}: preset with unknown field(s) {unknown} and missing field(s) {missing}; "
                         "was it written by another igan-lite version?")
    try:
        return validated(Preset(**{**BEFORE_FIELD, **d}))
    except ValueError as e:
        raise ValueError(f"{source}: {e}") from None
