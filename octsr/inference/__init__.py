"""Whole-image inference with a trained model: `load_restorer` turns an entry point's settings
into a `Restorer`, the model on its device with its tiles, precision and intensity domain,
which restores pixels as files hold them."""

from octsr.inference.device import pick_device
from octsr.inference.restorer import Restorer, load_restorer

__all__ = ["Restorer", "load_restorer", "pick_device"]
