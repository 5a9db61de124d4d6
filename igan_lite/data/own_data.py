"""Datasets from your own data: a folder of meshes or a folder of object images (README "Your own data").

A mesh folder (a ShapeNetCore synset, or any tree of .obj/.off/.ply/.stl) is normalised, voxelised at the
preset's resolution and drawn by f from K random views per mesh: unstructured images for training, as for
ShapeNet-lite, with the cameras and voxels set aside in eval.npz for evaluation only. An image folder (renders
or segmented photos; the paper's natural-image setting, docs/method.md §7) gives training images alone: no
poses, no voxels, so evaluation reports image metrics only. Both use datasets.py's cache and manifest;
`train(data=...)` records which dataset a run used (`data_record`).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm.auto import tqdm

from igan_lite.core.camera import CameraPrior
from igan_lite.data.datasets import (FORMAT_VERSION, ImageDataset, _check_writable, cache_status, find_image_files,
                                     has_voxels, load_dataset, render_settings, write_dataset)
from igan_lite.data.image_files import header, read_image
from igan_lite.data.shapes import find_mesh_files, load_mesh, mesh_to_voxels, normalise_mesh
from igan_lite.presets import Preset, get_preset
from igan_lite.render.backend import open3d
from igan_lite.render.renderer import RENDERER_VERSION, render_voxels

KINDS = ("meshes", "images")


def _fingerprint(files: list[Path], root: Path) -> str:
    """A hash of the source files' names and contents: a file added, removed or edited means a rebuild
    (a file rewritten with the same bytes does not)."""
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.relative_to(root)}\0".encode())
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def own_config(kind: str, root: Path, files: list[Path], preset: Preset, **options) -> dict:
    """Everything an own-data dataset depends on (data.cache_status reuses a folder only if this matches)."""
    config = {"format_version": FORMAT_VERSION, "kind": kind, "name": root.resolve().name,
              "source": {"path": str(root.resolve()), "n_files": len(files), "fingerprint": _fingerprint(files, root)},
              "preset": {k: getattr(preset, k) for k in ("name", "voxel_res", "image_size", "color")},
              "renderer": {**asdict(render_settings(preset)), "version": RENDERER_VERSION}, **options}
    if kind == "meshes":
        config["camera_prior"] = asdict(CameraPrior())
    return json.loads(json.dumps(config))


def default_own_dir(root: str | Path, kind: str, preset: Preset, base: str | Path = "data") -> Path:
    return Path(base) / f"{Path(root).resolve().name}-{kind}-{preset.name}"


def _reuse(out: Path, config: dict) -> bool:
    _check_writable(out)
    status = cache_status(out, config)
    if status not in ("ok", "no cache"):
        print(f"rebuilding {out}: {status}")
    return status == "ok"


def _skip_or_raise(path: Path, error: Exception, skip_bad: bool, skipped: list) -> None:
    if not skip_bad:
        raise ValueError(f"{error} (pass --skip-bad, or skip_bad=True, to skip such files)") from error
    tqdm.write(f"skipping {path}: {error}")
    skipped.append({"file": str(path), "reason": str(error)})


def voxelise_mesh_file(path: Path, n: int) -> np.ndarray:
    """One mesh file -> (n, n, n) occupancy, normalised into the unit cube; ValueError if it has no extent
    or voxelises to nothing."""
    mesh = load_mesh(path)
    lo, hi = mesh.get_min_bound(), mesh.get_max_bound()
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()) or (hi - lo).max() < 1e-9:
        raise ValueError(f"mesh file {path} has no extent (all vertices at one point, or non-finite)")
    grid = mesh_to_voxels(normalise_mesh(mesh), n)
    if not grid.any():
        raise ValueError(f"mesh file {path} voxelises to nothing at {n}³")
    return grid


def build_mesh_dataset(meshes: str | Path, preset: str | Preset | None = None, out: str | Path | None = None,
                       views: int = 8, seed: int = 0, skip_bad: bool = False, progress: bool = True) -> Path:
    """Voxelise every mesh under `meshes` at the preset's resolution and render each from `views` random
    cameras of the prior with f; write the dataset to `out` (default data/<folder>-meshes-<preset>).
    Unreadable or empty meshes raise ValueError naming the file, or with `skip_bad` are skipped and listed
    in the manifest. Reuses an intact folder built from the same files and settings."""
    preset, root = get_preset(preset), Path(meshes)
    if views < 1:
        raise ValueError(f"views: expected at least 1 view per mesh, got {views}")
    files = find_mesh_files(root)
    config = own_config("meshes", root, files, preset, views=int(views), seed=int(seed), skip_bad=bool(skip_bad))
    out = Path(out) if out is not None else default_own_dir(root, "meshes", preset)
    if _reuse(out, config):
        return out
    grids, used, skipped = [], [], []
    for f in tqdm(files, desc="voxelising meshes", disable=not progress):
        try:
            grids.append(voxelise_mesh_file(f, preset.voxel_res))
            used.append(str(f.relative_to(root)))
        except (ValueError, OSError, RuntimeError) as e:
            _skip_or_raise(f, e, skip_bad, skipped)
    if not grids:
        raise ValueError(f"none of the {len(files)} mesh files under {root} could be used")
    index = np.repeat(np.arange(len(grids)), views)
    cams = CameraPrior().sample(len(index), np.random.default_rng(seed))
    settings = render_settings(preset)
    images = []
    for i in tqdm(range(0, len(index), 64), desc=f"rendering {len(grids)} meshes x {views} views", disable=not progress):
        batch = np.stack([grids[k] for k in index[i:i + 64]])
        images.append((render_voxels(batch, cams[i:i + 64], settings) * 255).round().byte().numpy())
    return write_dataset(out, config, np.concatenate(images), {
        "azimuth": np.array([c.azimuth for c in cams]), "elevation": np.array([c.elevation for c in cams]),
        "mesh_index": index, "voxels_packed": np.packbits(np.stack(grids).astype(bool).reshape(len(grids), -1), axis=1)},
        files=used, skipped=skipped)


def _describe(files: list[Path]) -> str:
    """What conversions a folder of images needs, read from the file headers (modes and sizes)."""
    modes, sizes = set(), set()
    for f in files:
        try:
            with header(f) as im:
                modes.add(im.mode)
                sizes.add(im.size)
        except (OSError, ValueError):  # unreadable or too large: read_image names it below
            pass
    lo, hi = min(sizes, key=lambda s: s[0] * s[1], default=(0, 0)), max(sizes, key=lambda s: s[0] * s[1], default=(0, 0))
    shown = f"{lo[0]}x{lo[1]}" if len(sizes) == 1 else f"{len(sizes)} sizes from {lo[0]}x{lo[1]} to {hi[0]}x{hi[1]}"
    return f"modes {', '.join(sorted(modes))}; {shown}"


def build_image_dataset(images: str | Path, preset: str | Preset | None = None, out: str | Path | None = None,
                        crop: bool = False, skip_bad: bool = False, progress: bool = True) -> Path:
    """Read every png/jpg/bmp under `images` with image_files.read_image (alpha composited onto f's background,
    optionally cropped to the object, padded square, resized, grey or RGB as the preset says) into `out`
    (default data/<folder>-images-<preset>). No poses, no voxels. Mixed modes and sizes are converted and
    the conversion printed; unreadable or empty images raise, or with `skip_bad` are skipped and listed."""
    preset, root = get_preset(preset), Path(images)
    files = find_image_files(root)
    config = own_config("images", root, files, preset, crop=bool(crop), skip_bad=bool(skip_bad))
    out = Path(out) if out is not None else default_own_dir(root, "images", preset)
    if _reuse(out, config):
        return out
    summary = _describe(files)
    print(f"{len(files)} images under {root}: {summary}; converted to {preset.image_size}x{preset.image_size} "
          f"{'RGB' if preset.color else 'grey'} on the background{', cropped to the object' if crop else ''}")
    arrays, used, skipped = [], [], []
    background = render_settings(preset).background
    for f in tqdm(files, desc="reading images", disable=not progress):
        try:
            arrays.append(read_image(f, preset.image_size, preset.color, background, crop))
            used.append(str(f.relative_to(root)))
        except ValueError as e:
            _skip_or_raise(f, e, skip_bad, skipped)
    if not arrays:
        raise ValueError(f"none of the {len(files)} image files under {root} could be used")
    return write_dataset(out, config, np.stack(arrays).transpose(0, 3, 1, 2).copy(), None,
                         files=used, skipped=skipped, source_images=summary)


# --- which data a run trains on ------------------------------------------------------------------

def _manifest_sha256(path: Path) -> str:
    return hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()


def check_fits(manifest: dict, preset: Preset, path: Path) -> None:
    """A dataset must match the run's image size and colour (and voxel resolution, where it has voxels)."""
    built = manifest["config"]["preset"]
    fields = ("voxel_res", "image_size", "color") if has_voxels(manifest) else ("image_size", "color")
    wrong = [f"{k} {built[k]} (run: {getattr(preset, k)})" for k in fields if built[k] != getattr(preset, k)]
    if wrong:
        raise ValueError(f"dataset {path} was built for preset {built['name']!r} and does not fit preset "
                         f"{preset.name!r}: {', '.join(wrong)}; rebuild it with `igan-lite dataset build ... --preset {preset.name}`")


def dataset_name(manifest: dict) -> str:
    """A dataset's short name: the source folder's, or the ShapeNet-lite category."""
    return manifest["config"].get("name") or manifest["config"]["category"]


def data_record(path: str | Path, preset: Preset) -> dict:
    """What a run's config.json keeps of its dataset: path, kind, name and the manifest's hash."""
    path = Path(path)
    manifest = load_dataset(path).manifest
    check_fits(manifest, preset, path)
    return {"path": str(path.resolve()), "kind": manifest["config"].get("kind", "shapenet-lite"),
            "name": dataset_name(manifest), "manifest_sha256": _manifest_sha256(path)}


def load_run_data(record: dict, preset: Preset) -> ImageDataset:
    """The dataset a run's config names, checked to be the one it started with."""
    path = Path(record["path"])
    dataset = load_dataset(path)
    if _manifest_sha256(path) != record["manifest_sha256"]:
        raise ValueError(f"dataset {path} changed since this run started (its manifest.json differs from the one "
                         "recorded in the run's config.json); train a new run on it")
    check_fits(dataset.manifest, preset, path)
    return dataset


# --- example meshes (notebook 07, tests) ---------------------------------------------------------

def write_example_meshes(folder: str | Path, n: int = 12, seed: int = 0) -> list[Path]:
    """Write `n` stools (a seat, three or four legs, sometimes a back) built from Open3D primitives into
    `folder`, cycling through .obj (one object per part: a multi-part file), .ply, .stl and .off."""
    o3d, rng, folder = open3d(), np.random.default_rng(seed), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        r, h, legs = rng.uniform(0.25, 0.45), rng.uniform(0.4, 0.8), int(rng.choice([3, 4]))
        parts = [o3d.geometry.TriangleMesh.create_cylinder(r, 0.06).translate([0, 0, h])]
        for a in np.arange(legs) * 2 * np.pi / legs + rng.uniform(0, np.pi):
            leg = o3d.geometry.TriangleMesh.create_cylinder(rng.uniform(0.02, 0.04), h)
            parts.append(leg.translate([0.75 * r * np.cos(a), 0.75 * r * np.sin(a), h / 2]))
        if rng.random() < 0.5:
            parts.append(o3d.geometry.TriangleMesh.create_box(2 * r, 0.05, rng.uniform(0.3, 0.5)).translate([-r, r * 0.8, h]))
        for p in parts:  # primitives are z-up; ShapeNet meshes are y-up
            p.rotate(o3d.geometry.get_rotation_matrix_from_xyz([-np.pi / 2, 0, 0]), center=[0, 0, 0])
        suffix = (".obj", ".ply", ".stl", ".off")[i % 4]
        path = folder / f"stool_{i:02d}{suffix}"
        if suffix == ".obj":
            _write_multipart_obj(path, parts)
        else:
            mesh = sum(parts[1:], parts[0])
            mesh.compute_triangle_normals()  # .stl stores them
            o3d.io.write_triangle_mesh(str(path), mesh)
        paths.append(path)
    return paths


def _write_multipart_obj(path: Path, parts: list) -> None:
    """A Wavefront .obj with one `o` object per part, as CAD exports and ShapeNet files have."""
    lines, base = [], 1
    for k, part in enumerate(parts):
        lines.append(f"o part{k}")
        lines += [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in np.asarray(part.vertices)]
        lines += [f"f {a + base} {b + base} {c + base}" for a, b, c in np.asarray(part.triangles)]
        base += len(part.vertices)
    path.write_text("\n".join(lines) + "\n")


def write_example_images(folder: str | Path, images, seed: int = 0) -> list[Path]:
    """Write renders (M, C, H, W) in [0, 1] on f's white background as RGBA PNGs "like segmented photos":
    the background made transparent, each placed off-centre on a canvas of its own size (notebook 07, tests)."""
    rng, folder = np.random.default_rng(seed), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, im in enumerate(np.asarray(images)):
        rgb = np.repeat(im, 3, axis=0) if im.shape[0] == 1 else im
        rgb = (rgb.transpose(1, 2, 0) * 255).round().astype(np.uint8)
        alpha = np.where(rgb.min(-1) < 250, 255, 0).astype(np.uint8)
        h, w = alpha.shape
        H, W = rng.integers(h, 2 * h + 1), rng.integers(w, 2 * w + 1)
        canvas = np.zeros((H, W, 4), np.uint8)
        y, x = rng.integers(0, H - h + 1), rng.integers(0, W - w + 1)
        canvas[y:y + h, x:x + w] = np.dstack([rgb, alpha])
        paths.append(folder / f"photo_{i:03d}.png")
        Image.fromarray(canvas).save(paths[-1])
    return paths
