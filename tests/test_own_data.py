"""Your own data: datasets from mesh and image folders the tests write, and runs trained and scored on them."""
import json

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from igan_lite.cli import main
from igan_lite.core.camera import Camera
from igan_lite.data.datasets import load_dataset, load_eval_voxels
from igan_lite.data.image_files import read_image
from igan_lite.data.own_data import (build_image_dataset, build_mesh_dataset, voxelise_mesh_file, write_example_images,
                                     write_example_meshes)
from igan_lite.presets import get_preset
from igan_lite.render.backend import open3d
from igan_lite.render.renderer import RenderSettings, render_meshes
from igan_lite.training.train import train

SMOKE = get_preset("smoke")


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # ShapeNet-lite datasets and default dataset folders go under ./data
    return tmp_path


def _box_obj(path, boxes):
    """A multi-part .obj: one `o` object per axis-aligned box (lo, hi)."""
    lines, base = [], 1
    for k, (lo, hi) in enumerate(boxes):
        box = open3d().geometry.TriangleMesh.create_box(*np.subtract(hi, lo)).translate(lo)
        lines += [f"o part{k}"] + [f"v {x} {y} {z}" for x, y, z in np.asarray(box.vertices)]
        lines += [f"f {a + base} {b + base} {c + base}" for a, b, c in np.asarray(box.triangles)]
        base += 8
    path.write_text("\n".join(lines) + "\n")


def test_a_mesh_folder_becomes_k_unstructured_views_per_mesh_with_voxels_aside(tmp_path, capsys):
    files = write_example_meshes(tmp_path / "meshes", n=4, seed=1)
    assert sorted(f.suffix for f in files) == [".obj", ".off", ".ply", ".stl"]
    out = build_mesh_dataset(tmp_path / "meshes", SMOKE, tmp_path / "ds", views=3, progress=False)
    ds = load_dataset(out)
    assert ds.images.shape == (12, 1, 32, 32) and ds.images.dtype == torch.uint8
    imgs = ds.batch(slice(None))
    assert ((imgs < 0.95).flatten(1).float().mean(1) > 0.02).all()  # every view shows its mesh
    assert not torch.equal(imgs[0], imgs[1])  # views of one mesh differ
    with np.load(out / "images.npz") as f:
        assert list(f.keys()) == ["images"]  # no poses beside the training images
    with np.load(out / "eval.npz") as f:
        assert list(f["mesh_index"]) == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3] and f["azimuth"].shape == (12,)
    voxels = load_eval_voxels(out)
    assert voxels.shape == (4, 16, 16, 16) and all(0.02 < v.mean() < 0.6 for v in voxels)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["kind"] == "meshes" and manifest["config"]["views"] == 3 and len(manifest["files"]) == 4
    stamp = (out / "images.npz").stat().st_mtime_ns
    build_mesh_dataset(tmp_path / "meshes", SMOKE, out, views=3, progress=False)
    assert (out / "images.npz").stat().st_mtime_ns == stamp  # the cache is reused
    write_example_meshes(tmp_path / "meshes", n=5, seed=1)  # a new file in the folder: rebuilt
    build_mesh_dataset(tmp_path / "meshes", SMOKE, out, views=3, progress=False)
    assert "different settings" in capsys.readouterr().out and len(load_dataset(out)) == 15


def test_multi_part_obj_files_are_merged_and_shapenet_folders_found(tmp_path):
    sn = tmp_path / "03001627" / "abc" / "models" / "model_normalized.obj"
    sn.parent.mkdir(parents=True)
    _box_obj(sn, [((0, 0, 0), (1, 1, 1)), ((3, 0, 0), (4, 1, 1))])  # two parts, far apart
    grid = voxelise_mesh_file(sn, 16)
    assert ndimage.label(grid)[1] == 2  # both parts are in the grid
    out = build_mesh_dataset(tmp_path / "03001627", SMOKE, tmp_path / "ds", views=2, progress=False)
    assert json.loads((out / "manifest.json").read_text())["files"] == ["abc/models/model_normalized.obj"]


def test_bad_meshes_are_named_and_skipped_only_when_asked(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no mesh files"):
        build_mesh_dataset(tmp_path / "empty", SMOKE, tmp_path / "ds", progress=False)
    folder = tmp_path / "meshes"
    write_example_meshes(folder, n=2)
    (folder / "broken.obj").write_text("not a mesh\n")
    with pytest.raises(ValueError, match=r"broken.obj could not be read.*--skip-bad"):
        build_mesh_dataset(folder, SMOKE, tmp_path / "ds", progress=False)
    (folder / "broken.obj").unlink()
    (folder / "point.obj").write_text("v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n")  # all vertices at one point
    with pytest.raises(ValueError, match="point.obj: all vertices lie at one point"):
        build_mesh_dataset(folder, SMOKE, tmp_path / "ds", progress=False)
    out = build_mesh_dataset(folder, SMOKE, tmp_path / "ds", views=2, skip_bad=True, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(load_dataset(out)) == 4 and [s["file"].endswith("point.obj") for s in manifest["skipped"]] == [True]
    with pytest.raises(ValueError, match="at least 1 view"):
        build_mesh_dataset(folder, SMOKE, tmp_path / "ds", views=0, progress=False)
    only_bad = tmp_path / "bad"
    only_bad.mkdir()
    (only_bad / "point.obj").write_text((folder / "point.obj").read_text())
    with pytest.raises(ValueError, match="none of the 1 mesh files"):
        build_mesh_dataset(only_bad, SMOKE, tmp_path / "ds2", skip_bad=True, progress=False)


def test_meshes_that_voxelise_to_nothing_are_refused(tmp_path, monkeypatch):
    from igan_lite.data import own_data

    write_example_meshes(tmp_path / "m", n=1)
    monkeypatch.setattr(own_data, "mesh_to_voxels", lambda mesh, n: np.zeros((n, n, n), np.float32))
    with pytest.raises(ValueError, match="voxelises to nothing at 16³"):
        build_mesh_dataset(tmp_path / "m", SMOKE, tmp_path / "ds", progress=False)


def _write_object_images(folder):
    """Images of one kind each: RGBA with a transparent background, palette, 16-bit grey, grey jpg, wide RGB."""
    folder.mkdir()
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[10:20, 10:20] = (255, 0, 0, 255)  # a red square in the top-left quarter, the rest transparent black
    Image.fromarray(rgba).save(folder / "rgba.png")
    Image.fromarray(np.full((24, 24), 3, np.uint8)).convert("P").save(folder / "palette.png")
    Image.fromarray(np.full((30, 30), 32768, np.uint16)).save(folder / "grey16.png")
    assert Image.open(folder / "grey16.png").mode.startswith("I")
    Image.new("L", (20, 20), 0).save(folder / "sub_grey.jpg")
    wide = np.full((16, 64, 3), 255, np.uint8)
    wide[:, 16:48] = 0  # a black square in the middle of a white strip
    Image.fromarray(wide).save(folder / "wide.png")


def test_image_folders_are_composited_padded_cropped_and_converted(tmp_path, capsys):
    _write_object_images(tmp_path / "imgs")
    white = (1.0, 1.0, 1.0)
    rgba = read_image(tmp_path / "imgs" / "rgba.png", 32, color=True, background=white)
    assert tuple(rgba[31, 31]) == (255, 255, 255)  # transparent -> the training background, not black
    assert tuple(rgba[12, 12]) == (255, 0, 0)
    cropped = read_image(tmp_path / "imgs" / "rgba.png", 32, color=True, background=white, crop=True)
    red = lambda im: ((im[..., 0] > 200) & (im[..., 1] < 50)).mean()
    assert red(cropped) > 0.4 and red(rgba) < 0.1  # the object fills the frame after the crop (10 % margin)
    grey16 = read_image(tmp_path / "imgs" / "grey16.png", 8)
    assert abs(int(grey16[4, 4, 0]) - 128) <= 1  # scaled by its bit depth, not clipped to white
    wide = read_image(tmp_path / "imgs" / "wide.png", 32)
    assert wide[2, 16, 0] == 255 and wide[16, 16, 0] == 0  # padded square, not stretched
    out = build_image_dataset(tmp_path / "imgs", SMOKE, tmp_path / "ds", progress=False)
    printed = capsys.readouterr().out
    assert "modes I;16, L, P, RGB, RGBA; 5 sizes from 20x20 to 40x40" in printed
    ds = load_dataset(out)
    assert ds.images.shape == (5, 1, 32, 32) and not (out / "eval.npz").exists()
    with pytest.raises(ValueError, match="built from images: it has no ground-truth voxels"):
        load_eval_voxels(out)
    rgb = build_image_dataset(tmp_path / "imgs", get_preset("smoke", color=True), tmp_path / "rgb", crop=True, progress=False)
    assert load_dataset(rgb).images.shape == (5, 3, 32, 32)


def test_bad_images_are_named_and_skipped_only_when_asked(tmp_path):
    folder = tmp_path / "imgs"
    _write_object_images(folder)
    (folder / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"broken.png cannot be read.*--skip-bad"):
        build_image_dataset(folder, SMOKE, tmp_path / "ds", progress=False)
    (folder / "broken.png").unlink()
    Image.fromarray(np.zeros((8, 8, 4), np.uint8)).save(folder / "clear.png")
    with pytest.raises(ValueError, match="clear.png shows no object"):
        build_image_dataset(folder, SMOKE, tmp_path / "ds", progress=False)
    out = build_image_dataset(folder, SMOKE, tmp_path / "ds", skip_bad=True, progress=False)
    assert len(load_dataset(out)) == 5
    assert json.loads((out / "manifest.json").read_text())["skipped"][0]["file"].endswith("clear.png")
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match="no images"):
        build_image_dataset(tmp_path / "none", SMOKE, tmp_path / "ds", progress=False)


def test_real_meshes_render_lit_whatever_their_normals_and_winding():
    o3d = open3d()
    sphere = o3d.geometry.TriangleMesh.create_sphere(0.4)
    bare = o3d.geometry.TriangleMesh(sphere.vertices, sphere.triangles)  # as read from a file: no normals
    tris = np.asarray(sphere.triangles).copy()
    tris[::2] = tris[::2, ::-1]  # every other face wound the wrong way
    mixed = o3d.geometry.TriangleMesh(sphere.vertices, o3d.utility.Vector3iVector(tris))
    mixed.compute_vertex_normals()  # normals averaged over inconsistent faces: garbage
    settings = RenderSettings(image_size=32)
    images = render_meshes([bare, mixed, sphere], [Camera(30.0, 25.0)] * 3, settings)
    shape = images[0, 0] < 0.99
    assert shape.float().mean() > 0.2
    assert images[0, 0][shape].mean() > 0.3 and images[0, 0][shape].std() > 0.03  # lit and shaded, not black or flat
    assert torch.allclose(images[0], images[1]) and torch.allclose(images[0], images[2])


def test_train_sample_and_evaluate_on_a_mesh_folder_and_an_image_folder(in_tmp, monkeypatch, capsys):
    from igan_lite.evaluation import evaluate
    from igan_lite.evaluation.metrics import FeatureNet

    torch.manual_seed(0)
    monkeypatch.setattr(evaluate, "feature_net", lambda p: FeatureNet(1, 5).eval())  # scores are not under test here
    write_example_meshes(in_tmp / "meshes", n=10)
    assert main(["dataset", "build", "--meshes", "meshes", "--views", "5", "--out", "mine", "--quiet"]) == 0
    assert main(["train", "--data", "mine", "--out", "runs/mine", "--steps", "2", "--quiet"]) == 0
    config = json.loads((in_tmp / "runs/mine/config.json").read_text())
    assert config["category"] == "meshes" and config["data"]["kind"] == "meshes"
    assert config["data"]["path"] == str((in_tmp / "mine").resolve()) and len(config["data"]["manifest_sha256"]) == 64
    assert main(["sample", "--run", "runs/mine", "--n", "4"]) == 0
    assert (in_tmp / "runs/mine/samples-final/renders.png").exists()
    assert main(["evaluate", "--run", "runs/mine", "--n", "50"]) == 0
    result = json.loads((in_tmp / "runs/mine/evaluation.json").read_text())
    assert result["real_vs_real"]["nearest_iou"] > result["random_boxes"]["nearest_iou"]
    assert "reference: 5 of the dataset's 10 meshes" in capsys.readouterr().out

    write_example_images(in_tmp / "photos", load_dataset(in_tmp / "mine").batch(slice(0, 50)))
    assert main(["dataset", "build", "--images", "photos", "--crop", "--out", "photos-ds", "--quiet"]) == 0
    photos = load_dataset(in_tmp / "photos-ds").batch(slice(None))
    assert photos.shape == (50, 1, 32, 32) and photos[:, :, 0].min() > 0.95  # transparent margins -> white
    assert main(["train", "--data", "photos-ds", "--out", "runs/photos", "--steps", "2", "--quiet"]) == 0
    assert main(["evaluate", "--run", "runs/photos", "--n", "50"]) == 0
    printed = capsys.readouterr().out
    assert "3D: 3D metrics skipped: dataset" in printed and "has no ground-truth voxels" in printed
    result = json.loads((in_tmp / "runs/photos/evaluation.json").read_text())
    assert np.isfinite(result["generator"]["fd_lite"]) and "nearest_iou" not in result["generator"]
    assert "real_vs_real" not in result


def test_a_dataset_from_another_preset_or_changed_since_the_run_is_refused(in_tmp, capsys):
    write_example_meshes(in_tmp / "meshes", n=2)
    out = build_mesh_dataset(in_tmp / "meshes", SMOKE, in_tmp / "ds", views=2, progress=False)
    with pytest.raises(ValueError, match=r"built for preset 'smoke' and does not fit preset 'lite': voxel_res 16 \(run: 32\)"):
        train("iggan", preset="lite", out=in_tmp / "run", data=out, progress=False)
    run = train("iggan", preset=get_preset("smoke", steps=2), out=in_tmp / "run", data=out, progress=False)
    build_mesh_dataset(in_tmp / "meshes", SMOKE, out, views=3, progress=False)  # rebuilt differently
    with pytest.raises(ValueError, match="does not match the requested run"):
        train("iggan", preset=get_preset("smoke", steps=3), out=run, data=out, resume=True, progress=False)
    from igan_lite.evaluation.evaluate import evaluate_run
    with pytest.raises(ValueError, match="changed since this run started"):
        evaluate_run(run, n=50)
    assert main(["train", "--data", str(out), "--category", "chair", "--out", "x"]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert main(["train", "--data", str(in_tmp / "meshes"), "--out", "x"]) == 2
    assert "not a dataset folder" in capsys.readouterr().err
    assert main(["dataset", "build", "--category", "chair", "--crop", "--views", "3"]) == 2
    assert "--views, --crop: only for --meshes" in capsys.readouterr().err
    assert main(["dataset", "build", "--meshes", str(in_tmp / "nowhere"), "--out", "y"]) == 2
    err = capsys.readouterr().err
    assert "mesh folder" in err and "nowhere does not exist" in err
