"""The paper's convolutional autoencoder: stride-2 convs, a fully connected layer, transposed convs."""

from __future__ import annotations

from torch import Tensor, nn


def _conv_out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


class ConvAutoencoder(nn.Module):
    """Encoder of stride-2 convolutions, flatten, one fully connected layer, then transposed
    convolutions whose `output_padding` is chosen per layer to land back on `input_size`.

    The fully connected layer fixes the input to `input_size` x `input_size` (41 in the
    paper); whole images go through `octsr.tiling.SlidingWindowInferer`.

    Args:
        input_size: side of the square input patch.
        width: feature maps of the first convolution; each further one doubles them
            (16 -> 16, 32, 64; the decoder mirrors them).
        depth: number of stride-2 convolutions (paper: 3).
        kernel_size: kernel of every (transposed) convolution.
        in_channels: input channels: noisy frames of one place (1: a single B-scan); the
            output is always one restored image.
    """

    def __init__(self, input_size: int = 41, width: int = 16, depth: int = 3,
                 kernel_size: int = 3, in_channels: int = 1) -> None:
        super().__init__()
        self.input_size = input_size
        channels = [width * 2**i for i in range(depth)]
        padding = kernel_size // 2
        sizes = [input_size]
        for _ in channels:
            sizes.append(_conv_out(sizes[-1], kernel_size, 2, padding))
        if sizes[-1] < 1:
            raise ValueError(f"input_size={input_size} is too small for {len(channels)} stride-2 convs")
        widths = [in_channels, *channels]
        encoder: list[nn.Module] = []
        for i in range(len(channels)):
            encoder += [nn.Conv2d(widths[i], widths[i + 1], kernel_size, 2, padding), nn.ReLU(inplace=True)]
        self.encoder = nn.Sequential(*encoder)
        self.bottleneck_shape = (channels[-1], sizes[-1], sizes[-1])
        features = channels[-1] * sizes[-1] ** 2
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(features, features), nn.ReLU(inplace=True))
        decoder: list[nn.Module] = []
        for i in reversed(range(len(channels))):
            # A stride-2 transposed conv gives 2*(n-1) - 2p + k; output_padding makes up the
            # one pixel an odd-to-even (or rounding) step of the encoder lost.
            natural = (sizes[i + 1] - 1) * 2 - 2 * padding + kernel_size
            decoder.append(nn.ConvTranspose2d(widths[i + 1], widths[i] if i else 1, kernel_size, 2, padding,
                                              output_padding=sizes[i] - natural))
            if i > 0:
                decoder.append(nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(*decoder)

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2:] != (self.input_size, self.input_size):
            raise ValueError(
                f"ConvAutoencoder takes {self.input_size}x{self.input_size} inputs, got "
                f"{tuple(x.shape[-2:])}; run whole images through SlidingWindowInferer"
            )
        z = self.fc(self.encoder(x))
        return self.decoder(z.view(-1, *self.bottleneck_shape))

