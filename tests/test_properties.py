"""Property tests (hypothesis) of the input validators: whatever comes in, the answer is a valid value or a
ValueError/TypeError naming the input, never another exception, a hang or a silently wrong value. Bounded
budgets (max_examples) keep the file to seconds."""
import math
import time
from dataclasses import asdict, fields

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from igan_lite.core.camera import HALF_DIAGONAL, Camera, frustum_points
from igan_lite.preset_rules import RULES, check_field, parse_override
from igan_lite.presets import Preset, get_preset, preset_from_dict
from igan_lite.render.renderer import RenderSettings, as_voxel_batch, render_inputs

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3), max_leaves=6)


def _valid_text(rule):
    """Text that parse_override should accept for `rule`, with the value it stands for."""
    if rule.kind is bool:
        return st.sampled_from([("true", True), ("False", False), ("1", True), ("no", False)])
    if rule.kind is str:
        return st.sampled_from([("smoke", "smoke"), ("my-run.2", "my-run.2")])
    if rule.kind is int:
        return st.integers(-10, 10**7).filter(rule.ok).map(lambda v: (str(v), v))
    one = st.floats(-2, 2, allow_nan=False).filter(rule.ok)
    if rule.size:
        return st.lists(one, min_size=rule.size, max_size=rule.size).map(lambda v: (",".join(map(repr, v)), tuple(v)))
    return one.map(lambda v: (repr(v), v))


@FAST
@given(st.data())
def test_set_accepts_every_valid_value_exactly(data):
    name = data.draw(st.sampled_from(sorted(RULES)))
    text, value = data.draw(_valid_text(RULES[name]))
    assert parse_override(f"{name}={text}") == (name, value)


@FAST
@given(st.sampled_from(sorted(RULES)), st.text(max_size=12))
def test_set_never_fails_other_than_by_naming_the_field(name, text):
    try:
        key, value = parse_override(f"{name}={text}")
    except ValueError as e:
        assert name in str(e)
    else:
        assert check_field(key, value) == value


@FAST
@given(st.sampled_from([f.name for f in fields(Preset)]), JSON)
def test_stored_presets_are_valid_or_refused_by_field(name, value):
    d = {**asdict(get_preset("smoke")), name: value}
    try:
        p = preset_from_dict(d, "config.json")
    except ValueError as e:
        assert str(e).startswith("config.json: ")
    else:
        for f in fields(p):
            assert check_field(f.name, getattr(p, f.name)) == getattr(p, f.name)


VOXEL_DTYPES = st.sampled_from([np.float32, np.float64, np.float16, np.int32, np.bool_, np.uint8])


@FAST
@given(hnp.arrays(VOXEL_DTYPES, hnp.array_shapes(min_dims=1, max_dims=5, max_side=6)))
def test_voxel_validator_returns_clean_grids_or_refuses(arr):
    try:
        grids = as_voxel_batch(arr)
    except (ValueError, TypeError) as e:
        assert str(e).startswith("voxels: ")
    else:
        assert grids.dtype == np.float32 and grids.ndim == 4 and len(set(grids.shape[1:])) == 1
        assert np.isfinite(grids).all() and grids.min(initial=0) >= 0 and grids.max(initial=0) <= 1


COORD = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-2, 2)


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(st.tuples(COORD, COORD, COORD), min_size=1, max_size=6),
       st.lists(st.tuples(*[st.integers(-1, 7)] * 3), min_size=0, max_size=4))
def test_mesh_validator_lets_through_only_what_voxelises_at_once(vertices, triangles):
    from igan_lite.data.shapes import mesh_to_voxels
    from igan_lite.render.backend import open3d
    from igan_lite.render.renderer import check_mesh

    o3d = open3d()
    mesh = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(vertices, np.float64)),
                                     o3d.utility.Vector3iVector(np.asarray(triangles, np.int32).reshape(-1, 3)))
    try:
        check_mesh(mesh, limit=1.0)
    except ValueError as e:
        assert str(e).startswith("mesh: ")
        return
    t = time.perf_counter()
    grid = mesh_to_voxels(mesh, 8)
    assert grid.shape == (8, 8, 8) and time.perf_counter() - t < 2


ANGLE = st.floats(allow_nan=True, allow_infinity=True) | st.floats(-100, 100)


@FAST
@given(ANGLE, ANGLE, st.floats(0, 5) | st.floats(allow_nan=True), st.floats(-1, 200) | st.floats(allow_nan=True))
def test_every_accepted_camera_is_well_defined(azimuth, elevation, distance, fov):
    try:
        cam = Camera(azimuth, elevation, distance, fov)
    except ValueError as e:
        assert str(e).startswith("camera ")
        return
    assert cam.distance > HALF_DIAGONAL and 0 < cam.fov < 180
    assert np.isfinite(cam.rotation()).all() and np.isfinite(frustum_points(cam, 4, 4)).all()


SETTING_VALUES = {"image_size": st.integers(-5, 2000) | JSON, "threshold": st.floats() | JSON,
                  "background": st.tuples(st.floats(), st.floats(), st.floats()) | JSON,
                  "sun_direction": st.tuples(st.floats(), st.floats(), st.floats()) | JSON,
                  "max_triangles": st.integers(-3, 10**6) | JSON, "ambient_intensity": st.floats() | JSON}


@FAST
@given(st.data())
def test_render_settings_are_usable_or_refused_by_name(data):
    name = data.draw(st.sampled_from(sorted(SETTING_VALUES)))
    value = data.draw(SETTING_VALUES[name])
    try:
        s = RenderSettings(**{name: value})
    except ValueError as e:
        assert str(e).startswith(f"render settings {name}: ")
    else:
        assert 8 <= s.image_size <= 512 and 0 < s.threshold < 1 and all(0 <= c <= 1 for c in s.background)
        assert math.isfinite(s.ambient_intensity) and any(s.sun_direction) and s.max_triangles >= 0


@FAST
@given(st.integers(1, 3), st.lists(st.floats() | st.text(max_size=3), max_size=4) | st.none())
def test_surface_levels_are_in_range_and_one_per_grid_or_refused(batch, thresholds):
    grids = np.zeros((batch, 8, 8, 8), np.float32)
    try:
        _, levels, cams = render_inputs(grids, Camera(30, 20), RenderSettings(image_size=8), thresholds)
    except ValueError as e:
        assert str(e).startswith("thresholds: ")
    else:
        assert len(levels) == len(cams) == batch and all(0 < t < 1 for t in levels)


def test_every_preset_field_has_a_rule_and_every_named_preset_passes():
    assert set(RULES) == {f.name for f in fields(Preset)}
    for preset in ("smoke", "lite", "paper"):
        get_preset(preset)
