import numpy as np
import pytest
import torch

from igan_lite.core import losses
from igan_lite.core.camera import CameraPrior, frustum_grid
from igan_lite.core.nets import Generator, build_nets
from igan_lite.presets import get_preset


@pytest.mark.parametrize("name", ["smoke", "lite"])
def test_shapes_follow_the_preset(name):
    p = get_preset(name, color=False)
    nets = build_nets(p)
    x = nets.G(torch.randn(2, p.z_dim))
    assert x.shape == (2, 1, p.voxel_res, p.voxel_res, p.voxel_res) and 0 <= x.min() and x.max() <= 1
    grid = frustum_grid(CameraPrior().sample(2, np.random.default_rng(0)), p.image_size, p.voxel_res)
    y = nets.R(x, grid)
    assert y.shape == (2, 1, p.image_size, p.image_size)
    assert nets.D(y).shape == (2,)


def test_initial_generator_straddles_the_threshold():
    # docs/background.md §2, third collapse: outputs all under 0.5 make f draw nothing and give no gradient
    torch.manual_seed(0)
    x = Generator(16, 16, 32)(torch.randn(8, 16))
    occupied = (x > 0.5).float().mean().item()
    assert 0.1 < occupied < 0.9


def test_gradients_flow_from_image_through_proxy_into_generator():
    p = get_preset("smoke")
    nets = build_nets(p)
    grid = frustum_grid(CameraPrior().sample(2, np.random.default_rng(0)), p.image_size, p.voxel_res)
    losses.g_loss(nets.D(nets.R(nets.G(torch.randn(2, p.z_dim)), grid))).backward()
    assert all(q.grad is not None and q.grad.abs().sum() > 0 for q in nets.G.parameters())


def test_proxy_sees_a_single_voxel():
    # docs/background.md §2, second collapse: a proxy that downsamples first is blind to one-voxel speckle
    p = get_preset("lite")
    R = build_nets(p).R
    n = p.voxel_res
    x = torch.zeros(1, 1, n, n, n, requires_grad=True)
    grid = frustum_grid(CameraPrior().sample(1, np.random.default_rng(0)), p.image_size, n)
    R(x, grid).sum().backward()
    k, j, i = n // 2, n // 2 + 3, n // 2 - 2
    assert x.grad[0, 0, k, j, i].abs() > 0


def test_voxel_shuffle_places_each_channel_at_its_own_sub_voxel():
    from igan_lite.core.nets import voxel_shuffle

    x = torch.zeros(1, 8, 2, 2, 2)
    x[0, 5, 1, 0, 1] = 1.0  # channel 5 = (dz, dy, dx) = (1, 0, 1) at coarse voxel (z, y, x) = (1, 0, 1)
    y = voxel_shuffle(x)
    assert y.shape == (1, 1, 4, 4, 4) and y.sum() == 1 and y[0, 0, 3, 0, 3] == 1


def test_bad_resolution_is_rejected():
    with pytest.raises(ValueError, match="power of two"):
        Generator(8, 24, 16)


def test_dom_loss_matches_outputs_and_moves_only_the_proxy():
    d_proxy = torch.tensor([0.5, -1.0], requires_grad=True)
    d_real = torch.tensor([1.5, -1.0], requires_grad=True)
    loss = losses.dom_loss(d_proxy, d_real)
    assert torch.isclose(loss, torch.tensor(0.5))  # mean of (1^2, 0^2)
    loss.backward()
    assert d_real.grad is None and torch.allclose(d_proxy.grad, torch.tensor([-1.0, 0.0]))
    assert losses.dom_loss(d_real.detach(), d_real.detach()) == 0


def test_dom_loss_caps_the_slope_of_far_off_logits():
    d_proxy = torch.tensor([5.0], requires_grad=True)
    loss = losses.dom_loss(d_proxy, torch.tensor([0.0]))
    loss.backward()
    assert torch.isclose(loss, torch.tensor(9.0))  # 2 * 5 - 1, not 25
    assert torch.isclose(d_proxy.grad, torch.tensor([2.0]))  # not 10


def test_gan_losses_are_binary_cross_entropy():
    real, fake = torch.tensor([2.0, -0.5]), torch.tensor([0.3, -3.0])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    expected = bce(real, torch.ones(2)) + bce(fake, torch.zeros(2))
    assert torch.isclose(losses.d_loss(real, fake), expected)
    assert torch.isclose(losses.g_loss(fake), bce(fake, torch.ones(2)))
    assert losses.d_accuracy(real, fake) == 0.5


def test_d_is_ahead_only_when_right_and_confident():
    # the accuracy gate alone (d_ahead_loss 0): right often enough is ahead, whatever the confidence
    assert losses.d_ahead(acc=0.9, loss=1.38, acc_max=0.8, ahead_loss=0.0)
    assert not losses.d_ahead(acc=0.7, loss=0.2, acc_max=0.8, ahead_loss=0.0)
    # with d_ahead_loss: right on every image at near-chance confidence (2 ln 2 = 1.39) is not ahead
    assert not losses.d_ahead(acc=1.0, loss=1.30, acc_max=0.8, ahead_loss=1.25)
    assert losses.d_ahead(acc=1.0, loss=0.80, acc_max=0.8, ahead_loss=1.25)
    assert not losses.d_ahead(acc=0.5, loss=0.80, acc_max=0.8, ahead_loss=1.25)


def test_a_near_chance_d_keeps_training_under_d_ahead_loss(tmp_path, monkeypatch):
    """A D whose accuracy is above d_acc_max from the first step (d_acc_max tiny) is held by the accuracy
    gate alone, and updated while its loss stays above d_ahead_loss."""
    from igan_lite.presets import get_preset
    from igan_lite.training.train import build, run_config

    monkeypatch.chdir(tmp_path)
    updated = {}
    for ahead_loss in (0.0, 0.5):  # a fresh D's loss is near 2 ln 2 = 1.39, above 0.5
        p = get_preset("smoke", pretrain=False, d_acc_max=1e-6, d_ahead_loss=ahead_loss)
        with build(run_config("iggan", "chair", p, 0)) as t:
            updated[ahead_loss] = [t.method.step(t)["d_updated"] for _ in range(2)]
    assert updated == {0.0: [False, False], 0.5: [True, True]}


def test_smoothing_the_output_logits_suppresses_speckle():
    from igan_lite.core.diagnostics import sample_stats

    stats = {}
    for smooth in (0, 3):
        torch.manual_seed(0)
        x = Generator(16, 32, 32, smooth)(torch.randn(4, 16))
        stats[smooth] = sample_stats(x, torch.zeros(4, 1, 4, 4))["isolated"]
    assert stats[3] < 0.5 * stats[0]


def test_minibatch_std_lets_d_see_the_batch():
    from igan_lite.core.nets import Discriminator

    torch.manual_seed(0)
    d = Discriminator(16, 1, 8, minibatch_std=True).eval()  # eval: spectral norm stops its power iteration
    img = torch.rand(1, 1, 16, 16)
    alike, varied = img.repeat(4, 1, 1, 1), torch.cat([img, torch.rand(3, 1, 16, 16)])
    assert not torch.isclose(d(alike)[0], d(varied)[0])
    plain = Discriminator(16, 1, 8).eval()
    assert torch.isclose(plain(alike)[0], plain(varied)[0])


def test_mode_seeking_loss_is_lower_for_varied_shapes():
    z = torch.randn(8, 4)
    same = torch.zeros(8, 1, 4, 4, 4)
    varied = torch.rand(8, 1, 4, 4, 4)
    assert losses.mode_seeking_loss(varied, z) < losses.mode_seeking_loss(same + 0.01 * varied, z)


def test_channels_last_proxy_computes_what_the_plain_layout_does():
    p = get_preset("smoke")
    R = build_nets(p).R
    x = torch.rand(2, 1, p.voxel_res, p.voxel_res, p.voxel_res)
    grid = frustum_grid(CameraPrior().sample(2, np.random.default_rng(0)), p.image_size, p.voxel_res)
    nhwc = R(x, grid)
    assert R.decoder[0].weight.is_contiguous(memory_format=torch.channels_last)
    R.set_channels_last(False)
    assert R.decoder[0].weight.is_contiguous() and not R.decoder[0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(R(x, grid), nhwc, rtol=1e-4, atol=1e-5)
