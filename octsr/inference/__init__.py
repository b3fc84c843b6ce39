"""Whole-image inference with a trained model: tiling, device choice, and `restore`."""

from octsr.inference.device import pick_device
from octsr.inference.restore import input_frames, restore, restorer
from octsr.inference.tiling import SlidingWindowInferer, TiledInferer

__all__ = ["SlidingWindowInferer", "TiledInferer", "input_frames", "pick_device", "restore", "restorer"]
