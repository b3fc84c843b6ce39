"""octsr.metrics checked against independent implementations: PSNR and SSIM against
scikit-image and torchmetrics, GMSD and the edge preservation index against SciPy
transcriptions of their published definitions."""

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from octsr.metrics import epi, gmsd, psnr, ssim


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


def reference_gmsd(output: np.ndarray, target: np.ndarray) -> float:
    """GMSD as the authors' MATLAB code computes it (Xue et al. 2014, GMSD.m), on [0, 1]:
    a 2 x 2 mean by conv2 'same' (zero fill), every other pixel, Prewitt gradients by conv2
    'same', T = 170 / 255^2; population std (piq's choice, MATLAB's std2 uses n - 1)."""
    from scipy.signal import convolve2d

    def gradient_magnitude(image):
        mean = convolve2d(image, np.full((2, 2), 0.25), mode="full")[1:, 1:][::2, ::2]
        dx = np.array([[1, 0, -1]] * 3) / 3
        return np.hypot(convolve2d(mean, dx, mode="same"), convolve2d(mean, dx.T, mode="same"))

    m_o, m_t = gradient_magnitude(output.astype(np.float64)), gradient_magnitude(target.astype(np.float64))
    t = 170 / 255**2
    return float(np.std((2 * m_o * m_t + t) / (m_o**2 + m_t**2 + t)))


def reference_epi(output: np.ndarray, target: np.ndarray) -> float:
    """Sattar et al.'s edge preservation index: the correlation of the Laplacians."""
    from scipy.ndimage import laplace

    return float(np.corrcoef(laplace(output.astype(np.float64), mode="nearest").ravel(),
                             laplace(target.astype(np.float64), mode="nearest").ravel())[0, 1])


@pytest.mark.parametrize("crop", [(64, 80), (63, 77)])  # odd sizes exercise the zero fill
def test_gmsd_and_epi_agree_with_the_published_definitions(pair, crop):
    output, target = (image[: crop[0], : crop[1]] for image in pair)
    assert gmsd(as_batch(output), as_batch(target)).item() == pytest.approx(reference_gmsd(output, target), abs=1e-5)
    assert epi(as_batch(output), as_batch(target)).item() == pytest.approx(reference_epi(output, target), abs=1e-5)


def test_blurring_the_edges_is_scored_worse_by_gmsd_and_epi():
    """A band image blurred across its boundaries loses on both, more the more it is blurred."""
    from scipy.ndimage import gaussian_filter1d

    rows = np.arange(96)[:, None]
    bands = np.broadcast_to(((rows // 6) % 2) * 0.6 + 0.2, (96, 128)).astype(np.float32)
    blurred = [gaussian_filter1d(bands, sigma, axis=0) for sigma in (0.7, 1.5, 3.0)]
    gmsds = [gmsd(as_batch(b), as_batch(bands)).item() for b in blurred]
    epis = [epi(as_batch(b), as_batch(bands)).item() for b in blurred]
    assert gmsd(as_batch(bands), as_batch(bands)).item() == pytest.approx(0.0, abs=1e-7)
    assert epi(as_batch(bands), as_batch(bands)).item() == pytest.approx(1.0, abs=1e-6)
    assert epi(as_batch(np.full_like(bands, 0.5)), as_batch(bands)).item() == 0.0  # flat: no edge kept
    assert gmsds == sorted(gmsds) and gmsds[0] > 0.01
    assert epis == sorted(epis, reverse=True) and epis[-1] < 0.9


def test_gmsd_takes_gray_images_only(pair):
    output, target = pair
    with pytest.raises(ValueError, match="gray images"):
        gmsd(as_batch(output, output).reshape(1, 2, 64, 80), as_batch(target, target).reshape(1, 2, 64, 80))


def test_metrics_are_float32_under_bfloat16_autocast(pair):
    """Under `trainer.precision=bf16-mixed` validation runs in autocast: the scores must be
    the float32 ones (SSIM's variances cancel to noise in bfloat16)."""
    output, target = as_batch(pair[0]), as_batch(pair[1])
    for metric in (psnr, ssim, gmsd, epi):
        expected = metric(output, target)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            scored = metric(output, target)
        assert scored.dtype == torch.float32 and torch.allclose(scored, expected), metric.__name__
