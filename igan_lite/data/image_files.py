"""Reading a user's image files as training images: every Pillow mode to the pipeline's [0, 1] scale.

8- and 16-bit greyscale are scaled by their own depth (Pillow's convert() would clip 16-bit to white),
palette images go through their palette, and transparency is composited onto the background f renders on
(render.RenderSettings.background: white), so a cut-out photo looks like a training render; images are padded
square (never stretched) and can be cropped to the object. Animated
files and images over MAX_PIXELS are refused by name: which frame, or a decompression bomb, is a guess.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from igan_lite.preset_rules import MAX_IMAGE_SIZE

MAX_PIXELS = 50_000_000  # ~7000 x 7000, read or padded; Pillow's own bomb check warns at 89 M and fails at 179 M
LUMA = np.array([0.299, 0.587, 0.114])  # Rec. 601, as render.to_tensor and Pillow's convert("L")
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


def _pixels(im: Image.Image, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) colour in [0, 1] and (H, W) alpha in [0, 1] (None: opaque), from any mode."""
    if im.mode in _SIXTEEN_BIT or im.mode == "I":
        grey = np.asarray(im, dtype=np.float64)
        if grey.min() < 0 or grey.max() > 65535:
            raise ValueError(f"image file {path}: 32-bit integer pixels outside 0..65535; expected 8- or 16-bit")
        return np.repeat(grey[..., None] / 65535.0, 3, axis=2), None
    if im.mode == "F":
        grey = np.asarray(im, dtype=np.float64)
        if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 1:
            raise ValueError(f"image file {path}: float pixels must be finite and in [0, 1]")
        return np.repeat(grey[..., None], 3, axis=2), None
    has_alpha = im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in im.info
    rgba = np.asarray(im.convert("RGBA" if has_alpha else "RGB"), dtype=np.float64) / 255.0
    return rgba[..., :3], (rgba[..., 3] if has_alpha else None)


def read_image(path: str | Path, image_size: int, color: bool = False, background=(1.0, 1.0, 1.0),
               crop: bool = False) -> np.ndarray:
    """One object image -> uint8 (image_size, image_size, 3 if color else 1) like f's renders: transparency
    composited onto `background`; with `crop` the object's bounding box (alpha > 0.5, or pixels unlike the
    background) plus a 10 % margin is cut out; padded square onto the background (no stretching), resized, and
    made grey with Rec. 601 weights unless `color`. A ValueError naming the file for anything it cannot be."""
    path = Path(path)
    if not isinstance(image_size, int) or isinstance(image_size, bool) or not 8 <= image_size <= MAX_IMAGE_SIZE:
        raise ValueError(f"image_size: expected an int in [8, {MAX_IMAGE_SIZE}], got {image_size!r}")
    try:
        with header(path) as im:
            if getattr(im, "n_frames", 1) > 1:
                raise ValueError(f"image file {path} is animated ({im.n_frames} frames); expected a still image")
            im = ImageOps.exif_transpose(im)  # a photo stored sideways with an EXIF orientation, turned upright
            rgb, alpha = _pixels(im, path)
    except (UnidentifiedImageError, OSError) as e:
        raise ValueError(f"image file {path} cannot be read: {e}") from None
    bg = np.asarray(background, dtype=np.float64)
    if alpha is not None:
        rgb = rgb * alpha[..., None] + bg * (1 - alpha[..., None])
    mask = alpha > 0.5 if alpha is not None and (alpha < 1).any() else np.abs(rgb - bg).max(-1) > 0.05
    if not mask.any():
        raise ValueError(f"image file {path} shows no object: every pixel is transparent or background")
    rgb = _square(rgb, mask if crop else None, bg, path)
    out = Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8)).resize((image_size, image_size), Image.LANCZOS)
    x = np.asarray(out, dtype=np.float64)
    return (x if color else (x @ LUMA)[..., None]).round().astype(np.uint8)


def header(path: Path) -> Image.Image:
    """The opened image, its size checked against MAX_PIXELS from the header alone, before any pixel is decoded:
    a ValueError naming the file for a decompression bomb or an oversized image."""
    with warnings.catch_warnings():  # Pillow warns from 89 M pixels; the limit here is lower and an error
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(path)
        except Image.DecompressionBombError as e:
            raise ValueError(f"image file {path}: {e}; igan-lite reads at most {MAX_PIXELS:,} pixels") from None
    if im.width * im.height > MAX_PIXELS:
        im.close()
        raise ValueError(f"image file {path}: {im.width}x{im.height} exceeds {MAX_PIXELS:,} pixels; downscale it first")
    return im


def _square(rgb: np.ndarray, mask: np.ndarray | None, bg: np.ndarray, path: Path) -> np.ndarray:
    """Pad `rgb` square onto `bg` around its centre, or around the bounding box of `mask` plus a 10 % margin; a
    ValueError naming the file when that square would exceed MAX_PIXELS (a 30000x1 strip makes a 900 M canvas)."""
    if mask is None:
        (y0, x0), (y1, x1) = (0, 0), rgb.shape[:2]
    else:
        ys, xs = np.nonzero(mask)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = max(y1 - y0, x1 - x0)
    side = side + 2 * round(0.1 * side) if mask is not None else side
    if side * side > MAX_PIXELS:
        raise ValueError(f"image file {path}: {rgb.shape[1]}x{rgb.shape[0]} padded square would be {side}x{side}, over "
                         f"{MAX_PIXELS:,} pixels; crop it to the object (--crop) or pad and downscale it first")
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    canvas = np.broadcast_to(bg, (side, side, 3)).copy()
    top, left = cy - side // 2, cx - side // 2
    sy0, sx0 = max(top, 0), max(left, 0)
    sy1, sx1 = min(top + side, rgb.shape[0]), min(left + side, rgb.shape[1])
    canvas[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = rgb[sy0:sy1, sx0:sx1]
    return canvas
