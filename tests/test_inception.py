"""The FID InceptionV3 loader, on weight files the test writes (the real ones are never downloaded here)."""
import pytest
import torch

from igan_lite import inception
from igan_lite.metrics import FeatureNet, feature_fd


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    state = {k: v for k, v in inception.FIDInceptionV3().state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("w") / inception.WEIGHT_FILES[0]
    torch.save(state, path)
    return path


def test_loads_a_weight_file_and_gives_pool3_features(weights):
    net = inception.load_inception(weights)
    grey = torch.rand(3, 1, 32, 32)
    features = net(grey)
    assert features.shape == (3, 2048) and torch.isfinite(features).all()
    assert torch.allclose(features, net(grey.expand(-1, 3, -1, -1)))  # grey is replicated to RGB
    with pytest.raises(ValueError, match="1 or 3"):
        net(torch.rand(2, 2, 32, 32))


def test_finds_the_file_in_torch_hub_cache(weights, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="FD-lite"):
        inception.find_weights()
    (tmp_path / "checkpoints").mkdir()
    target = tmp_path / "checkpoints" / inception.WEIGHT_FILES[1]  # torch-fidelity's name
    target.write_bytes(weights.read_bytes())
    assert inception.find_weights() == target


def test_corrupt_and_foreign_files_are_named(weights, tmp_path):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(ValueError, match="could not be read.*complete"):
        inception.load_inception(truncated)
    foreign = tmp_path / "featurenet.pth"
    torch.save(FeatureNet(1, 5).state_dict(), foreign)
    with pytest.raises(ValueError, match="not the FID InceptionV3.*missing"):
        inception.load_inception(foreign)
    with pytest.raises(FileNotFoundError, match="no file at"):
        inception.load_inception(tmp_path / "absent.pth")


def test_fid_is_zero_for_the_same_set_and_needs_enough_samples(weights):
    net = inception.load_inception(weights)
    a = torch.rand(50, 1, 16, 16)
    assert feature_fd(net, a, a) == pytest.approx(0.0, abs=1e-3)
    with pytest.raises(ValueError, match="at least 50"):
        feature_fd(net, a[:20], a)
