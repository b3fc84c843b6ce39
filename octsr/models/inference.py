"""Whole-image inference for networks with a fixed input size: overlapping sliding windows."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


class SlidingWindowInferer:
    """Run `fn` on window x window tiles at `stride` and average where tiles overlap.

    The image is first padded at the bottom and right (by reflection) just enough for the
    last tile to reach the far edge, so every pixel is covered by at least one tile and
    the output is cropped back to the input's size.

    Args:
        window: tile side (the network's input size).
        stride: step between tiles; overlap = window - stride.
        batch_size: tiles per forward pass (bounds memory).
    """

    def __init__(self, window: int = 41, stride: int = 14, batch_size: int = 1024) -> None:
        if not 0 < stride <= window:
            raise ValueError(f"stride must be in 1..window ({window}), got {stride}")
        self.window, self.stride, self.batch_size = window, stride, batch_size

    def _padding(self, size: int) -> int:
        if size <= self.window:
            return self.window - size
        return -(size - self.window) % self.stride

    def __call__(self, image: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
        """image: (B, C, H, W) -> fn applied tile-wise, (B, C_out, H, W)."""
        b, c, h, w = image.shape
        pad_h, pad_w = self._padding(h), self._padding(w)
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"
        padded = F.pad(image, (0, pad_w, 0, pad_h), mode=mode)
        size = padded.shape[-2:]
        k = self.window
        tiles = F.unfold(padded, k, stride=self.stride)  # (B, C*k*k, L)
        n_tiles = tiles.shape[-1]
        tiles = tiles.transpose(1, 2).reshape(b * n_tiles, c, k, k)
        outputs = torch.cat([fn(chunk) for chunk in tiles.split(self.batch_size)])
        c_out = outputs.shape[1]
        outputs = outputs.reshape(b, n_tiles, c_out * k * k).transpose(1, 2)
        summed = F.fold(outputs, size, k, stride=self.stride)
        counts = F.fold(torch.ones_like(outputs[:1, : k * k]), size, k, stride=self.stride)
        return (summed / counts)[..., :h, :w]
