"""Scores: distances between image sets in a feature space (FID's Fréchet distance, KID) and 3D metrics against
known shapes.

The paper scores by FID of rendered images (docs/method.md §7): the Fréchet distance of InceptionV3 pool3
features (inception.py; protocol in docs/fid.md). KID (Bińkowski et al. 2018) is an unbiased estimate from the
same features, so unlike FID it does not grow as n shrinks. FD-lite, the fast score used during training and in
the smoke preset, is the Fréchet distance in the features of a small CNN trained to classify ShapeNet-lite renders
(`FeatureNet`); it is comparable only with itself, at the same n. The 3D metrics use the
ground-truth voxels that the paper never had: voxel IoU to the nearest reference shape, coverage (COV),
minimum matching distance (MMD) and 1-nearest-neighbour accuracy (1-NNA), as in Achlioptas et al. (2018).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

MIN_FID_SAMPLES = 50


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2)), the distance between two Gaussians (FID's formula).

    Tr((C1 C2)^(1/2)) is the sum of the square roots of C1 C2's eigenvalues (real and >= 0, since C1 C2 is
    similar to C1^(1/2) C2 C1^(1/2)); unlike sqrtm this stays finite for singular covariances."""
    eig = np.linalg.eigvals(cov1 @ cov2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.sqrt(eig.clip(min=0)).sum())


def check_features(fa, fb) -> None:
    """Two feature sets (m, d) and (n, d) of finite numbers, at least 2 rows each; a ValueError saying which not."""
    for name, f in (("features a", fa), ("features b", fb)):
        if not isinstance(f, np.ndarray) or f.ndim != 2 or len(f) < 2 or not np.isfinite(f).all():
            raise ValueError(f"{name}: expected a finite array (samples >= 2, feature width), got "
                             f"{type(f).__name__} of shape {getattr(f, 'shape', None)}")
    if fa.shape[1] != fb.shape[1]:
        raise ValueError(f"feature widths differ: {fa.shape[1]} vs {fb.shape[1]}; both sets need the same extractor")


def check_grids(a, b) -> None:
    """Two sets of voxel grids (M, N, N, N) and (K, N, N, N) of finite numbers; a ValueError saying which not."""
    for name, g in (("generated grids", a), ("reference grids", b)):
        if not isinstance(g, np.ndarray) or g.ndim != 4 or not len(g) or len(set(g.shape[1:])) != 1:
            raise ValueError(f"{name}: expected an array (count, N, N, N), got {type(g).__name__} of shape "
                             f"{getattr(g, 'shape', None)}")
        if not np.isfinite(g).all():
            raise ValueError(f"{name}: values must be finite (occupancies), found NaN or infinity")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"grid shapes differ: {a.shape[1:]} vs {b.shape[1:]}; compare grids of one resolution")


def features_fd(fa: np.ndarray, fb: np.ndarray) -> float:
    """frechet_distance of the Gaussians fitted to two feature sets (m, d) and (n, d) (unbiased covariances).
    With at most d samples a side it never forms a d x d matrix: for centred A and B, Tr((C1 C2)^(1/2)) is the
    sum of the singular values of A Bᵀ over sqrt((m-1)(n-1)), an m x n problem (at FID's d = 2048 and n = 500,
    milliseconds instead of a minute of eigenvalues)."""
    check_features(fa, fb)
    m, n, d = len(fa), len(fb), fa.shape[1]
    if min(m, n) > d:
        return frechet_distance(fa.mean(0), np.cov(fa, rowvar=False), fb.mean(0), np.cov(fb, rowvar=False))
    a, b = fa - fa.mean(0), fb - fb.mean(0)
    cross = np.linalg.svd(a @ b.T, compute_uv=False).sum() / np.sqrt((m - 1) * (n - 1))
    return float(((fa.mean(0) - fb.mean(0)) ** 2).sum() + (a * a).sum() / (m - 1) + (b * b).sum() / (n - 1) - 2 * cross)


class FeatureNet(nn.Module):
    """A small CNN classifying ShapeNet-lite renders by category; its 128-d penultimate layer is the
    feature space of FD-lite."""

    def __init__(self, channels: int = 1, n_classes: int = 5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.classify = nn.Linear(128, n_classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.features(images))


def train_feature_net(images: torch.Tensor, labels: torch.Tensor, epochs: int = 3, seed: int = 0) -> FeatureNet:
    """Fit FeatureNet on labelled renders (B, C, H, W) in [0, 1]; a few epochs reach high accuracy."""
    torch.manual_seed(seed)
    net = FeatureNet(images.shape[1], int(labels.max()) + 1)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(epochs):
        for idx in torch.randperm(len(images)).split(64):
            loss = nn.functional.cross_entropy(net(images[idx]), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def image_features(extract, images: torch.Tensor, batch: int = 64) -> np.ndarray:
    """`extract` (images -> (B, D) features) over `images` in batches, as float64."""
    with torch.no_grad():
        return torch.cat([extract(b) for b in images.split(batch)]).numpy().astype(np.float64)


def check_image_set(name: str, images) -> None:
    """A set of images a Fréchet distance can use: a float tensor (B, C, H, W) of at least MIN_FID_SAMPLES images
    with values in [0, 1] (not 0..255), finite."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.dim() != 4:
        raise ValueError(f"{name}: expected a float tensor (B, C, H, W) in [0, 1], got "
                         f"{type(images).__name__}{tuple(getattr(images, 'shape', ()))}")
    if len(images) < MIN_FID_SAMPLES:
        raise ValueError(f"{name}: {len(images)} images are too few for a Fréchet distance; use at least {MIN_FID_SAMPLES}")
    if not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ValueError(f"{name}: values must be finite and in [0, 1] (images divided by 255), got "
                         f"[{images.min():.4g}, {images.max():.4g}]")


def feature_fd(extract, images_a: torch.Tensor, images_b: torch.Tensor) -> float:
    """Fréchet distance between two image sets in the feature space of `extract`: FD-lite with
    FeatureNet.features, FID with inception.FIDInceptionV3."""
    for name, imgs in (("images_a", images_a), ("images_b", images_b)):
        check_image_set(name, imgs)
    if images_a.shape[1:] != images_b.shape[1:]:
        raise ValueError(f"image sets differ in shape: {tuple(images_a.shape[1:])} vs {tuple(images_b.shape[1:])}")
    return features_fd(image_features(extract, images_a), image_features(extract, images_b))


def kid(fa: np.ndarray, fb: np.ndarray) -> float:
    """Kernel Inception Distance: the unbiased estimate of MMD² between the feature sets fa (m, d) and fb (n, d)
    with the cubic polynomial kernel k(x, y) = (x·y / d + 1)³ (Bińkowski et al. 2018, eq. 4 with §4's kernel):
    mean k over distinct pairs within fa, plus the same within fb, minus twice the mean k across. Computed on
    the whole sets: the usual average over subsets of at most 1,000 is this value whenever n <= 1,000."""
    check_features(fa, fb)
    m, n, d = len(fa), len(fb), fa.shape[1]
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((fa, fa), (fb, fb), (fa, fb)))
    within = lambda k, s: (k.sum() - np.trace(k)) / (s * (s - 1))  # noqa: E731
    return float(within(kxx, m) + within(kyy, n) - 2 * kxy.mean())


def feature_scores(fa: np.ndarray, fb: np.ndarray) -> dict:
    """FID-style Fréchet distance and KID between two feature sets."""
    return {"fid": features_fd(fa, fb), "kid": kid(fa, fb)}


def fd_lite(net: FeatureNet, images_a: torch.Tensor, images_b: torch.Tensor) -> float:
    """Fréchet distance between two image sets in FeatureNet's feature space."""
    return feature_fd(net.features, images_a, images_b)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Voxel IoU between every grid of a (M, N, N, N) and of b (K, N, N, N), thresholded at 0.5."""
    check_grids(a, b)
    fa = (a.reshape(len(a), -1) > 0.5).astype(np.float32)
    fb = (b.reshape(len(b), -1) > 0.5).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0)


def shape_metrics(generated: np.ndarray, reference: np.ndarray) -> dict:
    """3D scores of generated grids against reference grids, distance d = 1 - IoU:
    nearest_iou (mean over generated of the best IoU with any reference: are samples like real shapes?),
    COV (share of references that are some sample's nearest: variety), MMD (mean over references of the
    distance to the closest sample: fidelity), 1-NNA (leave-one-out 1-NN accuracy of telling the two sets
    apart; 0.5 is ideal)."""
    gen_ref = 1 - iou_matrix(generated, reference)
    nearest = gen_ref.argmin(1)
    both = np.concatenate([generated, reference])
    d = 1 - iou_matrix(both, both)
    np.fill_diagonal(d, np.inf)
    labels = np.r_[np.zeros(len(generated)), np.ones(len(reference))]
    return {
        "nearest_iou": float(1 - gen_ref.min(1).mean()),
        "cov": float(len(np.unique(nearest)) / len(reference)),
        "mmd": float(gen_ref.min(0).mean()),
        "1nna": float((labels[d.argmin(1)] == labels).mean()),
    }
