"""Image-quality metrics, per image, on tensors in [0, 1].

The paper's: PSNR with MAX_I = 1; SSIM with L = 1 (data range), K1 = 0.01, K2 = 0.03 and
torchmetrics' 11 x 11 Gaussian window (sigma 1.5), as in Wang et al. 2004. Edge fidelity,
which PSNR and SSIM barely see (a blurred retinal band costs little of either): GMSD
(Xue et al. 2014) and the edge preservation index. `METRICS`, at the end, is the one table
of them that training (val and test), evaluate, crossval and report read; tests check the
functions against scikit-image, torchmetrics and SciPy transcriptions of the published
definitions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

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


def in_float32(metric: Callable[[Tensor, Tensor], Tensor]) -> Callable[[Tensor, Tensor], Tensor]:
    """Compute `metric` in float32 whatever the inputs and the autocast context: under
    bfloat16 autocast (`trainer.precision=bf16-mixed`) SSIM's convolutions ran in bfloat16,
    where E[x^2] - E[x]^2 cancels to noise (a validation SSIM of 0.37 for a model at 0.68)."""

    @functools.wraps(metric)
    def scored(output: Tensor, target: Tensor) -> Tensor:
        with torch.autocast(output.device.type, enabled=False):
            return metric(output.float(), target.float())

    return scored


@in_float32
def psnr(output: Tensor, target: Tensor) -> Tensor:
    """Per-image PSNR in dB (MAX_I = 1) of (B, C, H, W) tensors in [0, 1]; shape (B,)."""
    _check(output, target)
    return peak_signal_noise_ratio(output, target, data_range=1.0, reduction="none", dim=(1, 2, 3))


def _gaussian_window(dtype: torch.dtype, device: torch.device) -> Tensor:
    offsets = torch.arange(SSIM_WINDOW, dtype=dtype, device=device) - SSIM_WINDOW // 2
    g = torch.exp(-((offsets / SSIM_SIGMA) ** 2) / 2)
    g = g / g.sum()
    return g[:, None] * g[None, :]


@in_float32
def ssim(output: Tensor, target: Tensor) -> Tensor:
    """Per-image SSIM of (B, C, H, W) tensors in [0, 1]; shape (B,).

    torchmetrics' `structural_similarity_index_measure` term for term (reflect padding, the
    Gaussian window, the clamped variances, the mean over every pixel), except that the
    window runs over the five local statistics as channels of one channels_last image in a
    depthwise convolution. torchmetrics stacks them as five single-channel images, which
    oneDNN filters through a large workspace, several times slower; this needs no
    workspace (peak RSS and times in experiments/speed). Tests check the two agree.
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


# GMSD's stability constant: Xue et al.'s T = 170 on the 0-255 scale, here on [0, 1].
GMSD_C = 170 / 255**2


def _prewitt_magnitude(image: Tensor) -> Tensor:
    """|gradient| of (B, 1, H, W) images by the Prewitt filters (1/3 scaled), zero padded
    ('same'), as in the authors' MATLAB code."""
    dx = torch.tensor([[1.0, 0.0, -1.0]] * 3, dtype=image.dtype, device=image.device) / 3
    kernels = torch.stack((dx, dx.T))[:, None]
    return F.conv2d(image, kernels, padding=1).square().sum(1, keepdim=True).sqrt()


@in_float32
def gmsd(output: Tensor, target: Tensor) -> Tensor:
    """Per-image gradient magnitude similarity deviation (Xue et al. 2014) of (B, 1, H, W)
    tensors in [0, 1]; shape (B,). Lower is closer; 0 for identical images.

    Both images are averaged over 2 x 2 blocks and subsampled by 2 (zero padded to even
    size), their Prewitt gradient magnitudes compared pixel by pixel as
    (2 m_o m_t + C) / (m_o^2 + m_t^2 + C), and the score is the standard deviation of that
    map: it grows where edges are lost or added unevenly, which a blurred band does. The
    same definition as piq's `gmsd` and the authors' MATLAB code (population std)."""
    _check(output, target)
    if output.shape[1] != 1:
        raise ValueError(f"gmsd scores gray images (B, 1, H, W); got {tuple(output.shape)}")
    h, w = output.shape[-2:]
    pad = (0, w % 2, 0, h % 2)
    gm_o, gm_t = (_prewitt_magnitude(F.avg_pool2d(F.pad(image, pad), 2)) for image in (output, target))
    similarity = (2 * gm_o * gm_t + GMSD_C) / (gm_o.square() + gm_t.square() + GMSD_C)
    return similarity.flatten(1).std(dim=1, correction=0)


@in_float32
def epi(output: Tensor, target: Tensor) -> Tensor:
    """Per-image edge preservation index (Sattar et al. 1997) of (B, 1, H, W) tensors; shape (B,).

    The correlation coefficient of the two images' Laplacians (4-neighbour, edge pixels
    repeated): 1 when every edge of the target is in the output at its place and contrast,
    lower as edges blur, move or drown in noise (0 for a flat image); the despeckling
    literature's measure of kept band boundaries."""
    _check(output, target)
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]],
                          dtype=output.dtype, device=output.device).expand(output.shape[1], 1, 3, 3)

    def centred_laplacian(image: Tensor) -> Tensor:
        lap = F.conv2d(F.pad(image, (1, 1, 1, 1), mode="replicate"), kernel, groups=image.shape[1]).flatten(1)
        return lap - lap.mean(dim=1, keepdim=True)

    lap_o, lap_t = centred_laplacian(output), centred_laplacian(target)
    scale = (lap_o.square().sum(1) * lap_t.square().sum(1)).sqrt()
    # An image without a single edge (flat) preserves none: 0, not 0 / 0.
    return torch.where(scale > 0, (lap_o * lap_t).sum(1) / scale.clamp_min(torch.finfo(scale.dtype).tiny), 0.0)


@in_float32
def psnr_matched(output: Tensor, target: Tensor) -> Tensor:
    """PSNR after shifting each output's mean to its target's; shape (B,). A diagnostic of
    what is left once overall brightness, which one frame cannot predict (Duke's averages
    are shifted against their scans), is set right."""
    _check(output, target)
    shift = target.mean(dim=(1, 2, 3), keepdim=True) - output.mean(dim=(1, 2, 3), keepdim=True)
    return psnr(output + shift, target)


@dataclass(frozen=True)
class Metric:
    """One score of a restored image against its target, as every table and log shows it."""

    name: str  # the one key: val/<name>, test/<name>, CSV columns, table rows
    title: str  # a table's header
    function: Callable[[Tensor, Tensor], Tensor]  # (B, 1, H, W) output, target in [0, 1] -> (B,)
    higher_is_better: bool
    digits: int  # decimals shown
    # A headline score: on the training progress bar and in TensorBoard's HPARAMS table
    # (which shows five metric columns), not only in the logs and tables.
    headline: bool = False

    @property
    def header(self) -> str:
        return f"{self.title} {'↑' if self.higher_is_better else '↓'}"

    def format(self, value: float) -> str:
        return f"{value:.{self.digits}f}"


# Every score octsr reports, in the order tables show them: validation, the test step and
# its CSV, evaluate, crossval, report and TensorBoard's HPARAMS view all read this table,
# so a new metric is one entry here.
METRICS: tuple[Metric, ...] = (
    Metric("psnr", "PSNR (dB)", psnr, True, 2, headline=True),
    Metric("ssim", "SSIM", ssim, True, 4, headline=True),
    Metric("gmsd", "GMSD", gmsd, False, 4),
    Metric("epi", "EPI", epi, True, 4),
    Metric("psnr_matched", "PSNR, brightness matched", psnr_matched, True, 2),
)
METRIC_NAMES = tuple(metric.name for metric in METRICS)
NOISY_SUFFIX = "_noisy"  # the same scores of the noisy input itself, beside a model's: psnr_noisy, ...


def score_batch(output: Tensor, target: Tensor) -> dict[str, Tensor]:
    """Every metric of (B, 1, H, W) outputs against their targets: name -> (B,) scores."""
    return {metric.name: metric.function(output, target) for metric in METRICS}
