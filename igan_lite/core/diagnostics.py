"""Collapse detection: numbers that tell, during training, whether the generator is degenerating.

The three collapses of docs/background.md §2: speckle of isolated voxels the proxy renders blank; all samples alike;
occupancies stuck under f's threshold so f draws nothing; and the later ones of docs/experiments.md: a dead proxy
(run A3), DOM running away (run E seed 1), a saturated projection (run G). Each has a statistic and a plain warning;
notebook 08 reproduces each one (failures.py).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# statistic -> (test, message); thresholds are deliberately loose: warnings, not verdicts
WARNINGS = {
    "empty": (lambda s: s["occupancy"] < 0.002, "samples are almost empty (occupancy {occupancy:.4f}): the real renderer draws nothing"),
    "full": (lambda s: s["occupancy"] > 0.6, "samples fill the grid (occupancy {occupancy:.2f}): a block, not a shape"),
    # real ShapeNet-lite chairs at 32^3: diversity 0.66 (mean pairwise 1 - IoU)
    "alike": (lambda s: s["diversity"] < 0.15, "samples are nearly identical (diversity {diversity:.3f}): mode collapse"),
    "speckle": (lambda s: s["isolated"] > 0.3, "{isolated:.0%} of occupied voxels are isolated: the generator makes speckle"),
    "blank": (lambda s: s["blank_renders"] > 0.5, "{blank_renders:.0%} of real-renderer images are blank"),
    # real chairs cover 20-35 % of an image; a saturated projection (every ray opaque) covers all of it
    "opaque": (lambda s: s["dark_coverage"] > 0.6,
               "{dark_coverage:.0%} of pixels are black: a saturated projection, whose gradient vanishes"),
    "proxy": (lambda s: s.get("proxy_error", 0.0) > 0.05, "the proxy imitates f poorly on generator samples (L2 {proxy_error:.3f})"),
    # healthy lite runs: DOM median 0.06-0.08, max below 1; run E seed 1 ran away to 5-100 (docs/experiments.md, F)
    "dom": (lambda s: s.get("proxy_dom", 0.0) > 1.0,
            "D's logits on the proxy's and on f's images are over a logit apart (DOM {proxy_dom:.2f}): D is winning, "
            "and DOM pulls the proxy away from f"),
}


def _face_neighbours(occ: torch.Tensor) -> torch.Tensor:
    """Occupied 6-neighbours of every voxel of (B, 1, N, N, N) 0/1 grids: six shifted sums (a 1-channel conv3d
    computes the same ~10x slower on a CPU)."""
    p = F.pad(occ, (1, 1, 1, 1, 1, 1))
    n = occ.shape[-1]
    inner = lambda dz, dy, dx: p[..., 1 + dz:1 + dz + n, 1 + dy:1 + dy + n, 1 + dx:1 + dx + n]  # noqa: E731
    return sum(inner(*d) for d in ((-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)))


def sample_stats(voxels: torch.Tensor, renders: torch.Tensor, background: float = 1.0) -> dict:
    """Occupancy, diversity (mean pairwise 1 - IoU), isolated-voxel fraction, near-threshold mass,
    the share of blank renders and of black pixels, for a batch of generated grids (B, 1, N, N, N) and their f-renders."""
    x = voxels.detach()
    occ = (x > 0.5).float()
    flat = occ.flatten(1)
    inter = flat @ flat.T
    union = flat.sum(1, keepdim=True) + flat.sum(1) - inter
    iou = torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))
    b = len(x)
    diversity = ((1 - iou).sum() / max(b * (b - 1), 1)).item()
    isolated = ((_face_neighbours(occ) == 0) & (occ > 0)).float().sum() / occ.sum().clamp(min=1)
    blank = ((renders - background).abs().flatten(1).amax(1) < 1e-3).float().mean()
    dark = (renders < 0.1).float().mean()
    return {
        "occupancy": occ.mean().item(),
        "mean_occupancy_soft": x.mean().item(),
        "near_threshold": ((x > 0.4) & (x < 0.6)).float().mean().item(),
        "diversity": diversity,
        "isolated": isolated.item(),
        "blank_renders": blank.item(),
        "dark_coverage": dark.item(),
    }


def collapse_warnings(stats: dict) -> dict[str, str]:
    """Plain-words warnings, by kind, for every collapse signature that `stats` shows."""
    return {kind: msg.format(**stats) for kind, (test, msg) in WARNINGS.items() if test(stats)}


COLLAPSE_WINDOW = 50  # steps


def collapsed(rows: list[dict], window: int = COLLAPSE_WINDOW) -> list[str]:
    """The definition of a collapsed run, used wherever runs are counted (docs/experiments.md): the collapse
    kinds whose warning fires in more than half of the run's last `window` steps (metrics.jsonl rows)."""
    last = rows[-window:]
    counts = {kind: sum(kind in r["warnings"] for r in last) for kind in WARNINGS}
    return [kind for kind, c in counts.items() if last and c > len(last) / 2]
