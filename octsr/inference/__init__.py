"""Whole-image inference with a trained model: `load_restorer` turns an entry point's settings
into a model, its device and its tiles; `restore` is the path from pixels to restored pixels."""

from octsr.inference.device import pick_device
from octsr.inference.restore import restore
from octsr.inference.restorer import Restorer, load_restorer

__all__ = ["Restorer", "load_restorer", "pick_device", "restore"]
