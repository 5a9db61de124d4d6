"""The off-the-shelf, non-differentiable renderer f(x, c) of IG-GAN (docs/method.md §1).

Voxel occupancies are thresholded into a surface (scikit-image marching cubes), the mesh is drawn by
Open3D's Filament OffscreenRenderer with one sun light plus ambient, and the image comes back as a
torch tensor. Nothing here carries gradients: that is the point of the paper's proxy renderer.

Filament aborts the process ("JobSystem::getState(): This thread has not been adopted") when a second
thread drives a renderer, and Jupyter calls widget callbacks on other threads (ipykernel 7 subshells). So
every Open3D rendering call of this process runs on one owner thread (thread.py).
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Sequence

import numpy as np
import torch
from skimage.measure import marching_cubes

from igan_lite.core.camera import Camera
from igan_lite.preset_rules import MAX_IMAGE_SIZE, shown
from igan_lite.render.backend import open3d
from igan_lite.render.thread import call_at_exit, on_render_thread

MAX_GRID_SIDE = 256  # 64 MB per float32 grid; marching cubes on it takes seconds

# Open3D 0.19's Filament scene draws every image blank once its process has added about 65,520 meshes in all
# (isl-org/Open3D#4992; measured here: blank from the 65,530th mesh on, and reopening the renderer does not
# reset it; training's render worker met it at step ~2,011). So no process gives Open3D more than this many:
# render_grids draws in a spare process once this one is near it, and RenderPool replaces its workers.
MESHES_PER_PROCESS = 60_000
_meshes_added = 0  # by this process, ever
_IN_WORKER = False  # set in worker processes (RenderPool's, the spare), which are replaced before they run out
RESERVE = 5_000  # a worker process with fewer meshes left than this is replaced
_spare: ProcessPoolExecutor | None = None  # where render_grids draws once this process is spent

# Bump whenever f draws differently for the same RenderSettings (dataset caches key on it).
# 2: shadows, ambient occlusion and antialiasing off (deterministic frames).
RENDERER_VERSION = 2


@dataclass(frozen=True)
class RenderSettings:
    """Everything that decides how f draws a grid; stored in dataset manifests."""

    image_size: int = 64
    color: bool = False  # RGB (3 channels) or luminance (1 channel)
    threshold: float = 0.5  # a voxel is solid where its occupancy exceeds this
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    shape_color: tuple[float, float, float] = (0.55, 0.6, 0.7)
    sun_intensity: float = 200000.0
    ambient_intensity: float = 30000.0
    sun_direction: tuple[float, float, float] = (0.4, -0.6, -1.0)  # in the camera frame: a key light
    max_triangles: int = 20000  # larger marching-cubes meshes are simplified before rendering (0: never)

    def __post_init__(self):
        check_render_settings(self)


def _fail(name: str, expected: str, value) -> None:
    raise ValueError(f"render settings {name}: expected {expected}, got {shown(value)}")


def _finite(v, lo: float, hi: float) -> bool:
    """A real number (not a bool) in [lo, hi]; NaN fails the comparison."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and lo <= v <= hi


def check_render_settings(s: RenderSettings) -> None:
    """A ValueError naming the field unless every setting is usable by f (and cheap enough: MAX_IMAGE_SIZE)."""
    if not isinstance(s.image_size, (int, np.integer)) or isinstance(s.image_size, bool) or not 8 <= s.image_size <= MAX_IMAGE_SIZE:
        _fail("image_size", f"an int in [8, {MAX_IMAGE_SIZE}]", s.image_size)
    if not isinstance(s.color, bool):
        _fail("color", "True or False", s.color)
    if not _finite(s.threshold, 0.0, 1.0) or s.threshold in (0.0, 1.0):
        _fail("threshold", "a number in (0, 1)", s.threshold)
    for name in ("background", "shape_color"):
        v = getattr(s, name)
        if not isinstance(v, (tuple, list)) or len(v) != 3 or not all(_finite(c, 0.0, 1.0) for c in v):
            _fail(name, "3 numbers (RGB) in [0, 1]", v)
    for name in ("sun_intensity", "ambient_intensity"):
        if not _finite(getattr(s, name), 0.0, 1e9):
            _fail(name, "a number in [0, 1e9]", getattr(s, name))
    d = s.sun_direction
    if not isinstance(d, (tuple, list)) or len(d) != 3 or not all(_finite(c, -1e6, 1e6) for c in d) or not any(d):
        _fail("sun_direction", "3 finite numbers, not all 0", d)
    if not isinstance(s.max_triangles, (int, np.integer)) or isinstance(s.max_triangles, bool) or s.max_triangles < 0:
        _fail("max_triangles", "an int >= 0", s.max_triangles)


def as_voxel_batch(voxels, name: str = "voxels") -> np.ndarray:
    """Validate occupancies and return a float32 array (B, N, N, N).

    Accepts numpy or torch, shaped (N, N, N), (B, N, N, N) or (B, 1, N, N, N), float or bool, in [0, 1].
    """
    if isinstance(voxels, torch.Tensor):
        voxels = voxels.detach().cpu().numpy()
    if not isinstance(voxels, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(voxels).__name__}")
    if voxels.dtype != np.bool_ and not np.issubdtype(voxels.dtype, np.floating):
        raise TypeError(f"{name}: expected float occupancies in [0, 1] (or bool), got dtype {voxels.dtype}")
    if voxels.ndim == 5 and voxels.shape[1] == 1:
        voxels = voxels[:, 0]
    if voxels.ndim == 3:
        voxels = voxels[None]
    if voxels.ndim != 4 or not voxels.shape[1] == voxels.shape[2] == voxels.shape[3]:
        raise ValueError(f"{name}: expected shape (N,N,N), (B,N,N,N) or (B,1,N,N,N) with a cubic grid, got {tuple(voxels.shape)}")
    if voxels.shape[1] < 2 or voxels.shape[1] > MAX_GRID_SIDE:
        raise ValueError(f"{name}: grid side must be in [2, {MAX_GRID_SIDE}], got {voxels.shape[1]}")
    if voxels.shape[0] == 0:
        raise ValueError(f"{name}: an empty batch (0 grids)")
    voxels = voxels.astype(np.float32)
    if not np.isfinite(voxels).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    lo, hi = float(voxels.min(initial=0.0)), float(voxels.max(initial=0.0))
    if lo < 0.0 or hi > 1.0:
        raise ValueError(f"{name}: occupancies must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]")
    return voxels


def voxels_to_mesh(grid: np.ndarray, threshold: float = 0.5, max_triangles: int | None = None):
    """Marching cubes on one (N, N, N) grid -> Open3D TriangleMesh in the unit cube, or None if empty."""
    o3d = open3d()
    if grid.max() <= threshold:
        return None
    n = grid.shape[0]
    padded = np.pad(grid, 1)  # closes surfaces that touch the border
    verts, faces, _, _ = marching_cubes(padded, level=threshold)
    # (z, y, x) index space -> world (x, y, z); reversing the axes also turns the faces outward
    xyz = (verts[:, ::-1] - 1 + 0.5) / n - 0.5
    # Open3D copies contiguous float64 / int32 arrays directly; any other layout goes element by element (250x slower)
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.ascontiguousarray(xyz, np.float64)),
                                     o3d.utility.Vector3iVector(np.ascontiguousarray(faces, np.int32)))
    if max_triangles and len(faces) > max_triangles:
        # noisy generator output makes huge meshes; clustering to 2-voxel cells is ~20x faster than
        # quadric decimation and keeps every blob visible
        mesh = mesh.simplify_vertex_clustering(2.0 / n)
    mesh.compute_vertex_normals()
    return mesh


@contextmanager
def quiet_fds():
    """Send the process's file descriptors 1 and 2 to /dev/null meanwhile: C libraries print there directly."""
    saved = [os.dup(fd) for fd in (1, 2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in (1, 2):
            os.dup2(devnull, fd)
        yield
    finally:
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


class Renderer:
    """One Open3D OffscreenRenderer. Use `get_renderer`: a second one in a process segfaults.
    Its methods run on the render thread, whichever thread calls them."""

    @on_render_thread
    def __init__(self, settings: RenderSettings):
        rendering = open3d().visualization.rendering
        self.settings = settings
        with quiet_fds():  # Filament's start-up banner ("FEngine ... created", "EGL(1.5)") goes to fd 1, not Python
            self._o3d = rendering.OffscreenRenderer(settings.image_size, settings.image_size)
        view = self._o3d.scene.view
        view.set_post_processing(False)
        # with shadows, ambient occlusion or antialiasing on, a few pixels change between identical frames;
        # off, f is a pure function (and runs resume bit for bit)
        view.set_shadowing(False, view.ShadowType.PCF)
        view.set_ambient_occlusion(False)
        view.set_antialiasing(False)
        self._material = rendering.MaterialRecord()
        self._material.shader = "defaultLit"
        self.configure(settings)
        # Filament's first frame differs slightly from later ones; draw it now so every image is reproducible
        self.render_mesh(voxels_to_mesh(np.ones((2, 2, 2), np.float32)), Camera(0.0, 0.0))

    @on_render_thread
    def configure(self, settings: RenderSettings) -> None:
        if settings.image_size != self.settings.image_size:
            raise ValueError("image size is fixed per Renderer; use get_renderer() to change it")
        self.settings = settings
        scene = self._o3d.scene
        scene.set_background([*settings.background, 1.0])
        self._material.base_color = [*settings.shape_color, 1.0]
        self._material.base_roughness, self._material.base_metallic, self._material.base_reflectance = 1.0, 0.0, 0.2
        scene.scene.enable_sun_light(True)
        scene.scene.enable_indirect_light(True)
        scene.scene.set_indirect_light_intensity(settings.ambient_intensity)

    @on_render_thread
    def render_mesh(self, mesh, camera: Camera) -> np.ndarray:
        """Draw one mesh (or None: background only) -> uint8 image (H, W, 3)."""
        global _meshes_added
        drawn = mesh is not None and len(mesh.triangles) > 0
        if drawn and _meshes_added >= MESHES_PER_PROCESS:  # before any Open3D object is in this frame's locals
            raise RuntimeError(f"this process has given Open3D {_meshes_added} meshes; past about 65,520 it draws "
                               "blank images (MESHES_PER_PROCESS): draw in a fresh process (render.pool.RenderPool)")
        s, scene = self.settings, self._o3d.scene
        scene.clear_geometry()
        if drawn:
            _meshes_added += 1
            scene.add_geometry("shape", mesh, self._material)
        sun = camera.rotation().T @ np.asarray(s.sun_direction)
        scene.scene.set_sun_light(sun / np.linalg.norm(sun), [1.0, 1.0, 1.0], s.sun_intensity)
        self._o3d.setup_camera(camera.fov, [0.0, 0.0, 0.0], camera.eye(), [0.0, 1.0, 0.0])
        return np.asarray(self._o3d.render_to_image())

    @on_render_thread
    def close(self) -> None:
        del self._o3d


_ACTIVE: Renderer | None = None


@on_render_thread
def get_renderer(settings: RenderSettings) -> Renderer:
    """The process's renderer, configured for `settings` (recreated only when the image size changes)."""
    global _ACTIVE
    if _ACTIVE is not None and _ACTIVE.settings.image_size == settings.image_size:
        _ACTIVE.configure(settings)
        return _ACTIVE
    if _ACTIVE is not None:
        _ACTIVE.close()
        _ACTIVE = None
    _ACTIVE = Renderer(settings)
    return _ACTIVE


def _close_active() -> None:
    """Destroy the renderer on its own thread before the interpreter exits (else Filament aborts at exit)."""
    global _ACTIVE
    if _ACTIVE is not None:
        _ACTIVE.close()
        _ACTIVE = None


call_at_exit(_close_active)


def to_tensor(images: Sequence[np.ndarray] | np.ndarray, color: bool) -> torch.Tensor:
    """uint8 images (B of (H, W, 3)) -> float tensor (B, C, H, W) in [0, 1]; C = 1 is luminance (Rec. 601)."""
    x = torch.from_numpy(np.asarray(images)).float().div_(255.0).permute(0, 3, 1, 2)
    if color:
        return x.contiguous()
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (x * weights).sum(1, keepdim=True)


def _camera_list(cameras, batch: int) -> list[Camera]:
    if isinstance(cameras, Camera):
        return [cameras] * batch
    try:
        cameras = list(cameras)
    except TypeError:
        raise ValueError(f"cameras: expected one Camera or a sequence of {batch} Cameras, got {type(cameras).__name__}") from None
    if len(cameras) != batch or not all(isinstance(c, Camera) for c in cameras):
        kinds = sorted({type(c).__name__ for c in cameras})
        raise ValueError(f"cameras: expected one Camera or a sequence of {batch} Cameras, got {len(cameras)} items of type {kinds}")
    return cameras


def render_inputs(voxels, cameras, settings: RenderSettings, thresholds=None):
    """Validate f's inputs -> (grids (B, N, N, N) float32, surface levels, cameras), or a clear error."""
    grids = as_voxel_batch(voxels)
    cams = _camera_list(cameras, len(grids))
    try:
        levels = [settings.threshold] * len(grids) if thresholds is None else [float(t) for t in np.ravel(thresholds)]
    except (TypeError, ValueError):
        levels = []
    if len(levels) != len(grids) or not all(0.0 < t < 1.0 for t in levels):
        raise ValueError(f"thresholds: expected {len(grids)} values in (0, 1), got {thresholds}")
    return grids, levels, cams


def meshes_left() -> int:
    """How many more meshes this process may give Open3D (MESHES_PER_PROCESS)."""
    return MESHES_PER_PROCESS - _meshes_added


@on_render_thread
def render_grids(grids: np.ndarray, levels: Sequence[float], cams: Sequence[Camera], settings: RenderSettings) -> np.ndarray:
    """Validated inputs (see render_inputs) -> uint8 images (B, H, W, 3), in this process, or in a spare process
    once this one has nearly used up its MESHES_PER_PROCESS (the same images: f is a pure function)."""
    global _spare
    if len(grids) > meshes_left() and not _IN_WORKER:
        _spare = _spare or ProcessPoolExecutor(1, get_context("spawn"), initializer=become_worker)
        images, left = _spare.submit(_draw_and_count, grids, levels, cams, settings).result()
        if left < RESERVE:  # the spare is nearly spent too: the next call starts a fresh one
            _spare.shutdown()
            _spare = None
        return images
    renderer = get_renderer(settings)
    return np.stack([renderer.render_mesh(voxels_to_mesh(g, t, settings.max_triangles), c)
                     for g, t, c in zip(grids, levels, cams)])


def become_worker() -> None:
    """Set up a worker process (RenderPool's, the spare): one torch thread, and never a spare of its own."""
    global _IN_WORKER
    _IN_WORKER = True
    torch.set_num_threads(1)


def _draw_and_count(grids, levels, cams, settings: RenderSettings) -> tuple[np.ndarray, int]:
    """In the spare process: the images, and how many meshes it has left."""
    return render_grids(grids, levels, cams, settings), meshes_left()


def render_voxels(voxels, cameras, settings: RenderSettings = RenderSettings(), thresholds=None) -> torch.Tensor:
    """f(x, c): occupancies (see as_voxel_batch) and cameras -> images (B, C, H, W) in [0, 1].

    `thresholds` (one per grid) overrides settings.threshold: training draws f's surface level per shape
    so that f keeps responding to occupancies near 0.5 (docs/method.md §10). In this process; a RenderPool
    (pool.py) draws the same images in worker processes."""
    return to_tensor(render_grids(*render_inputs(voxels, cameras, settings, thresholds), settings), settings.color)


def facing_camera(mesh, eye: np.ndarray):
    """A copy of `mesh` drawn as a flat-shaded, two-sided surface seen from `eye`: every triangle gets its own
    corners, wound and with its face normal turned towards the eye. Real meshes (ShapeNet, CAD exports) often
    come without normals, which Filament draws unlit, or with inconsistently wound faces and normals, which
    come out dark; a closed, consistently oriented mesh looks as it did (flat-shaded)."""
    o3d = open3d()
    corners = np.asarray(mesh.vertices)[np.asarray(mesh.triangles)]  # (T, 3 corners, xyz)
    face = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    away = ((np.asarray(eye) - corners.mean(1)) * face).sum(-1) < 0
    face = np.where(away[:, None], -face, face) / np.maximum(np.linalg.norm(face, axis=-1, keepdims=True), 1e-12)
    corners = np.where(away[:, None, None], corners[:, ::-1], corners).reshape(-1, 3)  # counter-clockwise as seen
    out = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.ascontiguousarray(corners, np.float64)),
                                    o3d.utility.Vector3iVector(np.arange(len(corners), dtype=np.int32).reshape(-1, 3)))
    out.vertex_normals = o3d.utility.Vector3dVector(np.ascontiguousarray(np.repeat(face, 3, axis=0), np.float64))
    return out


MAX_COORD = 1e6  # mesh vertices farther out are refused: scaling them to the unit cube loses all precision


def check_mesh(mesh, name: str = "mesh", limit: float = MAX_COORD):
    """`mesh` if it is an Open3D triangle mesh whose vertices are finite, within `limit` of the origin on every
    axis, not all at one point, and whose triangles index them; else a ValueError naming it (a NaN or 1e308 vertex
    made the voxeliser hang, and renders nothing)."""
    if not isinstance(mesh, open3d().geometry.TriangleMesh):
        raise ValueError(f"{name}: expected an Open3D TriangleMesh, got {type(mesh).__name__}")
    v, t = np.asarray(mesh.vertices), np.asarray(mesh.triangles)
    if len(t) == 0 or len(v) == 0:
        raise ValueError(f"{name}: has no triangles")
    if not np.isfinite(v).all():
        raise ValueError(f"{name}: {int((~np.isfinite(v)).any(axis=1).sum())} vertices are NaN or infinite")
    if np.abs(v).max() > limit:
        raise ValueError(f"{name}: a vertex coordinate is {np.abs(v).max():.3g}; expected coordinates within "
                         f"[-{limit:g}, {limit:g}]" + (" (normalise_mesh puts a mesh in the unit cube)" if limit < MAX_COORD else ""))
    extent = (v.max(0) - v.min(0)).max()
    if extent <= MAX_COORD * 1e-12:
        raise ValueError(f"{name}: all vertices lie at one point (extent {extent:.3g})")
    if t.min() < 0 or t.max() >= len(v):
        raise ValueError(f"{name}: triangles index vertices outside 0..{len(v) - 1}")
    return mesh


def _empty(mesh) -> bool:
    """An Open3D mesh with no triangles (drawn as the background alone)."""
    return isinstance(mesh, open3d().geometry.TriangleMesh) and not len(mesh.triangles)


@on_render_thread
def render_meshes(meshes, cameras, settings: RenderSettings = RenderSettings()) -> torch.Tensor:
    """Draw Open3D meshes (a procedural shape's true surface, or a real mesh: shapes.load_mesh) with f's
    camera and lights, each as a two-sided surface (facing_camera); None draws the background only. Each mesh
    is checked first (check_mesh: a ValueError naming it)."""
    meshes = [m if m is None or _empty(m) else check_mesh(m, f"meshes[{i}]") for i, m in enumerate(meshes)]
    cams = _camera_list(cameras, len(meshes))
    renderer = get_renderer(settings)
    return to_tensor([renderer.render_mesh(m if m is None or not len(m.triangles) else facing_camera(m, c.eye()), c)
                      for m, c in zip(meshes, cams)], settings.color)
