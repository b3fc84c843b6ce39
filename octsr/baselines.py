"""What a trained model is measured against: the noisy input itself, and BM3D with its noise
level chosen on val images (never on test)."""

from __future__ import annotations

from statistics import fmean
from typing import Any

import numpy as np
from tqdm import tqdm

from octsr.data.pairs import primary_frame
from octsr.scoring import Method, score_method

noisy_input: Method = primary_frame  # the baseline of doing nothing: the (primary) noisy frame


def bm3d_method(sigma: float) -> Method:
    """BM3D (the `baselines` extra) at noise level `sigma` (in [0, 1] units) on the primary frame."""
    import bm3d

    return lambda noisy: np.clip(bm3d.bm3d(primary_frame(noisy), sigma_psd=sigma), 0.0, 1.0).astype(np.float32)


def choose_bm3d_sigma(sigmas: list[float], val_images: list[tuple[str, Any, np.ndarray]],
                      progress: tqdm | None = None) -> tuple[float, dict[float, float]]:
    """The sigma with the best mean PSNR on the val (name, noisy, target) images, and every
    sigma's mean val PSNR."""
    tried = {s: fmean(r["psnr"] for r in score_method(bm3d_method(s), val_images, f"bm3d tune {s}", progress))
             for s in sigmas}
    return max(tried, key=tried.get), tried
