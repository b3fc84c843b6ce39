"""napari's writer contribution: an image layer saved through octsr's own writers, a
multi-page TIFF with its spacing, or a derived DICOM of the volume it was read from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from octsr.errors import DataError
from octsr.formats import read_volume
from octsr.formats.dicom import DICOM_SUFFIXES, require_spacing, write_derived_dicom
from octsr.formats.images import TIFF_SUFFIXES
from octsr.formats.tiff import write_tiff_volume
from octsr.napari.record import VolumeRecord, record_of


def write_volume(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write one image layer to `path`: .tif/.tiff as a multi-page TIFF with the spacing of
    the volume it came from, .dcm/.dicom as a derived DICOM Ophthalmic Tomography object of
    the volume a denoised layer came from (its source file is read again for the header). Returns the paths written."""
    target = Path(path)
    bscans = np.asarray(data)
    bscans = bscans[None] if bscans.ndim == 2 else bscans
    record = record_of(meta.get("metadata")) or VolumeRecord(None)
    suffix = target.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        write_tiff_volume(target, list(bscans), record.spacing)
    elif suffix in DICOM_SUFFIXES:
        if record.source is None or record.restored_by is None:
            raise DataError(f"{target}: the DICOM octsr writes is a denoised volume derived from the file it was "
                            f"read from, and this layer is not one (denoise a volume octsr opened); save it as .tif")
        source = read_volume(record.source)
        if source.dataset is None:
            require_spacing(source)
        write_derived_dicom(source, bscans.astype(source.bscans[0].dtype, copy=False), target,
                            f"octsr denoised, weights {record.restored_by.name}")
    else:
        raise DataError(f"{target}: octsr writes .tif, .tiff, .dcm or .dicom")
    return [str(target)]
