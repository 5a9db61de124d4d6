"""A round of hostile and bad inputs against igan-lite, each classified good, unclear or bad (docs/bad_inputs.md,
"Round 3").

    python scripts/hostile_round.py                    # this checkout
    python scripts/hostile_round.py --code OTHER_TREE  # another checkout's igan_lite (e.g. a `git worktree`)

Every case runs in a fresh folder, under a 10 GB address-space limit and a 120 s timeout, at the smoke preset.
- good: a refusal expected and given in one line ("igan-lite: error: ...", exit 2) that names its cause (the case's
  keywords), or correct handling (exit 0 and the case's check holds);
- unclear: a traceback (exit 1), or a refusal that does not name the cause;
- bad: a hang, a crash or a kill, exit 0 where a refusal was due, a check that fails (a silent wrong result), or a
  file the user owns changed.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

TIMEOUT, MEMORY = 120, 10 * 2**30


@dataclass
class Case:
    name: str
    kind: str
    setup: Callable[[Path], None]
    args: list[str] | None = None  # igan-lite arguments; None: `code` is run as Python instead
    code: str = ""
    refuse: tuple[str, ...] = ()  # keywords the one-line error must contain (case-insensitive); () = must succeed
    check: Callable[[Path], bool] | None = None
    protect: tuple[str, ...] = ()  # paths (relative to the case folder) that must not change
    new: bool = True  # not one of the listed cases


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def _png(path: Path, w: int, h: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (w, h), 0).save(path)


def _cube_obj(path: Path) -> None:
    v = [(x, y, z) for x in (0, 1) for y in (0, 1) for z in (0, 1)]
    f = [(1, 2, 4), (1, 4, 3), (5, 7, 8), (5, 8, 6), (1, 5, 6), (1, 6, 2), (3, 4, 8), (3, 8, 7), (1, 3, 7), (1, 7, 5),
         (2, 6, 8), (2, 8, 4)]
    _write(path, "".join(f"v {a} {b} {c}\n" for a, b, c in v) + "".join(f"f {a} {b} {c}\n" for a, b, c in f))


def _meshes(d: Path, bad: tuple[str, bytes] | None = None) -> None:
    for i in range(3):
        _cube_obj(d / "m" / f"cube{i}.obj")
    if bad:
        _write(d / "m" / bad[0], bad[1])


def _images(d: Path, n: int = 3) -> None:
    for i in range(n):
        im = Image.new("RGB", (40, 40), (255, 255, 255))
        im.paste((20 * i, 0, 0), (10, 10, 30, 30))
        (d / "im").mkdir(parents=True, exist_ok=True)
        im.save(d / "im" / f"p{i}.png")


def _run_copy(d: Path) -> None:
    shutil.copytree(TEMPLATE / "run", d / "run", symlinks=True)


def _edit_checkpoint(d: Path, edit: Callable[[dict], None]) -> None:
    import torch
    path = d / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    edit(state)
    torch.save(state, path)


def _damage(d: Path, offset_fraction: float = 0.5, size: int = 4096) -> None:
    path = d / "run" / "checkpoint.pt"
    data = bytearray(path.read_bytes())
    at = int(len(data) * offset_fraction)
    data[at:at + size] = bytes(min(size, len(data) - at))
    path.write_bytes(bytes(data))


def _own_dataset(d: Path) -> None:
    """An image-folder dataset (own data) at d/ds, built by the code under test."""
    _images(d, 60)
    _cli(d, ["dataset", "build", "--images", str(d / "im"), "--out", str(d / "ds"), "--preset", "smoke", "--quiet"])


def _manifest_entry(d: Path, name: str, target: Path | None = None, fifo: bool = False) -> None:
    """Point the dataset's manifest at `name` with that file's real hash (an attacker who edits the manifest)."""
    import hashlib
    _own_dataset(d)
    manifest = json.loads((d / "ds" / "manifest.json").read_text())
    if fifo:
        os.mkfifo(d / "ds" / name)
        digest = "0" * 64
    else:
        digest = hashlib.sha256((target or d / "ds" / name).read_bytes()).hexdigest()
    manifest["sha256"][name] = digest
    (d / "ds" / "manifest.json").write_text(json.dumps(manifest))


def _cli(d: Path, args: list[str]) -> subprocess.CompletedProcess:
    if "--no-fid" in args and "--no-fid" not in (CODE / "igan_lite" / "cli.py").read_text():
        args = [a for a in args if a != "--no-fid"]  # a checkout from before FID: it never computes it
    env = {**os.environ, "IGAN_PRESET": "smoke", "PYTHONPATH": str(CODE), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "igan_lite.cli", *args], cwd=d, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT, preexec_fn=_limits)


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


TRAIN = ["train", "--preset", "smoke", "--steps", "2", "--set", "pretrain=false", "--quiet"]
IMPORTS = textwrap.dedent("""
    import numpy as np, torch
    try:  # a checkout from before the package had floors first: the editable install would find the new modules
        from igan_lite.camera import Camera
        from igan_lite.render import render_meshes, render_voxels
        from igan_lite.metrics import fd_lite, FeatureNet, shape_metrics, iou_matrix
        from igan_lite.image_files import read_image
    except ImportError:
        from igan_lite.core.camera import Camera
        from igan_lite.render.renderer import render_meshes, render_voxels
        from igan_lite.evaluation.metrics import fd_lite, FeatureNet, shape_metrics, iou_matrix
        from igan_lite.data.image_files import read_image
    import open3d as o3d
""")



def api(code: str) -> str:
    """Python run in the case folder; an expected failure prints 'igan-lite: error: <message>' and exits 2, like the CLI."""
    body = textwrap.indent(textwrap.dedent(code), "    ")
    return (IMPORTS + "import sys\ntry:\n" + body + "\nexcept (ValueError, TypeError, OSError) as e:\n"
            "    print('igan-lite: error:', ' '.join(str(e).split()), file=sys.stderr); sys.exit(2)\n")


def cases() -> list[Case]:
    def ckpt(edit):
        return lambda d: (_run_copy(d), _edit_checkpoint(d, edit))

    def foreign(name, content="user data\n"):
        return lambda d: _write(d / "p" / name, content)

    def symlinked(name, is_dir=False):
        def setup(d):
            outside = d / "outside"
            outside.mkdir()
            (outside / "precious.txt").write_text("keep me\n")
            (d / "p").mkdir()
            os.symlink(outside if is_dir else outside / "precious.txt", d / "p" / name)
        return setup

    def damaged(fraction, size=4096):
        return lambda d: (_run_copy(d), _damage(d, fraction, size))

    out = [
        # --- overwritten or lost data -------------------------------------------------------------------------
        Case("train into a folder with a foreign config.json", "folders", foreign("config.json", '{"my": 1}'),
             TRAIN + ["--out", "p"], refuse=("p", "config.json"), protect=("p/config.json",), new=False),
        Case("train into a folder with a foreign metrics.jsonl", "folders", foreign("metrics.jsonl", "log\n"),
             TRAIN + ["--out", "p"], refuse=("p", "metrics.jsonl"), protect=("p/metrics.jsonl",)),
        Case("train into a folder of someone's notes", "folders", foreign("notes.txt"),
             TRAIN + ["--out", "p"], refuse=("p", "notes.txt"), protect=("p/notes.txt",)),
        Case("train into a folder holding a foreign checkpoint.pt", "folders", foreign("checkpoint.pt", b"\x00" * 100),
             TRAIN + ["--out", "p"], refuse=("p",), protect=("p/checkpoint.pt",)),
        Case("train --out naming a file", "folders", foreign("../f", "x"), TRAIN + ["--out", "f"], refuse=("f", "folder"),
             protect=("f",), new=False),
        Case("sample --out naming a file", "folders", lambda d: (_run_copy(d), _write(d / "f", "x")),
             ["sample", "--run", "run", "--n", "2", "--out", "f"], refuse=("f", "folder"), protect=("f",)),
        Case("export --out naming a file", "folders", lambda d: (_run_copy(d), _write(d / "f", "x")),
             ["export", "--run", "run", "--out", "f"], refuse=("f", "folder"), protect=("f",)),
        Case("export --out into a folder of someone's files", "folders", lambda d: (_run_copy(d), _write(d / "e" / "mine.txt", "x")),
             ["export", "--run", "run", "--out", "e"], refuse=("e", "mine.txt"), protect=("e/mine.txt",)),
        Case("dataset build --out naming a file", "folders", foreign("../f", "x"),
             ["dataset", "build", "--category", "chair", "--out", "f", "--quiet"], refuse=("f", "folder"), protect=("f",)),
        Case("dataset build --out into a folder of someone's files", "folders", foreign("notes.txt"),
             ["dataset", "build", "--category", "chair", "--out", "p", "--quiet"], refuse=("p", "notes.txt"), protect=("p/notes.txt",)),
        Case("dataset build --images --out into a folder of someone's files", "folders",
             lambda d: (_images(d, 60), _write(d / "p" / "notes.txt", "x")),
             ["dataset", "build", "--images", "im", "--out", "p", "--quiet"], refuse=("p", "notes.txt"), protect=("p/notes.txt",)),
        Case("dataset build --category all --out D", "folders", lambda d: None,
             ["dataset", "build", "--category", "all", "--out", "D", "--quiet"],
             check=lambda d: len(list((d / "D").glob("*/manifest.json"))) == 5 and not (d / "data").exists(), new=False),
        Case("reproduce --steps 0 --retrain", "folders", lambda d: None,
             ["reproduce", "--preset", "smoke", "--steps", "0", "--retrain", "--categories", "chair", "--seeds", "0"],
             refuse=("steps",), new=False),
        Case("reproduce --steps -3", "folders", lambda d: None,
             ["reproduce", "--preset", "smoke", "--steps", "-3", "--categories", "chair", "--seeds", "0"], refuse=("steps",)),
        Case("resume a checkpoint whose step is 2.5", "folders", ckpt(lambda s: s.update(step=2.5)),
             TRAIN + ["--out", "run", "--resume", "--steps", "4"], refuse=("step",),
             protect=("run/config.json", "run/metrics.jsonl"), new=False),
        Case("resume a checkpoint whose step is -1", "folders", ckpt(lambda s: s.update(step=-1)),
             TRAIN + ["--out", "run", "--resume", "--steps", "4"], refuse=("step",), protect=("run/config.json", "run/metrics.jsonl")),
        Case("resume a checkpoint whose step is a string", "folders", ckpt(lambda s: s.update(step="3")),
             TRAIN + ["--out", "run", "--resume", "--steps", "4"], refuse=("step",), protect=("run/config.json", "run/metrics.jsonl")),
        Case("resume a checkpoint whose numpy RNG state is a number", "folders", ckpt(lambda s: s.update(numpy_rng=7)),
             TRAIN + ["--out", "run", "--resume", "--steps", "4"], refuse=("rng",), protect=("run/config.json", "run/metrics.jsonl")),
        Case("resume a checkpoint whose torch RNG state is random bytes", "folders",
             ckpt(lambda s: s.update(torch_rng=__import__("torch").zeros(3, dtype=__import__("torch").uint8))),
             TRAIN + ["--out", "run", "--resume", "--steps", "4"], refuse=("rng",), protect=("run/config.json", "run/metrics.jsonl")),
        Case("resume to fewer steps than the checkpoint has", "folders", _run_copy,
             TRAIN + ["--out", "run", "--resume", "--steps", "1"], refuse=("steps",), protect=("run/metrics.jsonl",)),
        Case("resume where config.json was edited (seed 5) but the checkpoint says seed 0", "folders",
             lambda d: (_run_copy(d), (d / "run" / "config.json").write_text(
                 (d / "run" / "config.json").read_text().replace('"seed": 0', '"seed": 5'))),
             TRAIN + ["--out", "run", "--resume", "--steps", "4"], refuse=("config.json",), protect=("run/metrics.jsonl",)),
        # --- links --------------------------------------------------------------------------------------------
        Case("metrics.jsonl is a symlink out of the run", "links", symlinked("metrics.jsonl"), TRAIN + ["--out", "p"],
             refuse=("metrics.jsonl", "link"), protect=("outside/precious.txt",), new=False),
        Case("samples/ is a symlink out of the run", "links", symlinked("samples", True), TRAIN + ["--out", "p"],
             refuse=("samples", "link"), protect=("outside/precious.txt",), check=lambda d: len(os.listdir(d / "outside")) == 1, new=False),
        Case("generators/ is a symlink out of the run", "links", symlinked("generators", True), TRAIN + ["--out", "p"],
             refuse=("generators", "link"), check=lambda d: len(os.listdir(d / "outside")) == 1),
        Case("config.json is a symlink out of the run", "links", symlinked("config.json"), TRAIN + ["--out", "p"],
             refuse=("config.json", "link"), protect=("outside/precious.txt",)),
        Case("checkpoint.pt is a symlink out of the run", "links", symlinked("checkpoint.pt"), TRAIN + ["--out", "p"],
             refuse=("checkpoint.pt",), protect=("outside/precious.txt",)),
        Case("pretrain.jsonl is a symlink out of the run", "links", symlinked("pretrain.jsonl"),
             ["train", "--preset", "smoke", "--steps", "1", "--quiet", "--out", "p"],
             refuse=("pretrain.jsonl", "link"), protect=("outside/precious.txt",)),
        Case("a resumed run's metrics.jsonl replaced by a symlink", "links",
             lambda d: (_run_copy(d), _write(d / "outside" / "precious.txt", "keep me\n"), (d / "run" / "metrics.jsonl").unlink(),
                        os.symlink(d / "outside" / "precious.txt", d / "run" / "metrics.jsonl")),
             TRAIN + ["--out", "run", "--resume", "--steps", "4"], refuse=("metrics.jsonl", "link"), protect=("outside/precious.txt",)),
        Case("evaluation.json is a symlink out of the run", "links",
             lambda d: (_run_copy(d), _write(d / "outside" / "precious.txt", "keep me\n"),
                        os.symlink(d / "outside" / "precious.txt", d / "run" / "evaluation.json")),
             ["evaluate", "--run", "run", "--n", "50", "--no-fid"], refuse=("evaluation.json", "link"), protect=("outside/precious.txt",)),
        # --- integrity of what is read back ---------------------------------------------------------------------
        Case("4 kB of zeros in the middle of checkpoint.pt: sample", "integrity", damaged(0.5),
             ["sample", "--run", "run", "--n", "2"], refuse=("checkpoint", "damaged"), new=False),
        Case("4 kB of zeros in the middle of checkpoint.pt: resume", "integrity", damaged(0.5),
             TRAIN + ["--out", "run", "--resume", "--steps", "4"], refuse=("checkpoint", "damaged"), protect=("run/metrics.jsonl",), new=False),
        Case("one byte flipped in the last quarter of checkpoint.pt: evaluate", "integrity", damaged(0.8, 1),
             ["evaluate", "--run", "run", "--n", "50", "--no-fid"], refuse=("checkpoint", "damaged")),
        Case("16 bytes zeroed near the start of checkpoint.pt: export", "integrity", damaged(0.1, 16),
             ["export", "--run", "run", "--out", "e"], refuse=("checkpoint",)),
        Case("a generator snapshot damaged: evaluate --snapshots", "integrity",
             lambda d: (_run_copy(d), (lambda p: p.write_bytes(p.read_bytes()[:200] + bytes(400) + p.read_bytes()[600:]))(
                 sorted((d / "run" / "generators").glob("*.pt"))[0])),
             ["evaluate", "--run", "run", "--n", "50", "--no-fid", "--snapshots"], refuse=("step_", "damaged")),
        Case("checkpoint.pt replaced by random bytes", "integrity",
             lambda d: (_run_copy(d), (d / "run" / "checkpoint.pt").write_bytes(os.urandom(5000))),
             ["sample", "--run", "run", "--n", "2"], refuse=("checkpoint",)),
        Case("checkpoint config disagrees with config.json (method)", "integrity",
             lambda d: (_run_copy(d), (d / "run" / "config.json").write_text(
                 (d / "run" / "config.json").read_text().replace('"method": "iggan"', '"method": "vh"'))),
             ["sample", "--run", "run", "--n", "2"], refuse=("config.json",)),
        Case("manifest names ../secret.txt with its real hash", "integrity",
             lambda d: (_write(d / "secret.txt", "secret\n"), _manifest_entry(d, "../secret.txt", d / "secret.txt")),
             TRAIN + ["--data", "ds", "--out", "r"], refuse=("manifest", "secret.txt"), new=False),
        Case("manifest names an absolute path", "integrity",
             lambda d: (_write(d / "secret.txt", "secret\n"), _manifest_entry(d, str(d / "secret.txt"), d / "secret.txt")),
             TRAIN + ["--data", "ds", "--out", "r"], refuse=("manifest",)),
        Case("manifest names a FIFO", "integrity", lambda d: _manifest_entry(d, "pipe", fifo=True),
             TRAIN + ["--data", "ds", "--out", "r"], refuse=("manifest", "pipe"), new=False),
        Case("manifest names a symlink to a file outside", "integrity",
             lambda d: (_write(d / "secret.txt", "secret\n"), _own_dataset(d), os.symlink(d / "secret.txt", d / "ds" / "link"),
                        _manifest_entry(d, "link", d / "secret.txt")),
             TRAIN + ["--data", "ds", "--out", "r"], refuse=("manifest", "link")),
        Case("manifest names a folder", "integrity",
             lambda d: (_own_dataset(d), (d / "ds" / "sub").mkdir(),
                        (lambda m: (m["sha256"].__setitem__("sub", "0" * 64), (d / "ds" / "manifest.json").write_text(json.dumps(m))))(
                            json.loads((d / "ds" / "manifest.json").read_text()))),
             TRAIN + ["--data", "ds", "--out", "r"], refuse=("manifest", "sub")),
        # --- memory from tiny files ----------------------------------------------------------------------------
        Case("a 30000x1 PNG in --images", "memory", lambda d: (_images(d, 60), _png(d / "im" / "wide.png", 30000, 1)),
             ["dataset", "build", "--images", "im", "--out", "o", "--quiet"], refuse=("wide.png",), new=False),
        Case("a 1x30000 PNG in --images", "memory", lambda d: (_images(d, 60), _png(d / "im" / "tall.png", 1, 30000)),
             ["dataset", "build", "--images", "im", "--out", "o", "--quiet"], refuse=("tall.png",)),
        Case("a 1x30000 PNG in --images --skip-bad", "memory", lambda d: (_images(d, 60), _png(d / "im" / "tall.png", 1, 30000)),
             ["dataset", "build", "--images", "im", "--out", "o", "--quiet", "--skip-bad"],
             check=lambda d: "tall.png" in (d / "o" / "manifest.json").read_text()),
        Case("a 9000x9000 PNG in --images (81 M pixels)", "memory", lambda d: (_images(d, 60), _png(d / "im" / "big.png", 9000, 9000)),
             ["dataset", "build", "--images", "im", "--out", "o", "--quiet"], refuse=("big.png",)),
        Case("a 20000x20000 PNG in --images (a decompression bomb)", "memory",
             lambda d: (_images(d, 60), _png(d / "im" / "bomb.png", 20000, 20000)),
             ["dataset", "build", "--images", "im", "--out", "o", "--quiet"], refuse=("bomb.png",), new=False),
        Case("a 20000x20000 PNG with --skip-bad", "memory", lambda d: (_images(d, 60), _png(d / "im" / "bomb.png", 20000, 20000)),
             ["dataset", "build", "--images", "im", "--out", "o", "--quiet", "--skip-bad"],
             check=lambda d: "bomb.png" in (d / "o" / "manifest.json").read_text(), new=False),
        Case("a PLY header claiming 2^31-1 vertices", "memory",
             lambda d: _meshes(d, ("huge.ply", b"ply\nformat ascii 1.0\nelement vertex 2147483647\nproperty float x\n"
                                   b"property float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\n"
                                   b"end_header\n0 0 0\n")),
             ["dataset", "build", "--meshes", "m", "--out", "o", "--quiet"], refuse=("huge.ply",), new=False),
        Case("a PLY header claiming 2^31-1 vertices, --skip-bad", "memory",
             lambda d: _meshes(d, ("huge.ply", b"ply\nformat ascii 1.0\nelement vertex 2147483647\nproperty float x\n"
                                   b"property float y\nproperty float z\nelement face 1\nproperty list uchar int vertex_indices\n"
                                   b"end_header\n0 0 0\n")),
             ["dataset", "build", "--meshes", "m", "--out", "o", "--quiet", "--views", "1", "--skip-bad"],
             check=lambda d: "huge.ply" in (d / "o" / "manifest.json").read_text(), new=False),
        Case("a binary PLY header claiming 10^9 faces", "memory",
             lambda d: _meshes(d, ("faces.ply", b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\n"
                                   b"property float y\nproperty float z\nelement face 1000000000\n"
                                   b"property list uchar int vertex_indices\nend_header\n" + bytes(36))),
             ["dataset", "build", "--meshes", "m", "--out", "o", "--quiet"], refuse=("faces.ply",)),
        Case("an OFF header claiming 2e9 vertices", "memory", lambda d: _meshes(d, ("huge.off", b"OFF\n2000000000 1 0\n0 0 0\n")),
             ["dataset", "build", "--meshes", "m", "--out", "o", "--quiet"], refuse=("huge.off",), new=False),
        Case("a binary STL claiming 2^32-1 triangles", "memory",
             lambda d: _meshes(d, ("huge.stl", bytes(80) + struct.pack("<I", 2**32 - 1) + bytes(50))),
             ["dataset", "build", "--meshes", "m", "--out", "o", "--quiet"], refuse=("huge.stl",)),
        Case("an OBJ of random bytes", "memory", lambda d: _meshes(d, ("noise.obj", os.urandom(4096))),
             ["dataset", "build", "--meshes", "m", "--out", "o", "--quiet"], refuse=("noise.obj",)),
        Case("images.npz whose header claims 10^12 images, manifest updated", "memory",
             lambda d: (_own_dataset(d), _bomb_npz(d / "ds")),
             TRAIN + ["--data", "ds", "--out", "r"], refuse=("images.npz",)),
        # --- errors that name their cause ------------------------------------------------------------------------
        Case("an EXIF-rotated photo trains upright", "errors", _exif_photo,
             ["dataset", "build", "--images", "im", "--out", "o", "--quiet"], check=_upright, new=False),
        Case("render_meshes with a NaN vertex", "api", lambda d: None, code=api("""
             m = o3d.geometry.TriangleMesh.create_box(); v = np.asarray(m.vertices); v[0, 0] = np.nan
             m.vertices = o3d.utility.Vector3dVector(v); render_meshes([m], Camera(30, 20))
             """), refuse=("nan",), new=False),
        Case("render_meshes with a string", "api", lambda d: None, code=api("render_meshes(['chair'], Camera(30, 20))"),
             refuse=("mesh",), new=False),
        Case("render_meshes with a mesh at 1e30", "api", lambda d: None, code=api("""
             m = o3d.geometry.TriangleMesh.create_box(); m.scale(1e30, center=(0, 0, 0)); render_meshes([m], Camera(30, 20))
             """), refuse=("coordinate",)),
        Case("fd_lite of 0..255 images", "api", lambda d: None,
             code=api("print(fd_lite(FeatureNet(1, 5), torch.rand(60, 1, 32, 32) * 255, torch.rand(60, 1, 32, 32)))"),
             refuse=("[0, 1]",), new=False),
        Case("fd_lite of NaN images", "api", lambda d: None,
             code=api("x = torch.rand(60, 1, 32, 32); x[0, 0, 0, 0] = float('nan'); print(fd_lite(FeatureNet(1, 5), x, x))"),
             refuse=("finite",)),
        Case("fd_lite of a numpy array", "api", lambda d: None,
             code=api("print(fd_lite(FeatureNet(1, 5), np.random.rand(60, 1, 32, 32), torch.rand(60, 1, 32, 32)))"),
             refuse=("tensor",)),
        Case("shape_metrics of 3-D arrays instead of grids", "api", lambda d: None,
             code=api("print(shape_metrics(np.zeros((3, 8, 8)), np.zeros((3, 8, 8))))"), refuse=("(count, n, n, n)",)),
        Case("shape_metrics of grids of different sizes", "api", lambda d: None,
             code=api("print(shape_metrics(np.zeros((3, 8, 8, 8)), np.zeros((3, 16, 16, 16))))"), refuse=("shape",)),
        Case("iou_matrix of NaN grids", "api", lambda d: None,
             code=api("print(iou_matrix(np.full((2, 4, 4, 4), np.nan), np.zeros((2, 4, 4, 4))))"), refuse=("finite",)),
        Case("render_voxels of a NaN grid", "api", lambda d: None,
             code=api("g = np.zeros((1, 8, 8, 8)); g[0, 0, 0, 0] = np.nan; render_voxels(g, Camera(30, 20))"), refuse=("nan",)),
        Case("read_image of a folder", "api", lambda d: (d / "im").mkdir(), code=api("read_image('im', 32)"), refuse=("im",)),
        Case("read_image of an empty file", "api", lambda d: _write(d / "e.png", b""), code=api("read_image('e.png', 32)"),
             refuse=("e.png",)),
        Case("read_image with image_size 0", "api", lambda d: _png(d / "a.png", 8, 8), code=api("read_image('a.png', 0)"),
             refuse=("image_size",)),
        Case("read_image with image_size 10^6", "api", lambda d: _png(d / "a.png", 8, 8), code=api("read_image('a.png', 10**6)"),
             refuse=("image_size",)),
        Case("evaluate --inception naming a missing file", "errors", _run_copy,
             ["evaluate", "--run", "run", "--n", "50", "--inception", "nope.pth"], refuse=("nope.pth",)),
        Case("evaluate --inception naming a text file", "errors", lambda d: (_run_copy(d), _write(d / "w.pth", "not weights")),
             ["evaluate", "--run", "run", "--n", "50", "--inception", "w.pth"], refuse=("w.pth",)),
        Case("train --data a folder without a manifest", "errors", lambda d: (d / "ds").mkdir(),
             TRAIN + ["--data", "ds", "--out", "r"], refuse=("ds", "manifest")),
        Case("dataset build --images of a folder of text files", "errors", lambda d: _write(d / "im" / "a.txt", "x"),
             ["dataset", "build", "--images", "im", "--out", "o", "--quiet"], refuse=("im",)),
        Case("claims --results of a csv without runs", "errors", lambda d: _write(d / "r.csv", "variant,run\n"),
             ["claims", "--results", "r.csv"], refuse=("r.csv",)),
        Case("claims --results of a missing file", "errors", lambda d: None, ["claims", "--results", "nope.csv"],
             refuse=("nope.csv",)),
        Case("train --set threshold_range=0.9,0.1", "errors", lambda d: None,
             TRAIN + ["--out", "r", "--set", "threshold_range=0.9,0.1"], refuse=("threshold_range",)),
        Case("sample --n 0", "errors", _run_copy, ["sample", "--run", "run", "--n", "0"], refuse=("sample n",)),
        Case("train into a folder holding only a stale .lock", "folders", foreign(".lock", ""), TRAIN + ["--out", "p"],
             check=lambda d: (d / "p" / "checkpoint.pt").is_file()),
        Case("resume an exported (slim) run", "folders", lambda d: (_run_copy(d), _cli(d, ["export", "--run", "run", "--out", "e"])),
             TRAIN + ["--out", "e", "--resume", "--steps", "5"], refuse=("e", "resume")),
        Case("dataset build --meshes of an empty folder", "errors", lambda d: (d / "m").mkdir(),
             ["dataset", "build", "--meshes", "m", "--out", "o", "--quiet"], refuse=("m",)),
        Case("dataset build --meshes with a NaN vertex", "errors",
             lambda d: _meshes(d, ("nan.obj", b"v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n")),
             ["dataset", "build", "--meshes", "m", "--out", "o", "--quiet"], refuse=("nan.obj",)),
        Case("train --data a dataset whose images.npz was cut short", "integrity",
             lambda d: (_own_dataset(d), (lambda f: f.write_bytes(f.read_bytes()[:500]))(d / "ds" / "images.npz")),
             TRAIN + ["--data", "ds", "--out", "r"], refuse=("images.npz",)),
        Case("evaluate --n 10", "errors", _run_copy, ["evaluate", "--run", "run", "--n", "10", "--no-fid"], refuse=("n",)),
        Case("sample a folder with no checkpoint", "errors", lambda d: (d / "run").mkdir(), ["sample", "--run", "run"],
             refuse=("run",)),
        Case("train --seed -1", "errors", lambda d: None, TRAIN + ["--out", "r", "--seed", "-1"], refuse=("seed",)),
    ]
    return out


def _bomb_npz(ds: Path) -> None:
    """images.npz replaced by an .npz whose .npy header claims 10^12 uint8 images; manifest hash updated."""
    import hashlib
    import io
    import zipfile
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000, 32, 32, 1), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(1024)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("images.npy", npy)
    (ds / "images.npz").write_bytes(buf.getvalue())
    manifest = json.loads((ds / "manifest.json").read_text())
    manifest["sha256"]["images.npz"] = hashlib.sha256(buf.getvalue()).hexdigest()
    (ds / "manifest.json").write_text(json.dumps(manifest))


def _exif_photo(d: Path) -> None:
    """60 photos of a dark bar, the last one stored sideways with EXIF orientation 6 (rotate 90° to view)."""
    _images(d, 59)
    im = Image.new("RGB", (40, 80), (255, 255, 255))
    im.paste((0, 0, 0), (15, 0, 25, 80))  # a vertical bar as stored: horizontal once EXIF turns it upright
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(d / "im" / "zz_rotated.jpg", exif=exif.tobytes())


def _upright(d: Path) -> bool:
    images = np.load(d / "o" / "images.npz")["images"]
    last = images[-1, 0].astype(float)  # (M, C, H, W): the rotated photo, grey
    return last.mean(1).std() > last.mean(0).std()  # a horizontal bar: rows differ more than columns


def run_case(c: Case, root: Path) -> tuple[str, str]:
    d = Path(tempfile.mkdtemp(dir=root))
    try:
        c.setup(d)
    except Exception as e:  # the case could not be set up with this checkout (e.g. its own dataset build failed)
        return "unclear", f"setup failed: {type(e).__name__}: {e}"
    before = {p: (d / p).read_bytes() if (d / p).is_file() else None for p in c.protect}
    try:
        if c.args is not None:
            proc = _cli(d, c.args)
        else:
            env = {**os.environ, "PYTHONPATH": str(CODE), "OMP_NUM_THREADS": "1", "IGAN_PRESET": "smoke"}
            proc = subprocess.run([sys.executable, "-c", c.code], cwd=d, env=env, capture_output=True, text=True,
                                  timeout=TIMEOUT, preexec_fn=_limits)
    except subprocess.TimeoutExpired:
        return "bad", f"hang: no answer in {TIMEOUT} s"
    err = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    last = err[-1] if err else ""
    changed = [p for p, data in before.items() if ((d / p).read_bytes() if (d / p).is_file() else None) != data]
    if changed:
        return "bad", f"changed {changed}; rc {proc.returncode}: {last[:160]}"
    if proc.returncode < 0 or proc.returncode in (137, 139):
        return "bad", f"killed or crashed (rc {proc.returncode}): {last[:160]}"
    if c.refuse:
        if proc.returncode == 0:
            return "bad", "exit 0 where a refusal was due" + (f": {proc.stdout.strip()[-160:]}" if proc.stdout.strip() else "")
        named = last.startswith("igan-lite: error:") and all(k.lower() in last.lower() for k in c.refuse)
        if proc.returncode == 2 and named:
            return "good", last[:200]
        return "unclear", f"rc {proc.returncode}: {last[:200]}"
    if proc.returncode != 0:
        return ("unclear" if proc.returncode in (1, 2) else "bad"), f"rc {proc.returncode}: {last[:200]}"
    try:
        ok = c.check is None or c.check(d)
    except Exception as e:
        ok = False
        last = f"check raised {type(e).__name__}: {e}"
    return ("good", "handled") if ok else ("bad", f"silent wrong result: {last[:160]}")


def main(argv: list[str] | None = None) -> int:
    global CODE, TEMPLATE
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--code", type=Path, default=Path(__file__).resolve().parents[1], help="checkout whose igan_lite to test")
    a.add_argument("--only", default=None, help="run the cases whose name contains this")
    a.add_argument("--json", type=Path, default=None, help="write every case's outcome here")
    args = a.parse_args(argv)
    CODE = args.code.resolve()
    root = Path(tempfile.mkdtemp(prefix="hostile-"))
    TEMPLATE = root / "template"
    TEMPLATE.mkdir()
    proc = _cli(TEMPLATE, TRAIN + ["--out", "run"])  # a 2-step run the cases resume with TRAIN's settings
    assert proc.returncode == 0, proc.stderr[-2000:]
    selected = [c for c in cases() if args.only is None or args.only in c.name]
    results = []
    for c in selected:
        verdict, detail = run_case(c, root)
        results.append({"case": c.name, "kind": c.kind, "new": c.new, "verdict": verdict, "detail": detail})
        detail = " ".join(detail.split())
        results[-1]["detail"] = detail
        print(f"{verdict:8} {c.kind:10} {c.name}: {detail}", flush=True)
    for new in (True, False):
        mine = [r for r in results if r["new"] == new]
        counts = {v: sum(r["verdict"] == v for r in mine) for v in ("good", "unclear", "bad")}
        print(f"{'new cases' if new else 'the issue`s cases'} ({len(mine)}): {counts}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    shutil.rmtree(root, ignore_errors=True)
    return 0


CODE = TEMPLATE = Path()

if __name__ == "__main__":
    sys.exit(main())
