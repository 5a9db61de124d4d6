import json

import numpy as np
import pytest
import torch
from PIL import Image

from igan_lite.cli import main
from igan_lite.data.datasets import build_dataset, cache_status, load_dataset, load_eval_voxels, load_image_folder
from igan_lite.presets import get_preset

TINY = get_preset("smoke", n_shapes=6)


def test_build_writes_images_manifest_and_eval_aside(tmp_path):
    out = build_dataset("chair", TINY, tmp_path / "ds", seed=3, progress=False)
    ds = load_dataset(out)
    assert ds.images.shape == (6, 1, 32, 32) and ds.images.dtype == torch.uint8
    assert len(ds) == 6 and 0.0 <= ds.batch([0, 1]).min() and ds.batch([0, 1]).max() <= 1.0
    m = json.loads((out / "manifest.json").read_text())
    assert m["config"]["seed"] == 3 and m["config"]["preset"]["name"] == "smoke"
    assert m["config"]["renderer"]["image_size"] == 32 and m["package_version"]
    with np.load(out / "images.npz") as f:
        assert list(f.keys()) == ["images"]  # no poses next to the training images
    with np.load(out / "eval.npz") as f:
        assert f["azimuth"].shape == (6,) and f["elevation"].shape == (6,)
    voxels = load_eval_voxels(out)
    assert voxels.shape == (6, 16, 16, 16) and voxels.max() == 1.0
    # images show shapes, and they differ
    imgs = ds.batch(slice(None))
    assert (imgs < 0.98).float().mean() > 0.02 and not torch.equal(imgs[0], imgs[1])


def test_same_arguments_reuse_the_cache_and_changes_rebuild(tmp_path, capsys):
    out = build_dataset("table", TINY, tmp_path / "ds", progress=False)
    stamp = (out / "images.npz").stat().st_mtime_ns
    build_dataset("table", TINY, out, progress=False)
    assert (out / "images.npz").stat().st_mtime_ns == stamp
    build_dataset("table", TINY, out, seed=1, progress=False)
    assert "different settings" in capsys.readouterr().out
    assert json.loads((out / "manifest.json").read_text())["config"]["seed"] == 1


def test_corrupt_cache_is_detected_and_rebuilt(tmp_path, capsys):
    out = build_dataset("car", TINY, tmp_path / "ds", progress=False)
    good = load_dataset(out).images.clone()
    (out / "images.npz").write_bytes(b"garbage")
    assert "corrupt" in cache_status(out, json.loads((out / "manifest.json").read_text())["config"])
    with pytest.raises(ValueError, match="unusable"):
        load_dataset(out)
    build_dataset("car", TINY, out, progress=False)
    assert "corrupt" in capsys.readouterr().out
    assert torch.equal(load_dataset(out).images, good)  # deterministic rebuild
    (out / "manifest.json").write_text("{not json")
    assert cache_status(out, {}) == "manifest is corrupt"


def test_unwritable_output_and_unknown_category(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="cannot be written"):
        build_dataset("chair", TINY, blocker / "sub", progress=False)
    with pytest.raises(ValueError, match="unknown category 'sofa'"):
        build_dataset("sofa", TINY, tmp_path / "ds", progress=False)
    with pytest.raises(FileNotFoundError, match="no manifest.json"):
        load_dataset(tmp_path)


def test_cli_builds_and_reports_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IGAN_PRESET", "smoke")
    assert main(["dataset", "build", "--category", "lamp", "--preset", "smoke", "--out", str(tmp_path / "l"), "--quiet"]) == 0
    assert (tmp_path / "l" / "manifest.json").exists()
    blocker = tmp_path / "f"
    blocker.write_text("")
    assert main(["dataset", "build", "--category", "lamp", "--out", str(blocker / "x"), "--quiet"]) == 2
    assert "cannot be written" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["dataset", "build", "--category", "lamp", "--preset", "huge"])


def test_image_folder_loads_resized_gray_or_rgb(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.new("RGB", (50, 40), (255, 0, 0)).save(tmp_path / "a.png")
    Image.new("L", (20, 20), 128).save(tmp_path / "sub" / "b.jpg")
    gray = load_image_folder(tmp_path, 16)
    rgb = load_image_folder(tmp_path, 16, color=True)
    assert gray.shape == (2, 1, 16, 16) and rgb.shape == (2, 3, 16, 16)
    assert torch.allclose(rgb[0, :, 8, 8], torch.tensor([1.0, 0.0, 0.0]))
    assert abs(gray[1, 0, 8, 8].item() - 128 / 255) < 0.02
    (tmp_path / "c.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="c.png cannot be read"):
        load_image_folder(tmp_path, 16)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        load_image_folder(tmp_path / "empty", 16)


def test_a_renderer_change_invalidates_the_cache(tmp_path, monkeypatch, capsys):
    import igan_lite.data.datasets as data

    out = build_dataset("chair", TINY, tmp_path / "ds", progress=False)
    monkeypatch.setattr(data, "RENDERER_VERSION", data.RENDERER_VERSION + 1)
    build_dataset("chair", TINY, out, progress=False)
    assert "different settings" in capsys.readouterr().out


def _check_many_times(out, n):
    from igan_lite.data.datasets import _check_writable
    for _ in range(n):
        _check_writable(out)


def test_two_builders_of_one_folder_never_refuse_each_other(tmp_path):
    """torchrun's ranks build the default dataset at once: each one's check of the folder must count the other's
    transient files as the package's own (CI once saw rank 1 refuse rank 0's writability probe, `tmp0t3w10io`,
    as a foreign file; rank 0 then reported only gloo's "Connection closed by peer")."""
    import multiprocessing
    out = tmp_path / "d"
    out.mkdir()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_check_many_times, args=(out, 3000)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0, 0]
    assert sorted(q.name for q in out.iterdir()) == []  # each probe removed itself
