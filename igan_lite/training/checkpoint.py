"""A training run's checkpoint: loading one (tensors only), and the run state in it (`run_state`, `restore`,
`check_resumable`). Files are written atomically by infra/files.py.

Checkpoints are loaded tensors-only: a crafted file cannot run code, it gets a ValueError naming it. Only the
legacy run-ahead state (cameras and numpy arrays, before tensors-only loading) needs the small allow-list
LEGACY_GLOBALS, which also admits Camera under its path before the package had floors (igan_lite.camera).
"""
from __future__ import annotations

from dataclasses import asdict, astuple
from pathlib import Path

import numpy as np
import torch

from igan_lite.core.camera import Camera
from igan_lite.core.methods import METHODS
from igan_lite.core.steps import Batch, Parts, grids
from igan_lite.infra.files import load_tensors
from igan_lite.presets import SPEED_ONLY, preset_from_dict

# what checkpoints written before tensors-only loading hold besides tensors: Camera and float64 numpy arrays
_NP_CORE = getattr(np, "_core", None) or np.core  # numpy 2 renamed it
LEGACY_GLOBALS = [Camera, (Camera, "igan_lite.camera.Camera"), np.ndarray, np.dtype, type(np.dtype(np.float64)),
                  _NP_CORE.multiarray._reconstruct]


def load(path: str | Path) -> dict:
    """Load a checkpoint dict, or raise a ValueError that names the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = load_tensors(path, LEGACY_GLOBALS)
    if not isinstance(state, dict) or not isinstance(state.get("config"), dict):
        raise ValueError(f"checkpoint {path} is not an igan-lite checkpoint (no config inside)")
    return state


# --- a training run's state (train.py's Parts) --------------------------------------------------------

def _stateful(t: Parts) -> dict:
    parts = {"G": t.nets.G, "R": t.nets.R, "D": t.nets.D, "opt_g": t.opt_g, "opt_r": t.opt_r, "opt_d": t.opt_d}
    return {name: part for name, part in parts.items() if part is not None}


def rank_state(t: Parts) -> dict:
    """What differs between torchrun ranks: the RNGs, and the batch the render workers are drawing (run-ahead)."""
    state = {"step": t.step_count, "torch_rng": torch.get_rng_state(), "numpy_rng": t.rng.bit_generator.state}
    if t.pending is not None:
        b = t.pending[0]  # tensors only
        state["pending"] = {"z": b.z, "x": b.x.detach().cpu(), "thresholds": torch.from_numpy(np.asarray(b.thresholds)),
                            "cams": torch.tensor([astuple(c) for c in b.cams], dtype=torch.float64)}
    return state


def run_state(t: Parts) -> dict:
    """Everything a resumed run needs: config, nets, optimisers and rank_state."""
    return {"config": t.config, **{name: part.state_dict() for name, part in _stateful(t).items()}, **rank_state(t)}


def restore(t: Parts, state: dict, rank: dict | None = None, source: Path | str = "") -> Batch | None:
    """Nets and optimisers from `state` (of run_state), the step and RNGs from `rank` (default: `state`), into t;
    returns the batch that was being drawn (run-ahead), if any."""
    rank = rank or state
    try:
        for name, part in _stateful(t).items():
            part.load_state_dict(state[name])
        torch.set_rng_state(rank["torch_rng"])
        t.rng.bit_generator.state = rank["numpy_rng"]
    except (KeyError, RuntimeError, TypeError, ValueError) as e:  # a damaged or hand-made checkpoint
        raise ValueError(f"checkpoint in {source} does not fit this run ({type(e).__name__}: {str(e)[:200]})") from None
    t.step_count = state["step"]
    pending = rank.get("pending")
    if pending is None:
        return None
    cams = [c if isinstance(c, Camera) else Camera(*map(float, c)) for c in pending["cams"]]  # older: Camera objects
    return Batch(pending["z"], pending["x"].to(t.device), cams, np.asarray(pending["thresholds"]), grids(cams, t.p, t.device))


def check_same_config(saved: dict, config: dict, path: Path, config_file: Path) -> None:
    """A checkpoint's config must be its run's config.json, but for the fields a resume may change (`steps`, the
    speed-only ones): a ValueError naming both files and the fields that differ."""
    def fixed(c: dict) -> dict:
        preset = c.get("preset")
        preset = {k: v for k, v in preset.items() if k not in ("steps", *SPEED_ONLY)} if isinstance(preset, dict) else preset
        return {**c, "preset": preset}

    saved, config = fixed(saved), fixed(config)
    if saved != config:
        differ = sorted(k for k in set(saved) | set(config) if saved.get(k) != config.get(k))
        raise ValueError(f"{config_file} does not match the config inside {path} (they differ in {differ}); one of "
                         "them was edited or copied from another run")


def check_state(state: dict, path: Path) -> None:
    """The run state's step and RNG states have the types and sizes `restore` needs (a ValueError naming the file)."""
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValueError(f"checkpoint {path}: step is {step!r}; expected a whole number of steps >= 0")
    rng = state.get("torch_rng")
    if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8 or rng.shape != torch.get_rng_state().shape:
        raise ValueError(f"checkpoint {path}: torch_rng is not a torch RNG state ({type(rng).__name__})")
    if not isinstance(state.get("numpy_rng"), dict) or "bit_generator" not in state["numpy_rng"]:
        raise ValueError(f"checkpoint {path}: numpy_rng is not a numpy RNG state ({type(state.get('numpy_rng')).__name__})")


def check_resumable(state: dict, wanted: dict, path: Path) -> None:
    """Resuming must not silently change what is being trained (only `steps` may grow), and needs the full
    state `train` saves (an exported run has no D or optimisers). Checked before anything is written."""
    saved = state["config"]
    parts = ["G", "D", "opt_g", "opt_d", "step", "torch_rng", "numpy_rng"] + (["R", "opt_r"] if METHODS[wanted["method"]].proxy else [])
    missing = [k for k in parts if k not in state]
    if missing:
        raise ValueError(f"checkpoint {path} cannot be resumed: it lacks {missing} (an exported run keeps only "
                         "the generator and proxy); start a new run with another --out")
    check_state(state, path)
    if state["step"] > wanted["preset"]["steps"]:
        raise ValueError(f"checkpoint {path} is at step {state['step']}, past the {wanted['preset']['steps']} steps "
                         f"asked for; resume with --steps {state['step']} or more")
    s, w = asdict(preset_from_dict(saved.get("preset"), f"checkpoint {path}")), asdict(preset_from_dict(wanted["preset"]))
    for field in ("steps", *SPEED_ONLY):
        s.pop(field), w.pop(field)
    diff = {k: (s.get(k), w.get(k)) for k in set(s) | set(w) if s.get(k) != w.get(k)}
    defaults = {"world_size": 1, "amp": False}  # absent from older configs ("data" from ShapeNet-lite runs)
    diff.update({k: (saved.get(k, defaults.get(k)), wanted.get(k, defaults.get(k)))
                 for k in ("method", "category", "seed", "world_size", "amp", "data")
                 if saved.get(k, defaults.get(k)) != wanted.get(k, defaults.get(k))})
    if diff:
        shown = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in sorted(diff.items()))
        raise ValueError(f"checkpoint {path} does not match the requested run ({shown})")
