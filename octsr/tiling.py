"""Whole-image inference: sliding windows for fixed-size networks, tiles for large images."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


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


# Tile side and halo for networks that declare no `inference_tile` or `receptive_radius`.
DEFAULT_TILE = 512
DEFAULT_HALO = 32


class TiledInferer:
    """Bound memory on large images: run `fn` on tile x tile pieces, each with `halo` pixels
    of surrounding image as context, and keep only each piece's own tile.

    For a network whose output pixel depends on pixels within `halo` of it (SRCNN: 6), the
    result equals the whole-image result: every kept pixel saw the same neighbourhood.
    At the image border the halo is cut off just as the whole image's border is.
    A network that downsamples (U-Net) also needs every piece to start where the whole
    image's pooling grid does: `multiple` rounds tile and halo up to a multiple of it.

    Args:
        tile: largest side of the kept pieces (the image is split evenly into as few as fit).
        halo: context on each side, at least the network's receptive radius.
        multiple: tile and halo are rounded up to multiples of this.
    """

    def __init__(self, tile: int = 512, halo: int = 32, multiple: int = 1) -> None:
        if tile < 1 or halo < 0 or multiple < 1:
            raise ValueError(f"tile and multiple must be >= 1 and halo >= 0, got tile={tile}, "
                             f"halo={halo}, multiple={multiple}")
        self.tile, self.halo = -(-tile // multiple) * multiple, -(-halo // multiple) * multiple
        self.multiple = multiple

    @classmethod
    def for_network(cls, net: nn.Module, tile: int | None = None, halo: int | None = None,
                    window: SlidingWindowInferer | None = None) -> "TiledInferer":
        """Tiles that reproduce `net`'s whole-image output: the halo grown to the network's
        `receptive_radius` and aligned to its `size_multiple`, where it declares them.
        None takes the network's own: `inference_tile` (else DEFAULT_TILE) and its reach
        as the halo (else DEFAULT_HALO).

        A network run in sliding windows (`window`, the CAE) reaches a window's side less
        one pixel, and its window grid must restart at the same places in every tile as in
        the whole image: tiles and halo are aligned to the window stride."""
        tile = tile or getattr(net, "inference_tile", None) or DEFAULT_TILE
        reach = getattr(net, "receptive_radius", None)
        multiple = getattr(net, "size_multiple", 1)
        if window is not None:
            reach = max(reach or 0, window.window - 1)
            multiple = math.lcm(multiple, window.stride)
        halo = max(halo if halo is not None else (DEFAULT_HALO if reach is None else 0), reach or 0)
        return cls(tile, halo, multiple)

    @classmethod
    def for_model(cls, model: nn.Module, tile: int | None = None, halo: int | None = None) -> "TiledInferer":
        """`for_network` for a RestorationModule: its network and its sliding window."""
        return cls.for_network(model.net, tile, halo, window=getattr(model, "inferer", None))

    # Each new input shape costs oneDNN a new primitive and its buffers (experiments/speed),
    # so pieces come in as few shapes as possible: the image is split evenly, and the last
    # piece, often shorter, takes more context before it to be as large as the first.
    def _share(self, size: int) -> int:
        """The kept side along one axis: `size` split evenly into as few pieces as fit the
        tile, rounded up to the multiple."""
        share = -(-size // -(-size // self.tile))
        return -(-share // self.multiple) * self.multiple

    def _start(self, begin: int, share: int, size: int) -> int:
        """Where the piece that keeps [begin, begin + share) starts: `halo` before it, or
        for the last piece as far back as the first piece's length, on the pooling grid."""
        return max(0, min(begin - self.halo, size - share - self.halo) // self.multiple * self.multiple)

    def __call__(self, image: Tensor, fn: Callable[[Tensor], Tensor]) -> Tensor:
        h, w = image.shape[-2:]
        if h <= self.tile and w <= self.tile:
            return fn(image)
        output: Tensor | None = None
        step_y, step_x = self._share(h), self._share(w)
        for y0 in range(0, h, step_y):
            for x0 in range(0, w, step_x):
                y1, x1 = min(y0 + step_y, h), min(x0 + step_x, w)
                ya, xa = self._start(y0, step_y, h), self._start(x0, step_x, w)
                yb, xb = min(h, y1 + self.halo), min(w, x1 + self.halo)
                piece = fn(image[..., ya:yb, xa:xb])
                if output is None:
                    output = piece.new_empty(*piece.shape[:-2], h, w)
                output[..., y0:y1, x0:x1] = piece[..., y0 - ya : y1 - ya, x0 - xa : x1 - xa]
        return output
