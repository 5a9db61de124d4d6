"""Solutions to the exercises of notebooks 02-05, one function each.

Each makes the change its exercise asks for, at a size that runs in seconds (the smoke preset unless it is given
the notebook's lab), and returns the numbers the exercise's prediction is about; its docstring states the
prediction and why. The notebooks call them from hidden cells; tests/test_solutions.py checks every prediction.
"""
from __future__ import annotations

import copy
import inspect
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from igan_lite.core import losses, methods, projection
from igan_lite.core.camera import Camera, frustum_grid
from igan_lite.core.nets import proxy_render
from igan_lite.data.datasets import render_settings
from igan_lite.notebook.failures import dead_proxy
from igan_lite.notebook.lab import ProxyLab, ablation_run
from igan_lite.presets import get_preset
from igan_lite.render.renderer import render_voxels
from igan_lite.training import checkpoint
from igan_lite.training.run_folder import read_metrics

SMOKE = "smoke"


def solve(exercise, *args, **kwargs) -> dict:
    """Run a solution, print its numbers one per line and then its docstring (the prediction and why)."""
    result = exercise(*args, **kwargs)
    _print(result)
    print("\n" + inspect.getdoc(exercise))
    return result


def _print(result: dict, indent: str = "") -> None:
    for key, value in result.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print(value, indent + "    ")
        else:
            print(f"{indent}{key}: {value:.4g}" if isinstance(value, float) else f"{indent}{key}: {value}")


def _run(root, steps: int, preset: str, seed: int, **changes) -> list[dict]:
    return read_metrics(ablation_run(root, "chair", preset, steps, seed, progress=False, **changes))


# --- notebook 02: the renderer and its proxy ------------------------------------------------------------------

def squared_dom(gaps: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0)) -> dict:
    """Exercise 2.1. Replace the capped DOM by the plain square (run E's DOM), ρ(d) = d², and compare the two on
    logit mismatches d = D(R) − D(f). Prediction: identical up to one logit; beyond, the square grows as d² and
    its gradient as 2d, while the capped ρ grows as 2d − 1 with its gradient fixed at 2: the square pulls |d| times
    harder. Run E seed 1's squared DOM of 5-7 (and 102 at worst) means mismatches of about 2.5 logits (and
    10): there the square pulled on the proxy 2.5 to 10 times harder than the capped ρ would have."""
    out = {}
    for gap in gaps:
        d_r = torch.tensor([gap], requires_grad=True)
        row = {}
        for label, rho in (("capped", lambda a, b: losses.dom_loss(a, b)), ("squared", lambda a, b: ((a - b) ** 2).mean())):
            value = rho(d_r, torch.zeros(1))
            (grad,) = torch.autograd.grad(value, d_r)
            row[label], row[f"{label} gradient"] = value.item(), grad.item()
        out[f"d = {gap:g}"] = row
    return out


def plain_sigmoid_proxy(preset: str = SMOKE, seed: int = 0) -> dict:
    """Exercise 2.2. Give the proxy a plain sigmoid output instead of the stretched one (run A3).
    Prediction: once the white background has pulled it into saturation, the proxy draws every image blank, no
    gradient reaches the voxels (G learns nothing) and more fitting does not bring it back; the stretched sigmoid
    reaches white at a finite logit and recovers. Runs failures.dead_proxy (notebook 08 shows it in full)."""
    last = {"plain sigmoid": dead_proxy(True, preset, seed)[-1], "stretched sigmoid": dead_proxy(False, preset, seed)[-1]}
    return {label: {"pixel L2": r["proxy_error"], "blank proxy images": r["proxy_blank"],
                    "gradient reaching the voxels": r["grad_to_voxels"]} for label, r in last.items()}


def relit_proxy(lab: ProxyLab, sun_factor: float = 3.0, steps: int = 40, lr: float = 1e-3) -> dict:
    """Exercise 2.3. Fit the pretrained proxy to f for `steps` steps (as it tracks f in training), then change f:
    a sun `sun_factor` times as bright. Prediction: the proxy's error jumps (it imitates the f it was shown, it
    knows no physics), and `steps` more steps on the new images bring it back down: in training the proxy lags
    whenever f, or the generator's shapes, move, which is why it takes `proxy_steps` updates per iteration."""
    s = lab.settings
    relit = render_voxels(lab.x, lab.cams, replace(s, sun_intensity=s.sun_intensity * sun_factor), lab.thresholds)
    tr, te = lab.train_idx, lab.test_idx

    def fitted(R, images):
        R = copy.deepcopy(R)
        opt = torch.optim.Adam(R.parameters(), lr)
        for _ in range(steps):
            loss = losses.proxy_l2(proxy_render(R, lab.x[tr], lab.grid[tr], lab.thresholds[tr]), images[tr])
            opt.zero_grad()
            loss.backward()
            opt.step()
        return R

    def error(R, images):
        return losses.proxy_l2(lab.proxy_images(R, te), images[te]).item()

    tracked = fitted(lab.R0, lab.f_images)
    return {"proxy fitted to f, against f": error(tracked, lab.f_images),
            "the same proxy against the relit f": error(tracked, relit),
            f"after {steps} more steps on the relit f": error(fitted(tracked, relit), relit)}


# --- notebook 03: training ------------------------------------------------------------------------------------

def _parameters(snapshot: Path) -> dict[str, torch.Tensor]:
    """A generator snapshot's weights, without BatchNorm's running statistics (forward passes move those)."""
    state = checkpoint.load(snapshot)["G"]
    return {k: v for k, v in state.items() if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def hold_generator(root: str | Path, bound: float = 1e-3, preset: str = SMOKE, steps: int = 6, seed: int = 0) -> dict:
    """Exercise 3.1. Set g_hold_proxy_error to `bound`, below any error the proxy reaches, against 0 (off).
    Prediction: G's update is skipped at every step (g_updated false), so G's weights at the last snapshot equal
    those at the first; with the gate off they move. D and R still train: only G waits for the proxy."""
    out = {}
    for label, b in ((f"held below {bound:g}", bound), ("gate off", 0.0)):
        run = ablation_run(root, "chair", preset, steps, seed, progress=False, g_hold_proxy_error=b)
        snaps = sorted((run / "generators").glob("step_*.pt"))
        if len(snaps) < 2:
            raise ValueError(f"{run} has {len(snaps)} generator snapshot(s); train at least 2 * sample_every steps")
        first, last = _parameters(snaps[0]), _parameters(snaps[-1])
        rows = read_metrics(run)
        out[label] = {"steps G was updated": sum(r["g_updated"] for r in rows), "steps": len(rows),
                      f"G's largest weight change, {snaps[0].stem} to {snaps[-1].stem}":
                          max((last[k] - first[k]).abs().max().item() for k in first)}
    return out


def mode_seeking_weight(root: str | Path, lambda_ms: float = 1.0, preset: str = SMOKE, steps: int = 6, seed: int = 0) -> dict:
    """Exercise 3.2. Raise the mode-seeking weight λ_ms from the recipe's 0.05 to 1 (run D).
    Prediction: L_ms = 1 / (mean|G(z1) − G(z2)| / mean|z1 − z2| + ε) is about 15 for an untrained G, so at λ_ms = 1
    the term is over ten times the adversarial loss (≈ 0.69 = log 2) at every step and G mostly keeps its samples
    apart instead of fooling D; at 0.05 the two terms are comparable."""
    out = {}
    for lam in (get_preset(preset).lambda_ms, lambda_ms):
        ratios = [lam * r["loss_ms"] / r["loss_g"] for r in _run(root, steps, preset, seed, lambda_ms=lam)]
        out[f"λ_ms = {lam:g}"] = {"smallest λ_ms·L_ms / L_G": min(ratios), "largest": max(ratios)}
    return out


# --- notebook 04: baselines -----------------------------------------------------------------------------------

def thinner_fog(occupancy: float = 0.15, preset: str = SMOKE) -> dict:
    """Exercise 4.1. Fill the central box with occupancy 0.15 instead of 0.3.
    Prediction: f still draws nothing (0.15 is under its surface level), while the visual hull and absorption-only
    still darken the image, AO at least as much as VH everywhere: per sample AO keeps 1 − x of the light and VH
    e^−x, and 1 − x ≤ e^−x."""
    p = get_preset(preset)
    n, cam = p.voxel_res, Camera(30, 25)
    fog = torch.zeros(1, 1, n, n, n)
    fog[..., n // 4: 3 * n // 4, n // 4: 3 * n // 4, n // 4: 3 * n // 4] = occupancy
    grid = frustum_grid([cam], p.image_size, n)
    f = render_voxels(fog, [cam], render_settings(p))
    vh, ao = methods.project("vh", fog, grid), methods.project("ao", fog, grid)
    return {"f: darkest pixel": f.min().item(), "VH: darkest pixel": vh.min().item(), "AO: darkest pixel": ao.min().item(),
            "AO never lighter than VH": bool((ao <= vh + 1e-6).all())}


def swapped_ray(depth: int = 32, dark: float = 0.2, light: float = 0.8, occupancy: float = 0.9) -> dict:
    """Exercise 4.2. A ray through two slabs of occupancy 0.9, a dark one (emission 0.2) and a light one (0.8); swap
    which is in front. Prediction: VH and AO give the same pixel either way (a sum and a product do not care about
    order), EA shows the colour of whichever slab is in front, as a renderer would."""
    def pixel(method, front, back):
        ray, emission = torch.zeros(1, 1, depth, 1, 1), torch.zeros(1, 1, depth, 1, 1)
        for position, e in ((depth // 4, front), (3 * depth // 4, back)):
            ray[:, :, position], emission[:, :, position] = occupancy, e
        if method == "ea":
            return projection.emission_absorption(ray, emission, 1.0).item()
        alpha = projection.visual_hull(ray) if method == "vh" else projection.absorption_only(ray)
        return (1 - alpha).item()
    return {method: {"dark slab in front": pixel(method, dark, light), "light slab in front": pixel(method, light, dark)}
            for method in ("vh", "ao", "ea")}


# --- notebook 05: ablations -----------------------------------------------------------------------------------

def longer_pretraining(root: str | Path, factor: int = 10, preset: str = SMOKE, steps: int = 6, seed: int = 0) -> dict:
    """Exercise 5.1. Pretrain the proxy `factor` times longer.
    Prediction: the proxy's error on the generator's first batches (proxy_error, measured before each proxy update)
    is lower from step 1 on: pretraining is what makes the first gradients G receives worth following."""
    base = get_preset(preset).pretrain_steps
    out = {}
    for n in (base, base * factor):
        errors = [r["proxy_error"] for r in _run(root, steps, preset, seed, pretrain_steps=n)]
        out[f"{n} pretraining steps"] = {"proxy error at step 1": errors[0], "mean proxy error": float(np.mean(errors))}
    return out


def dom_weight_early(root: str | Path, lambda_dom: float = 10.0, preset: str = SMOKE, steps: int = 6, seed: int = 0) -> dict:
    """Exercise 5.2. Multiply λ_DOM by 100 (0.1 → 10) in a short run.
    Prediction: almost nothing changes in the first steps. DOM compares D's outputs on R's and on f's images, and
    an untrained D outputs nearly the same logit for both: DOM is tiny, whatever its weight. It matters once D is
    confident (notebook 02 trained D first; notebook 08's DOM runaway is the other extreme)."""
    out = {}
    for lam in (get_preset(preset).lambda_dom, lambda_dom):
        rows = _run(root, steps, preset, seed, lambda_dom=lam)
        out[f"λ_DOM = {lam:g}"] = {"mean DOM": float(np.mean([r["proxy_dom"] for r in rows])),
                                   "proxy pixel L2 by step": [round(r["proxy_l2"], 4) for r in rows]}
    return out
