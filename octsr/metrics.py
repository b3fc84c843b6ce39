"""The paper's image-quality metrics, per image, on tensors in [0, 1].

PSNR with MAX_I = 1; SSIM with L = 1 (data range), K1 = 0.01, K2 = 0.03 and torchmetrics'
11 x 11 Gaussian window (sigma 1.5), as in Wang et al. 2004. Used by training (val and
test), evaluate and crossval alike; tests check them against scikit-image and torchmetrics.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics.functional.image import peak_signal_noise_ratio

SSIM_K1, SSIM_K2, SSIM_SIGMA = 0.01, 0.03, 1.5
SSIM_WINDOW = 11  # torchmetrics' Gaussian window: int(3.5 * sigma + 0.5) * 2 + 1


def _check(output: Tensor, target: Tensor) -> None:
    if output.shape != target.shape or output.ndim != 4:
        raise ValueError(f"metrics compare (B, C, H, W) images of one shape; got output "
                         f"{tuple(output.shape)} and target {tuple(target.shape)}")


def psnr(output: Tensor, target: Tensor) -> Tensor:
    """Per-image PSNR in dB (MAX_I = 1) of (B, C, H, W) tensors in [0, 1]; shape (B,)."""
    _check(output, target)
    return peak_signal_noise_ratio(output, target, data_range=1.0, reduction="none", dim=(1, 2, 3))


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> Tensor:
    offsets = torch.arange(SSIM_WINDOW, dtype=dtype, device=device) - SSIM_WINDOW // 2
    g = torch.exp(-((offsets / SSIM_SIGMA) ** 2) / 2)
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(output: Tensor, target: Tensor) -> Tensor:
    """Per-image SSIM of (B, C, H, W) tensors in [0, 1]; shape (B,).

    torchmetrics' `structural_similarity_index_measure` term for term (reflect padding, the
    Gaussian window, the clamped variances, the mean over every pixel), except that the
    window runs over the five local statistics as channels of one channels_last image in a
    depthwise convolution. torchmetrics stacks them as five single-channel images, which
    oneDNN filters through a large workspace, several times slower; this needs no
    workspace (peak RSS and times in experiments/bench). Tests check the two agree.
    """
    _check(output, target)
    b, c, h, w = output.shape
    pad = SSIM_WINDOW // 2
    stats = torch.cat((output, target, output * output, target * target, output * target), dim=1)
    stats = F.pad(stats, (pad, pad, pad, pad), mode="reflect").contiguous(memory_format=torch.channels_last)
    window = _gaussian_window(output.dtype, output.device).expand(5 * c, 1, SSIM_WINDOW, SSIM_WINDOW)
    mu_o, mu_t, mean_oo, mean_tt, mean_ot = F.conv2d(stats, window, groups=5 * c).split(c, dim=1)
    mu_oo, mu_tt, mu_ot = mu_o * mu_o, mu_t * mu_t, mu_o * mu_t
    var_o = torch.clamp(mean_oo - mu_oo, min=0.0)
    var_t = torch.clamp(mean_tt - mu_tt, min=0.0)
    cov = mean_ot - mu_ot
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2  # data range L = 1
    ssim_map = ((2 * mu_ot + c1) * (2 * cov + c2)) / ((mu_oo + mu_tt + c1) * (var_o + var_t + c2))
    return ssim_map.reshape(b, -1).mean(-1)
