import copy
import functools

import pytest
import torch
from torch import nn

from octsr.models.components.cae import ConvAutoencoder
from octsr.models.components.dncnn import DnCNN
from octsr.models.components.image_conv import ImageConv2d
from octsr.models.components.srcnn import SRCNN
from octsr.models.components.unet import UNet, padded_cat
from octsr.tiling import SlidingWindowInferer, TiledInferer
from octsr.models.losses import CharbonnierLoss, GradientMSELoss, SSIML1Loss
from octsr.models.restoration_module import RestorationModule


def module(net, inferer=None):
    return RestorationModule(net, functools.partial(torch.optim.Adam, lr=2e-4), inferer).eval()


@pytest.mark.parametrize("net", [SRCNN(), ConvAutoencoder(input_size=41), UNet()], ids=["srcnn", "cae", "unet"])
def test_networks_keep_the_patch_size(net):
    assert net(torch.rand(4, 1, 41, 41)).shape == (4, 1, 41, 41)


@pytest.mark.parametrize("size", [40, 41, 64])
def test_cae_output_padding_lands_on_any_input_size(size):
    assert ConvAutoencoder(input_size=size)(torch.rand(2, 1, size, size)).shape == (2, 1, size, size)


def test_cae_refuses_other_sizes_with_a_pointer_to_the_inferer():
    with pytest.raises(ValueError, match="SlidingWindowInferer"):
        ConvAutoencoder(input_size=41)(torch.rand(1, 1, 50, 50))


@pytest.mark.parametrize("shape", [(41, 41), (401, 900), (13, 30), (1, 9)])
def test_unet_keeps_any_size(shape):
    assert UNet(width=4, depth=3)(torch.rand(1, 1, *shape)).shape == (1, 1, *shape)


@pytest.mark.parametrize("depth,convs", [(1, 1), (2, 2), (3, 2), (4, 1)])
def test_unet_declares_at_least_its_real_reach(depth, convs):
    """TiledInferer sizes its halo from `receptive_radius`: it must not undercount."""
    torch.manual_seed(0)  # some random weights leave the centre pixel with no live path
    net = UNet(width=4, depth=depth, convs_per_level=convs)
    size = 2 * net.receptive_radius + 3 * net.size_multiple
    image = torch.rand(1, 1, size, size, requires_grad=True)
    centre = size // 2
    net(image)[0, 0, centre, centre].backward()
    rows, cols = image.grad[0, 0].abs().gt(0).nonzero().unbind(1)
    reach = max(centre - rows.min(), rows.max() - centre, centre - cols.min(), cols.max() - centre)
    assert 0 < reach <= net.receptive_radius


def test_tiles_of_a_downsampling_network_keep_its_reach_and_pooling_grid():
    tiled = TiledInferer.for_network(UNet(width=4, depth=3), tile=100, halo=0)
    assert tiled.halo >= UNet(width=4, depth=3).receptive_radius and tiled.tile % 8 == tiled.halo % 8 == 0


@torch.no_grad()
def test_tiles_split_evenly_into_at_most_two_shapes_per_axis():
    model = module(SRCNN())
    image = torch.rand(1, 1, 678, 847)
    tiled = TiledInferer.for_network(model.net, tile=256, halo=0)
    shapes = []

    def network(piece):
        shapes.append(tuple(piece.shape[-2:]))
        return model.restore_patches(piece)

    tiled(image, network)
    assert len(shapes) == 3 * 4 and max(max(s) for s in shapes) <= 256 + 2 * tiled.halo
    assert len({h for h, _ in shapes}) <= 2 and len({w for _, w in shapes}) <= 2


@torch.no_grad()
@pytest.mark.parametrize("name", ["srcnn", "cae", "unet", "dncnn"])
def test_whole_450x900_bscan_in_unit_range(name):
    if name == "srcnn":
        model = module(SRCNN())
    elif name == "unet":
        model = module(UNet())
    elif name == "dncnn":
        model = RestorationModule(DnCNN(), None, residual=True).eval()
    else:
        model = module(ConvAutoencoder(input_size=41), SlidingWindowInferer(41, 14))
    output = model(torch.rand(1, 1, 450, 900))
    assert output.shape == (1, 1, 450, 900)
    assert 0 <= output.min() and output.max() <= 1


@torch.no_grad()
@pytest.mark.parametrize("shape", [(41, 41), (450, 900), (401, 900), (30, 55), (97, 41)])
def test_sliding_window_covers_every_pixel_once_averaged(shape):
    image = torch.rand(2, 1, *shape)
    inferer = SlidingWindowInferer(window=41, stride=14, batch_size=100)
    torch.testing.assert_close(inferer(image, lambda tiles: tiles), image)


@pytest.mark.parametrize("shape", [(60, 70), (41, 97), (30, 55)])
def test_sliding_window_averages_overlapping_windows(shape):
    # Each window returns the square of its pixels' column within the window: where windows
    # overlap only their average is right (overwriting keeps one window's value).
    h, w = shape
    window, stride = 41, 14
    inferer = SlidingWindowInferer(window=window, stride=stride, batch_size=7)
    ramp = (torch.arange(window, dtype=torch.float32) ** 2).expand(window, window)
    got = inferer(torch.zeros(1, 1, h, w), lambda tiles: ramp.expand_as(tiles).clone())[0, 0]
    padded = [max(window, n + (-(n - window) % stride)) for n in (h, w)]
    total, count, last = torch.zeros(*padded), torch.zeros(*padded), torch.zeros(*padded)
    for y in range(0, padded[0] - window + 1, stride):
        for x in range(0, padded[1] - window + 1, stride):
            total[y : y + window, x : x + window] += ramp
            count[y : y + window, x : x + window] += 1
            last[y : y + window, x : x + window] = ramp
    expected = (total / count)[:h, :w]
    torch.testing.assert_close(got, expected)
    assert not torch.allclose(got, last[:h, :w])  # what overwriting would give


def test_module_standardizes_with_stored_statistics():
    net = SRCNN()
    model = module(net)
    model.input_mean.fill_(0.3)
    model.input_std.fill_(0.2)
    x = torch.rand(1, 1, 41, 41)
    with torch.no_grad():
        torch.testing.assert_close(model(x), torch.sigmoid(net((x - 0.3) / 0.2)))
    state = model.state_dict()
    assert state["input_mean"] == pytest.approx(0.3) and state["input_std"] == pytest.approx(0.2)


def test_dncnn_keeps_the_size_and_declares_its_reach():
    net = DnCNN(depth=5, width=8).eval()
    x = torch.rand(1, 1, 41, 57)
    assert net(x).shape == x.shape
    bumped = x.clone()
    bumped[0, 0, 20, 20 + net.receptive_radius + 1] += 1.0  # just out of the centre's reach
    assert torch.equal(net(x)[0, 0, 20, 20], net(bumped)[0, 0, 20, 20])


def test_residual_module_subtracts_the_predicted_noise_and_clamps_whole_images():
    class Constant(nn.Module):  # predicts the same noise (in standardized units) everywhere
        def forward(self, x):
            return torch.full_like(x, 0.5)

    model = RestorationModule(Constant(), None, residual=True).eval()
    model.input_std.fill_(0.2)
    noisy = torch.rand(1, 1, 8, 8)
    assert torch.allclose(model.restore_patches(noisy), noisy - 0.1)  # 0.5 std = 0.1 intensity
    assert model(noisy).min() >= 0.0  # pixels below 0.1 go negative in the tile, not in the image


@pytest.mark.parametrize("loss", [CharbonnierLoss(eps=1e-3), SSIML1Loss(alpha=0.84), GradientMSELoss(weight=1.0)],
                         ids=["charbonnier", "ssim_l1", "mse_gradient"])
def test_losses_are_least_on_the_target_and_have_gradients(loss):
    target = torch.rand(2, 1, 32, 32)
    output = (target + 0.1 * torch.randn_like(target)).requires_grad_()
    assert loss(target, target) < 2e-3 < loss(output, target)
    loss(output, target).backward()
    assert output.grad.abs().sum() > 0


def test_gradient_mse_adds_the_differences_error_to_mse():
    output, target = torch.zeros(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    target[..., :, 2:] = 1.0  # one vertical edge: MSE 0.5; of 12 horizontal differences 4 miss by 1
    assert GradientMSELoss(weight=0.0)(output, target) == pytest.approx(0.5)
    assert GradientMSELoss(weight=2.0)(output, target) == pytest.approx(0.5 + 2.0 * (4 / 12 + 0.0) / 2)
    # A blur keeps more of MSE's optimum than of the edge term's: the term weighs the edge.
    blurred = torch.tensor([0.0, 0.25, 0.75, 1.0]).expand(1, 1, 4, 4)
    assert GradientMSELoss(weight=1.0)(blurred, target) > nn.MSELoss()(blurred, target)


def test_charbonnier_is_l1_far_from_zero_and_ssim_l1_mixes_as_documented():
    output, target = torch.zeros(1, 1, 16, 16), torch.full((1, 1, 16, 16), 0.5)
    assert CharbonnierLoss(eps=1e-3)(output, target) == pytest.approx(0.5, abs=1e-5)
    assert SSIML1Loss(alpha=0.0)(output, target) == pytest.approx(0.5)
    noisy = torch.rand(1, 1, 16, 16)
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim
    expected = 0.84 * (1 - ssim(noisy, target, data_range=1.0)) + 0.16 * (noisy - target).abs().mean()
    assert SSIML1Loss(alpha=0.84)(noisy, target) == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("padding_mode", ["replicate", "zeros", "reflect"])
@pytest.mark.parametrize("channels_last", [False, True])
def test_image_conv_taps_equal_the_convolution_and_its_gradients(kernel, padding_mode, channels_last):
    torch.manual_seed(0)
    layer = ImageConv2d(7, 1, kernel, padding=kernel // 2, padding_mode=padding_mode)
    x = torch.randn(3, 7, 19, 23)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    assert layer._taps_fit(x)
    with torch.no_grad():
        taps = layer(x)
    x.requires_grad_()
    reference = torch.nn.functional.conv2d(
        torch.nn.functional.pad(x, (kernel // 2,) * 4, mode="constant" if padding_mode == "zeros" else padding_mode),
        layer.weight, layer.bias)
    assert taps.shape == (3, 1, 19, 23)
    torch.testing.assert_close(taps, reference.detach(), rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(reference)
    expected = torch.autograd.grad(reference, (x, layer.weight, layer.bias), grad)
    trained = layer(x)
    torch.testing.assert_close(trained, reference, rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(torch.autograd.grad(trained, (x, layer.weight, layer.bias), grad), expected):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("one_image_pieces", [False, True])
def test_image_conv_training_gradients_pass_gradcheck(one_image_pieces, monkeypatch):
    if one_image_pieces:  # the batch cut into pieces of one image each
        monkeypatch.setattr("octsr.models.components.image_conv.PLANE_BYTES", 1)
    torch.manual_seed(0)
    layer = ImageConv2d(3, 1, 5, padding=2, padding_mode="replicate").double()
    x = torch.randn(3, 3, 7, 9, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(layer, (x,))


def test_image_conv_leaves_other_settings_and_exports_to_the_convolution():
    with torch.no_grad():
        x = torch.randn(1, 4, 16, 16)
        assert not ImageConv2d(4, 2, 3, padding=1)._taps_fit(x)            # two outputs
        assert not ImageConv2d(4, 1, 3, padding=1, stride=2)._taps_fit(x)  # strided
        assert not ImageConv2d(4, 1, 3, padding=0)._taps_fit(x)            # valid
        layer = ImageConv2d(4, 1, 3, padding=1, padding_mode="replicate")
        traced = torch.jit.trace(layer, x)
        assert "aten::_convolution" in str(traced.graph) and "aten::mm" not in str(traced.graph)
        torch.testing.assert_close(traced(x), layer(x), rtol=1e-5, atol=1e-5)


def test_srcnn_and_dncnn_restore_and_train_as_with_plain_convolutions():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 40, 52)
    for net in (SRCNN(), DnCNN(depth=4, batch_norm=False)):
        plain = copy.deepcopy(net)
        for layer in plain.modules():
            if isinstance(layer, ImageConv2d):
                layer.__class__ = nn.Conv2d
        with torch.no_grad():
            torch.testing.assert_close(net(x), plain(x), rtol=1e-5, atol=1e-6)
        net(x).square().mean().backward()
        plain(x).square().mean().backward()
        for ours, theirs in zip(net.parameters(), plain.parameters()):
            torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-4, atol=1e-6)


def test_srcnn_trains_under_bfloat16_autocast():
    # trainer.precision=bf16-mixed: the taps' own backward would get a bfloat16 gradient.
    torch.manual_seed(0)
    net = SRCNN()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = net(torch.rand(2, 1, 24, 24)).float().square().mean()
    loss.backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 and p.grad.isfinite().all()
               for p in net.parameters())


@pytest.mark.parametrize("mode", ["replicate", "zeros"])
def test_padded_cat_equals_cat_then_pad(mode):
    a, b = torch.randn(2, 3, 9, 12), torch.randn(2, 5, 8, 11)   # a is cut to b's size
    expected = torch.nn.functional.pad(torch.cat([a[..., :8, :11], b], 1), (2,) * 4,
                                       mode="constant" if mode == "zeros" else mode)
    torch.testing.assert_close(padded_cat([a, b], 2, mode), expected, rtol=0, atol=0)


@pytest.mark.parametrize("padding_mode", ["replicate", "zeros", "reflect"])
def test_unet_restores_the_same_at_inference_as_in_training(padding_mode):
    torch.manual_seed(0)
    net = UNet(width=4, padding_mode=padding_mode).eval()
    x = torch.rand(2, 1, 37, 53)
    with torch.no_grad():
        fast = net(x)
    torch.testing.assert_close(fast, net(x).detach(), rtol=1e-5, atol=1e-6)
