"""DnCNN (Zhang et al. 2017): a plain stack of 3x3 convolutions that predicts the noise."""

from __future__ import annotations

from torch import Tensor, nn

from octsr.models.components.image_conv import ImageConv2d


class DnCNN(nn.Module):
    """conv+ReLU, (depth - 2) x conv+BatchNorm+ReLU, conv: same-size output, meant to be
    trained with residual learning (`model.residual=true`: the output is the noise, which
    the LightningModule subtracts from the input).

    Args:
        depth: convolution layers (paper: 17 for a fixed noise level); each adds 1 pixel of
            reach each way.
        width: feature maps (paper: 64). Arithmetic per pixel grows with width squared: the
            default (12 x 32) is sized for a 2-core CPU.
        batch_norm: BatchNorm in the middle layers, as in the paper.
        in_channels: input channels: noisy frames of one place (1: a single B-scan); the
            output is always one restored image.
        padding_mode: what convolutions see past the border ("replicate": edge pixels).
    """

    def __init__(self, depth: int = 12, width: int = 32, batch_norm: bool = True,
                 in_channels: int = 1, padding_mode: str = "replicate") -> None:
        super().__init__()
        if depth < 2 or width < 1:
            raise ValueError(f"DnCNN needs depth >= 2 and width >= 1, got {depth}, {width}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1, padding_mode=padding_mode),
                                   nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(width, width, 3, padding=1, padding_mode=padding_mode, bias=not batch_norm)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(width))
            layers.append(nn.ReLU(inplace=True))
        layers.append(ImageConv2d(width, 1, 3, padding=1, padding_mode=padding_mode))
        self.body = nn.Sequential(*layers)
        self.receptive_radius = depth
        # Whole images in tiles of this side (see SRCNN): `width` maps at full resolution.
        self.inference_tile = 256

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)
