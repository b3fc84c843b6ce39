"""A convolution whose output is one image, fast on the CPU."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def cpu_inference(x: Tensor) -> bool:
    """Whether an inference-only CPU path may stand in for the plain layers on `x`: no
    gradients are taken, `x` is on the CPU, and no export is tracing the graph (a traced
    graph keeps the plain layers, which every runtime runs)."""
    return not torch.is_grad_enabled() and x.device.type == "cpu" and not _exporting()


def _exporting() -> bool:
    return torch.jit.is_tracing() or torch.jit.is_scripting() or torch.onnx.is_in_onnx_export()


def _tap_planes(x: Tensor, weight: Tensor) -> Tensor:
    """(N, C, H, W) -> (k*k, N, H, W): what each pixel contributes at each kernel offset,
    in one matrix product. From a channels_last input, the pixels-by-channels view is free
    and the product reads it transposed."""
    n, c, h, w = x.shape
    k = weight.shape[-1]
    taps = weight[0].permute(1, 2, 0).reshape(k * k, c)  # (offset, channel)
    return (taps @ x.permute(0, 2, 3, 1).reshape(-1, c).T).view(k * k, n, h, w)


def _sum_shifted(planes: Tensor, k: int, h: int, w: int) -> Tensor:
    """Each offset's plane shifted into place and summed: (k*k, N, h+k-1, w+k-1) -> (N, h, w)."""
    out = planes[0, :, :h, :w].clone()
    for t in range(1, k * k):
        i, j = divmod(t, k)
        out += planes[t, :, i:i + h, j:j + w]
    return out


# Images per piece of a batch in `_ValidImageConv`, so that its k*k planes stay near this
# size: the whole batch's planes at once raised the default run's peak RSS
# (experiments/speed README, "Speed and memory").
PLANE_BYTES = 8 << 20


def _piece(padded: Tensor, k: int) -> int:
    per_image = k * k * padded.shape[-2] * padded.shape[-1] * padded.element_size()
    return max(1, PLANE_BYTES // per_image)


class _ValidImageConv(torch.autograd.Function):
    """A k x k convolution of a padded (N, C, H+k-1, W+k-1) input to one channel, with a
    backward oneDNN runs at its vector width: the input's gradient as a transposed
    convolution from one channel to C, the weight's as one matrix product of the output
    gradient, shifted to each offset, with the input. Planes are made a piece of the batch
    at a time (`PLANE_BYTES`)."""

    @staticmethod
    def forward(ctx, padded: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        k = weight.shape[-1]
        h, w = padded.shape[-2] - k + 1, padded.shape[-1] - k + 1
        out = torch.cat([_sum_shifted(_tap_planes(piece, weight), k, h, w)
                         for piece in padded.split(_piece(padded, k))])
        if bias is not None:
            out += bias
        ctx.save_for_backward(padded, weight)
        ctx.has_bias = bias is not None
        return out.unsqueeze(1)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
        padded, weight = ctx.saved_tensors
        n, c, hp, wp = padded.shape
        k = weight.shape[-1]
        h, w = hp - k + 1, wp - k + 1
        grad_padded = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_padded = F.conv_transpose2d(grad.contiguous(memory_format=torch.channels_last), weight)
        if ctx.needs_input_grad[1]:
            grad_weight = weight.new_zeros(k * k, c)
            size = _piece(padded, k)
            shifted = None
            for start in range(0, n, size):
                piece = padded[start:start + size]
                # Every piece writes the same cells of each plane: the zeros around them
                # stay, so one buffer serves all pieces of its length.
                if shifted is None or shifted.shape[1] != len(piece):
                    shifted = grad.new_zeros(k * k, len(piece), hp, wp)
                for t in range(k * k):
                    i, j = divmod(t, k)
                    shifted[t, :, i:i + h, j:j + w] = grad[start:start + size, 0]
                grad_weight += shifted.view(k * k, -1) @ piece.permute(0, 2, 3, 1).reshape(-1, c)
            grad_weight = grad_weight.T.reshape(1, c, k, k)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_bias = grad.sum().reshape(1)
        return grad_padded, grad_weight, grad_bias


class ImageConv2d(nn.Conv2d):
    """`nn.Conv2d` to one output channel (a network's last layer); same weights, same result.

    oneDNN vectorizes a CPU convolution over its output channels, so a k x k convolution
    to a single channel runs at a small fraction of its arithmetic rate: SRCNN's last 5x5
    layer took a third of its inference and training time for a tenth of its arithmetic
    (profiled in experiments/speed's README). On the CPU this layer is
    computed instead as k*k 1x1 "taps" (one matrix product: what each input pixel
    contributes at each kernel offset), shifted and summed: the same sum in another order
    (outputs agree to about 1e-7). At inference the taps are padded rather than the input
    (fewer planes than channels); in training the input is padded and the backward is
    `_ValidImageConv`'s (gradients agree to about 2e-6 relative). GPUs, traced exports (one
    graph for every runtime), training under autocast and any setting the taps do not cover
    keep the ordinary convolution.
    """

    def _taps_fit(self, x: Tensor) -> bool:
        k = self.kernel_size
        return (x.dim() == 4 and x.device.type == "cpu" and not _exporting() and self.out_channels == 1
                and self.groups == 1 and k[0] == k[1] and k[0] % 2 == 1 and self.stride == (1, 1)
                and self.dilation == (1, 1) and self.padding == (k[0] // 2,) * 2)

    def forward(self, x: Tensor) -> Tensor:
        if not self._taps_fit(x):
            return super().forward(x)
        k, p = self.kernel_size[0], self.padding[0]
        mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
        if torch.is_grad_enabled():
            if torch.is_autocast_enabled(x.device.type):
                # Mixed-precision training (trainer.precision=bf16-mixed): autocast does not
                # reach a custom backward, whose bfloat16 gradient would meet float32 weights.
                return super().forward(x)
            return _ValidImageConv.apply(F.pad(x, (p, p, p, p), mode=mode), self.weight, self.bias)
        # Padding is per pixel and the taps mix channels only, so padding the taps equals
        # padding the input.
        planes = F.pad(_tap_planes(x, self.weight), (p, p, p, p), mode=mode)
        out = _sum_shifted(planes, k, *x.shape[-2:])
        if self.bias is not None:
            out += self.bias
        return out.unsqueeze(1)
