"""Cameras: the prior p(c) of IG-GAN, pinhole maths, and the differentiable resampling of a voxel grid
into a camera's view frustum (used by the neural proxy renderer and the baseline projections).

World frame: y up, unit cube [-0.5, 0.5]^3; voxel grids are indexed [z, y, x] (torch's D, H, W).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from igan_lite.preset_rules import shown

HALF_DIAGONAL = 0.5 * 3**0.5  # the unit cube lies within this distance of the origin


def _number(name: str, value, lo: float, hi: float, open_ends: bool = False) -> None:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    try:
        ok = ok and math.isfinite(value)
    except OverflowError:  # an int beyond float's range
        ok = False
    if not ok or not (lo < value < hi if open_ends else lo <= value <= hi):
        span = f"({lo:g}, {hi:g})" if open_ends else f"[{lo:g}, {hi:g}]"
        raise ValueError(f"camera {name}: expected a finite number in {span}, got {shown(value)}")


def check_camera_values(azimuth, elevation, distance, fov) -> None:
    """A ValueError naming the value unless the camera is well defined: elevation strictly between the
    poles (at +-90 degrees 'up' is undefined), distance outside the unit cube, field of view in (0, 180)."""
    _number("azimuth", azimuth, -1e6, 1e6)
    _number("elevation", elevation, -90.0, 90.0, open_ends=True)
    _number("distance", distance, HALF_DIAGONAL, 1000.0, open_ends=True)
    _number("fov", fov, 0.0, 180.0, open_ends=True)


@dataclass(frozen=True)
class Camera:
    """A pinhole camera on a sphere around the origin, looking at it, y up.

    Azimuth turns from +z towards +x about the y axis; elevation lifts the camera above the xz plane.
    """

    azimuth: float  # degrees
    elevation: float  # degrees
    distance: float = 2.0
    fov: float = 35.0  # vertical field of view, degrees

    def __post_init__(self):
        check_camera_values(self.azimuth, self.elevation, self.distance, self.fov)

    def eye(self) -> np.ndarray:
        az, el = np.deg2rad(self.azimuth), np.deg2rad(self.elevation)
        return self.distance * np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])

    def rotation(self) -> np.ndarray:
        """World -> camera rotation (rows: right, up, backward), the OpenGL convention."""
        forward = -self.eye() / self.distance
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        return np.stack([right, np.cross(right, forward), -forward])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (P, 3) -> camera frame; visible points have negative z."""
        return (points - self.eye()) @ self.rotation().T

    def project(self, points: np.ndarray, image_size: int) -> np.ndarray:
        """World points (P, 3) -> continuous pixel coordinates (P, 2) as (column, row), row 0 at the top."""
        p = self.to_camera(points)
        focal = 1.0 / np.tan(np.deg2rad(self.fov) / 2)
        ndc = focal * p[:, :2] / -p[:, 2:3]
        return np.stack([(ndc[:, 0] + 1) / 2 * image_size, (1 - ndc[:, 1]) / 2 * image_size], 1)


@dataclass(frozen=True)
class CameraPrior:
    """The camera distribution p(c): uniform azimuth, uniform elevation in a range, fixed distance."""

    elevation_range: tuple[float, float] = (10.0, 40.0)
    distance: float = 2.0
    fov: float = 35.0

    def __post_init__(self):
        if not isinstance(self.elevation_range, (tuple, list)) or len(self.elevation_range) != 2:
            raise ValueError(f"camera prior elevation_range: expected (low, high), got {self.elevation_range!r}")
        lo, hi = self.elevation_range
        for e in (lo, hi):
            check_camera_values(0.0, e, self.distance, self.fov)
        if lo > hi:
            raise ValueError(f"camera prior elevation_range: expected low <= high, got {self.elevation_range!r}")

    def sample(self, n: int, rng: np.random.Generator) -> list[Camera]:
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"camera prior: expected a count n >= 0, got {n!r}")

        az = rng.uniform(0.0, 360.0, n)
        el = rng.uniform(*self.elevation_range, n)
        return [Camera(float(a), float(e), self.distance, self.fov) for a, e in zip(az, el)]


SAMPLE_VIEWS = [Camera(30.0, 25.0), Camera(150.0, 25.0), Camera(270.0, 25.0)]  # the sample grids' and figures' views


def frustum_points(camera: Camera, size: int, depth: int) -> np.ndarray:
    """World points (depth, size, size, 3): `depth` samples along each pixel-centre ray, front to back,
    spanning the unit cube's bounding sphere. Row 0 is the top of the image."""
    centre = (np.arange(size) + 0.5) / size * 2 - 1
    x, y = np.meshgrid(centre, -centre)
    focal = 1.0 / np.tan(np.deg2rad(camera.fov) / 2)
    rays = np.stack([x / focal, y / focal, -np.ones_like(x)], -1) @ camera.rotation()  # camera -> world
    rays /= np.linalg.norm(rays, axis=-1, keepdims=True)
    t = np.linspace(camera.distance - HALF_DIAGONAL, camera.distance + HALF_DIAGONAL, depth)
    return camera.eye() + t[:, None, None, None] * rays[None]


def frustum_grid(cameras: Sequence[Camera], size: int, depth: int) -> torch.Tensor:
    """`grid_sample` coordinates (B, depth, size, size, 3) of each camera's frustum samples."""
    points = np.stack([frustum_points(c, size, depth) for c in cameras])
    return torch.from_numpy(2.0 * points).float()  # world [-0.5, 0.5] -> grid_sample's [-1, 1], (x, y, z)


def resample_to_camera(voxels: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Occupancies (B, C, N, N, N) -> camera-aligned volume (B, C, depth, size, size), differentiably.

    Depth index 0 is nearest the camera; outside the cube reads as empty."""
    return F.grid_sample(voxels, grid.to(voxels), mode="bilinear", padding_mode="zeros", align_corners=False)
