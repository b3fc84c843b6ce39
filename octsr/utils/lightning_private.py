"""The parts of Lightning's private API that octsr relies on, named in one place.

Lightning offers no public hook for three things octsr needs: writing a checkpoint
atomically and refusing non-finite weights (`octsr.callbacks.SafeCheckpoint` overrides
ModelCheckpoint's save methods and keeps its record of the last saved step), redrawing the
progress bar by time instead of by step count (`ThrottledProgressBar` overrides its update
test), and writing TensorBoard's HPARAMS session without Lightning's own experiment record
(`octsr.utils.hparams`, through the logger's parameter flattening and event writer).

Each use is listed here with the signature octsr was written against;
tests/test_lightning_private.py checks them against the installed Lightning, so an upgrade
that renames or reshapes one fails there, by name, instead of somewhere in a training run.
"""

from __future__ import annotations

from typing import Any, Mapping

from lightning_fabric.utilities.logger import _convert_params, _flatten_dict
from pytorch_lightning.callbacks import ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.loggers import TensorBoardLogger

# Methods octsr's callbacks override or call: class -> name -> its parameters.
OVERRIDDEN_METHODS = {
    ModelCheckpoint: {"_save_checkpoint": ("self", "trainer", "filepath"),
                      "_save_last_checkpoint": ("self", "trainer", "monitor_candidates"),
                      "_monitor_candidates": ("self", "trainer")},
    TQDMProgressBar: {"_should_update": ("self", "current", "total")},
}
# Attributes of ModelCheckpoint that SafeCheckpoint reads and sets as Lightning's own saves do.
CHECKPOINT_ATTRIBUTES = ("_last_global_step_saved", "_last_checkpoint_saved")


def flat_hyperparameters(logger: TensorBoardLogger, params: Mapping[str, Any]) -> dict[str, Any]:
    """Nested hyperparameters as the TensorBoard logger itself would write them: flattened
    with '/', and values TensorBoard cannot hold turned to text."""
    return logger._sanitize_params(_flatten_dict(_convert_params(dict(params))))


def event_writer(logger: TensorBoardLogger):
    """The writer of the logger's event file, for summaries the logger has no method for."""
    return logger.experiment._get_file_writer()
