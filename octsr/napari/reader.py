"""napari's reader contribution: each volume format octsr reads (`octsr.formats`), opened as
one image layer of (B-scans, rows, columns) in its physical scale."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from octsr.errors import DataError
from octsr.formats import format_of, read_volume
from octsr.napari.record import METADATA_KEY, VolumeRecord

LayerData = tuple[np.ndarray, dict[str, Any], str]


def get_reader(path: str | list[str]) -> Callable[[str | list[str]], list[LayerData]] | None:
    """`read_layers` when every path is a volume octsr reads (`format_of`), else None, so
    napari offers the file to its other readers."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or not all(Path(p).is_file() and format_of(Path(p)) is not None for p in paths):
        return None
    return read_layers


def read_layers(path: str | list[str]) -> list[LayerData]:
    """One image layer per volume file, named after the file, scaled in millimetres where the
    file states its spacing (pixels on an axis where it does not), shown over the file's
    stored range, with its `VolumeRecord` in the metadata."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    return [volume_layer(Path(p)) for p in paths]


def volume_layer(path: Path) -> LayerData:
    volume = read_volume(path)
    shapes = {scan.shape for scan in volume.bscans}
    if len(shapes) != 1:
        raise DataError(f"{path}: B-scans of {len(shapes)} sizes ({', '.join(sorted(map(str, shapes)))}); "
                        f"a napari layer holds B-scans of one size")
    data = volume.bscans if isinstance(volume.bscans, np.ndarray) else np.stack(volume.bscans)
    record = VolumeRecord.of(volume)
    peak = volume.max_value or (np.iinfo(data.dtype).max if np.issubdtype(data.dtype, np.integer) else 1.0)
    kwargs = {"name": path.stem, "scale": record.scale(), "units": record.units(),
              "contrast_limits": (0, peak), "colormap": "gray", "metadata": {METADATA_KEY: record}}
    return data, kwargs, "image"
