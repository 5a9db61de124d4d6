import pytest

from igan_lite.presets import PRESETS, get_preset


def test_named_presets_grow_from_smoke_to_paper():
    assert set(PRESETS) == {"smoke", "lite", "paper"}
    s, l, p = (PRESETS[n] for n in ("smoke", "lite", "paper"))
    assert s.voxel_res < l.voxel_res < p.voxel_res
    assert s.n_shapes < l.n_shapes < p.n_shapes


def test_env_variable_chooses_the_default(monkeypatch):
    monkeypatch.setenv("IGAN_PRESET", "paper")
    assert get_preset().name == "paper"
    monkeypatch.delenv("IGAN_PRESET")
    assert get_preset().name == "lite"


def test_overrides_replace_fields():
    assert get_preset("smoke", n_shapes=3).n_shapes == 3


def test_unknown_preset_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown preset 'huge'.*smoke"):
        get_preset("huge")
