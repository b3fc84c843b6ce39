"""The paper's image-quality metrics, per image, on tensors in [0, 1].

PSNR with MAX_I = 1; SSIM with L = 1 (data range), K1 = 0.01, K2 = 0.03 and torchmetrics'
11 x 11 Gaussian window (sigma 1.5), as in Wang et al. 2004. Used by training (val and
test), evaluate and crossval alike; tests check them against scikit-image.
"""

from __future__ import annotations

from torch import Tensor
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

SSIM_ARGS = dict(data_range=1.0, k1=0.01, k2=0.03)


def _check(output: Tensor, target: Tensor) -> None:
    if output.shape != target.shape or output.ndim != 4:
        raise ValueError(f"metrics compare (B, C, H, W) images of one shape; got output "
                         f"{tuple(output.shape)} and target {tuple(target.shape)}")


def psnr(output: Tensor, target: Tensor) -> Tensor:
    """Per-image PSNR in dB (MAX_I = 1) of (B, C, H, W) tensors in [0, 1]; shape (B,)."""
    _check(output, target)
    return peak_signal_noise_ratio(output, target, data_range=1.0, reduction="none", dim=(1, 2, 3))


def ssim(output: Tensor, target: Tensor) -> Tensor:
    """Per-image SSIM of (B, C, H, W) tensors in [0, 1]; shape (B,)."""
    _check(output, target)
    return structural_similarity_index_measure(output, target, reduction="none", **SSIM_ARGS)
