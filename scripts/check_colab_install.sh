#!/usr/bin/env bash
# Check the notebooks' Colab set-up cell here: a fresh clone of this repository (a local path in place of
# igan_lite/notebook/colab.py's REPO_URL), a fresh virtualenv, then exactly what the cell does (igan_lite.notebook.colab.setup:
# apt-get as root, else only a check that the libraries are there; pip install -e; headless rendering),
# and one frame drawn by the real renderer. CI runs it (.ci/run). Cheap: pip reuses the torch wheel it finds.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
TORCH="${TORCH:-torch==2.13.0}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
git clone -q "$REPO" "$WORK/igan-lite"              # the first cell: git clone REPO_URL /content/igan-lite
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "$TORCH"            # Colab ships torch; here pip takes the wheel it finds
APT=$([ "$(id -u)" = 0 ] && echo True || echo False)
[ "$APT" = False ] && bash "$REPO/scripts/system_deps.sh"   # not root: the libraries must already be there
cd "$WORK"
"$WORK/venv/bin/python" - "$WORK/igan-lite" "$APT" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])                     # as the first cell does before importing igan_lite.notebook.colab
from igan_lite.notebook.colab import setup
setup(sys.argv[1], apt=sys.argv[2] == "True")
import numpy as np
from igan_lite.core.camera import Camera
from igan_lite.render.renderer import RenderSettings, render_voxels
image = render_voxels(np.ones((8, 8, 8), np.float32), Camera(30, 20), RenderSettings(image_size=32))
assert image.shape == (1, 1, 32, 32) and image.min() < 0.9, "the clone cannot render"
import igan_lite
assert igan_lite.__file__.startswith(sys.argv[1]), igan_lite.__file__
print("Colab install path: OK")
PY
