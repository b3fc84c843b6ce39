"""A convolution whose output is one image, fast on the CPU at inference."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def cpu_inference(x: Tensor) -> bool:
    """Whether an inference-only CPU path may stand in for the plain layers on `x`: no
    gradients are taken, `x` is on the CPU, and no export is tracing the graph (a traced
    graph keeps the plain layers, which every runtime runs)."""
    return (not torch.is_grad_enabled() and x.device.type == "cpu" and not torch.jit.is_tracing()
            and not torch.jit.is_scripting() and not torch.onnx.is_in_onnx_export())


class ImageConv2d(nn.Conv2d):
    """`nn.Conv2d` to one output channel (a network's last layer); same weights, same result.

    oneDNN vectorizes a CPU convolution over its output channels, so a k x k convolution
    to a single channel runs at about a sixteenth of its arithmetic rate: SRCNN's last 5x5
    layer took 36 of its 85 ms per 450x900 B-scan, for 10% of its arithmetic. At inference
    on the CPU this layer is computed instead as k*k 1x1 "taps" (one matrix product: what
    each input pixel contributes at each kernel offset), padded, shifted and summed: the
    same sum in another order (outputs agree to about 1e-7). Training keeps the ordinary
    convolution, whose backward is faster than the taps'; so do GPUs, traced exports (one
    graph for every runtime) and any setting the taps do not cover.
    """

    def _taps_apply(self, x: Tensor) -> bool:
        k = self.kernel_size
        return (cpu_inference(x) and x.dim() == 4 and self.out_channels == 1 and self.groups == 1
                and k[0] == k[1] and k[0] % 2 == 1 and self.stride == (1, 1) and self.dilation == (1, 1)
                and self.padding == (k[0] // 2,) * 2)

    def forward(self, x: Tensor) -> Tensor:
        if not self._taps_apply(x):
            return super().forward(x)
        b, c, h, w = x.shape
        k, p = self.kernel_size[0], self.padding[0]
        taps = self.weight[0].permute(1, 2, 0).reshape(k * k, c)  # (offset, channel)
        # (offset, pixel) in one product; from a channels_last input, x's pixels-by-channels
        # view is free and the product reads it transposed.
        planes = (taps @ x.permute(0, 2, 3, 1).reshape(-1, c).T).view(k * k, b, h, w)
        # Padding is per pixel and the taps mix channels only, so padding the taps equals
        # padding the input (and the taps have fewer planes than the input has channels).
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        planes = F.pad(planes, (p, p, p, p), mode=mode)
        out = planes[0, :, :h, :w].clone()
        for t in range(1, k * k):
            i, j = divmod(t, k)
            out += planes[t, :, i:i + h, j:j + w]
        if self.bias is not None:
            out += self.bias
        return out.unsqueeze(1)
