"""Read grayscale B-scans (PNG, TIFF; 8- or 16-bit; compressed TIFF) as float32 in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import tifffile

from octsr.errors import DataError

TIFF_SUFFIXES = {".tif", ".tiff"}
IMAGE_SUFFIXES = TIFF_SUFFIXES | {".png", ".jpg", ".jpeg", ".bmp"}


def read_raw(path: str | Path) -> np.ndarray:
    """The image as stored (its own dtype), 2-D, colour folded to gray.

    Raises DataError naming the file if it is missing, unreadable, a multi-page volume or
    not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() in TIFF_SUFFIXES:
        try:
            with tifffile.TiffFile(path) as tif:
                image = tif.series[0].asarray()
        except Exception as err:  # tifffile raises many types for a damaged file
            raise DataError(f"{path}: cannot read TIFF ({err})") from err
    else:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DataError(f"{path}: not a readable image (PNG, TIFF, JPEG or BMP expected)")
        if image.ndim == 3 and image.shape[2] in (3, 4):
            # OpenCV gives BGR(A); drop alpha before folding colour to gray.
            image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)
    image = np.squeeze(image)
    if image.ndim == 3 and image.shape[-1] not in (3, 4):
        raise DataError(
            f"{path}: a volume of {image.shape[0]} B-scans; a pair needs one B-scan per file"
        )
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    if image.ndim != 2:
        raise DataError(f"{path}: expected a 2-D grayscale B-scan, got shape {image.shape}")
    return image


def to_unit_range(image: np.ndarray, path: str | Path = "<array>") -> np.ndarray:
    """Scale integer images by their dtype's maximum; float images must already be in [0, 1]."""
    if np.issubdtype(image.dtype, np.integer):
        return image.astype(np.float32) / np.float32(np.iinfo(image.dtype).max)
    if np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
        if not np.isfinite(image).all():
            raise DataError(f"{path}: float image holds NaN or infinite values")
        lo, hi = float(image.min()), float(image.max())
        if lo < 0.0 or hi > 1.0:
            raise DataError(f"{path}: float image spans [{lo:.3g}, {hi:.3g}]; expected [0, 1]")
        return image
    raise DataError(f"{path}: unsupported pixel type {image.dtype}")


def read_grayscale(path: str | Path) -> np.ndarray:
    """A B-scan as a float32 (H, W) array in [0, 1]."""
    return to_unit_range(read_raw(path), path)
