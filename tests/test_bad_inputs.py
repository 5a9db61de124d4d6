"""Bad values at every boundary get a ValueError naming the argument and what was expected, fast, before
anything is built or written (docs/bad_inputs.md lists every case with its test id)."""
import time

import numpy as np
import pytest
from PIL import Image

from igan_lite.cli import main
from igan_lite.core.camera import Camera, CameraPrior
from igan_lite.data.datasets import build_dataset, load_image_folder
from igan_lite.data.shapes import load_mesh, mesh_to_voxels
from igan_lite.presets import get_preset, preset_from_dict
from igan_lite.render.renderer import RenderSettings, check_mesh, render_inputs

# --- presets: --set, the API and stored configs share one validator (preset_rules.py) ----------------

SET_CASES = {  # id: (--set FIELD=VALUE, what the one-line error must contain)
    "steps-negative": ("steps=-5", "steps: expected an int in [1,"),
    "pretrain-maybe": ("pretrain=maybe", "expected true or false, got 'maybe'"),
    "checkpoint-every-0": ("checkpoint_every=0", "checkpoint_every: expected an int in [1,"),
    "sample-every-0": ("sample_every=0", "sample_every: expected an int in [1,"),
    "betas-one-value": ("betas=0.5", "betas: expected 2 comma-separated numbers in [0, 1)"),
    "betas-one": ("betas=0.5,1.0", "betas: expected 2 comma-separated numbers in [0, 1)"),
    "lr-nan": ("lr_g=nan", "lr_g: expected a number in (0, 1]"),
    "lr-negative": ("lr_d=-1e-4", "lr_d: expected a number in (0, 1]"),
    "lr-text": ("lr_proxy=fast", "lr_proxy=fast'"),
    "voxel-res-not-pow2": ("voxel_res=24", "a power of two"),
    "voxel-res-over-cap": ("voxel_res=1024", "voxel_res: expected an int in [8, 128]"),
    "image-size-tiny": ("image_size=4", "image_size: expected an int in [8, 512]"),
    "batch-size-1": ("batch_size=1", "batch_size: expected an int in [2,"),
    "g-smooth-even": ("g_smooth=2", "0 or odd"),
    "threshold-range-reversed": ("threshold_range=0.7,0.3", "threshold_range: expected low <= high"),
    "threshold-range-closed": ("threshold_range=0,1", "threshold_range: expected 2 comma-separated numbers in (0, 1)"),
    "name-path": ("name=../../etc", "name: expected a name of letters"),
    "steps-float": ("steps=1.5", "steps=1.5'"),
    "unknown-field": ("nosuchfield=1", "expected FIELD=VALUE with FIELD one of"),
    "no-equals": ("lambda_dom", "expected FIELD=VALUE"),
    "d-acc-max-0": ("d_acc_max=0", "d_acc_max: expected a number in (0, 1]"),
    "render-workers-negative": ("render_workers=-1", "render_workers: expected an int in [0,"),
    "pretrain-shapes-below-batch": ("pretrain_shapes=4", "pretrain_shapes (4) must be >= batch_size"),
}


@pytest.mark.parametrize("item,expected", SET_CASES.values(), ids=SET_CASES.keys())
def test_bad_set_is_one_line_exit_2_and_writes_nothing(item, expected, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--preset", "smoke", "--out", str(out), "--set", item, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("igan-lite: error: ") and err.count("\n") == 1 and expected in err, err
    assert not out.exists() and not (tmp_path / "data").exists()


def test_cli_steps_negative_is_refused(tmp_path, capsys):
    assert main(["train", "--preset", "smoke", "--out", str(tmp_path / "r"), "--steps", "-5"]) == 2
    assert "steps: expected an int in [1," in capsys.readouterr().err and not (tmp_path / "r").exists()


API_CASES = {  # id: (overrides, error)
    "bool-as-int": ({"steps": True}, "steps: expected an int"),
    "string-as-float": ({"lr_g": "1e-3"}, "lr_g: expected a number"),
    "tuple-too-long": ({"betas": (0.5, 0.9, 0.99)}, "betas: expected 2"),
    "float-as-int": ({"voxel_res": 16.0}, "voxel_res: expected an int"),
    "inf-weight": ({"lambda_dom": float("inf")}, "lambda_dom: expected a number in [0, 1e+06]"),
    "unknown-override": ({"lr": 1.0}, "unknown preset field(s) ['lr']"),
}


@pytest.mark.parametrize("overrides,expected", API_CASES.values(), ids=API_CASES.keys())
def test_get_preset_checks_every_override(overrides, expected):
    with pytest.raises(ValueError) as e:
        get_preset("smoke", **overrides)
    assert expected in str(e.value)


def test_get_preset_types_lists_and_ints():
    p = get_preset("smoke", betas=[0.4, 0.9], lr_g=1)
    assert p.betas == (0.4, 0.9) and isinstance(p.lr_g, float)


def test_unknown_preset_name_is_refused():
    with pytest.raises(ValueError, match="unknown preset 123"):
        get_preset(123)


STORED_CASES = {  # id: (change to a stored preset dict, error)
    "newer-version-field": ({"warp_drive": 1}, "unknown field(s) ['warp_drive']"),
    "missing-field": ({"voxel_res": None}, "missing field(s) ['voxel_res']"),
    "bad-value": ({"batch_size": 0}, "batch_size: expected an int in [2,"),
}


@pytest.mark.parametrize("change,expected", STORED_CASES.values(), ids=STORED_CASES.keys())
def test_stored_preset_is_validated_and_names_its_source(change, expected):
    from dataclasses import asdict

    d = {**asdict(get_preset("smoke")), **change}
    d = {k: v for k, v in d.items() if v is not None}
    with pytest.raises(ValueError) as e:
        preset_from_dict(d, "checkpoint runs/x/checkpoint.pt")
    assert str(e.value).startswith("checkpoint runs/x/checkpoint.pt: ") and expected in str(e.value)


def test_stored_preset_that_is_not_an_object():
    with pytest.raises(ValueError, match="config.json: expected the preset as a JSON object, got list"):
        preset_from_dict([1, 2], "config.json")


# --- renderer settings, cameras, voxels ------------------------------------------------------------

SETTINGS_CASES = {
    "image-size-0": ({"image_size": 0}, "image_size: expected an int in [8, 512]"),
    "image-size-huge": ({"image_size": 100_000}, "image_size"),
    "background-out-of-range": ({"background": (2.0, 0.0, 0.0)}, "background: expected 3 numbers (RGB) in [0, 1]"),
    "shape-color-two-values": ({"shape_color": (0.5, 0.5)}, "shape_color: expected 3 numbers"),
    "threshold-1": ({"threshold": 1.0}, "threshold: expected a number in (0, 1)"),
    "threshold-nan": ({"threshold": float("nan")}, "threshold"),
    "sun-direction-zero": ({"sun_direction": (0, 0, 0)}, "sun_direction: expected 3 finite numbers, not all 0"),
    "sun-intensity-nan": ({"sun_intensity": float("nan")}, "sun_intensity"),
    "max-triangles-negative": ({"max_triangles": -1}, "max_triangles: expected an int >= 0"),
    "color-string": ({"color": "yes"}, "color: expected True or False"),
}


@pytest.mark.parametrize("kwargs,expected", SETTINGS_CASES.values(), ids=SETTINGS_CASES.keys())
def test_render_settings_are_checked(kwargs, expected):
    with pytest.raises(ValueError) as e:
        RenderSettings(**kwargs)
    assert str(e.value).startswith("render settings ") and expected in str(e.value)


CAMERA_CASES = {
    "elevation-pole": ({"elevation": 90.0}, "camera elevation: expected a finite number in (-90, 90)"),
    "inside-the-cube": ({"distance": 0.5}, "camera distance"),
    "fov-0": ({"fov": 0.0}, "camera fov"),
    "fov-180": ({"fov": 180.0}, "camera fov"),
    "azimuth-nan": ({"azimuth": float("nan")}, "camera azimuth"),
    "elevation-string": ({"elevation": "20"}, "camera elevation"),
}


@pytest.mark.parametrize("kwargs,expected", CAMERA_CASES.values(), ids=CAMERA_CASES.keys())
def test_cameras_are_checked(kwargs, expected):
    with pytest.raises(ValueError) as e:
        Camera(**{"azimuth": 30.0, "elevation": 20.0, **kwargs})
    assert expected in str(e.value)


def test_camera_prior_range_is_checked():
    with pytest.raises(ValueError, match="elevation_range: expected low <= high"):
        CameraPrior(elevation_range=(40.0, 10.0))
    with pytest.raises(ValueError, match="camera elevation"):
        CameraPrior(elevation_range=(10.0, 95.0))


GRID = np.zeros((16, 16, 16), np.float32)
VOXEL_CASES = {  # id: (voxels, cameras, thresholds, error)
    "voxels-nan": (np.full((16, 16, 16), np.nan, np.float32), Camera(30, 20), None, "NaN or infinite"),
    "voxels-above-1": (np.full((16, 16, 16), 2.0, np.float32), Camera(30, 20), None, "must lie in [0, 1]"),
    "voxels-int": (np.zeros((16, 16, 16), np.int64), Camera(30, 20), None, "expected float occupancies"),
    "voxels-not-cubic": (np.zeros((16, 16, 8), np.float32), Camera(30, 20), None, "cubic grid"),
    "voxels-list": ([[0.0]], Camera(30, 20), None, "expected a numpy array or torch tensor"),
    "voxels-empty-batch": (np.zeros((0, 16, 16, 16), np.float32), [], None, "empty batch"),
    "cameras-too-few": (np.stack([GRID, GRID]), [Camera(30, 20)], None, "expected one Camera or a sequence of 2"),
    "cameras-not-cameras": (GRID, 5, None, "got int"),
    "cameras-tuples": (GRID, [(30, 20)], None, "of type ['tuple']"),
    "thresholds-nan": (GRID, Camera(30, 20), [float("nan")], "thresholds: expected 1 values in (0, 1)"),
    "thresholds-wrong-length": (GRID, Camera(30, 20), [0.5, 0.5], "thresholds: expected 1 values"),
    "thresholds-text": (GRID, Camera(30, 20), ["half"], "thresholds"),
}


@pytest.mark.parametrize("voxels,cams,thresholds,expected", VOXEL_CASES.values(), ids=VOXEL_CASES.keys())
def test_renderer_inputs_are_checked(voxels, cams, thresholds, expected):
    with pytest.raises((ValueError, TypeError)) as e:
        render_inputs(voxels, cams, RenderSettings(image_size=32), thresholds)
    assert expected in str(e.value)


def test_grid_side_over_the_cap_is_refused_before_allocating():
    big = np.broadcast_to(np.float32(0), (1, 512, 512, 512))  # no memory behind it
    with pytest.raises(ValueError, match=r"grid side must be in \[2, 256\], got 512"):
        render_inputs(big, Camera(30, 20), RenderSettings(image_size=32))


# --- meshes: refused at once instead of hanging the voxeliser -----------------------------------------

MESH_FILES = {  # id: (OBJ text, error)
    "mesh-nan-vertex": ("v 0 0 0\nv nan 0 0\nv 0 1 0\nf 1 2 3\n", "1 vertices are NaN or infinite"),
    "mesh-1e308-vertex": ("v 0 0 0\nv 1e308 0 0\nv 0 1 0\nf 1 2 3\n", "mesh file"),
    "mesh-far-vertex": ("v 0 0 0\nv 1e9 0 0\nv 0 1 0\nf 1 2 3\n", "expected coordinates within [-1e+06, 1e+06]"),
    "mesh-one-point": ("v 1 1 1\nv 1 1 1\nv 1 1 1\nf 1 2 3\n", "all vertices lie at one point"),
    "mesh-no-triangles": ("v 0 0 0\nv 1 0 0\n", "no triangles found"),
}


@pytest.mark.parametrize("text,expected", MESH_FILES.values(), ids=MESH_FILES.keys())
def test_bad_mesh_file_is_refused_fast(text, expected, tmp_path):
    path = tmp_path / "m.obj"
    path.write_text(text)
    _mesh([[0, 0, 0]], [[0, 0, 0]])  # Open3D imported before timing
    t = time.perf_counter()
    with pytest.raises(ValueError) as e:
        mesh_to_voxels(load_mesh(path), 32)
    assert time.perf_counter() - t < 5 and str(path) in str(e.value) and expected in str(e.value)


def _mesh(vertices, triangles):
    from igan_lite.render.backend import open3d

    o3d = open3d()
    return o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(vertices, np.float64)),
                                     o3d.utility.Vector3iVector(np.asarray(triangles, np.int32)))


def test_unnormalised_mesh_is_refused_by_the_voxeliser_not_voxelised_for_minutes():
    t = time.perf_counter()
    with pytest.raises(ValueError, match=r"within \[-1, 1\] \(normalise_mesh puts a mesh in the unit cube\)"):
        mesh_to_voxels(_mesh([[0, 0, 0], [100, 0, 0], [0, 100, 0]], [[0, 1, 2]]), 32)
    assert time.perf_counter() - t < 1  # voxelised, this triangle took 18 s


def test_triangle_index_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"triangles index vertices outside 0\.\.2"):
        check_mesh(_mesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 7]]))


def test_voxel_resolution_out_of_range_is_refused():
    with pytest.raises(ValueError, match=r"voxel resolution n must be an integer in \[8, 256\], got 1000"):
        mesh_to_voxels(_mesh([[0, 0, 0], [0.4, 0, 0], [0, 0.4, 0]], [[0, 1, 2]]), 1000)


# --- image folders: every mode on the pipeline's scale -------------------------------------------------

def _one(folder, color=False):
    return load_image_folder(folder, 8, color=color)[0]


def test_16_bit_png_keeps_its_grey(tmp_path):
    Image.fromarray(np.full((8, 8), 32768, np.uint16)).save(tmp_path / "a.png")
    assert abs(_one(tmp_path).mean().item() - 0.5) < 0.01  # Pillow's convert("L") made it white


def test_rgba_transparency_is_composited_onto_the_white_background(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)  # transparent black...
    rgba[:4, :, 3] = 255  # ...except the top half, opaque black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    x = _one(tmp_path, color=True)
    assert x[:, 6:].min() > 0.99 and x[:, :2].max() < 0.01


def test_grey_alpha_is_composited(tmp_path):
    la = np.zeros((8, 8, 2), np.uint8)
    la[:, 4:, 1] = 255  # black everywhere, transparent on the left half
    Image.fromarray(la, "LA").save(tmp_path / "a.png")
    x = _one(tmp_path)
    assert x[..., :3].min() > 0.99 and x[..., 5:].max() < 0.01


def test_a_wholly_transparent_image_is_named_as_showing_no_object(tmp_path):
    Image.fromarray(np.zeros((8, 8, 2), np.uint8), "LA").save(tmp_path / "a.png")
    with pytest.raises(ValueError, match="a.png shows no object"):
        _one(tmp_path)


def test_palette_transparency_is_composited(tmp_path):
    im = Image.new("P", (8, 8), 0)
    im.putpalette([0, 0, 0] * 256)
    im.paste(1, (4, 0, 8, 8))  # index 1: black, opaque; index 0: transparent
    im.save(tmp_path / "a.png", transparency=0)
    x = _one(tmp_path)
    assert x[..., :3].min() > 0.99 and x[..., 5:].max() < 0.01


def test_cmyk_jpeg_is_read(tmp_path):
    im = Image.new("CMYK", (8, 8), (0, 0, 0, 0))  # white
    im.paste((0, 0, 0, 255), (4, 0, 8, 8))  # black right half
    im.save(tmp_path / "a.jpg")
    x = _one(tmp_path)
    assert x[..., :3].min() > 0.9 and x[..., 5:].max() < 0.1


def test_animated_gif_is_refused_by_name(tmp_path):
    frames = [Image.new("L", (8, 8), v) for v in (0, 255)]
    frames[0].save(tmp_path / "a.png", save_all=True, append_images=frames[1:])
    with pytest.raises(ValueError, match=r"a\.png is animated \(2 frames\); expected a still image"):
        _one(tmp_path)


def test_oversized_image_is_refused_before_decoding(tmp_path):
    Image.new("1", (8000, 7000)).save(tmp_path / "big.png")  # 56 M pixels, a few kB on disk
    with pytest.raises(ValueError, match=r"big\.png: 8000x7000 exceeds 50,000,000 pixels"):
        _one(tmp_path)


def test_image_size_out_of_range_is_refused(tmp_path):
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    with pytest.raises(ValueError, match=r"image_size: expected an int in \[8, 512\], got 0"):
        load_image_folder(tmp_path, 0)


def test_a_folder_named_like_an_image_is_skipped(tmp_path):
    (tmp_path / "dir.png").mkdir()
    Image.new("L", (8, 8), 0).save(tmp_path / "a.png")
    assert load_image_folder(tmp_path, 8).shape == (1, 1, 8, 8)


# --- seeds and evaluation sizes --------------------------------------------------------------------

def test_negative_seeds_are_refused(tmp_path, capsys):
    assert main(["train", "--preset", "smoke", "--out", str(tmp_path / "r"), "--seed", "-1"]) == 2
    assert "seed: expected an int in [0, 2^31), got -1" in capsys.readouterr().err
    with pytest.raises(ValueError, match="dataset seed: expected an int"):
        build_dataset("chair", "smoke", tmp_path / "d", seed=-1)
    assert not (tmp_path / "r").exists() and not (tmp_path / "d").exists()


def test_unknown_category_is_refused_before_the_run_folder(tmp_path):
    from igan_lite.training.train import train

    with pytest.raises(ValueError, match="unknown category 'sofa'"):
        train("iggan", "sofa", "smoke", tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("n", [10, 100_000, "50"], ids=["eval-n-too-small", "eval-n-too-large", "eval-n-string"])
def test_evaluation_size_is_checked_before_loading(n, tmp_path):
    from igan_lite.evaluation.evaluate import evaluate_run

    with pytest.raises(ValueError, match=r"evaluate n: expected an int in \[50, 20000\]"):
        evaluate_run(tmp_path / "no-run", n=n)


@pytest.mark.parametrize("n", [0, 5000], ids=["sample-n-0", "sample-n-5000"])
def test_sample_count_is_checked_before_loading(n, tmp_path):
    from igan_lite.evaluation.sample import sample_run

    with pytest.raises(ValueError, match=r"sample n: expected an int in \[1, 1024\]"):
        sample_run(tmp_path / "no-run", n)


# --- docs/bad_inputs.md names only tests that exist ------------------------------------------------

def test_every_row_of_the_bad_inputs_table_names_an_existing_test():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    rows = [ln for ln in (root / "docs" / "bad_inputs.md").read_text().splitlines() if re.match(r"\| \d+ \|", ln)]
    assert len(rows) >= 60
    for row in rows:
        path, name, case = re.search(r"`(tests/\w+\.py)::(\w+)(?:\[([\w-]+)\])?`", row).groups()
        source = (root / path).read_text()
        assert f"def {name}(" in source, row
        assert case is None or f'"{case}"' in source, row
