"""The type and range of every preset field, checked in one place (`validated`) before anything is built
or written: by `get_preset` (the API, `--preset`), `preset_from_dict` (configs and checkpoints, also from
other versions) and `parse_override` (the CLI's `--set FIELD=VALUE`). docs/bad_inputs.md lists the cases.

The size caps are memory/time caps, not limits of the method: voxel_res 128 is 8 MB per float32 grid
(8 GB of generator activations at batch 64); image_size 512 keeps f at seconds per batch on a CPU.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from typing import Callable

MAX_VOXEL_RES = 128
MAX_IMAGE_SIZE = 512


@dataclass(frozen=True)
class Rule:
    """A field's type (int, float, bool or str; `size` > 0: a tuple of that many), the condition its value
    (each value of a tuple) must meet, and that condition in words, for the error."""

    kind: type
    ok: Callable[[object], bool]
    expected: str
    size: int = 0


def _int(lo: int, hi: int, extra: Callable[[int], bool] = lambda v: True, note: str = "") -> Rule:
    return Rule(int, lambda v: lo <= v <= hi and extra(v), f"an int in [{lo}, {hi}]{note}")


def _float(lo: float, hi: float, open_lo: bool = False, open_hi: bool = False, size: int = 0) -> Rule:
    def ok(v):
        return math.isfinite(v) and (lo < v if open_lo else lo <= v) and (v < hi if open_hi else v <= hi)
    span = f"{'(' if open_lo else '['}{lo:g}, {hi:g}{')' if open_hi else ']'}"
    return Rule(float, ok, f"{size} comma-separated numbers in {span}" if size else f"a number in {span}", size)


_BOOL = Rule(bool, lambda v: True, "true or false")
_POW2 = lambda v: v & (v - 1) == 0  # noqa: E731

RULES: dict[str, Rule] = {
    "name": Rule(str, lambda v: re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}", v) is not None,
                 "a name of letters, digits, '_', '.', '-' (it names dataset folders)"),
    "voxel_res": _int(8, MAX_VOXEL_RES, _POW2, ", a power of two (the generator doubles from 4^3)"),
    "image_size": _int(8, MAX_IMAGE_SIZE),
    "n_shapes": _int(1, 1_000_000),
    "color": _BOOL,
    "z_dim": _int(1, 4096),
    "g_width": _int(8, 4096),
    "g_smooth": _int(0, 15, lambda v: v <= 1 or v % 2 == 1, ", 0 or odd (an even box filter changes the grid size)"),
    "g_init_occupancy": _float(0, 1, open_hi=True),
    "proxy_width": _int(1, 1024),
    "d_width": _int(1, 4096),
    "d_minibatch_std": _BOOL,
    "batch_size": _int(2, 4096, note=" (mode seeking pairs the batch's two halves)"),
    "steps": _int(1, 10_000_000),
    "lr_g": _float(0, 1, open_lo=True),
    "lr_d": _float(0, 1, open_lo=True),
    "lr_proxy": _float(0, 1, open_lo=True),
    "betas": _float(0, 1, open_hi=True, size=2),
    "lambda_l2": _float(0, 1e6),
    "lambda_dom": _float(0, 1e6),
    "proxy_steps": _int(1, 100),
    "lambda_ms": _float(0, 1e6),
    "d_acc_max": _float(0, 1, open_lo=True),
    "d_ahead_loss": _float(0, 1e6),
    "g_hold_proxy_error": _float(0, 1),
    "threshold_range": _float(0, 1, open_lo=True, open_hi=True, size=2),
    "pretrain": _BOOL,
    "pretrain_shapes": _int(1, 1_000_000),
    "pretrain_steps": _int(0, 10_000_000),
    "render_workers": _int(0, 256, note=" (0: draw in the training process)"),
    "run_ahead": _BOOL,
    "amp": _BOOL,
    "threads": _int(0, 1024, note=" (0: torch's default)"),
    "checkpoint_every": _int(1, 10_000_000),
    "sample_every": _int(1, 10_000_000),
}


def shown(value, limit: int = 60) -> str:
    """repr(value), cut to `limit` characters: errors quote the input without flooding the terminal."""
    r = repr(value)
    return r if len(r) <= limit else r[:limit - 3] + "..."


def _typed(value, kind: type):
    """`value` as `kind`, or None if it is not one (a bool is not an int; an int is a float)."""
    if kind is bool:
        return value if isinstance(value, bool) else None
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if kind is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None
        try:
            return float(value)
        except OverflowError:  # an int beyond float's range
            return None
    return value if isinstance(value, kind) else None


def check_field(name: str, value):
    """The value of preset field `name`, typed (lists become tuples, ints in float fields floats), or a
    ValueError naming the field, the value and what was expected."""
    if name not in RULES:
        raise ValueError(f"unknown preset field {shown(name)}; fields are {sorted(RULES)}")
    rule = RULES[name]
    items = tuple(value) if rule.size and isinstance(value, (list, tuple)) else (value,)
    typed = [_typed(v, rule.kind) for v in items]
    if (rule.size and len(items) != rule.size) or any(t is None or not rule.ok(t) for t in typed):
        raise ValueError(f"preset field {name}: expected {rule.expected}, got {shown(value)}")
    return tuple(typed) if rule.size else typed[0]


def validated(preset):
    """`preset` with every field checked (check_field) and typed, and the checks that span fields."""
    preset = replace(preset, **{f.name: check_field(f.name, getattr(preset, f.name)) for f in fields(preset)})
    lo, hi = preset.threshold_range
    if lo > hi:
        raise ValueError(f"preset field threshold_range: expected low <= high, got {preset.threshold_range}")
    if preset.pretrain and preset.pretrain_steps and preset.pretrain_shapes < preset.batch_size:
        raise ValueError(f"preset fields pretrain_shapes ({preset.pretrain_shapes}) must be >= batch_size "
                         f"({preset.batch_size}): each pretraining batch draws distinct shapes")
    return preset


def check_seed(seed, what: str = "seed") -> int:
    """`seed` if it is an int numpy and torch both take, [0, 2^31); else a ValueError naming `what`."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**31:
        raise ValueError(f"{what}: expected an int in [0, 2^31), got {shown(seed)}")
    return seed


_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def _parse_one(text: str, kind: type):
    text = text.strip()
    if kind is bool:
        if text.lower() in _TRUE + _FALSE:
            return text.lower() in _TRUE
        raise ValueError
    return kind(text)  # int("1.5") and float("x") raise ValueError


def parse_override(item: str) -> tuple[str, object]:
    """`FIELD=VALUE` (the CLI's --set) -> (field, typed value), checked as check_field does."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or key not in RULES:
        raise ValueError(f"--set {shown(item)}: expected FIELD=VALUE with FIELD one of {sorted(RULES)}")
    rule = RULES[key]
    try:
        value = tuple(_parse_one(t, rule.kind) for t in text.split(",")) if rule.size else _parse_one(text, rule.kind)
    except ValueError:
        raise ValueError(f"--set {shown(item)}: expected {rule.expected}, got {shown(text)}") from None
    try:
        return key, check_field(key, value)
    except ValueError as e:
        raise ValueError(f"--set {shown(item)}: {e}") from None
