"""SRCNN (Dong et al. 2014) for same-size restoration: 9x9 -> 1x1 -> 5x5 convolutions."""

from __future__ import annotations

from typing import Sequence

from torch import Tensor, nn

from octsr.models.components.image_conv import ImageConv2d


class SRCNN(nn.Module):
    """Patch extraction, non-linear mapping, reconstruction; no bicubic upsampling.

    Each convolution is padded by half its kernel, so the output has the input's size on
    any image (fully convolutional). `padding_mode` says what the border sees: "replicate"
    repeats edge pixels, which suits B-scans better than zeros (a dark frame that is not
    in the data).

    Args:
        width: feature maps of the first layer; the mapping layer has half as many
            (paper: 64, then 32).
        kernel_sizes: the three kernel sizes (paper: 9, 1, 5).
        in_channels: input channels: noisy frames of one place (1: a single B-scan); the
            output is always one restored image.
    """

    def __init__(self, width: int = 64, kernel_sizes: Sequence[int] = (9, 1, 5),
                 in_channels: int = 1, padding_mode: str = "replicate") -> None:
        super().__init__()
        if len(kernel_sizes) != 3:
            raise ValueError(f"SRCNN takes 3 kernel sizes, got {list(kernel_sizes)}")
        if any(k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"SRCNN kernel sizes must be odd to keep the image size: {kernel_sizes}")
        widths = [in_channels, width, max(width // 2, 1), 1]
        layers: list[nn.Module] = []
        for i, k in enumerate(kernel_sizes):
            # A 1x1 layer has nothing to pad, but any padding_mode but "zeros" makes Conv2d
            # copy its whole input through F.pad anyway (8% of a training step).
            conv = ImageConv2d if i == 2 else nn.Conv2d
            layers.append(conv(widths[i], widths[i + 1], k, padding=k // 2,
                               padding_mode=padding_mode if k > 1 else "zeros"))
            if i < 2:
                layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)
        # An output pixel sees this many input pixels each way (TiledInferer's halo).
        self.receptive_radius = sum(k // 2 for k in kernel_sizes)
        # Whole images in tiles of this side (RestorationModule): its `width` feature maps
        # at full resolution would otherwise each take the size of the image many times over.
        self.inference_tile = 256

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)
