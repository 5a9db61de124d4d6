"""Smoke runs of every method give the numbers recorded in tests/fixtures/bit_for_bit/, exactly: every
metrics.jsonl field but the timings, the pretraining log, every tensor of the checkpoint and the sample grids.

A change to train.py that should not change what a run computes must leave these equal. A change that
should (a new recipe) re-records them: `python tests/test_bit_for_bit.py` (about a minute at smoke).

Exact float32 results depend on the CPU: torch, MKL and oneDNN pick kernels by instruction set, and the same
code gives numbers a few ulps apart on another processor (measured: at most 2e-6 relative over the 6 smoke
steps, no gate decided differently). So the fixtures record a fingerprint of the machine's float32 kernels and
renderer (tests/fixture_machine.py). On a machine with the same fingerprint the comparison is bit for bit; on any other
it is every discrete field exactly and every number within `RTOL` (the checkpoint's tensors through per-tensor
sums instead of digests; the sample PNGs are not compared), and the test warns that it made that comparison. On the recording machine,
`MKL_CBWR=AVX2 pytest tests/test_bit_for_bit.py` changes MKL's kernels and so exercises that path.
"""
import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from fixture_machine import RTOL, close, fingerprint, same_machine

FIXTURES = Path(__file__).parent / "fixtures" / "bit_for_bit"  # with machine.json: fixture_machine.py
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


def _sums(value):
    """Like `_digest`, but a float tensor becomes the float64 sum of its absolute values, which another CPU's
    rounding moves by a few ulps where a digest would change completely."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return float(value.detach().double().abs().sum())
    if isinstance(value, dict):
        return {str(k): _sums(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_sums(v) for v in value]
    return _digest(value)


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
            "checkpoint": json.loads(json.dumps(_digest(state))), "checkpoint_sums": json.loads(json.dumps(_sums(state))),
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
    if not same_machine():  # another CPU: the same discrete decisions, the numbers within its rounding
        warnings.warn(f"{name}: this CPU's float32 fingerprint is not the fixtures' (machine.json): "
                      f"compared within rtol {RTOL}, not bit for bit")
        for key in ("metrics", "pretrain", "checkpoint_sums"):
            close(got[key], expected[key], key)
        return
    for step, (a, b) in enumerate(zip(got["metrics"], expected["metrics"]), 1):
        assert a == b, f"step {step}: " + ", ".join(f"{k}: {a.get(k)!r} vs {b.get(k)!r}"
                                                     for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k))
    assert got["pretrain"] == expected["pretrain"]
    assert got["checkpoint"] == expected["checkpoint"]
    assert got["samples"] == expected["samples"]


def record(cwd: Path) -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    (FIXTURES / "machine.json").write_text(json.dumps({"fingerprint": fingerprint(), "cpu_capability":
                                                       torch.backends.cpu.get_cpu_capability()}, indent=1) + "\n")
    for name in RUNS:
        (FIXTURES / f"{name}.json").write_text(json.dumps(run_and_read(name, cwd), indent=1) + "\n")
        print(f"recorded {name}")


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        record(Path(tmp))
