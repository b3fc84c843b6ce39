"""Lightning's private API that octsr relies on (octsr.utils.lightning_private) is still there,
in the shape octsr was written against: an upgrade that changes it fails here, by name."""

from __future__ import annotations

import inspect

from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.loggers import TensorBoardLogger

from octsr.callbacks import SafeCheckpoint, ThrottledProgressBar
from octsr.utils.lightning_private import (CHECKPOINT_ATTRIBUTES, OVERRIDDEN_METHODS, event_writer,
                                           flat_hyperparameters)


def test_the_private_methods_octsr_overrides_keep_their_signatures():
    changed = []
    for cls, methods in OVERRIDDEN_METHODS.items():
        for name, parameters in methods.items():
            method = getattr(cls, name, None)
            if method is None:
                changed.append(f"{cls.__name__}.{name} is gone")
            elif tuple(inspect.signature(method).parameters) != parameters:
                changed.append(f"{cls.__name__}.{name}{inspect.signature(method)}, octsr expects {parameters}")
    assert not changed, "; ".join(changed)
    # octsr's overrides are of those very methods
    assert {"_save_checkpoint", "_save_last_checkpoint"} <= set(vars(SafeCheckpoint))
    assert "_should_update" in vars(ThrottledProgressBar)


def test_the_checkpoint_attributes_octsr_keeps_in_step_exist():
    checkpoint = ModelCheckpoint()
    assert all(hasattr(checkpoint, name) for name in CHECKPOINT_ATTRIBUTES), vars(checkpoint).keys()


def test_hyperparameters_flatten_and_the_event_writer_writes(tmp_path):
    logger = TensorBoardLogger(tmp_path, name="", version="")
    flat = flat_hyperparameters(logger, {"optim": {"lr": 0.001}, "loss": None, "net": {"widths": [8, 16]}})
    assert flat["optim/lr"] == 0.001 and isinstance(flat["loss"], str) and isinstance(flat["net/widths"], str)
    assert callable(event_writer(logger).add_summary)
