"""Hostile input, round 3 (docs/bad_inputs.md, "Round 3"): nothing overwritten, nothing trusted that the user did not
choose, memory bounded before it is allocated, and every public function checking its inputs as the CLI does."""
import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from igan_lite.cli import main
from igan_lite.data import datasets
from igan_lite.data.image_files import read_image
from igan_lite.data.own_data import build_image_dataset, build_mesh_dataset
from igan_lite.data.shapes import load_mesh
from igan_lite.evaluation.metrics import FeatureNet, fd_lite, iou_matrix, kid, shape_metrics
from igan_lite.infra import files
from igan_lite.render.backend import open3d
from igan_lite.render.renderer import render_meshes

TRAIN = ["train", "--preset", "smoke", "--steps", "2", "--set", "pretrain=false", "--quiet"]


def cli(args, capsys):
    code = main([str(a) for a in args])
    return code, " ".join(capsys.readouterr().err.split())


def snapshot(*paths):
    return {p: p.read_bytes() for p in paths}


# --- one rule for writing into folders ------------------------------------------------------------------

@pytest.mark.parametrize("name,content", [("config.json", '{"my": 1}'), ("metrics.jsonl", "log\n"), ("notes.txt", "mine")])
def test_train_writes_only_into_a_new_folder_or_its_own_run(name, content, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / name).write_text(content)
    code, err = cli(TRAIN + ["--out", "p"], capsys)
    assert code == 2 and "p" in err and name in err, err
    assert (tmp_path / "p" / name).read_text() == content and os.listdir(tmp_path / "p") == [name]


@pytest.mark.parametrize("command", [TRAIN + ["--out", "f"], ["dataset", "build", "--category", "chair", "--out", "f"],
                                     ["sample", "--run", "run", "--out", "f"], ["export", "--run", "run", "--out", "f"]],
                         ids=["train", "dataset", "sample", "export"])
def test_out_naming_a_file_says_a_folder_was_expected(command, run, capsys):
    Path("f").write_text("mine")
    code, err = cli(command, capsys)
    assert code == 2 and "f is a file; expected a folder" in err, err
    assert Path("f").read_text() == "mine"


def test_a_folder_with_only_a_stale_lock_is_empty(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / ".lock").write_text("")
    assert cli(TRAIN + ["--out", "p"], capsys)[0] == 0


@pytest.mark.parametrize("change,expected", [({"step": 2.5}, "step is 2.5"), ({"step": -1}, "step is -1"),
                                             ({"step": "3"}, "step is '3'"), ({"numpy_rng": 7}, "numpy_rng"),
                                             ({"torch_rng": torch.zeros(3, dtype=torch.uint8)}, "torch_rng")])
def test_a_resume_is_validated_completely_before_the_first_write(change, expected, run, capsys):
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    torch.save({**state, **change}, run / "checkpoint.pt")
    before = snapshot(run / "config.json", run / "metrics.jsonl")
    code, err = cli(TRAIN + ["--out", "run", "--resume", "--steps", "4"], capsys)
    assert code == 2 and expected in err, err
    assert snapshot(run / "config.json", run / "metrics.jsonl") == before


def test_resuming_to_fewer_steps_than_done_is_refused(run, capsys):
    code, err = cli(TRAIN + ["--out", "run", "--resume", "--steps", "1"], capsys)
    assert code == 2 and "at step 2, past the 1 steps" in err, err


def test_a_config_json_that_disagrees_with_its_checkpoint_is_refused(run, capsys):
    config = (run / "config.json").read_text()
    (run / "config.json").write_text(config.replace('"seed": 0', '"seed": 5'))
    for command in (TRAIN + ["--out", "run", "--resume", "--steps", "4"], ["sample", "--run", "run", "--n", "2"]):
        code, err = cli(command, capsys)
        assert code == 2 and "config.json does not match the config inside" in err and "['seed']" in err, err


def test_dataset_build_all_writes_every_category_into_out(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    built = []
    monkeypatch.setattr(datasets, "build_dataset", lambda category, preset, out, **kw: built.append(Path(out)) or Path(out))
    assert main(["dataset", "build", "--category", "all", "--preset", "smoke", "--out", "D"]) == 0
    assert [p.parent for p in built] == [Path("D")] * 5 and len({p.name for p in built}) == 5


def test_dataset_build_refuses_a_folder_of_someone_elses_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "D").mkdir()
    (tmp_path / "D" / "notes.txt").write_text("mine")
    code, err = cli(["dataset", "build", "--category", "chair", "--preset", "smoke", "--out", "D"], capsys)
    assert code == 2 and "notes.txt" in err, err


@pytest.mark.parametrize("steps", ["0", "-3"])
def test_reproduce_refuses_a_number_of_steps_below_one(steps, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = cli(["reproduce", "--preset", "smoke", "--steps", steps, "--retrain", "--categories", "chair"], capsys)
    assert code == 2 and "preset field steps" in err, err
    assert not (tmp_path / "runs").exists()


# --- links ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,is_dir", [("metrics.jsonl", False), ("config.json", False), ("samples", True),
                                         ("generators", True)])
def test_a_link_in_a_run_folder_is_never_followed(name, is_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious.txt").write_text("keep me")
    (tmp_path / "p").mkdir()
    os.symlink(outside if is_dir else outside / "precious.txt", tmp_path / "p" / name)
    code, err = cli(TRAIN + ["--out", "p"], capsys)
    assert code == 2 and f"{name} is a symbolic link" in err, err
    assert os.listdir(outside) == ["precious.txt"] and (outside / "precious.txt").read_text() == "keep me"


def test_appending_refuses_a_link_planted_after_the_start(tmp_path):
    (tmp_path / "target").write_text("keep me")
    os.symlink(tmp_path / "target", tmp_path / "metrics.jsonl")
    with pytest.raises(PermissionError, match="symbolic link"):
        files.append_line(tmp_path / "metrics.jsonl", "{}\n")
    assert (tmp_path / "target").read_text() == "keep me"


def test_evaluate_refuses_a_linked_evaluation_json_before_scoring(run, capsys):
    (Path("outside.json")).write_text("keep me")
    os.symlink(Path("outside.json").resolve(), run / "evaluation.json")
    code, err = cli(["evaluate", "--run", "run", "--n", "50", "--no-fid"], capsys)
    assert code == 2 and "evaluation.json is a symbolic link" in err and Path("outside.json").read_text() == "keep me"


# --- integrity of what is read back -----------------------------------------------------------------------

@pytest.mark.parametrize("where,size", [(0.5, 4096), (0.8, 1)], ids=["4kB-zeros", "one-byte"])
def test_a_damaged_checkpoint_is_refused_by_name(where, size, run, capsys):
    data = bytearray((run / "checkpoint.pt").read_bytes())
    at = int(len(data) * where)
    data[at:at + size] = bytes(b ^ 0xFF for b in data[at:at + size])
    (run / "checkpoint.pt").write_bytes(bytes(data))
    for command in (["sample", "--run", "run", "--n", "2"], TRAIN + ["--out", "run", "--resume", "--steps", "4"]):
        code, err = cli(command, capsys)
        assert code == 2 and "checkpoint.pt is damaged" in err and "CRC" in err, err


def _own_images(folder: Path, n: int = 60) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        im = Image.new("RGB", (40, 40), (255, 255, 255))
        im.paste((4 * i, 0, 0), (10, 10, 30, 30))
        im.save(folder / f"p{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def own_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    return build_image_dataset(_own_images(root / "im"), "smoke", root / "ds", progress=False)


def _manifest_with(ds: Path, name: str, digest: str) -> None:
    manifest = json.loads((ds / "manifest.json").read_text())
    manifest["sha256"][name] = digest
    (ds / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("entry", ["../secret.txt", "absolute", "link", "pipe", "sub"])
def test_a_manifest_names_only_regular_files_inside_its_folder(entry, own_dataset, tmp_path):
    import hashlib
    ds = shutil.copytree(own_dataset, tmp_path / "ds")
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    digest = hashlib.sha256(secret.read_bytes()).hexdigest()
    name = {"absolute": str(secret), "link": "link", "pipe": "pipe", "sub": "sub"}.get(entry, entry)
    if entry == "link":
        os.symlink(secret, ds / "link")
    elif entry == "pipe":
        os.mkfifo(ds / "pipe")  # reading it would block for ever
    elif entry == "sub":
        (ds / "sub").mkdir()
    _manifest_with(ds, name, digest)
    with pytest.raises(ValueError, match=f"manifest.json names {name!r}, which is not a regular file inside"):
        datasets.load_dataset(ds)


def test_an_npz_claiming_more_than_it_holds_is_refused_before_allocating(own_dataset, tmp_path):
    import hashlib
    import io
    import zipfile
    ds = shutil.copytree(own_dataset, tmp_path / "ds")
    header = b"{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000, 1, 32, 32), }"
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("images.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(64))
    (ds / "images.npz").write_bytes(buf.getvalue())
    _manifest_with(ds, "images.npz", hashlib.sha256(buf.getvalue()).hexdigest())
    with pytest.raises(ValueError, match=r"images.npz: array 'images' claims shape \(1000000000000, 1, 32, 32\)"):
        datasets.load_dataset(ds)


# --- memory bounded by the preset, not by the file --------------------------------------------------------

def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header declares width x height (no pixel data): Pillow reads only the header on open."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("size", [(30000, 1), (1, 30000)], ids=["wide", "tall"])
def test_padding_a_thin_strip_square_is_refused_before_allocating(size, tmp_path):
    Image.new("L", size, 0).save(tmp_path / "strip.png")
    with pytest.raises(ValueError, match="strip.png: .* padded square would be 30000x30000"):
        read_image(tmp_path / "strip.png", 32)


def test_a_decompression_bomb_is_named_and_skippable(tmp_path):
    images = _own_images(tmp_path / "im")
    _png_header_only(images / "bomb.png", 20000, 20000)
    with pytest.raises(ValueError, match="bomb.png"):
        read_image(images / "bomb.png", 32)
    with pytest.raises(ValueError, match="bomb.png"):
        build_image_dataset(images, "smoke", tmp_path / "ds", progress=False)
    out = build_image_dataset(images, "smoke", tmp_path / "ds2", skip_bad=True, progress=False)
    assert "bomb.png" in json.dumps(json.loads((out / "manifest.json").read_text())["skipped"])


HEADERS = {
    "ply-vertices": ("huge.ply", b"ply\nformat ascii 1.0\nelement vertex 2147483647\nproperty float x\nproperty float y\n"
                                 b"property float z\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n0 0 0\n"),
    "ply-binary-faces": ("faces.ply", b"ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty float x\n"
                                      b"property float y\nproperty float z\nelement face 1000000000\n"
                                      b"property list uchar int vertex_indices\nend_header\n" + bytes(36)),
    "off": ("huge.off", b"OFF\n2000000000 1 0\n0 0 0\n"),
    "stl": ("huge.stl", bytes(80) + struct.pack("<I", 2**32 - 1) + bytes(50)),
}


@pytest.mark.parametrize("name,data", HEADERS.values(), ids=HEADERS.keys())
def test_a_mesh_header_claiming_more_than_the_file_holds_is_refused_before_reading(name, data, tmp_path):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match=f"{name}: its header declares"):
        load_mesh(tmp_path / name)


def test_skip_bad_skips_a_mesh_with_a_lying_header(tmp_path):
    meshes = tmp_path / "m"
    meshes.mkdir()
    o3d = open3d()
    for i in range(2):
        o3d.io.write_triangle_mesh(str(meshes / f"box{i}.obj"), o3d.geometry.TriangleMesh.create_box(1, 1 + i, 1))
    (meshes / "huge.ply").write_bytes(HEADERS["ply-vertices"][1])
    out = build_mesh_dataset(meshes, "smoke", tmp_path / "ds", views=1, skip_bad=True, progress=False)
    assert "huge.ply" in json.dumps(json.loads((out / "manifest.json").read_text())["skipped"])


def test_an_exif_rotated_photo_is_read_upright(tmp_path):
    im = Image.new("RGB", (40, 80), (255, 255, 255))
    im.paste((0, 0, 0), (15, 0, 25, 80))  # a vertical bar as stored; EXIF orientation 6 shows it turned 90°
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(tmp_path / "photo.jpg", exif=exif.tobytes())
    grey = read_image(tmp_path / "photo.jpg", 32)[..., 0].astype(float)
    assert grey.mean(1).std() > 3 * grey.mean(0).std()  # a horizontal bar: rows differ, columns do not


# --- every public function checks its inputs ---------------------------------------------------------------

def _box(scale=1.0, nan=False):
    mesh = open3d().geometry.TriangleMesh.create_box()
    v = np.asarray(mesh.vertices) * scale
    if nan:
        v[0, 0] = np.nan
    mesh.vertices = open3d().utility.Vector3dVector(v)
    return mesh


@pytest.mark.parametrize("mesh,expected", [(_box(nan=True), "NaN"), ("chair", "expected an Open3D TriangleMesh"),
                                           (_box(1e30), "vertex coordinate is 1e\\+30")], ids=["nan", "string", "far"])
def test_render_meshes_checks_every_mesh(mesh, expected):
    with pytest.raises(ValueError, match=rf"meshes\[0\]: .*{expected}"):
        render_meshes([mesh], None)


@pytest.mark.parametrize("images,expected", [(torch.rand(60, 1, 32, 32) * 255, r"in \[0, 1\]"),
                                             (torch.full((60, 1, 32, 32), float("nan")), "finite"),
                                             (np.random.rand(60, 1, 32, 32), "float tensor")], ids=["0-255", "nan", "numpy"])
def test_fd_lite_checks_its_images(images, expected):
    with pytest.raises(ValueError, match=expected):
        fd_lite(FeatureNet(1, 5), images, torch.rand(60, 1, 32, 32))


def test_the_metrics_check_their_arrays():
    with pytest.raises(ValueError, match="feature widths differ: 4 vs 5"):
        kid(np.random.rand(10, 4), np.random.rand(10, 5))
    with pytest.raises(ValueError, match="grid shapes differ"):
        shape_metrics(np.zeros((3, 8, 8, 8)), np.zeros((3, 16, 16, 16)))
    with pytest.raises(ValueError, match="finite"):
        iou_matrix(np.full((2, 4, 4, 4), np.nan), np.zeros((2, 4, 4, 4)))


@pytest.mark.parametrize("size", [0, 10**6])
def test_read_image_checks_its_size(size, tmp_path):
    Image.new("L", (8, 8), 0).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match="image_size: expected an int in"):
        read_image(tmp_path / "a.png", size)


def test_a_full_disk_is_named_and_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.pt"
    target.write_bytes(b"old")

    def torch_on_a_full_disk(f):
        raise RuntimeError("[enforce fail at inline_container.cc] . unexpected pos 1234 vs 1200")

    monkeypatch.setattr(files.shutil, "disk_usage", lambda path: type("usage", (), {"free": 0})())
    with pytest.raises(OSError, match="disk full: .*checkpoint.pt could not be written"):
        files.write_atomic(target, torch_on_a_full_disk)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["checkpoint.pt"]
