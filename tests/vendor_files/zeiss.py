"""Zeiss Cirrus .img files: the raw bytes of a cube with its dimensions in the file's name.

The format has no header and no Struct in any reader; its layout is what the published
readers agree on (AURA's octCirrusReader, retimat's read_img, the Python readers of Cirrus
preprocessing code): B-scan after B-scan, each as rows of A-scan samples, deepest row first
and A-scans in reverse, i.e. the B-scan as shown turned by 180 degrees. The name is the one
the Cirrus export writes, whose grid octsr and those readers take the dimensions from.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np


def img_name(ascans: int, bscans: int, *, pattern: str = "Macular Cube", patient_id: str = "P1234",
             acquired: datetime = datetime(2011, 7, 25, 14, 35, 58), eye: str = "OD", serial: str = "12345") -> str:
    """`P1234_Macular Cube 512x128_7-25-2011_14-35-58_OD_sn12345_cube_z.img` (month and day
    unpadded, as Cirrus writes them)."""
    when = f"{acquired.month}-{acquired.day}-{acquired.year}_{acquired.hour}-{acquired.minute}-{acquired.second}"
    prefix = f"{patient_id}_" if patient_id else ""
    return f"{prefix}{pattern} {ascans}x{bscans}_{when}_{eye}_sn{serial}_cube_z.img"


def write_img(folder: Path, bscans: np.ndarray, **naming) -> Path:
    """`bscans` ((B-scans, depth, A-scans), uint8, as shown: row 0 the top of the scan) as a
    Cirrus .img file in `folder`, named by `img_name` (keywords as it takes them)."""
    bscans = np.asarray(bscans, np.uint8)
    count, depth, ascans = bscans.shape
    path = folder / img_name(ascans, count, **naming)
    path.write_bytes(np.ascontiguousarray(bscans[:, ::-1, ::-1]).tobytes())
    return path


def write_sparse_img(folder: Path, ascans: int, bscans: int, depth: int, marks: dict[tuple[int, int, int], int],
                     **naming) -> Path:
    """A full-size Cirrus cube (e.g. 512x128x1024, 64 MiB) as a sparse file: zeros but for
    `marks` ((B-scan, row, column) as shown -> grey), so a test can read a real grid's size
    without writing it."""
    path = folder / img_name(ascans, bscans, **naming)
    with path.open("wb") as f:
        f.truncate(ascans * bscans * depth)
        for (k, row, column), value in marks.items():
            f.seek(k * depth * ascans + (depth - 1 - row) * ascans + (ascans - 1 - column))
            f.write(bytes([value]))
    return path
