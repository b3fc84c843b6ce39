"""Zeiss Cirrus raw exports (`.img`), read through OCT-Converter (the `scanners` extra).

A Cirrus .img file is the bytes of a cube scan and nothing else: 8-bit grey, no header. What
it holds is in its name, which the Cirrus export writes as
`<patient ID>_<scan pattern> <A-scans>x<B-scans>_<m-d-yyyy>_<h-m-s>_<OD|OS>_sn<serial>_cube_z.img`
(e.g. `P1234_Macular Cube 512x128_7-25-2011_14-35-58_OD_sn12345_cube_z.img`): the number of
A-scans per B-scan and of B-scans come from the name, the depth (1024 on a Cirrus) from the
file's size. A renamed file cannot be read.

These readers are tested on small files built in the layout the published readers agree on
(tests/vendor_files/zeiss.py), which OCT-Converter's reader reads back; not on scans from a
device.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from octsr.formats.volume import Spacing, Volume, one_line, vendor_metadata
from octsr.errors import ConfigError, DataError
from octsr.utils.extras import require

# The scan patterns whose size Zeiss states (Cirrus HD-OCT user manual and specifications):
# each cube covers 6 x 6 mm, and every Cirrus A-scan is 1024 samples over 2.0 mm of depth.
# Keyed by pattern and grid, since a grid of another size is another scan.
CUBE_MM = {("macular cube", 512, 128): (6.0, 6.0), ("macular cube", 200, 200): (6.0, 6.0),
           ("optic disc cube", 200, 200): (6.0, 6.0)}
DEPTH_SAMPLES, DEPTH_MM = 1024, 2.0

# The scan pattern and its grid, the one field of the name with "<A-scans>x<B-scans>" in it.
_PATTERN = re.compile(r"(?:^|_)(?P<pattern>[A-Za-z][A-Za-z ]*?) (?P<ascans>\d+)x(?P<bscans>\d+)(?=_|$)")
_WHEN = re.compile(r"_(?P<m>\d{1,2})-(?P<d>\d{1,2})-(?P<y>\d{4})_(?P<H>\d{1,2})-(?P<M>\d{1,2})-(?P<S>\d{1,2})(?=_|$)")
_EYE = re.compile(r"_(?P<eye>OD|OS)(?=_|$)")


@dataclass(frozen=True)
class CirrusName:
    """What a Cirrus export's file name states."""

    pattern: str
    ascans: int
    bscans: int
    patient_id: str
    acquired: datetime | None
    eye: str | None  # "OD" or "OS"


def read_img(path: str | Path) -> Volume:
    """A Zeiss Cirrus .img cube: B-scans (depth down from the vitreous, A-scans across),
    spacing from the scan pattern the name states where Zeiss gives that pattern's size (else
    unknown), and the patient ID, eye and date the name holds.

    Orientation: the file holds each B-scan as rows of A-scan samples with the deepest row
    first and the A-scans in reverse (rotated by 180 degrees against the way it is shown);
    AURA's octCirrusReader, retimat's read_img and the Python readers published with Cirrus
    preprocessing code all turn it back that way, and so does this reader: row 0 is the top
    of the scan (the vitreous, retina surface near the top), as every other format octsr reads.
    OCT-Converter's `IMG` reader, which reads the bytes here, turns nothing: called with the
    true A-scan count and depth it hands over each B-scan transposed and rotated (A-scans down,
    depth across), which is undone here. The B-scans stay in file order (AURA and retimat
    reverse that order as well; the others do not)."""
    path = Path(path)
    require("oct_converter", "scanners", "reading Zeiss .img files")
    try:
        from oct_converter.readers.img import IMG
    except ImportError as err:  # the package imports every reader, h5py's included
        raise ConfigError(f"reading Zeiss .img files needs the 'scanners' extra: OCT-Converter is installed but "
                          f"cannot be imported ({one_line(err)}); pip install 'octsr[scanners]'") from err
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    name = cirrus_name(path)
    size = path.stat().st_size
    depth, left = divmod(size, name.ascans * name.bscans)
    if left or not depth:
        raise DataError(f"{path}: {size} bytes are not {name.bscans} B-scans of {name.ascans} A-scans (as its name "
                        f"'{name.pattern} {name.ascans}x{name.bscans}' states) of one depth; the file may be "
                        f"truncated, or renamed from another scan")
    try:
        stored = IMG(path).read_oct_volume(rows=name.ascans, cols=depth).volume
    except Exception as err:  # numpy on a file that changed under it, the name's date in an impossible month
        raise DataError(f"{path}: not a readable Zeiss .img file ({one_line(err)})") from err
    if len(stored) != name.bscans:
        raise DataError(f"{path}: {len(stored)} B-scans read where its name states {name.bscans}")
    # Each (A-scans, depth) slice transposed to (depth, A-scans), then turned by 180 degrees.
    scans = np.ascontiguousarray(np.stack([scan.T[::-1, ::-1] for scan in stored]), dtype=np.uint8)
    meta = SimpleNamespace(laterality=name.eye, meta={"patient": {"patient_id": name.patient_id},
                                                      "visit_date": name.acquired.isoformat() if name.acquired else ""})
    metadata: dict[str, Any] = {"Manufacturer": "Carl Zeiss Meditec", **vendor_metadata(meta)}
    # 8-bit display grey, log-compressed as OCT displays are (octsr.data.intensity: Cirrus
    # exports are log-like); the file carries nothing else.
    return Volume(scans, _spacing(name, depth), path, "zeiss", metadata, intensity="log")


def cirrus_name(path: Path) -> CirrusName:
    """The fields of a Cirrus export's file name; DataError where it states no scan grid."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    if re.search(r"_hidef(?:_|$)", stem, re.IGNORECASE):
        raise DataError(f"{path}: a Cirrus HD cross-hair ('hidef') file: its two B-scans are not the grid its name "
                        f"states; octsr reads Cirrus cube files (..._cube_z.img)")
    grid = _PATTERN.search(stem)
    if not grid:
        raise DataError(f"{path}: its name states no scan pattern such as 'Macular Cube 512x128'; a Zeiss .img file "
                        f"has no header, so its dimensions come from the name the Cirrus export gave it")
    ascans, bscans = int(grid["ascans"]), int(grid["bscans"])
    if not ascans or not bscans:
        raise DataError(f"{path}: its name states a scan grid of {ascans}x{bscans}")
    when = _WHEN.search(stem, grid.end())
    eye = _EYE.search(stem, grid.end())
    try:
        acquired = datetime(*(int(when[k]) for k in "ymdHMS")) if when else None
    except ValueError:
        acquired = None  # digits in the date's place that are no date: stated nowhere else
    return CirrusName(grid["pattern"].strip(), ascans, bscans, stem[: grid.start()], acquired,
                      eye["eye"] if eye else None)


def _spacing(name: CirrusName, depth: int) -> Spacing:
    """The pattern's stated size over its A-scans and B-scans (the count of samples, as the
    Topcon reader and OCT-Converter's DICOM export divide; AURA divides by one less), and
    2.0 mm over the 1024 samples of a Cirrus cube's A-scan; unknown for a pattern whose size
    Zeiss does not fix (line rasters, anterior segment scans), and down a file whose depth is
    not 1024 samples."""
    size = CUBE_MM.get((name.pattern.lower(), name.ascans, name.bscans))
    if size is None:
        return Spacing(None, None, None)
    width_mm, length_mm = size
    return Spacing(width_mm / name.ascans, DEPTH_MM / depth if depth == DEPTH_SAMPLES else None,
                   length_mm / name.bscans)
