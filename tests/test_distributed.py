"""Devices, bf16 autocast, and data-parallel training under torchrun (2 CPU processes, gloo)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from igan_lite.core.steps import generate, sample_grid
from igan_lite.infra.distributed import resolve_device
from igan_lite.presets import get_preset
from igan_lite.training import checkpoint
from igan_lite.training.train import build, run_config

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]

SYNC_CHECK = """
import torch, torch.distributed as dist
from igan_lite.infra import distributed
from igan_lite.presets import get_preset
from igan_lite.training.train import build, run_config

rank = distributed.init_from_env(torch.device("cpu"))
p = get_preset("smoke", pretrain=False, run_ahead=True)
with build(run_config("iggan", "chair", p, 0, rank.world), "cpu", rank=rank) as t:
    rows = [t.method.step(t) for _ in range(3)]
    def both(x):
        out = [torch.zeros_like(x) for _ in range(rank.world)]
        dist.all_gather(out, x.contiguous())
        return out
    for name in ("G", "R", "D"):
        for q in getattr(t.nets, name).parameters():
            a, b = both(q.detach())
            assert torch.equal(a, b), f"{name} differs between ranks"
    a, b = both(torch.tensor([r["loss_d"] for r in rows]))
    assert not torch.equal(a, b), "both ranks trained on the same batches"
assert t.ddp.G is t.nets.G, "the DDP wrappers outlive the run"
print("synced", flush=True)
distributed.leave()
"""


def _env(tmp_path):
    return dict(cwd=tmp_path, env={**os.environ, "IGAN_PRESET": "smoke", "OMP_NUM_THREADS": "1"},
                capture_output=True, text=True, timeout=600)


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device: expected 'auto'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no GPU"):
            resolve_device("cuda")


def test_bf16_autocast_trains_on_cpu(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = get_preset("smoke", pretrain=False)
    with build(run_config("iggan", "chair", p, 0), "cpu", amp=True) as t:
        rows = [t.method.step(t) for _ in range(2)]
        assert generate(t, torch.randn(2, p.z_dim), t.nets.G).dtype == torch.float32  # losses and f see float32
    for r in rows:
        assert all(np.isfinite(r[k]) for k in ("loss_d", "loss_g", "proxy_l2", "proxy_dom"))


def test_every_rank_keeps_the_same_nets_and_its_own_batches(tmp_path):
    (tmp_path / "sync_check.py").write_text(SYNC_CHECK)
    done = subprocess.run(TORCHRUN + ["sync_check.py"], **_env(tmp_path))
    assert done.returncode == 0 and done.stdout.count("synced") == 2, (done.stderr + done.stdout)[-3000:]


def test_torchrun_training_writes_once_and_resumes_exactly(tmp_path):
    cli = TORCHRUN + ["-m", "igan_lite.cli", "train", "--preset", "smoke", "--quiet", "--out"]

    # `straight` to 6 steps; `split` to 4, then resumed to 6. Both ranks build the default dataset in the first run.
    for args in (["straight", "--steps", "6"], ["split", "--steps", "4"], ["split", "--steps", "6", "--resume"]):
        done = subprocess.run(cli + args, **_env(tmp_path))
        assert done.returncode == 0, done.stderr[-3000:]
    for run in ("straight", "split"):
        assert json.loads((tmp_path / run / "config.json").read_text())["world_size"] == 2
        assert checkpoint.load(tmp_path / run / "rng-rank1.pt")["step"] == 6
    read = lambda run: [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
    a, b = read("straight"), read("split")
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(1, 7))  # rank 0 alone writes
    assert [(r["loss_d"], r["loss_g"], r["proxy_l2"]) for r in a] == [(r["loss_d"], r["loss_g"], r["proxy_l2"]) for r in b]
    # a torchrun checkpoint cannot be resumed by a single process (the global batch would change)
    done = subprocess.run([sys.executable, "-m", "igan_lite.cli", "train", "--preset", "smoke", "--out", "split",
                           "--steps", "8", "--resume"], **_env(tmp_path))
    assert done.returncode == 2 and "world_size: checkpoint 2 vs requested 1" in done.stderr


def test_the_paper_preset_runs_a_step_at_batch_2(tmp_path, monkeypatch):
    """The GPU preset's parts fit together (64³ voxels, 128² images, a 256-wide generator), here on the CPU."""
    monkeypatch.chdir(tmp_path)
    p = get_preset("paper", batch_size=2, n_shapes=8, pretrain=False, render_workers=0, run_ahead=False, threads=1)
    with build(run_config("iggan", "chair", p, 0)) as t:
        row = t.method.step(t)
        assert sample_grid(t).shape == (48, 1, 128, 128)
    assert all(np.isfinite(row[k]) for k in ("loss_d", "loss_g", "proxy_l2"))


def test_amp_follows_the_preset_and_the_hardware_and_is_recorded(tmp_path, monkeypatch):
    """`amp` turns bf16 on only where the device has native bf16; the run's config says what ran."""
    monkeypatch.chdir(tmp_path)
    from igan_lite.infra import distributed
    from igan_lite.training.train import train
    for native in (True, False):
        monkeypatch.setattr(distributed, "bf16_native", lambda device, native=native: native)
        out = train("iggan", "chair", get_preset("smoke", amp=True, steps=1, pretrain=False), tmp_path / f"r{native}", progress=False)
        assert json.loads((out / "config.json").read_text())["amp"] is native
    out = train("iggan", "chair", get_preset("smoke", amp=False, steps=1, pretrain=False), tmp_path / "off", progress=False)
    assert json.loads((out / "config.json").read_text())["amp"] is False
