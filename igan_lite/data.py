"""Datasets of unstructured 2D images: ShapeNet-lite renders (cached on disk) and user image folders.

IG-GAN trains on images alone: one random view of each shape, no pose, no 3D. The poses and voxels
are written to a separate `eval.npz` for evaluation only (3D metrics, FID on the same camera prior).
"""
from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from . import __version__
from .checkpoint import write_atomic
from .presets import Preset, get_preset
from .camera import CameraPrior
from .render import RENDERER_VERSION, RenderSettings, render_voxels
from .shapes import CATEGORIES, make_shape

FORMAT_VERSION = 1
DATA_FIELDS = ("name", "voxel_res", "image_size", "n_shapes", "color")  # the preset fields a dataset depends on
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def render_settings(preset: Preset) -> RenderSettings:
    return RenderSettings(image_size=preset.image_size, color=preset.color)


@dataclass
class ImageDataset:
    """Training images (M, C, H, W) uint8 plus the manifest describing how they were made."""

    images: torch.Tensor
    manifest: dict

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, idx) -> torch.Tensor:
        """Float images in [0, 1] for the given indices."""
        return self.images[idx].float().div_(255.0)


def dataset_config(category: str, preset: Preset, seed: int) -> dict:
    """Everything that determines a dataset's content; a cache is reused only if this matches."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {sorted(CATEGORIES)}")
    config = {
        "format_version": FORMAT_VERSION,
        "category": category,
        "preset": {k: getattr(preset, k) for k in DATA_FIELDS},
        "seed": int(seed),
        "renderer": {**asdict(render_settings(preset)), "version": RENDERER_VERSION},
        "camera_prior": asdict(CameraPrior()),
    }
    return json.loads(json.dumps(config))  # as it reads back from manifest.json (tuples -> lists)


def default_dir(category: str, preset: Preset, seed: int = 0, root: str | Path = "data") -> Path:
    """Where a dataset lives unless told otherwise: <root>/<category>-<preset>-seed<seed>."""
    return Path(root) / f"{category}-{preset.name}-seed{seed}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as e:
        raise PermissionError(f"output directory {out} cannot be written: {e.strerror or e}") from e


def cache_status(out: Path, config: dict) -> str:
    """'ok' if `out` holds an intact dataset made with `config`, else why it must be (re)built."""
    manifest_path = out / "manifest.json"
    if not manifest_path.exists():
        return "no cache"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "manifest is corrupt"
    if manifest.get("config") != config:
        return "cache was built with different settings"
    for name, digest in manifest.get("sha256", {}).items():
        if not (out / name).exists() or _sha256(out / name) != digest:
            return f"{name} is missing or corrupt"
    return "ok"


def build_dataset(category: str, preset: str | Preset | None = None, out: str | Path | None = None,
                  seed: int = 0, progress: bool = True) -> Path:
    """Render `preset.n_shapes` procedural shapes of `category`, one random view each, into `out`.

    Writes images.npz (training images), eval.npz (cameras and voxels, for evaluation only) and
    manifest.json. Reuses an intact cache made with the same settings; rebuilds a corrupt or stale one.
    """
    preset = get_preset(preset)
    config = dataset_config(category, preset, seed)
    out = Path(out) if out is not None else default_dir(category, preset, seed)
    _check_writable(out)
    status = cache_status(out, config)
    if status == "ok":
        return out
    if status != "no cache":
        print(f"rebuilding {out}: {status}")

    rng = np.random.default_rng(seed)
    cameras = CameraPrior().sample(preset.n_shapes, rng)
    settings = render_settings(preset)
    images, voxels = [], []
    for i in tqdm(range(preset.n_shapes), desc=f"rendering {category}", disable=not progress):
        grid = make_shape(category, seed * 1_000_003 + i).voxels(preset.voxel_res)
        voxels.append(np.packbits(grid.astype(bool)))
        images.append((render_voxels(grid, cameras[i], settings)[0] * 255).round().to(torch.uint8).numpy())

    write_atomic(out / "images.npz", lambda f: np.savez_compressed(f, images=np.stack(images)))
    write_atomic(out / "eval.npz", lambda f: np.savez_compressed(
        f, azimuth=np.array([c.azimuth for c in cameras]), elevation=np.array([c.elevation for c in cameras]),
        voxels_packed=np.stack(voxels)))
    manifest = {
        "config": config,
        "package_version": __version__,
        "n_images": preset.n_shapes,
        "sha256": {name: _sha256(out / name) for name in ("images.npz", "eval.npz")},
    }
    write_atomic(out / "manifest.json", lambda f: f.write(json.dumps(manifest, indent=2).encode()))
    return out


def load_dataset(path: str | Path) -> ImageDataset:
    """Load the training images of a dataset folder written by build_dataset."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{path} is not a dataset folder (no manifest.json); build one with `igan-lite dataset build`")
    manifest = json.loads(manifest_path.read_text())
    status = cache_status(path, manifest["config"])
    if status != "ok":
        raise ValueError(f"dataset {path} is unusable ({status}); rebuild it with `igan-lite dataset build`")
    with np.load(path / "images.npz") as f:
        images = torch.from_numpy(f["images"])
    return ImageDataset(images, manifest)


def load_eval_voxels(path: str | Path) -> np.ndarray:
    """The ground-truth voxels (M, N, N, N) float32 of a dataset, for evaluation only."""
    path = Path(path)
    manifest = json.loads((path / "manifest.json").read_text())
    n = manifest["config"]["preset"]["voxel_res"]
    with np.load(path / "eval.npz") as f:
        packed = f["voxels_packed"]
    return np.unpackbits(packed, axis=1, count=n**3).reshape(-1, n, n, n).astype(np.float32)


def load_image_folder(folder: str | Path, image_size: int, color: bool = False) -> torch.Tensor:
    """A user's images (png/jpg/bmp, any size) -> float tensor (M, C, image_size, image_size) in [0, 1]."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist or is not a directory")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {folder}")
    images = []
    for f in files:
        try:
            with Image.open(f) as im:
                im = im.convert("RGB" if color else "L").resize((image_size, image_size), Image.BILINEAR)
                images.append(np.asarray(im, dtype=np.uint8))
        except (UnidentifiedImageError, OSError) as e:
            raise ValueError(f"image file {f} cannot be read: {e}") from e
    x = torch.from_numpy(np.stack(images)).float().div_(255.0)
    return x.permute(0, 3, 1, 2).contiguous() if color else x[:, None]
