"""Smoke runs of every method give the numbers recorded in tests/fixtures/bit_for_bit/, exactly: every
metrics.jsonl field but the timings, the pretraining log, every tensor of the checkpoint and the sample grids.

A change to train.py that should not change what a run computes must leave these equal. A change that
should (a new recipe) re-records them: `python tests/test_bit_for_bit.py` (about a minute at smoke).
"""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

FIXTURES = Path(__file__).parent / "fixtures" / "bit_for_bit"
RUNS = {
    "iggan": [],
    "vh": ["--method", "vh"],
    "ao": ["--method", "ao"],
    "ea": ["--method", "ea"],
    "iggan-run-ahead": ["--set", "run_ahead=true", "--render-workers", "1"],
    "iggan-g-hold-0.5": ["--set", "g_hold_proxy_error=0.5"],
    "iggan-g-hold-0.1": ["--set", "g_hold_proxy_error=0.1"],  # holds G on the first steps
}


def _digest(value) -> str | dict | list:
    """sha256 of a tensor's bytes (with dtype and shape); containers digested item by item."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous().reshape(-1)
        return hashlib.sha256(f"{value.dtype}{tuple(value.shape)}".encode() + t.view(torch.uint8).numpy().tobytes()).hexdigest()
    if isinstance(value, dict):
        return {str(k): _digest(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_digest(v) for v in value]
    return value


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def run_and_read(name: str, cwd: Path) -> dict:
    """Train RUNS[name] at smoke under CWD; what the run folder holds, timings left out."""
    out = cwd / "runs" / name
    args = ["train", "--preset", "smoke", "--out", str(out), "--quiet", *RUNS[name]]
    env = {**os.environ, "IGAN_PRESET": "smoke", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "igan_lite.cli", *args], cwd=cwd, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = [{k: v for k, v in row.items() if not k.startswith("time_")} for row in _jsonl(out / "metrics.jsonl")]
    state = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    return {"args": args[5:], "metrics": metrics, "pretrain": _jsonl(out / "pretrain.jsonl"),
            "checkpoint": json.loads(json.dumps(_digest(state))),
            "samples": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((out / "samples").glob("*.png"))}}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("bit_for_bit")  # one ShapeNet-lite cache (./data) for every run


@pytest.mark.parametrize("name", RUNS)
def test_smoke_run_matches_its_recorded_numbers(name, workdir):
    expected = json.loads((FIXTURES / f"{name}.json").read_text())
    got = run_and_read(name, workdir)
    assert got["args"] == expected["args"]
    assert len(got["metrics"]) == len(expected["metrics"])
    for step, (a, b) in enumerate(zip(got["metrics"], expected["metrics"]), 1):
        assert a == b, f"step {step}: " + ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}"
                                                     for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
    assert got["pretrain"] == expected["pretrain"]
    assert got["checkpoint"] == expected["checkpoint"]
    assert got["samples"] == expected["samples"]


def record(cwd: Path) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name in RUNS:
        (FIXTURES / f"{name}.json").write_text(json.dumps(run_and_read(name, cwd), indent=1) + "\n")
        print(f"recorded {name}")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        record(Path(tmp))
