"""Read grayscale B-scans (PNG, TIFF; 8- or 16-bit; compressed TIFF) as float32 in [0, 1]."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import tifffile

from octsr.errors import DataError
from octsr.utils.atomic import atomic_path

log = logging.getLogger(__name__)

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


def read_pages(path: str | Path, keep: Sequence[int] | None = None) -> list[np.ndarray]:
    """Every B-scan in the file as stored, each (H, W): 1 for PNG, every page of a TIFF
    (pages may differ in size, not in pixel type), or only the TIFF pages numbered in `keep`
    (from 0, in file order)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.suffix.lower() in TIFF_SUFFIXES:
        try:
            with tifffile.TiffFile(path) as tif:
                # Page by page, in file order (series would regroup pages by size).
                chosen = tif.pages if keep is None else [tif.pages[k] for k in keep]
                pages = [scan for page in chosen for scan in _page_scans(page, path)]
        except DataError:
            raise
        except Exception as err:  # tifffile raises many types for a damaged file
            raise DataError(f"{path}: cannot read TIFF ({err})") from err
        if not pages:
            raise DataError(f"{path}: cannot read TIFF (it holds no images)")
    else:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if image is None:
            raise DataError(f"{path}: not a readable image (PNG, TIFF, JPEG or BMP expected)")
        if image.ndim == 3 and image.shape[2] in (3, 4):
            # OpenCV gives BGR(A); drop alpha before folding colour to gray.
            image = cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)
        pages = [image]
    pages = [_grayscale_page(page, path) for page in pages]
    if len({page.dtype for page in pages}) > 1:
        raise DataError(f"{path}: pages of different pixel types "
                        f"({', '.join(sorted({str(p.dtype) for p in pages}))})")
    return pages


# TIFF ExtraSamples values: what an extra sample per pixel is (TIFF 6.0, p. 31).
ALPHA_SAMPLES = {1: "associated alpha", 2: "unassociated alpha"}


def _page_scans(page, path: Path) -> list[np.ndarray]:
    """A TIFF page as 2-D B-scans (colour ones with samples last, folded later). A gray page
    with extra samples declared as alpha keeps its gray sample (with a note); extra samples
    of unstated meaning are refused: they could be an alpha, a mask or a second scan."""
    data, axes = page.asarray(), page.axes
    colour = page.photometric == tifffile.PHOTOMETRIC.RGB
    extras = tuple(int(e) for e in (page.extrasamples or ()))
    if extras and not colour and "S" in axes:
        unknown = [e for e in extras if e not in ALPHA_SAMPLES]
        if unknown:
            raise DataError(f"{path}: gray pixels with {len(extras)} extra sample(s) of unstated meaning "
                            f"(TIFF ExtraSamples {list(extras)}); save one gray sample per pixel (for instance "
                            f"the first: tifffile.imwrite(out, image[..., 0]))")
        log.warning("%s: its %s sample is dropped; the gray sample is the B-scan", path,
                    " and ".join(sorted({ALPHA_SAMPLES[e] for e in extras})))
        data, axes = np.take(data, 0, axis=axes.index("S")), axes.replace("S", "")
    if "S" in axes:
        # Colour samples go last (to be folded to gray); other sample planes are B-scans.
        data = np.moveaxis(data, axes.index("S"), -1 if colour else 0)
    if colour:
        return list(data.reshape(-1, *data.shape[-3:]))
    return list(data.reshape(-1, *data.shape[-2:]))


def _grayscale_page(image: np.ndarray, path: Path) -> np.ndarray:
    while image.ndim > 2 and image.shape[0] == 1:  # leading length-1 axes (not 1-pixel scans)
        image = image[0]
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 3 and image.shape[-1] in (3, 4):  # colour samples last (RGB TIFF)
        image = cv2.cvtColor(np.ascontiguousarray(image[..., :3]), cv2.COLOR_RGB2GRAY)
    if image.ndim != 2 or min(image.shape) < 1:
        raise DataError(f"{path}: expected grayscale B-scans, got a page of shape {image.shape}")
    return image


def to_unit_range(image: np.ndarray, path: str | Path = "<array>", peak: int | None = None) -> np.ndarray:
    """Pixels as float32 in [0, 1], by one rule for every file:

    - unsigned 8- and 16-bit integers are divided by their type's maximum (255, 65535), or
      by `peak`, the brightest value the file says it stores (a DICOM's 2**BitsStored - 1),
      higher values clipped;
    - signed 8- and 16-bit integers likewise (127, 32767), if no value is negative;
    - floats must already lie in [0, 1];
    - anything else (32- and 64-bit integers, negative values, NaN) is refused: no scaling
      of it is faithful for every scanner, so the file must be converted first.
    """
    dtype = image.dtype
    if np.issubdtype(dtype, np.integer):
        if dtype.itemsize > 2:
            raise DataError(f"{path}: {dtype} pixels; octsr reads 8- or 16-bit integers or floats in "
                            f"[0, 1] (convert the scan to one of those)")
        if np.issubdtype(dtype, np.signedinteger) and image.size and int(image.min()) < 0:
            raise DataError(f"{path}: signed {dtype} pixels with negative values (min "
                            f"{int(image.min())}); octsr reads non-negative intensities (convert "
                            f"the scan to unsigned 16-bit)")
        if peak:
            return np.minimum(image.astype(np.float32) / np.float32(peak), np.float32(1.0))
        return image.astype(np.float32) / np.float32(np.iinfo(dtype).max)
    if np.issubdtype(dtype, np.floating):
        image = image.astype(np.float32)
        if not np.isfinite(image).all():
            raise DataError(f"{path}: float image holds NaN or infinite values")
        lo, hi = float(image.min()), float(image.max())
        if lo < 0.0 or hi > 1.0:
            raise DataError(f"{path}: float image spans [{lo:.3g}, {hi:.3g}]; expected [0, 1]")
        return image
    raise DataError(f"{path}: unsupported pixel type {dtype}")


def read_grayscale(path: str | Path) -> np.ndarray:
    """A B-scan as a float32 (H, W) array in [0, 1]."""
    return to_unit_range(read_raw(path), path)


def from_unit_range(image: np.ndarray, dtype: np.dtype, peak: int | None = None) -> np.ndarray:
    """Back from [0, 1] floats to `dtype` (the inverse of `to_unit_range`, with the same
    `peak`), rounding."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.integer):
        peak = peak or np.iinfo(dtype).max
        return np.clip(np.rint(image * peak), 0, peak).astype(dtype)
    return np.clip(image, 0.0, 1.0).astype(dtype)


def write_pages(path: str | Path, pages: list[np.ndarray], like: str | Path | None = None) -> None:
    """Write 2-D pages in their dtype: TIFF (a volume when several pages, compressed like
    `like` where possible) or PNG (one page). Written to a temporary file and renamed, so an
    interrupted write never leaves a partial file under `path`."""
    path = Path(path)
    if path.suffix.lower() not in TIFF_SUFFIXES and len(pages) != 1:
        raise DataError(f"{path}: {len(pages)} B-scans need a TIFF output, not {path.suffix}")
    with atomic_path(path) as tmp:
        if path.suffix.lower() in TIFF_SUFFIXES:
            compression = None
            if like is not None and Path(like).suffix.lower() in TIFF_SUFFIXES:
                with tifffile.TiffFile(like) as tif:
                    compression = tif.pages[0].compression
            try:
                _write_tiff(tmp, pages, compression)
            except Exception:  # a codec tifffile can read but not write: store uncompressed
                _write_tiff(tmp, pages, None)
        elif not cv2.imwrite(str(tmp), pages[0]):
            raise DataError(f"{path}: could not write the image")


def _write_tiff(path: Path, pages: list[np.ndarray], compression) -> None:
    # One plain page per B-scan: minisblack, so no reader takes a last or first axis of 3
    # for colour, and no shape metadata, with which tifffile folds 1-pixel-wide volumes
    # into fewer pages. Readers group same-sized pages back into one volume.
    with tifffile.TiffWriter(path) as tif:
        for page in pages:
            tif.write(page, photometric="minisblack", compression=compression, metadata=None)
