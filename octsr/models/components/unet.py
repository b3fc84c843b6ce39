"""A small U-Net (Ronneberger et al. 2015) for same-size restoration of whole B-scans."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from octsr.models.components.image_conv import cpu_inference


def conv_block(in_channels: int, out_channels: int, convs: int, padding_mode: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1,
                             padding_mode=padding_mode),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def padded_cat(parts: list[Tensor], pad: int, mode: str) -> Tensor:
    """`F.pad(torch.cat(parts, 1), (pad,) * 4, mode)` in one copy instead of two: the parts are
    written into the inside of a padded buffer, then its border is filled ("replicate" or
    "zeros"). Each part is cut to the last one's height and width."""
    last = parts[-1]
    (b, _, h, w), c = last.shape, sum(t.shape[1] for t in parts)
    out = torch.empty((b, c, h + 2 * pad, w + 2 * pad), dtype=last.dtype, device=last.device,
                      memory_format=torch.channels_last)
    start = 0
    for t in parts:
        out[:, start:start + t.shape[1], pad:pad + h, pad:pad + w] = t[..., :h, :w]
        start += t.shape[1]
    rows, cols = slice(pad, pad + h), slice(pad, pad + w)
    if mode == "zeros":
        out[..., :pad, :] = 0
        out[..., pad + h:, :] = 0
        out[..., rows, :pad] = 0
        out[..., rows, pad + w:] = 0
        return out
    # Rows first, then whole columns, so the corners repeat the corner pixels.
    out[..., :pad, cols] = out[..., pad:pad + 1, cols]
    out[..., pad + h:, cols] = out[..., pad + h - 1:pad + h, cols]
    out[..., :pad] = out[..., pad:pad + 1]
    out[..., pad + w:] = out[..., pad + w - 1:pad + w]
    return out


class UNet(nn.Module):
    """Encoder-decoder with skip connections: sees far more context than SRCNN's 13 x 13
    pixels (speckle is correlated over several pixels, layers over hundreds) for about the
    same arithmetic per pixel at `width` 8.

    Each level halves the image with 2x2 max pooling (ceil mode, so any size works) and
    doubles the feature maps; the decoder upsamples bilinearly by 2, cuts to the skip's
    size, concatenates and convolves. Fully convolutional: any H x W in, the same out.

    Max pooling makes the output depend on where the image starts modulo 2**depth, so tiled
    inference must start tiles on multiples of `size_multiple` and give them a halo of at
    least `receptive_radius` to match the whole image (`octsr.tiling.TiledInferer`).

    Args:
        width: feature maps at full resolution; doubled at each level.
        depth: number of 2x downsamplings.
        convs_per_level: 3x3 convolutions (each followed by ReLU) per level and side.
        in_channels: input channels: noisy frames of one place (1: a single B-scan); the
            output is always one restored image.
        padding_mode: what convolutions see past the border ("replicate": edge pixels).
    """

    def __init__(self, width: int = 8, depth: int = 3, convs_per_level: int = 2,
                 in_channels: int = 1, padding_mode: str = "replicate") -> None:
        super().__init__()
        if width < 1 or depth < 1 or convs_per_level < 1:
            raise ValueError(f"UNet needs width, depth and convs_per_level >= 1, got "
                             f"{width}, {depth}, {convs_per_level}")
        widths = [width * 2**level for level in range(depth + 1)]
        self.encoder = nn.ModuleList(
            conv_block(in_channels if level == 0 else widths[level - 1], widths[level],
                       convs_per_level, padding_mode)
            for level in range(depth + 1))
        self.decoder = nn.ModuleList(
            conv_block(widths[level + 1] + widths[level], widths[level], convs_per_level, padding_mode)
            for level in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], 1, 1)
        self.size_multiple = 2**depth
        # Whole images in tiles of this side: a B-scan in one piece (smaller tiles compute
        # their halos twice: slower, experiments/speed), while a 4000x4000 scan still runs
        # in bounded memory.
        self.inference_tile = 1024
        # Convolutions at level l reach 2**l pixels each, on the way down and up; each pool
        # and upsampling adds at most one more pixel of its level.
        self.receptive_radius = sum(
            convs_per_level * 2**level * (1 if level == depth else 2) + (2 * 2**level if level < depth else 0)
            for level in range(depth + 1))

    def forward(self, x: Tensor) -> Tensor:
        skips = []
        for level, block in enumerate(self.encoder):
            if level > 0:
                x = F.max_pool2d(x, 2, ceil_mode=True)
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in self.decoder:
            skip = skips.pop()
            # Exactly 2x, then cut to the skip's size: resizing straight to an odd size would
            # stretch the grid by a size-dependent factor, and tiles would not match the whole.
            x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = x[..., : skip.shape[-2], : skip.shape[-1]]
            conv = block[0]
            if self._fuse_cat_and_pad(x, conv):
                x = block[1:](F.conv2d(padded_cat([x, skip], conv.padding[0], conv.padding_mode),
                                       conv.weight, conv.bias))
            else:
                x = block(torch.cat([x, skip], dim=1))
        return self.head(x)

    @staticmethod
    def _fuse_cat_and_pad(x: Tensor, conv: nn.Conv2d) -> bool:
        """At CPU inference the decoder writes its concatenation straight into the padded
        input of its first convolution: one copy instead of two, the same output (its time
        in experiments/speed). Training keeps cat + pad (the buffer's backward was slower),
        as do GPUs and traced exports."""
        return (cpu_inference(x) and conv.padding_mode in ("replicate", "zeros")
                and conv.padding[0] == conv.padding[1])
