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
    pages = read_pages(path)
    if len(pages) > 1:
        raise DataError(f"{path}: a volume of {len(pages)} B-scans; a pair needs one B-scan per file")
    return pages[0]


def read_pages(path: str | Path) -> np.ndarray:
    """Every B-scan in the file as stored, (pages, H, W): 1 page for PNG, N for a TIFF volume."""
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
    if image.ndim >= 3 and image.shape[-1] in (3, 4):  # colour samples last (RGB TIFF)
        flat = image.reshape(-1, *image.shape[-3:])
        image = np.stack([cv2.cvtColor(np.ascontiguousarray(p[..., :3]), cv2.COLOR_RGB2GRAY)
                          for p in flat])
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3:
        raise DataError(f"{path}: expected grayscale B-scans, got an array of shape {image.shape}")
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


def from_unit_range(image: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Back from [0, 1] floats to `dtype` (the inverse of `to_unit_range`), rounding."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        peak = np.iinfo(dtype).max
        return np.clip(np.rint(image * peak), 0, peak).astype(dtype)
    return np.clip(image, 0.0, 1.0).astype(dtype)


def write_pages(path: str | Path, pages: np.ndarray, like: str | Path | None = None) -> None:
    """Write (pages, H, W) in their dtype: TIFF (a volume when several pages, compressed like
    `like` where possible) or PNG (one page)."""
    path = Path(path)
    if path.suffix.lower() in TIFF_SUFFIXES:
        compression = None
        if like is not None and Path(like).suffix.lower() in TIFF_SUFFIXES:
            with tifffile.TiffFile(like) as tif:
                compression = tif.pages[0].compression
        data = pages[0] if len(pages) == 1 else pages
        try:
            tifffile.imwrite(path, data, compression=compression)
        except Exception:  # a codec tifffile can read but not write: store uncompressed
            tifffile.imwrite(path, data)
        return
    if len(pages) != 1:
        raise DataError(f"{path}: {len(pages)} B-scans need a TIFF output, not {path.suffix}")
    if not cv2.imwrite(str(path), pages[0]):
        raise DataError(f"{path}: could not write the image")
