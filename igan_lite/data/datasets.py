"""Datasets of unstructured 2D images: ShapeNet-lite renders (cached on disk) and user image folders.

IG-GAN trains on images alone: one random view of each shape, no pose, no 3D. The poses and voxels
are written to a separate `eval.npz` for evaluation only (3D metrics, FID on the same camera prior).
"""
from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from igan_lite import __version__
from igan_lite.core.camera import CameraPrior
from igan_lite.data.image_files import read_image
from igan_lite.data.shapes import CATEGORIES, make_shape
from igan_lite.infra.files import check_folder, check_no_links, foreign_files, read_json, write_atomic
from igan_lite.infra.folder_lock import locked
from igan_lite.preset_rules import MAX_IMAGE_SIZE, check_seed
from igan_lite.presets import PRESETS, Preset, get_preset
from igan_lite.render.renderer import RENDERER_VERSION, RenderSettings, render_voxels

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
    """Where a dataset lives unless told otherwise: <root>/<category>-<preset>-seed<seed>, plus a key of the
    data fields when they differ from the named preset's (`--set n_shapes=300` gets its own folder and never
    rebuilds the one older runs are evaluated on)."""
    name = f"{category}-{preset.name}-seed{seed}"
    fields = {k: getattr(preset, k) for k in DATA_FIELDS}
    named = PRESETS.get(preset.name)
    if named is None or fields != {k: getattr(named, k) for k in DATA_FIELDS}:
        name += "-" + hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]
    return Path(root) / name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


OWN = ("images.npz", "eval.npz", "manifest.json", "*.tmp")  # what a dataset folder holds


def _check_writable(out: Path) -> None:
    """`out` may receive a dataset: a new or empty folder, or one holding only a dataset; not a file, not a folder
    of someone else's files, and never through a link (an error naming what was found)."""
    check_folder(out, "dataset --out")
    check_no_links(out, ("images.npz", "eval.npz", "manifest.json"))
    if foreign := foreign_files(out, OWN):
        raise FileExistsError(f"dataset folder {out} holds files igan-lite did not write ({', '.join(foreign[:5])}); "
                              "choose a new or empty folder (--out)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-", suffix=".tmp"):  # *.tmp: own, also to
            pass  # a second builder (a torchrun rank) checking the folder at this moment
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
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256", {}), dict):
        return "manifest is corrupt"
    if manifest.get("config") != config:
        return "cache was built with different settings"
    for name, digest in manifest.get("sha256", {}).items():
        if not inside(out, name):
            return f"manifest.json names {name!r}, which is not a regular file inside {out}"
        if not (out / name).exists() or _sha256(out / name) != digest:
            return f"{name} is missing or corrupt"
    return "ok"


def inside(folder: Path, name: str) -> bool:
    """Whether `name` (from a manifest) is a plain regular file directly inside `folder`: no path, no link, no
    FIFO or device (reading a FIFO would wait for ever)."""
    path = folder / name
    return (isinstance(name, str) and Path(name).name == name and name not in (".", "..") and not path.is_symlink()
            and path.is_file())


def check_arrays(path: Path, expected: dict[str, tuple] | None = None) -> None:
    """Every array in the .npz `path` holds the bytes its header claims (a header claiming 10^12 images would
    make numpy allocate them), with the shapes `expected` where given; a ValueError naming the file if not."""
    try:
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                with z.open(info) as f:
                    read = {(1, 0): np.lib.format.read_array_header_1_0}.get(np.lib.format.read_magic(f),
                                                                              np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(f)
                    header = f.tell()
                need = int(np.prod(shape, dtype=np.float64) * dtype.itemsize)
                name = info.filename.removesuffix(".npy")
                want = expected.get(name) if expected else None
                wrong = want is not None and (len(shape) != len(want) or any(w not in (None, s) for w, s in zip(want, shape)))
                if need != info.file_size - header or wrong:
                    raise ValueError(f"{path}: array {name!r} claims shape {shape} ({need:,} bytes), but holds "
                                     f"{info.file_size - header:,} bytes" + (f" (expected shape {want})" if want else ""))
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"{path} is not a readable .npz archive ({e})") from None


def build_dataset(category: str, preset: str | Preset | None = None, out: str | Path | None = None,
                  seed: int = 0, progress: bool = True) -> Path:
    """Render `preset.n_shapes` procedural shapes of `category`, one random view each, into `out`.

    Writes images.npz (training images), eval.npz (cameras and voxels, for evaluation only) and
    manifest.json. Reuses an intact cache made with the same settings; rebuilds a corrupt or stale one.
    """
    preset = get_preset(preset)
    check_seed(seed, "dataset seed")
    config = dataset_config(category, preset, seed)
    out = Path(out) if out is not None else default_dir(category, preset, seed)
    _check_writable(out)
    with locked(out, wait=True):  # a second builder of the same folder waits, then finds it built
        status = cache_status(out, config)
        if status == "ok":
            return out
        if status != "no cache":
            print(f"rebuilding {out}: {status}")
        _render_dataset(category, preset, seed, out, config, progress)
    return out


def _render_dataset(category: str, preset: Preset, seed: int, out: Path, config: dict, progress: bool) -> None:
    """Render the images and write images.npz, eval.npz and manifest.json (last, so it vouches for both)."""
    rng = np.random.default_rng(seed)
    cameras = CameraPrior().sample(preset.n_shapes, rng)
    settings = render_settings(preset)
    images, voxels = [], []
    for i in tqdm(range(preset.n_shapes), desc=f"rendering {category}", disable=not progress):
        grid = make_shape(category, seed * 1_000_003 + i).voxels(preset.voxel_res)
        voxels.append(np.packbits(grid.astype(bool)))
        images.append((render_voxels(grid, cameras[i], settings)[0] * 255).round().to(torch.uint8).numpy())
    write_dataset(out, config, np.stack(images), {
        "azimuth": np.array([c.azimuth for c in cameras]), "elevation": np.array([c.elevation for c in cameras]),
        "voxels_packed": np.stack(voxels)})


def write_dataset(out: Path, config: dict, images: np.ndarray, eval_arrays: dict | None, **extra) -> Path:
    """Write images.npz (uint8 (M, C, H, W)), eval.npz (cameras, voxels; omitted when `eval_arrays` is None)
    and, last, manifest.json with their hashes; `extra` goes into the manifest (e.g. the source files)."""
    write_atomic(out / "images.npz", lambda f: np.savez_compressed(f, images=images))
    names = ["images.npz"]
    if eval_arrays is not None:
        write_atomic(out / "eval.npz", lambda f: np.savez_compressed(f, **eval_arrays))
        names.append("eval.npz")
    else:
        (out / "eval.npz").unlink(missing_ok=True)  # a stale one from an earlier build of this folder
    manifest = {"config": config, "package_version": __version__, "n_images": len(images),
                "sha256": {name: _sha256(out / name) for name in names}, **extra}
    write_atomic(out / "manifest.json", lambda f: f.write(json.dumps(manifest, indent=2).encode()))
    return out


def load_dataset(path: str | Path) -> ImageDataset:
    """Load the training images of a dataset folder written by build_dataset."""
    path = Path(path)
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise FileNotFoundError(f"{path} is not a dataset folder (no manifest.json); build one with `igan-lite dataset build`")
    manifest = read_json(manifest_path, "dataset manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config"), dict):
        raise ValueError(f"dataset manifest {manifest_path} has no config; rebuild it with `igan-lite dataset build`")
    status = cache_status(path, manifest["config"])
    if status != "ok":
        raise ValueError(f"dataset {path} is unusable ({status}); rebuild it with `igan-lite dataset build`")
    built = manifest["config"]["preset"]
    size, channels = built["image_size"], 3 if built["color"] else 1
    check_arrays(path / "images.npz", {"images": (manifest.get("n_images"), channels, size, size)})
    with np.load(path / "images.npz") as f:
        images = torch.from_numpy(f["images"])
    return ImageDataset(images, manifest)


def has_voxels(manifest: dict) -> bool:
    """Whether a dataset keeps ground-truth voxels for evaluation (not one built from an image folder)."""
    return manifest["config"].get("kind") != "images"


def load_eval_voxels(path: str | Path) -> np.ndarray:
    """The ground-truth voxels (M, N, N, N) float32 of a dataset, for evaluation only."""
    path = Path(path)
    manifest = load_dataset(path).manifest  # checks the files against the manifest
    if not has_voxels(manifest):
        raise ValueError(f"dataset {path} was built from images: it has no ground-truth voxels")
    n = manifest["config"]["preset"]["voxel_res"]
    with np.load(path / "eval.npz") as f:
        packed = f["voxels_packed"]
    return np.unpackbits(packed, axis=1, count=n**3).reshape(-1, n, n, n).astype(np.float32)


def find_image_files(folder: str | Path) -> list[Path]:
    """Image files (png/jpg/bmp) anywhere under `folder`, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist or is not a directory")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {folder}")
    return files


def load_image_folder(folder: str | Path, image_size: int, color: bool = False, background=(1.0, 1.0, 1.0),
                      crop: bool = False) -> torch.Tensor:
    """A user's images (any size and PIL mode) -> float tensor (M, C, image_size, image_size) in [0, 1],
    each made by image_files.read_image; the first unreadable file raises ValueError naming it."""
    if not isinstance(image_size, int) or isinstance(image_size, bool) or not 8 <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(f"image_size: expected an int in [8, {MAX_IMAGE_SIZE}], got {image_size!r}")
    x = torch.from_numpy(np.stack([read_image(f, image_size, color, background, crop) for f in find_image_files(folder)]))
    return x.permute(0, 3, 1, 2).float().div_(255.0).contiguous()
