"""Hostile files and folders: checkpoints load no code, a folder has one writer, nothing is written before a
resume is validated, torn or corrupt files are named, and the CLI has one error path
(docs/bad_inputs.md lists every case with its test id)."""
import os
import shutil
import sys
import types

import numpy as np
import pytest
import torch

from igan_lite.cli import main
from igan_lite.infra import files
from igan_lite.infra.folder_lock import FolderBusy, locked
from igan_lite.presets import get_preset
from igan_lite.training import checkpoint
from igan_lite.training.run_folder import read_metrics
from igan_lite.training.train import train

P = get_preset("smoke", steps=2, pretrain=False)


def _cli(args, capsys):
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


class Evil:
    """Unpickling this would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


# --- checkpoints -----------------------------------------------------------------------------------

def test_malicious_checkpoint_runs_nothing_and_is_named(run, tmp_path, capsys):
    marker = tmp_path / "pwned"
    state = checkpoint.load(run / "checkpoint.pt")
    torch.save({**state, "payload": Evil(marker)}, run / "checkpoint.pt")
    code, err = _cli(["sample", "--run", run, "--n", 2], capsys)
    assert code == 2 and not marker.exists()
    assert f"checkpoint {run / 'checkpoint.pt'} holds more than tensors and was not loaded" in err
    assert err.count("\n") == 1


def test_truncated_checkpoint_is_named_as_corrupt(run):
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=f"checkpoint {run / 'checkpoint.pt'} is corrupt"):
        checkpoint.load(run / "checkpoint.pt")


def test_checkpoint_that_is_not_a_dict_is_named(tmp_path):
    torch.save(torch.zeros(3), tmp_path / "c.pt")
    with pytest.raises(ValueError, match="c.pt is not an igan-lite checkpoint"):
        checkpoint.load(tmp_path / "c.pt")


def test_checkpoint_with_weights_of_another_shape_is_named(run):
    from igan_lite.training.run_folder import load_generator

    state = checkpoint.load(run / "checkpoint.pt")
    state["G"] = {k: v[..., :1] if v.ndim else v for k, v in state["G"].items()}
    torch.save(state, run / "checkpoint.pt")
    with pytest.raises(ValueError, match="has no generator matching its config"):
        load_generator(run)


def test_checkpoint_from_a_newer_version_is_named(run):
    from igan_lite.training.run_folder import load_generator

    state = checkpoint.load(run / "checkpoint.pt")
    state["config"]["preset"]["warp_drive"] = 1
    torch.save(state, run / "checkpoint.pt")
    with pytest.raises(ValueError, match=r"checkpoint .*checkpoint.pt: preset with unknown field\(s\) \['warp_drive'\]"):
        load_generator(run)


def test_run_ahead_state_is_tensors_only_and_legacy_cameras_still_load(tmp_path, monkeypatch):
    from igan_lite.core.camera import Camera
    from igan_lite.training.train import build, run_config

    monkeypatch.chdir(tmp_path)
    with build(run_config("iggan", "chair", get_preset(P, run_ahead=True), 0)) as t:
        t.method.step(t)
        state = checkpoint.run_state(t)
    assert isinstance(state["pending"]["cams"], torch.Tensor)
    torch.save(state, tmp_path / "new.pt")
    torch.load(tmp_path / "new.pt", weights_only=True)  # no allow-list needed
    legacy = {**state, "pending": {**state["pending"], "cams": [Camera(1.0, 20.0)], "thresholds": np.array([0.5])}}
    torch.save(legacy, tmp_path / "old.pt")
    assert checkpoint.load(tmp_path / "old.pt")["pending"]["cams"] == [Camera(1.0, 20.0)]

    # written before the package had floors: the class path in the file is igan_lite.camera.Camera
    old_module = types.ModuleType("igan_lite.camera")
    old_module.Camera = type("Camera", (Camera,), {"__module__": "igan_lite.camera", "__qualname__": "Camera"})
    monkeypatch.setitem(sys.modules, "igan_lite.camera", old_module)
    torch.save({**legacy, "pending": {**legacy["pending"], "cams": [old_module.Camera(2.0, 20.0)]}}, tmp_path / "older.pt")
    monkeypatch.delitem(sys.modules, "igan_lite.camera")
    assert b"igan_lite.camera" in (tmp_path / "older.pt").read_bytes()
    assert checkpoint.load(tmp_path / "older.pt")["pending"]["cams"] == [Camera(2.0, 20.0)]


# --- run folders -----------------------------------------------------------------------------------

def test_second_writer_gets_an_error_naming_the_holder(run, capsys):
    before = (run / "metrics.jsonl").read_bytes()
    with locked(run):
        code, err = _cli(["train", "--preset", "smoke", "--out", run, "--resume", "--steps", 3,
                          "--set", "pretrain=false", "--quiet"], capsys)
    assert code == 2 and f"{run} is being written by pid {os.getpid()} on " in err
    assert (run / "metrics.jsonl").read_bytes() == before


def test_lock_is_free_again_after_its_holder_and_names_no_one(tmp_path):
    with locked(tmp_path):
        with pytest.raises(FolderBusy, match="is being written by pid"):
            with locked(tmp_path):
                pass
    with locked(tmp_path):
        pass
    assert (tmp_path / ".lock").read_text() == ""


def test_resume_of_an_export_fails_before_writing(run, tmp_path, capsys):
    from igan_lite.training.run_folder import export_run

    slim = export_run(run, tmp_path / "slim")
    files = {p: p.read_bytes() for p in slim.rglob("*") if p.is_file()}
    code, err = _cli(["train", "--preset", "smoke", "--out", slim, "--resume", "--steps", 3, "--set", "pretrain=false"], capsys)
    assert code == 2 and "cannot be resumed: it lacks ['D', 'opt_g'" in err
    assert {p: p.read_bytes() for p in slim.rglob("*") if p.is_file()} == files


def test_export_refuses_its_own_run(run, capsys):
    code, err = _cli(["export", "--run", run, "--out", run], capsys)
    assert code == 2 and "is the run itself" in err
    assert "opt_g" in checkpoint.load(run / "checkpoint.pt")


def test_export_refuses_to_overwrite_another_training_run(run, tmp_path, capsys):
    other = shutil.copytree(run, tmp_path / "other")
    code, err = _cli(["export", "--run", run, "--out", other], capsys)
    assert code == 2 and "holds a resumable training run" in err and "opt_g" in checkpoint.load(other / "checkpoint.pt")


def test_changed_data_fields_get_their_own_dataset_folder(run, tmp_path):
    from igan_lite.data.datasets import build_dataset, default_dir

    shared = default_dir("chair", P)
    assert shared.name == "chair-smoke-seed0" and default_dir("chair", get_preset(P, steps=9)) == shared
    other = default_dir("chair", get_preset(P, n_shapes=6))
    assert other.name.startswith("chair-smoke-seed0-") and other != shared
    stamp = (shared / "images.npz").stat().st_mtime_ns
    build_dataset("chair", get_preset(P, n_shapes=6), other, progress=False)
    assert (shared / "images.npz").stat().st_mtime_ns == stamp


def test_torn_metrics_line_is_dropped_and_resume_continues(run):
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"step": 3, "loss_d": 0.6')  # a kill in the middle of a write
    assert [r["step"] for r in read_metrics(run)] == [1, 2]
    train("iggan", "chair", get_preset(P, steps=3), run, resume=True, progress=False)
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3]


def test_corrupt_metrics_line_names_file_and_line(run):
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("garbage\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(ValueError, match=r"metrics.jsonl line 1 is not a JSON object: 'garbage'"):
        read_metrics(run)


@pytest.mark.parametrize("content,expected", [("{not json", "is corrupt (not valid JSON"),
                                              ('{"method": "iggan"}', "is not one `igan-lite train` writes")],
                         ids=["config-json-corrupt", "config-json-incomplete"])
def test_bad_config_json_is_named(run, capsys, content, expected):
    (run / "config.json").write_text(content)
    code, err = _cli(["evaluate", "--run", run, "--n", 50], capsys)
    assert code == 2 and f"run config {run / 'config.json'} " in err and expected in err


def test_corrupt_dataset_manifest_is_named(tmp_path):
    from igan_lite.data.datasets import load_dataset

    (tmp_path / "manifest.json").write_text("{")
    with pytest.raises(ValueError, match=f"dataset manifest {tmp_path / 'manifest.json'} is corrupt"):
        load_dataset(tmp_path)


def test_an_interrupted_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("old")

    def write_half_then_die(f):
        f.write(b"ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.write_atomic(path, write_half_then_die)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["config.json"]


def test_out_that_is_a_file_is_named(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    code, err = _cli(["train", "--preset", "smoke", "--out", tmp_path / "f", "--set", "pretrain=false"], capsys)
    assert code == 2 and str(tmp_path / "f") in err


# --- the CLI's error path --------------------------------------------------------------------------

def test_missing_run_is_one_line(tmp_path, capsys):
    code, err = _cli(["sample", "--run", tmp_path / "nowhere"], capsys)
    assert code == 2 and err == f"igan-lite: error: no checkpoint at {tmp_path / 'nowhere' / 'checkpoint.pt'}\n"


def test_unexpected_error_keeps_its_traceback_and_asks_for_a_report(monkeypatch, capsys):
    from igan_lite.evaluation import sample

    def broken(*args, **kwargs):
        raise KeyError("internal")

    monkeypatch.setattr(sample, "sample_run", broken)
    code, err = _cli(["sample", "--run", "x"], capsys)
    assert code == 1 and "Traceback" in err and "KeyError: 'internal'" in err and "please report it" in err


def test_conflicting_reproduce_flags_are_one_line(capsys):
    code, err = _cli(["reproduce", "--retrain", "--from-checkpoints"], capsys)
    assert code == 2 and "--retrain and --from-checkpoints exclude each other" in err
