import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from igan_lite.core.diagnostics import _face_neighbours, collapse_warnings, sample_stats
from igan_lite.evaluation.sample import sample_run
from igan_lite.presets import get_preset
from igan_lite.training import checkpoint
from igan_lite.training.train import TrainingDiverged, train

SMOKE = get_preset("smoke")
LOSSES = ("loss_d", "loss_g", "proxy_l2", "proxy_dom", "proxy_error", "occupancy", "diversity", "d_acc")


def read_metrics(run):
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # datasets are cached under ./data
    return tmp_path


def test_a_smoke_run_writes_metrics_samples_and_checkpoint(in_tmp):
    run = train("iggan", "chair", SMOKE, in_tmp / "run", progress=False)
    rows = read_metrics(run)
    assert [r["step"] for r in rows] == list(range(1, SMOKE.steps + 1))
    for key in LOSSES + ("time_real_render", "time_proxy", "time_generator", "time_discriminator", "isolated"):
        assert all(np.isfinite(r[key]) for r in rows), key
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000003.png", "step_000006.png"]
    assert checkpoint.load(run / "checkpoint.pt")["step"] == SMOKE.steps
    assert len((run / "pretrain.jsonl").read_text().splitlines()) == SMOKE.pretrain_steps
    from igan_lite.training.run_folder import export_run

    slim = export_run(run, in_tmp / "slim")
    assert set(checkpoint.load(slim / "checkpoint.pt")) == {"config", "step", "G", "R"}
    assert (slim / "checkpoint.pt").stat().st_size < (run / "checkpoint.pt").stat().st_size
    out = sample_run(slim, 3)
    assert (out / "renders.png").exists() and np.load(out / "voxels.npz")["voxels"].shape == (3, 16, 16, 16)
    assert len(list(out.glob("*.ply"))) >= 1
    from igan_lite.training.run_folder import load_generator

    half = export_run(run, in_tmp / "half", proxy=False, half=True)
    state = checkpoint.load(half / "checkpoint.pt")
    assert set(state) == {"config", "step", "G"} and state["G"]["fc.0.weight"].dtype == torch.float16
    G16, G32 = load_generator(half)[0], load_generator(run)[0]
    assert G16.fc[0].weight.dtype == torch.float32
    z = torch.randn(2, SMOKE.z_dim)
    with torch.no_grad():
        torch.testing.assert_close(G16(z), G32(z), atol=2e-3, rtol=0)  # fp16 rounding of the weights only


def _cli(args, cwd):
    env = {**os.environ, "IGAN_PRESET": "smoke"}
    return [sys.executable, "-m", "igan_lite.cli", *args], dict(cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def children(pid: int) -> list[int]:
    """PIDs of the processes whose parent is `pid` (from /proc)."""
    kids = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                fields = open(f"/proc/{stat}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(stat))
    return kids


def alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parametrize("mode", ["serial", "run-ahead"])
def test_sigkill_and_resume_gives_the_same_numbers(tmp_path, mode):
    """Killed mid-run and resumed, a run logs the numbers of an uninterrupted one. Run-ahead: the killed run
    draws with 2 render workers, the others with 0 and 1 (the worker count must not matter), and the
    killed run's workers must not outlive it."""
    args = ["train", "--preset", "smoke", "--steps", "10", "--quiet"]
    extra = (lambda workers: ["--set", "run_ahead=true", "--render-workers", str(workers)]) if mode == "run-ahead" else (lambda _: [])
    cmd, kw = _cli(args + ["--out", "straight"] + extra(0), tmp_path)
    assert subprocess.run(cmd, **kw, timeout=600).returncode == 0

    cmd, kw = _cli(args + ["--out", "killed"] + extra(2), tmp_path)
    proc = subprocess.Popen(cmd, **kw)
    metrics = tmp_path / "killed" / "metrics.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline and not (metrics.exists() and len(metrics.read_text().splitlines()) >= 5):
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 5 <= len(metrics.read_text().splitlines()) < 10, "the run finished before it could be killed"
    killed_at = checkpoint.load(tmp_path / "killed" / "checkpoint.pt")["step"]
    assert killed_at < 10
    if mode == "run-ahead":
        assert len(workers) >= 2, "the render workers should be child processes"
        deadline = time.time() + 30
        while time.time() < deadline and any(alive(w) for w in workers):
            time.sleep(0.1)
        assert not any(alive(w) for w in workers), "render workers outlived the killed training process"

    cmd, kw = _cli(args + ["--out", "killed", "--resume"] + extra(1), tmp_path)
    assert subprocess.run(cmd, **kw, timeout=600).returncode == 0
    a, b = read_metrics(tmp_path / "straight"), read_metrics(tmp_path / "killed")
    assert [r["step"] for r in b] == list(range(1, 11))
    for ra, rb in zip(a, b):
        assert {k: ra[k] for k in LOSSES} == {k: rb[k] for k in LOSSES}, ra["step"]


def test_resume_errors(in_tmp):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train("iggan", "chair", SMOKE, in_tmp / "none", resume=True, progress=False)
    run = train("iggan", "chair", get_preset("smoke", steps=2), in_tmp / "run", progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train("iggan", "chair", SMOKE, run, progress=False)
    with pytest.raises(ValueError, match="voxel_res: checkpoint 16 vs requested 32"):
        train("iggan", "chair", get_preset("smoke", voxel_res=32), run, resume=True, progress=False)
    # a longer run may continue the same one
    train("iggan", "chair", get_preset("smoke", steps=3), run, resume=True, progress=False)
    assert checkpoint.load(run / "checkpoint.pt")["step"] == 3
    (run / "checkpoint.pt").write_bytes(b"\x00not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        train("iggan", "chair", SMOKE, run, resume=True, progress=False)
    with pytest.raises(ValueError, match="unknown method 'nerf'"):
        train("nerf", "chair", SMOKE, in_tmp / "x", progress=False)


def test_nan_stops_with_step_phase_and_keeps_the_checkpoint(in_tmp, monkeypatch):
    from igan_lite.core import losses

    monkeypatch.setattr(losses, "g_loss", lambda logits: logits.mean() * float("nan"))
    with pytest.raises(TrainingDiverged, match=r"generator loss became nan at step 1; the last good checkpoint is .*checkpoint.pt"):
        train("iggan", "chair", SMOKE, in_tmp / "run", progress=False)
    assert checkpoint.load(in_tmp / "run" / "checkpoint.pt")["step"] == 0


def test_ablation_flags_reach_the_config(in_tmp):
    from igan_lite.cli import main

    assert main(["train", "--preset", "smoke", "--out", "nodom", "--no-dom", "--no-pretrain", "--steps", "1",
                 "--set", "proxy_steps=1", "--quiet"]) == 0
    cfg = json.loads((in_tmp / "nodom" / "config.json").read_text())["preset"]
    assert cfg["lambda_dom"] == 0.0 and cfg["pretrain"] is False and cfg["proxy_steps"] == 1
    assert not (in_tmp / "nodom" / "pretrain.jsonl").exists()
    assert main(["train", "--out", "y", "--set", "lambda_dom"]) == 2


# --- collapse detection: one test per failure mode of docs/background.md §2 ---------------------------------

def _stats(x, renders=None):
    renders = torch.ones(len(x), 1, 8, 8) if renders is None else renders
    return collapse_warnings(sample_stats(torch.as_tensor(x, dtype=torch.float32), renders))


def test_speckle_is_detected():
    rng = np.random.default_rng(0)
    assert "speckle" in _stats((rng.random((8, 1, 16, 16, 16)) < 0.03).astype(np.float32))


def test_identical_samples_are_detected():
    one = np.zeros((1, 1, 16, 16, 16), np.float32)
    one[..., 4:12, 4:12, 4:12] = 1
    assert "alike" in _stats(np.repeat(one, 8, 0))


def test_occupancy_stuck_under_the_threshold_is_detected_in_a_run(in_tmp, monkeypatch):
    import igan_lite.core.nets as nets

    original = nets.Generator.__init__

    def broken(self, *a, **k):  # every occupancy starts at sigmoid(-6) = 0.0025
        original(self, *a, **k)
        torch.nn.init.constant_(self.output_conv.bias, -6.0)

    monkeypatch.setattr(nets.Generator, "__init__", broken)
    run = train("iggan", "chair", get_preset("smoke", steps=2, pretrain=False), in_tmp / "r", progress=False)
    warnings = read_metrics(run)[0]["warnings"]
    assert "empty" in warnings and "blank" in warnings


@pytest.mark.parametrize("d_acc_max", [0.8, 0.6], ids=["default-D", "balanced-D"])
def test_speckle_a_blind_proxy_cannot_see_is_detected_in_a_run(in_tmp, monkeypatch, d_acc_max):
    """The first two collapses of docs/background.md §2: a generator emitting speckle, with a proxy that has not learned to
    render it (here: no pretraining), with the default and with a more tightly balanced discriminator."""
    import igan_lite.core.nets as nets

    original = nets.Generator.__init__

    def broken(self, *a, **k):  # one voxel of every 2x2x2 block on (the voxel shuffle's first sub-position)
        original(self, *a, **k)
        with torch.no_grad():
            self.output_conv.bias.copy_(torch.tensor([8.0] + [-8.0] * 7))

    monkeypatch.setattr(nets.Generator, "__init__", broken)
    preset = get_preset("smoke", steps=2, pretrain=False, d_acc_max=d_acc_max)
    warnings = read_metrics(train("iggan", "chair", preset, in_tmp / "r", progress=False))[0]["warnings"]
    assert "speckle" in warnings and "proxy" in warnings


def test_healthy_varied_shapes_raise_no_warning():
    from igan_lite.data.shapes import make_shape

    x = np.stack([make_shape("chair", s).voxels(16) for s in range(8)])[:, None]
    renders = torch.rand(8, 1, 8, 8) * 0.5
    assert _stats(x, renders) == {}


def test_evaluate_scores_a_run_beside_baselines(in_tmp, monkeypatch, capsys):
    from igan_lite.cli import main
    from igan_lite.evaluation import evaluate

    monkeypatch.setattr(evaluate, "CACHE", in_tmp / "cache")
    p = get_preset("smoke", n_shapes=150, steps=3)
    run = train("iggan", "chair", p, in_tmp / "run", progress=False)
    assert main(["evaluate", "--run", str(run), "--n", "50", "--snapshots", "--no-fid"]) == 0
    printed = capsys.readouterr().out
    assert "FD-lite (fast score): FeatureNet" in printed and "n=50" in printed and "real_vs_real" in printed
    assert "FID, KID: not computed" in printed
    result = json.loads((run / "evaluation.json").read_text())
    for name in ("generator", "untrained_generator", "random_boxes", "real_vs_real"):
        assert np.isfinite(result[name]["fd_lite"]) and 0 <= result[name]["nearest_iou"] <= 1
    assert list(result["snapshots"]) == ["step_000003"]
    # real shapes are closer to real shapes than random boxes are
    assert result["real_vs_real"]["nearest_iou"] > result["random_boxes"]["nearest_iou"]
    assert result["real_vs_real"]["fd_lite"] < result["random_boxes"]["fd_lite"]
    assert (in_tmp / "cache" / "featurenet-smoke-32px-gray.pt").exists()
    label = result["label"]  # scored on the test split at the surface level that did best on the validation split
    assert label["split"] == "test" and label["threshold"] == float(min(label["validation_fd_lite"], key=label["validation_fd_lite"].get))
    assert label["chosen_by"] == "FD-lite" and "fid" not in result["generator"]


def test_evaluate_with_the_standard_weights_chooses_the_level_by_fid(in_tmp, monkeypatch):
    from igan_lite.evaluation import evaluate

    monkeypatch.setattr(evaluate, "CACHE", in_tmp / "cache")
    run = train("iggan", "chair", get_preset("smoke", steps=2), in_tmp / "run", progress=False)
    result = evaluate.evaluate_run(run, n=50, baselines=False, inception=True)
    label, scores = result["label"], result["generator"]
    assert label["chosen_by"].startswith("FID") and "2015-12-05" in label["fid_extractor"]
    shortlist = sorted(label["validation_fd_lite"], key=label["validation_fd_lite"].get)[:evaluate.SHORTLIST]
    assert sorted(label["validation_fid"]) == sorted(shortlist)
    assert label["threshold"] == float(min(label["validation_fid"], key=label["validation_fid"].get))
    assert scores["fid"] > 0 and np.isfinite(scores["kid"]) and np.isfinite(scores["fd_lite"])
    assert list((in_tmp / "cache" / "inception").glob("pool3-*.npy"))  # the real sets' features, cached


def test_isolated_voxels_are_counted_by_face_neighbours():
    """The shifted-sum neighbour count equals a 6-neighbour cross convolution."""
    occ = (torch.rand(3, 1, 10, 10, 10, generator=torch.Generator().manual_seed(0)) < 0.2).float()
    cross = torch.zeros(1, 1, 3, 3, 3)
    cross[0, 0, 1, 1, [0, 2]] = cross[0, 0, 1, [0, 2], 1] = cross[0, 0, [0, 2], 1, 1] = 1
    assert torch.equal(_face_neighbours(occ), torch.nn.functional.conv3d(occ, cross, padding=1))


def test_a_run_is_collapsed_when_a_warning_fires_in_most_of_its_last_steps():
    from igan_lite.core.diagnostics import collapsed

    healthy = [{"warnings": {}}] * 60
    assert collapsed(healthy) == []
    assert collapsed(healthy[:20] + [{"warnings": {"alike": "..."}}] * 26 + healthy[:24]) == ["alike"]
    assert collapsed(healthy[:20] + [{"warnings": {"alike": "..."}}] * 25 + healthy[:25]) == []  # exactly half: not
    assert collapsed([{"warnings": {"speckle": "..."}}] * 30 + healthy[:50]) == []  # early speckle that recovered
