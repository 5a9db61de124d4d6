"""Which comparison the bit-for-bit fixtures allow on this machine (tests/test_bit_for_bit.py explains why).

Exact float32 results depend on the CPU: torch, MKL and oneDNN pick kernels by instruction set. The fixtures'
machine.json records a fingerprint of the recording machine's kernels and renderer; a machine with the same
fingerprint must reproduce them bit for bit, any other within RTOL and ATOL.
"""
import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MACHINE = Path(__file__).parent / "fixtures" / "bit_for_bit" / "machine.json"
RTOL, ATOL = 1e-4, 1e-6  # another CPU's rounding (measured: up to 2e-5 relative; 2e-7 absolute on the small DOM term)
# Adam's first moments (exp_avg) are compared through their sums, which cancel: on an AVX2 AMD EPYC against the
# AVX512 recording machine, AO's and EA's generator moments summed differed by up to 2.9e-4 relative (4e-4 absolute)
# after 6 smoke steps, every weight, loss and gate agreeing; their sums get this looser bound on another CPU
RTOL_SIGNED_SUM = 1e-3

FINGERPRINT_CODE = """
import hashlib, torch
from igan_lite.core.camera import Camera, frustum_grid
from igan_lite.core.nets import build_nets
from igan_lite.presets import get_preset
from igan_lite.render.renderer import RenderSettings, render_voxels
torch.set_num_threads(1)
torch.manual_seed(0)
p = get_preset("smoke")
nets = build_nets(p)
cams = [Camera(30.0, 20.0), Camera(200.0, 35.0)]
x = nets.G(torch.randn(2, p.z_dim))
images = nets.R(x, frustum_grid(cams, p.image_size, p.voxel_res))
loss = nets.D(images).square().mean() + x.mean()
loss.backward()
h = hashlib.sha256()
for t in (x, images, loss, *[q.grad for q in nets.G.parameters()]):
    h.update(t.detach().contiguous().numpy().tobytes())
h.update(render_voxels(x.detach()[:, 0].numpy() > 0.5, cams, RenderSettings(image_size=p.image_size)).numpy().tobytes())
print(h.hexdigest())
"""


def fingerprint() -> str:
    """sha256 of what G, R and D compute forward and backward, and f draws, on fixed inputs at smoke, one thread:
    two machines with the same fingerprint compute the fixtures' runs bit for bit alike."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", FINGERPRINT_CODE], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()[-1]


@functools.cache
def same_machine() -> bool:
    """Whether this machine's float32 kernels and renderer are those the fixtures were recorded with."""
    return fingerprint() == json.loads(MACHINE.read_text())["fingerprint"]


def close(got, want, where: str) -> None:
    """GOT equals WANT in every discrete value and within RTOL in every float; an AssertionError names where not."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: keys {sorted(got)} vs {sorted(want)}"
        for k in want:
            close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: length {len(got)} vs {len(want)}"
        for i, (a, b) in enumerate(zip(got, want)):
            close(a, b, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        rtol = RTOL_SIGNED_SUM if where.endswith(".exp_avg") else RTOL
        assert got == pytest.approx(want, rel=rtol, abs=ATOL), f"{where}: {got!r} vs {want!r}"
    else:
        assert got == want, f"{where}: {got!r} vs {want!r}"


def matches(got, want, where: str) -> None:
    """GOT equals WANT bit for bit on the fixtures' machine, and as `close` has it on any other."""
    if same_machine():
        assert got == want, f"{where}: {got!r} vs {want!r}"
    else:
        close(got, want, where)
