import functools

import pytest
import torch

from octsr.models.components.cae import ConvAutoencoder
from octsr.models.components.srcnn import SRCNN
from octsr.models.components.unet import UNet
from octsr.models.inference import SlidingWindowInferer, TiledInferer
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


@torch.no_grad()
def test_tiles_reproduce_a_downsampling_network_on_a_real_size_bscan():
    model = module(UNet(width=4, depth=3))
    image = torch.rand(1, 1, 401, 900)
    tiled = TiledInferer.for_network(model.net, tile=100, halo=0)
    assert tiled.halo >= model.net.receptive_radius and tiled.tile % 8 == tiled.halo % 8 == 0
    assert (tiled(image, model) - model(image)).abs().max().item() < 1e-5


@torch.no_grad()
@pytest.mark.parametrize("name", ["srcnn", "cae", "unet"])
def test_whole_450x900_bscan_in_unit_range(name):
    if name == "srcnn":
        model = module(SRCNN())
    elif name == "unet":
        model = module(UNet())
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
    # A position-dependent fn shows the overlaps are averaged, not overwritten.
    doubled = inferer(image, lambda tiles: 2 * tiles + 1)
    torch.testing.assert_close(doubled, 2 * image + 1)


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
