"""Training losses beyond torch's own (`conf/loss/`): Charbonnier, an SSIM + L1 mix, and MSE
with a gradient term."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from octsr import metrics


class CharbonnierLoss(nn.Module):
    """mean(sqrt((output - target)^2 + eps^2)): L1 away from zero, smooth at it, so small
    residuals still get a gradient that shrinks with them (Lai et al. 2017)."""

    def __init__(self, eps: float = 1e-3) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        return torch.sqrt((output - target) ** 2 + self.eps**2).mean()


class SSIML1Loss(nn.Module):
    """alpha * (1 - SSIM) + (1 - alpha) * L1 (Zhao et al. 2017, "Loss functions for image
    restoration with neural networks": alpha 0.84). SSIM is the reported metric's
    (octsr.metrics, differentiable, averaged over the batch), so the loss
    trains towards the metric that is reported; the L1 term keeps the overall brightness,
    which SSIM alone barely sees."""

    def __init__(self, alpha: float = 0.84) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"SSIML1Loss alpha must be in [0, 1], got {alpha}")
        self.alpha = alpha

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        ssim = metrics.ssim(output, target).mean()
        return self.alpha * (1.0 - ssim) + (1.0 - self.alpha) * (output - target).abs().mean()


class GradientMSELoss(nn.Module):
    """MSE + weight * MSE of the images' horizontal and vertical pixel differences.

    The second term weighs the fine detail (band boundaries) that plain MSE, dominated by
    the large smooth areas, trades for lower noise. Both terms are squared errors of linear
    functions of the target, so with noisy targets (Noise2Noise) their minimum is still the
    clean image's: unlike L1-type losses, no pull towards the median, which on speckle is
    darker than the mean."""

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        if weight < 0:
            raise ValueError(f"GradientMSELoss weight must be >= 0, got {weight}")
        self.weight = weight

    def forward(self, output: Tensor, target: Tensor) -> Tensor:
        error = output - target
        gradient = (error.diff(dim=-1).square().mean() + error.diff(dim=-2).square().mean()) / 2
        return error.square().mean() + self.weight * gradient
