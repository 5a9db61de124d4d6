"""The comparison grid (docs/method.md §8-9): the table's rows (VARIANTS: IG-GAN, the three projection
baselines, the two ablations), the scores it reports, the reference rows, and the run names, shared by
reproduce.py (which trains and scores the grid), results_table.py and claims.py (which read it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from igan_lite.data import CATEGORY_NAMES

METRICS = {"fid": "FID ↓", "kid": "KID ↓", "fd_lite": "FD-lite ↓", "nearest_iou": "nearest IoU ↑",
           "cov": "COV ↑", "mmd": "MMD ↓", "1nna": "1-NNA (→0.5)"}
REFERENCES = {"untrained_generator": "untrained generator", "random_boxes": "random boxes", "real_vs_real": "real shapes (floor)"}
ABLATION_CATEGORIES = ("chair", "table")


@dataclass(frozen=True)
class Variant:
    """One row of the table: a method and the preset fields it changes."""
    key: str
    label: str
    method: str
    overrides: dict = field(default_factory=dict)
    ablation: bool = False  # ablations run on ABLATION_CATEGORIES only


VARIANTS = (
    Variant("iggan", "IG-GAN (proxy + DOM)", "iggan"),
    Variant("vh", "visual hull (PrGAN)", "vh"),
    Variant("ao", "absorption only (PlatonicGAN)", "ao"),
    # EA starts at twice the default occupancy: its tuning budget's choice on the validation split (docs/experiments.md, run N)
    Variant("ea", "emission-absorption (PlatonicGAN)", "ea", {"g_init_occupancy": 0.044}),
    Variant("iggan-nodom", "IG-GAN, no DOM (L2-only proxy)", "iggan", {"lambda_dom": 0.0}, ablation=True),
    Variant("iggan-nopretrain", "IG-GAN, no proxy pretraining", "iggan", {"pretrain": False}, ablation=True),
)


def grid(categories, seeds) -> list[tuple[Variant, str, int]]:
    """Every (variant, category, seed) of the table, in its order."""
    return [(v, c, s) for c in categories for v in VARIANTS if not v.ablation or c in ABLATION_CATEGORIES for s in seeds]


def run_name(v: Variant, seed: int) -> str:
    return f"{v.key}-seed{seed}"


FULL_GRID = grid(CATEGORY_NAMES, (0, 1, 2))  # what `igan-lite reproduce --preset lite` trains
