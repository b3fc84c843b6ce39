"""The paper's PSNR and SSIM (octsr/metrics.py), checked against scikit-image."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from octsr.metrics import psnr, ssim


@pytest.fixture
def pair():
    rng = np.random.default_rng(7)
    target = np.clip(np.linspace(0, 1, 64 * 80).reshape(64, 80) + rng.normal(0, 0.05, (64, 80)), 0, 1)
    output = np.clip(target + rng.normal(0, 0.1, target.shape), 0, 1)
    return output.astype(np.float32), target.astype(np.float32)


def as_batch(*images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.stack(images))[:, None]


def test_identical_images_score_infinite_psnr_and_ssim_one(pair):
    _, target = pair
    assert torch.isinf(psnr(as_batch(target), as_batch(target))).all()
    assert ssim(as_batch(target), as_batch(target)).item() == pytest.approx(1.0, abs=1e-6)


def test_known_values_agree_with_scikit_image(pair):
    output, target = pair
    expected_psnr = peak_signal_noise_ratio(target, output, data_range=1.0)
    # The paper's SSIM: Gaussian window (sigma 1.5), K1 0.01, K2 0.03, L = 1. octsr averages
    # the SSIM map over every pixel (scikit-image's own mean leaves out a 5-pixel border),
    # and the two mirror the border slightly differently: 7e-4 apart on this 64 x 80 pair.
    _, ssim_map = structural_similarity(target, output, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False, K1=0.01, K2=0.03, full=True)
    assert psnr(as_batch(output), as_batch(target)).item() == pytest.approx(expected_psnr, abs=1e-4)
    assert ssim(as_batch(output), as_batch(target)).item() == pytest.approx(ssim_map.mean(), abs=1e-3)


def test_scores_are_per_image(pair):
    output, target = pair
    both = psnr(as_batch(output, target), as_batch(target, target))
    assert both.shape == (2,) and np.isfinite(both[0].item()) and torch.isinf(both[1])
    assert ssim(as_batch(output, target), as_batch(target, target)).shape == (2,)


def test_shape_mismatch_is_an_error(pair):
    output, target = pair
    with pytest.raises(ValueError, match=r"one shape; got output \(1, 1, 64, 79\) and target \(1, 1, 64, 80\)"):
        psnr(as_batch(output[:, :79]), as_batch(target))
    with pytest.raises(ValueError, match="one shape"):
        ssim(as_batch(output)[0], as_batch(target)[0])


@pytest.mark.parametrize("shape", [(1, 1, 64, 80), (2, 3, 37, 51)])
def test_ssim_is_torchmetrics_ssim_with_the_paper_constants(shape):
    from torchmetrics.functional.image import structural_similarity_index_measure

    torch.manual_seed(0)
    target = torch.rand(shape)
    output = (target + 0.2 * torch.randn(shape)).clamp(0, 1).requires_grad_()
    expected = structural_similarity_index_measure(output, target, data_range=1.0, k1=0.01, k2=0.03,
                                                   reduction="none")
    ours = ssim(output, target)
    assert torch.allclose(ours, expected, atol=1e-6)
    ours.sum().backward()  # the SSIM + L1 loss trains through it
    assert output.grad.abs().sum() > 0
