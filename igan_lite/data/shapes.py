"""ShapeNet-lite: procedural, part-based shape families -> meshes -> voxels; real meshes -> voxels.

World frame: y up, shapes face +z, every shape fits the unit cube [-0.5, 0.5]^3.
Voxel grids are indexed `grid[z, y, x]` (torch's D, H, W order), voxel i centred at -0.5 + (i + 0.5)/N.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from igan_lite.render.backend import open3d
from igan_lite.render.renderer import check_mesh

MESH_SUFFIXES = (".obj", ".off", ".ply", ".stl")
EXTENT = 0.9  # shapes are scaled so their largest side is this (margin inside the unit cube)


def rotation(axis: str, degrees: float) -> np.ndarray:
    """3x3 rotation about a world axis ('x', 'y' or 'z')."""
    a = np.deg2rad(degrees)
    c, s = np.cos(a), np.sin(a)
    i, j = {"x": (1, 2), "y": (2, 0), "z": (0, 1)}[axis]
    r = np.eye(3)
    r[i, i], r[i, j], r[j, i], r[j, j] = c, -s, s, c
    return r


@dataclass
class Part:
    """A solid primitive: box (half extents), frustum (radii bottom/top, half height along local y)
    or ellipsoid (radii). `rot` maps local to world axes."""

    kind: str
    center: np.ndarray
    dims: np.ndarray  # box: (hx, hy, hz); frustum: (r_bottom, half_height, r_top); ellipsoid: radii
    rot: np.ndarray = field(default_factory=lambda: np.eye(3))

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Boolean inside-test for world points (P, 3)."""
        p = (points - self.center) @ self.rot  # world -> local
        if self.kind == "box":
            return np.all(np.abs(p) <= self.dims, axis=1)
        if self.kind == "ellipsoid":
            return np.sum((p / self.dims) ** 2, axis=1) <= 1.0
        r_bottom, half_h, r_top = self.dims
        t = (p[:, 1] + half_h) / (2 * half_h)
        radius = r_bottom + (r_top - r_bottom) * t
        return (np.abs(p[:, 1]) <= half_h) & (np.hypot(p[:, 0], p[:, 2]) <= radius)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact world-space bounding box (lo, hi)."""
        if self.kind == "box":
            half = np.abs(self.rot) @ self.dims
        elif self.kind == "ellipsoid":
            half = np.sqrt((self.rot * self.dims) ** 2 @ np.ones(3))
        else:  # the hull of two discs, radius r, normal = local y in world
            r_bottom, half_h, r_top = self.dims
            axis = self.rot[:, 1]
            spread = np.sqrt(np.clip(1 - axis**2, 0, 1))
            ends = [(self.center - half_h * axis, r_bottom), (self.center + half_h * axis, r_top)]
            lo = np.min([c - r * spread for c, r in ends], axis=0)
            hi = np.max([c + r * spread for c, r in ends], axis=0)
            return lo, hi
        return self.center - half, self.center + half

    def local_mesh(self):
        o3d = open3d()
        if self.kind == "box":
            m = o3d.geometry.TriangleMesh.create_box(*(2 * self.dims))
            return m.translate(-self.dims)
        if self.kind == "ellipsoid":
            m = o3d.geometry.TriangleMesh.create_sphere(1.0, resolution=12)
            m.vertices = o3d.utility.Vector3dVector(np.asarray(m.vertices) * self.dims)
            return m
        return _frustum_mesh(*self.dims)

    def mesh(self):
        m = self.local_mesh()
        v = np.asarray(m.vertices) @ self.rot.T + self.center
        m.vertices = open3d().utility.Vector3dVector(v)
        return m

    def scaled(self, s: float, shift: np.ndarray) -> "Part":
        return Part(self.kind, (self.center + shift) * s, self.dims * s, self.rot)


def _frustum_mesh(r_bottom: float, half_h: float, r_top: float, segments: int = 20):
    """Closed frustum (cylinder, cone) along local y."""
    o3d = open3d()
    a = np.linspace(0, 2 * np.pi, segments, endpoint=False)
    ring = np.stack([np.cos(a), np.zeros_like(a), np.sin(a)], 1)
    bottom = ring * r_bottom + [0, -half_h, 0]
    top = ring * r_top + [0, half_h, 0]
    verts = np.vstack([bottom, top, [[0, -half_h, 0], [0, half_h, 0]]])
    i = np.arange(segments)
    j = (i + 1) % segments
    nb, nt = 2 * segments, 2 * segments + 1
    sides = np.vstack([np.stack([i, segments + i, j], 1), np.stack([j, segments + i, segments + j], 1)])
    caps = np.vstack([np.stack([np.full(segments, nb), i, j], 1), np.stack([np.full(segments, nt), segments + j, segments + i], 1)])
    return o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(verts), o3d.utility.Vector3iVector(np.vstack([sides, caps])))


@dataclass
class Shape:
    """A procedural shape: a union of parts, normalised into the unit cube."""

    category: str
    seed: int
    parts: list[Part]

    def mesh(self):
        """The union of the parts' surfaces (overlapping, not boolean-merged) as one TriangleMesh."""
        o3d = open3d()
        mesh = o3d.geometry.TriangleMesh()
        for part in self.parts:
            mesh += part.mesh()
        mesh.compute_vertex_normals()
        return mesh

    def voxels(self, n: int, supersample: int = 2) -> np.ndarray:
        """(n, n, n) float32 grid in {0, 1}: a voxel is occupied when >= 1/4 of it lies inside."""
        n, s = _check_resolution(n), supersample
        coords = -0.5 + (np.arange(n * s) + 0.5) / (n * s)  # the supersampled lattice, per axis
        inside = np.zeros((n * s,) * 3, dtype=bool)  # [z, y, x]
        for part in self.parts:  # test only the lattice points inside each part's bounding box
            lo, hi = part.bounds()
            (x0, y0, z0), (x1, y1, z1) = np.searchsorted(coords, lo), np.searchsorted(coords, hi, side="right")
            z, y, x = np.meshgrid(coords[z0:z1], coords[y0:y1], coords[x0:x1], indexing="ij")
            hit = part.contains(np.stack([x.ravel(), y.ravel(), z.ravel()], 1)).reshape(z.shape)
            inside[z0:z1, y0:y1, x0:x1] |= hit
        fraction = inside.reshape(n, s, n, s, n, s).mean(axis=(1, 3, 5))
        return (fraction >= 0.25).astype(np.float32)


def _check_resolution(n: int) -> int:
    if not isinstance(n, (int, np.integer)) or not 8 <= n <= 256:
        raise ValueError(f"voxel resolution n must be an integer in [8, 256], got {n!r}")
    return int(n)


# --- the families ------------------------------------------------------------------------------

def box(center, half, rot=None) -> Part:
    return Part("box", np.asarray(center, float), np.asarray(half, float), np.eye(3) if rot is None else rot)


def frustum(center, r_bottom, half_h, r_top, rot=None) -> Part:
    return Part("frustum", np.asarray(center, float), np.array([r_bottom, half_h, r_top], float), np.eye(3) if rot is None else rot)


def ellipsoid(center, radii) -> Part:
    return Part("ellipsoid", np.asarray(center, float), np.asarray(radii, float))


def _legs(half_w, half_d, top_y, thick, round_legs, inset=0.0) -> list[Part]:
    """Four legs from the floor (y=0) to top_y at the corners of a (2 half_w x 2 half_d) footprint."""
    parts = []
    for sx in (-1, 1):
        for sz in (-1, 1):
            c = [sx * (half_w - thick - inset), top_y / 2, sz * (half_d - thick - inset)]
            parts.append(frustum(c, thick, top_y / 2, thick) if round_legs else box(c, [thick, top_y / 2, thick]))
    return parts


def chair(rng: np.random.Generator) -> list[Part]:
    """Seat, back (solid or slatted), legs (four or pedestal with star base), optional arms."""
    w, d = rng.uniform(0.2, 0.3), rng.uniform(0.2, 0.28)
    seat_y, seat_t = rng.uniform(0.35, 0.5), rng.uniform(0.03, 0.06)
    leg_t = rng.uniform(0.025, 0.045)
    parts = [box([0, seat_y, 0], [w, seat_t, d])]
    if rng.random() < 0.75:
        parts += _legs(w, d, seat_y, leg_t, rng.random() < 0.4)
    else:  # office chair: pedestal + star base
        parts.append(frustum([0, seat_y / 2, 0], leg_t * 1.3, seat_y / 2, leg_t * 1.3))
        for k in range(5):
            spoke = rotation("y", 72 * k)
            parts.append(box(spoke @ np.array([w * 0.45, leg_t, 0]), [w * 0.45, leg_t, leg_t], spoke))
    back_h, back_t = rng.uniform(0.3, 0.55), rng.uniform(0.025, 0.05)
    back_y = seat_y + seat_t + back_h / 2
    tilt = rotation("x", -rng.uniform(0, 15))
    if rng.random() < 0.6:
        parts.append(box([0, back_y, -d + back_t], [w, back_h / 2, back_t], tilt))
    else:  # slats between two posts and a top rail
        n_slats = int(rng.integers(2, 5))
        for x in np.linspace(-w + back_t, w - back_t, n_slats + 2):
            parts.append(box([x, back_y, -d + back_t], [back_t, back_h / 2, back_t], tilt))
        parts.append(box([0, back_y + back_h / 2 - back_t, -d + back_t], [w, back_t * 1.5, back_t], tilt))
    if rng.random() < 0.4:  # arms
        arm_h = rng.uniform(0.12, 0.2)
        for sx in (-1, 1):
            parts.append(box([sx * (w - back_t), seat_y + seat_t + arm_h, 0], [back_t, back_t, d * 0.9]))
            parts.append(box([sx * (w - back_t), seat_y + seat_t + arm_h / 2, d * 0.7], [back_t, arm_h / 2, back_t]))
    return parts


def table(rng: np.random.Generator) -> list[Part]:
    """Top (rectangular or round), legs (four, pedestal, or two trestles), optional lower shelf."""
    height, top_t = rng.uniform(0.35, 0.6), rng.uniform(0.025, 0.05)
    w, d = rng.uniform(0.3, 0.5), rng.uniform(0.2, 0.45)
    round_top = rng.random() < 0.3
    parts = [frustum([0, height, 0], w, top_t, w) if round_top else box([0, height, 0], [w, top_t, d])]
    style = rng.choice(["four", "pedestal", "trestle"], p=[0.6, 0.2, 0.2])
    leg_t = rng.uniform(0.025, 0.05)
    if style == "four":
        half_d = w * 0.7 if round_top else d
        parts += _legs(w * 0.7 if round_top else w, half_d, height, leg_t, rng.random() < 0.4, inset=0.02)
        if rng.random() < 0.35 and not round_top:
            parts.append(box([0, height * rng.uniform(0.2, 0.4), 0], [w - leg_t, top_t * 0.8, d - leg_t]))
    elif style == "pedestal":
        parts.append(frustum([0, height / 2, 0], leg_t * 2, height / 2, leg_t * 1.5))
        parts.append(frustum([0, top_t, 0], w * 0.5, top_t, w * 0.45))
    else:
        half_d = w * 0.6 if round_top else d * 0.85
        for sx in (-1, 1):
            x = sx * (w * 0.6 if round_top else w * 0.8)
            parts.append(box([x, height / 2, 0], [leg_t, height / 2, leg_t]))
            parts.append(box([x, leg_t, 0], [leg_t, leg_t, half_d]))
        parts.append(box([0, height * 0.3, 0], [w * 0.8, leg_t * 0.8, leg_t * 0.8]))
    return parts


def airplane(rng: np.random.Generator) -> list[Part]:
    """Fuselage with nose and tail cones, swept main wings, tailplane, fin, optional engines."""
    length, radius = rng.uniform(0.6, 0.9), rng.uniform(0.04, 0.07)
    along_z = rotation("x", 90)  # local y (frustum axis) -> world z
    body = length * 0.6
    parts = [
        frustum([0, 0, 0], radius, body / 2, radius, along_z),
        frustum([0, 0, body / 2 + length * 0.1], radius, length * 0.1, radius * 0.2, along_z),
        frustum([0, 0, -body / 2 - length * 0.1], radius, length * 0.1, radius * 0.3, rotation("x", -90)),
    ]
    span, chord = rng.uniform(0.35, 0.5), rng.uniform(0.06, 0.12)
    sweep, wing_t = rng.uniform(0, 35), rng.uniform(0.01, 0.02)
    wing_y = rng.choice([-0.6, 0.0, 0.6]) * radius
    for sx in (-1, 1):
        wing = rotation("y", sx * sweep)
        parts.append(box(wing @ np.array([sx * span / 2, 0, 0]) + [0, wing_y, 0.02], [span / 2, wing_t, chord], wing))
    tail_z = -body / 2 - length * 0.1
    parts.append(box([0, 0, tail_z], [span * rng.uniform(0.3, 0.45), wing_t, chord * 0.6]))
    fin_h = rng.uniform(0.08, 0.16)
    parts.append(box([0, fin_h / 2 + radius * 0.5, tail_z], [wing_t, fin_h / 2, chord * 0.7], rotation("x", 20)))
    if rng.random() < 0.6:
        for sx in (-1, 1):
            parts.append(frustum([sx * span * 0.35, wing_y - radius * 0.8, 0.05], radius * 0.5, chord * 0.9, radius * 0.5, along_z))
    return parts


def car(rng: np.random.Generator) -> list[Part]:
    """Body, cabin (offset, sometimes a pickup's short cab), four wheels, optional spoiler."""
    length, width = rng.uniform(0.7, 0.9), rng.uniform(0.3, 0.4)
    wheel_r = rng.uniform(0.06, 0.09)
    body_h = rng.uniform(0.08, 0.14)
    body_y = wheel_r + body_h / 2
    parts = [box([0, body_y, 0], [width / 2, body_h / 2, length / 2])]
    cab_len = length * rng.uniform(0.35, 0.6)
    cab_h = rng.uniform(0.07, 0.13)
    cab_z = rng.uniform(-0.15, 0.1) * length
    parts.append(box([0, body_y + body_h / 2 + cab_h / 2, cab_z], [width / 2 * 0.9, cab_h / 2, cab_len / 2]))
    axle = rotation("z", 90)  # frustum axis along world x
    for sz in (-1, 1):
        for sx in (-1, 1):
            parts.append(frustum([sx * width / 2, wheel_r, sz * length * 0.32], wheel_r, 0.03, wheel_r, axle))
    if rng.random() < 0.3:
        parts.append(box([0, body_y + body_h / 2 + 0.05, -length / 2 + 0.03], [width / 2, 0.01, 0.03]))
    return parts


def lamp(rng: np.random.Generator) -> list[Part]:
    """Base, straight or bent pole, shade (cone frustum) and optional bulb."""
    base_r, base_t = rng.uniform(0.08, 0.16), rng.uniform(0.015, 0.04)
    height, pole_r = rng.uniform(0.4, 0.8), rng.uniform(0.012, 0.025)
    parts = [frustum([0, base_t, 0], base_r, base_t, base_r * 0.9) if rng.random() < 0.7
             else box([0, base_t, 0], [base_r, base_t, base_r])]
    top = np.array([0.0, height, 0.0])
    if rng.random() < 0.4:  # bent arm: vertical pole then an angled one
        parts.append(frustum([0, height * 0.3, 0], pole_r, height * 0.3, pole_r))
        angle = rng.uniform(25, 60)
        arm = height * 0.45
        tilt = rotation("x", angle)
        parts.append(frustum(np.array([0, height * 0.6, 0]) + tilt @ [0, arm / 2, 0], pole_r, arm / 2, pole_r, tilt))
        top = np.array([0, height * 0.6, 0]) + tilt @ [0, arm, 0]
    else:
        parts.append(frustum([0, height / 2, 0], pole_r, height / 2, pole_r))
    shade_h, shade_r = rng.uniform(0.1, 0.2), rng.uniform(0.08, 0.18)
    parts.append(frustum(top + [0, shade_h * 0.3, 0], shade_r, shade_h / 2, shade_r * rng.uniform(0.3, 0.8)))
    if rng.random() < 0.5:
        parts.append(ellipsoid(top - [0, shade_h * 0.15, 0], [shade_r * 0.4] * 3))
    return parts


CATEGORIES = {"chair": chair, "table": table, "airplane": airplane, "car": car, "lamp": lamp}


def _normalise(parts: list[Part]) -> list[Part]:
    """Centre the parts' bounding box at the origin and scale its largest side to EXTENT."""
    lo = np.min([p.bounds()[0] for p in parts], axis=0)
    hi = np.max([p.bounds()[1] for p in parts], axis=0)
    return [p.scaled(EXTENT / (hi - lo).max(), -(lo + hi) / 2) for p in parts]


def make_shape(category: str, seed: int) -> Shape:
    """The procedural shape number `seed` of `category` (deterministic)."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown category {category!r}; expected one of {sorted(CATEGORIES)}")
    rng = np.random.default_rng([int(seed), sorted(CATEGORIES).index(category)])
    return Shape(category, int(seed), _normalise(CATEGORIES[category](rng)))


# --- real meshes --------------------------------------------------------------------------------

def load_mesh(path: str | Path):
    """Read a triangle mesh (.obj/.off/.ply/.stl) with Open3D; raise ValueError if it has no triangles."""
    path = Path(path)
    if path.suffix.lower() not in MESH_SUFFIXES:
        raise ValueError(f"mesh file {path}: unsupported suffix {path.suffix!r}; expected one of {MESH_SUFFIXES}")
    if not path.is_file():
        raise FileNotFoundError(f"mesh file {path} does not exist")
    check_mesh_header(path)
    mesh = open3d().io.read_triangle_mesh(str(path))
    if len(mesh.triangles) == 0:
        raise ValueError(f"mesh file {path} could not be read as a triangle mesh (no triangles found)")
    return check_mesh(mesh, f"mesh file {path}")


# the fewest bytes a vertex and a face take in each format: a header claiming more than the file can hold is a
# damaged or hostile file, refused before Open3D allocates what it claims (a 2^31-vertex PLY header: 64 GB)
MIN_BYTES = {"ascii": (6, 8), "binary": (12, 13)}  # "0 0 0\n", "3 0 1 2\n"; 3 floats, a count byte + 3 ints


def check_mesh_header(path: Path) -> None:
    """The vertex and face counts a .ply, .off or binary .stl header declares fit the file's size; a ValueError
    naming the file if not (OBJ and ASCII STL declare no counts)."""
    size, suffix = path.stat().st_size, path.suffix.lower()
    with path.open("rb") as f:
        head = f.read(65536)
    counts = None
    if suffix == ".ply" and head.startswith(b"ply"):
        text = head.split(b"end_header", 1)[0].decode("ascii", "replace").split()
        kind = "ascii" if "ascii" in text else "binary"
        count = lambda name: int(text[text.index(name) + 1]) if name in text[:-1] and text[text.index(name) + 1].isdigit() else 0  # noqa: E731
        counts = (kind, count("vertex"), count("face"))
    elif suffix == ".off":
        words = head.decode("ascii", "replace").replace("OFF", " ", 1).split()
        numbers = [int(w) for w in words[:2] if w.isdigit()]
        counts = ("ascii", *numbers) if len(numbers) == 2 else None
    elif suffix == ".stl" and not head.lstrip().startswith(b"solid") and len(head) >= 84:
        triangles = int.from_bytes(head[80:84], "little")
        if 84 + 50 * triangles != size:
            raise ValueError(f"mesh file {path}: its header declares {triangles:,} triangles ({84 + 50 * triangles:,} "
                             f"bytes) but the file has {size:,} bytes; it is damaged")
    if counts:
        kind, vertices, faces = counts
        need = vertices * MIN_BYTES[kind][0] + faces * MIN_BYTES[kind][1]
        if need > size:
            raise ValueError(f"mesh file {path}: its header declares {vertices:,} vertices and {faces:,} faces, more "
                             f"than its {size:,} bytes can hold; it is damaged")


def normalise_mesh(mesh):
    """Centre the bounding box at the origin and scale its largest side to EXTENT (in place)."""
    check_mesh(mesh)
    lo, hi = mesh.get_min_bound(), mesh.get_max_bound()
    mesh.translate(-(lo + hi) / 2)
    mesh.scale(EXTENT / max((hi - lo).max(), 1e-12), center=np.zeros(3))
    return mesh


def mesh_to_voxels(mesh, n: int) -> np.ndarray:
    """(n, n, n) float32 occupancy of a mesh in the unit cube: every voxel its surface passes through,
    plus the cavities those enclose (flood fill from outside, so overlapping parts are solid too).
    A mesh with holes in its surface keeps a hollow shell."""
    o3d = open3d()
    n = _check_resolution(n)
    check_mesh(mesh, limit=1.0)  # voxelising time grows with the square of the extent beyond the cube
    surface = o3d.geometry.VoxelGrid.create_from_triangle_mesh_within_bounds(mesh, 1.0 / n, [-0.5] * 3, [0.5] * 3)
    idx = np.array([v.grid_index for v in surface.get_voxels()], dtype=int).reshape(-1, 3)
    idx = idx[np.all((idx >= 0) & (idx < n), axis=1)]
    grid = np.zeros((n, n, n), dtype=bool)
    grid[idx[:, 2], idx[:, 1], idx[:, 0]] = True
    return ndimage.binary_fill_holes(grid).astype(np.float32)


def find_mesh_files(root: str | Path) -> list[Path]:
    """Mesh files under `root`: a ShapeNetCore folder (<synset>/<model>/models/model_normalized.obj)
    or any folder tree of .obj/.off/.ply/.stl files, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"mesh folder {root} does not exist or is not a directory")
    shapenet = sorted(root.glob("*/models/model_normalized.obj")) or sorted(root.glob("*/*/models/model_normalized.obj"))
    files = shapenet or sorted(p for p in root.rglob("*") if p.suffix.lower() in MESH_SUFFIXES)
    if not files:
        raise ValueError(f"no mesh files ({', '.join(MESH_SUFFIXES)}) found under {root}")
    return files


def load_mesh_folder(root: str | Path, n: int) -> tuple[np.ndarray, list[Path]]:
    """Voxelise every mesh under `root` (normalised into the unit cube) -> ((M, n, n, n), paths)."""
    n = _check_resolution(n)
    files = find_mesh_files(root)
    grids = [mesh_to_voxels(normalise_mesh(load_mesh(f)), n) for f in files]
    return np.stack(grids), files
