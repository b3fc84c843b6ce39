"""Each data layout's settings live in one place: its conf/data file, read by its DataModule."""

import inspect

import hydra
import pytest

from octsr.data.datamodule import PairedOCTDataModule
from tests.conftest import compose_train

LAYOUT_SETTINGS = {"root", "splits", "phantom", "frames", "train_target", "scored_bscans"}


@pytest.mark.parametrize("debug", [[], ["debug=tiny"]])
@pytest.mark.parametrize("layout", ["duke", "folder", "volumes", "phantom"])
def test_every_layout_setting_is_an_argument_of_its_datamodule(layout, debug, tmp_path):
    cfg = compose_train(f"data={layout}", f"data.root={tmp_path}" if layout in ("folder", "volumes") else "seed=1",
                        *debug)
    target = hydra.utils.get_class(cfg.data._target_)
    own = set(inspect.signature(target.__init__).parameters) - {"self", "loader"}
    shared = set(inspect.signature(PairedOCTDataModule.__init__).parameters) - {"self", "source"}
    assert set(cfg.data) - {"_target_"} <= own | shared
    assert not own & shared and not LAYOUT_SETTINGS & shared
    datamodule = hydra.utils.instantiate(cfg.data)  # an unused key would be a TypeError here
    assert isinstance(datamodule, PairedOCTDataModule) and datamodule.name == layout


def test_debug_tiny_shrinks_only_the_phantom():
    assert compose_train("debug=tiny").data.phantom.count == 5
    assert compose_train("debug=tiny", "data.phantom.count=7").data.phantom.count == 7
    assert compose_train().data.phantom.count == 11
    assert "phantom" not in compose_train("debug=tiny", "data=duke").data
