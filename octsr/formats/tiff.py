"""Multi-page TIFF volumes: which pages are the B-scans, and the spacing octsr records in
the files it writes (read back by `read_tiff_volume`)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from octsr.errors import DataError
from octsr.formats.images import read_pages
from octsr.formats.volume import UNKNOWN_SPACING, Spacing, Volume, note_once
from octsr.utils.atomic import atomic_path

log = logging.getLogger(__name__)


def read_tiff_volume(path: Path) -> Volume:
    """The B-scan pages of a multi-page TIFF (`bscan_pages`), with the spacing octsr recorded."""
    return Volume(read_pages(path, keep=list(bscan_pages(path))), recorded_spacing(path), path, "tiff")


def count_tiff_bscans(path: Path) -> int | None:
    """The B-scans `read_tiff_volume` would give, from the page headers; None where a page is
    not plain gray (colour pages are read to be folded to gray)."""
    pages = bscan_pages(path)
    return len(pages) if all(page.ndim == 2 for page in pages.values()) else None


# NewSubfileType bits of a page that is not the image itself: 1 a reduced-resolution copy (a
# thumbnail), 4 a transparency mask (TIFF 6.0, p. 36).
NOT_THE_IMAGE = {1: "marked reduced-resolution", 4: "marked a mask"}


def bscan_pages(path: Path) -> dict[int, Any]:
    """The pages of a TIFF volume that are its B-scans (tifffile's page headers, by page
    index): the full-resolution pages of the size most of them share. Scanners export a
    localizer or a thumbnail beside the B-scans; such pages are left out with a note naming
    them, never reshaped. Where no size holds more than half the full-resolution pages, which
    pages are the B-scans would be a guess: DataError."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            pages = dict(enumerate(tif.pages))
    except Exception as err:  # tifffile raises many types for a damaged file
        raise DataError(f"{path}: cannot read TIFF ({err})") from err
    size = _bscan_size(path, Counter(_page_size(page) for page in pages.values() if not _not_the_image(page)))
    bscans = {k: page for k, page in pages.items() if not _not_the_image(page) and _page_size(page) == size}
    if len(bscans) < len(pages):
        left = len(pages) - len(bscans)
        note_once(log, f"{path}: left out {left} of its {len(pages)} pages as not B-scans of this volume (its "
                   f"{len(bscans)} B-scans are {size[0]}x{size[1]}): page{'s' * (left > 1)} "
                   f"{_left_out_text(pages, bscans)}")
    return bscans


def _bscan_size(path: Path, sizes: Counter) -> tuple[int, int]:
    """The size (rows, columns) of more than half the full-resolution pages; DataError where
    no size is."""
    if not sizes:
        raise DataError(f"{path}: every page is marked a reduced-resolution copy or a mask (TIFF NewSubfileType); "
                        f"no B-scans")
    size, count = sizes.most_common(1)[0]
    if 2 * count <= sum(sizes.values()):
        raise DataError(f"{path}: its pages are {_sizes_text(sizes)} (rows x columns) and no size holds most of "
                        f"them, so which are the volume's B-scans is unclear; save its B-scans alone, of one "
                        f"size, as a multi-page TIFF")
    return size


def _page_size(page) -> tuple[int, int]:
    return page.imagelength, page.imagewidth


def _not_the_image(page) -> str:
    """Why a page is not the image itself by its own marks, or '' where it is: NewSubfileType,
    or the older SubfileType tag (255), whose 2 marks a reduced-resolution copy."""
    marks = [why for bit, why in NOT_THE_IMAGE.items() if page.subfiletype & bit]
    return " and ".join(marks) or ("marked reduced-resolution" if page.tags.valueof(255) == 2 else "")


def _sizes_text(sizes: Counter) -> str:
    return ", ".join(f"{count} of {h}x{w}" for (h, w), count in sizes.most_common())


def _left_out_text(pages: dict[int, Any], bscans: dict[int, Any]) -> str:
    """'1 (96x96), 7 (marked reduced-resolution)': the pages left out, counted from 1."""
    left = [f"{k + 1} ({_not_the_image(page) or '{}x{}'.format(*_page_size(page))})"
            for k, page in pages.items() if k not in bscans]
    return ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")


def recorded_spacing(path: Path) -> Spacing:
    """The spacing `write_tiff_volume` recorded in the TIFF's description, else unknown."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            recorded = (tif.shaped_metadata or [{}])[0].get("spacing_mm") or {}
    except Exception:
        return UNKNOWN_SPACING
    values = [recorded.get(key) for key in ("across", "down", "between")]
    return Spacing(*(float(v) if isinstance(v, (int, float)) else None for v in values))


def write_tiff_volume(target: Path, bscans: list[np.ndarray], spacing: Spacing) -> None:
    """B-scans as a multi-page TIFF with their spacing: across and down as the pages'
    resolution (pixels per centimetre) where known, and all three in millimetres in the
    description (`read_tiff_volume` reads them back). Written to a temporary name and renamed."""
    import tifffile

    stack = np.stack(bscans)
    resolution = ({"resolution": (10 / spacing.across_mm, 10 / spacing.down_mm), "resolutionunit": "CENTIMETER"}
                  if spacing.across_mm and spacing.down_mm else {})
    recorded = {"across": spacing.across_mm, "down": spacing.down_mm, "between": spacing.between_mm}
    with atomic_path(target) as tmp:
        tifffile.imwrite(tmp, stack, photometric="minisblack", metadata={"spacing_mm": recorded}, **resolution)
