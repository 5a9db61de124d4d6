"""The standard FID feature extractor, InceptionV3 (pool3, 2048 features), for users who have its weights.

FID (Heusel et al. 2017) uses the TensorFlow InceptionV3 graph of 2015-12-05. pytorch-fid
(`pt_inception-2015-12-05-6726825d.pth`) and torch-fidelity (`weights-inception-2015-12-05-6726825d.pth`)
ship it converted to PyTorch, with the same parameter names: those of torchvision's Inception3, with the
FID graph's differences (1008 classes; average pools that exclude padding; a max pool in the last block).
This module builds that network with torch alone and loads either file from a path or from torch.hub's
cache, where those packages put it. It never downloads: without the file, use FD-lite (metrics.FeatureNet).
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

WEIGHT_FILES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")


class Conv(nn.Module):
    """conv (no bias) + batch norm (eps 1e-3) + ReLU: torchvision's BasicConv2d, same parameter names."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x):
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)  # the FID graph's pooling


class BlockA(nn.Module):
    def __init__(self, cin: int, pool: int):
        super().__init__()
        self.branch1x1 = Conv(cin, 64, 1)
        self.branch5x5_1, self.branch5x5_2 = Conv(cin, 48, 1), Conv(48, 64, 5, padding=2)
        self.branch3x3dbl_1, self.branch3x3dbl_2 = Conv(cin, 64, 1), Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, padding=1)
        self.branch_pool = Conv(cin, pool, 1)

    def forward(self, x):
        return torch.cat([self.branch1x1(x), self.branch5x5_2(self.branch5x5_1(x)),
                          self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          self.branch_pool(_avg_pool(x))], 1)


class BlockB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = Conv(cin, 384, 3, stride=2)
        self.branch3x3dbl_1, self.branch3x3dbl_2 = Conv(cin, 64, 1), Conv(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96, 96, 3, stride=2)

    def forward(self, x):
        return torch.cat([self.branch3x3(x), self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
                          F.max_pool2d(x, 3, 2)], 1)


class BlockC(nn.Module):
    def __init__(self, cin: int, c7: int):
        super().__init__()
        row, col = dict(kernel=(1, 7), padding=(0, 3)), dict(kernel=(7, 1), padding=(3, 0))
        self.branch1x1 = Conv(cin, 192, 1)
        self.branch7x7_1, self.branch7x7_2, self.branch7x7_3 = Conv(cin, c7, 1), Conv(c7, c7, **row), Conv(c7, 192, **col)
        self.branch7x7dbl_1, self.branch7x7dbl_2 = Conv(cin, c7, 1), Conv(c7, c7, **col)
        self.branch7x7dbl_3, self.branch7x7dbl_4 = Conv(c7, c7, **row), Conv(c7, c7, **col)
        self.branch7x7dbl_5 = Conv(c7, 192, **row)
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x):
        dbl = x
        for i in range(1, 6):
            dbl = getattr(self, f"branch7x7dbl_{i}")(dbl)
        return torch.cat([self.branch1x1(x), self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x))), dbl,
                          self.branch_pool(_avg_pool(x))], 1)


class BlockD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1, self.branch3x3_2 = Conv(cin, 192, 1), Conv(192, 320, 3, stride=2)
        self.branch7x7x3_1, self.branch7x7x3_2 = Conv(cin, 192, 1), Conv(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3, self.branch7x7x3_4 = Conv(192, 192, (7, 1), padding=(3, 0)), Conv(192, 192, 3, stride=2)

    def forward(self, x):
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([self.branch3x3_2(self.branch3x3_1(x)), b7, F.max_pool2d(x, 3, 2)], 1)


class BlockE(nn.Module):
    def __init__(self, cin: int, max_pool: bool):
        super().__init__()
        row, col = dict(kernel=(1, 3), padding=(0, 1)), dict(kernel=(3, 1), padding=(1, 0))
        self.max_pool = max_pool  # the FID graph's last block pools by max, the one before by average
        self.branch1x1 = Conv(cin, 320, 1)
        self.branch3x3_1, self.branch3x3_2a, self.branch3x3_2b = Conv(cin, 384, 1), Conv(384, 384, **row), Conv(384, 384, **col)
        self.branch3x3dbl_1, self.branch3x3dbl_2 = Conv(cin, 448, 1), Conv(448, 384, 3, padding=1)
        self.branch3x3dbl_3a, self.branch3x3dbl_3b = Conv(384, 384, **row), Conv(384, 384, **col)
        self.branch_pool = Conv(cin, 192, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        pooled = F.max_pool2d(x, 3, 1, 1) if self.max_pool else _avg_pool(x)
        return torch.cat([self.branch1x1(x), self.branch3x3_2a(b3), self.branch3x3_2b(b3),
                          self.branch3x3dbl_3a(dbl), self.branch3x3dbl_3b(dbl), self.branch_pool(pooled)], 1)


class FIDInceptionV3(nn.Module):
    """Images (B, 1 or 3, H, W) in [0, 1] -> pool3 features (B, 2048): resized to 299² (bilinear, as
    pytorch-fid), scaled to [-1, 1], grey replicated to RGB."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3, self.Conv2d_2a_3x3 = Conv(3, 32, 3, stride=2), Conv(32, 32, 3)
        self.Conv2d_2b_3x3, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3 = Conv(32, 64, 3, padding=1), Conv(64, 80, 1), Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = BlockA(192, 32), BlockA(256, 64), BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e = (BlockC(768, c) for c in (128, 160, 160, 192))
        self.Mixed_7a, self.Mixed_7b, self.Mixed_7c = BlockD(768), BlockE(1280, False), BlockE(2048, True)
        self.fc = nn.Linear(2048, 1008)  # unused for FID; part of both weight files

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"images must be (B, 1 or 3, H, W), got shape {tuple(images.shape)}")
        x = images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images
        x = F.interpolate(x.float(), size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
        x = F.max_pool2d(x, 3, 2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean((2, 3))


def find_weights(path: str | Path | None = None) -> Path:
    """The weight file: `path` if given, else the first of WEIGHT_FILES in torch.hub's cache."""
    if path is not None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"InceptionV3 weights: no file at {path}")
        return Path(path)
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    for name in WEIGHT_FILES:
        if (cache / name).is_file():
            return cache / name
    raise FileNotFoundError(f"InceptionV3 weights: none of {list(WEIGHT_FILES)} in {cache}. Pass the file's path, "
                            "or score with FD-lite, which needs no download (igan-lite evaluate)")


def load_inception(path: str | Path | None = None) -> FIDInceptionV3:
    """FIDInceptionV3 with the pytorch-fid or torch-fidelity weights (see find_weights), in eval mode."""
    path = find_weights(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or non-torch file: say which file, not a pickle traceback
        raise ValueError(f"InceptionV3 weights {path} could not be read ({type(e).__name__}: {e}); "
                         "is the file complete?") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"InceptionV3 weights {path}: expected a state dict of tensors, got {type(state).__name__}")
    net = FIDInceptionV3()
    expected = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(state))
    wrong = sorted(k for k in set(expected) & set(state) if state[k].shape != expected[k].shape)
    if missing or wrong:
        shown = ", ".join((missing + wrong)[:4])
        raise ValueError(f"InceptionV3 weights {path} are not the FID InceptionV3 (2015-12-05): {len(missing)} "
                         f"parameters missing, {len(wrong)} of the wrong shape (e.g. {shown})")
    net.load_state_dict({k: state[k] for k in expected}, strict=False)  # BN step counters may be absent
    return net.eval()
