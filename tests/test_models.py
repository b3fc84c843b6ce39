import functools

import pytest
import torch

from octsr.models.components.cae import ConvAutoencoder
from octsr.models.components.srcnn import SRCNN
from octsr.models.inference import SlidingWindowInferer
from octsr.models.restoration_module import RestorationModule


def module(net, inferer=None):
    return RestorationModule(net, functools.partial(torch.optim.Adam, lr=2e-4), inferer).eval()


@pytest.mark.parametrize("net", [SRCNN(), ConvAutoencoder(input_size=41)], ids=["srcnn", "cae"])
def test_networks_keep_the_patch_size(net):
    assert net(torch.rand(4, 1, 41, 41)).shape == (4, 1, 41, 41)


@pytest.mark.parametrize("size", [40, 41, 64])
def test_cae_output_padding_lands_on_any_input_size(size):
    assert ConvAutoencoder(input_size=size)(torch.rand(2, 1, size, size)).shape == (2, 1, size, size)


def test_cae_refuses_other_sizes_with_a_pointer_to_the_inferer():
    with pytest.raises(ValueError, match="SlidingWindowInferer"):
        ConvAutoencoder(input_size=41)(torch.rand(1, 1, 50, 50))


@torch.no_grad()
@pytest.mark.parametrize("name", ["srcnn", "cae"])
def test_whole_450x900_bscan_in_unit_range(name):
    if name == "srcnn":
        model = module(SRCNN())
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
