"""Heidelberg Engineering's files, through eyepy (the `scanners` extra): .vol files, the XML
exports of HEYEX (the B-scans are the TIFFs beside the XML), and .e2e files.

An .e2e file is HEYEX's own export: a database-like file of folders for patients, studies
and series. An OCT series holds one folder per B-scan with its pixels (linear intensity,
stored as an unsigned 16-bit float) and its metadata: the B-scan's start and end on the
fundus in degrees of scan angle, and the millimetres per pixel down its A-scans. Several
series, and series that are not OCT volumes (a fundus photograph, a circle scan), may share
one file.

Read here: the first series of B-scans that eyepy reads as a volume, as grey levels on
eyepy's log display of the linear values (the law octsr calls "log"), with its spacing and
who and which eye it is. The spacing across a B-scan and between B-scans is stated as angles,
turned into millimetres with HEYEX's medium eye (289.6 microns per degree, as eyepy does); for
a scan taken with another eye-length setting they are off by that setting's ratio.

Tested on files built from eyepy's own definitions of the format
(tests/vendor_files/heidelberg_e2e.py), not on scans from a device: no device's .e2e file is
in the repository.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from octsr.errors import ConfigError, DataError
from octsr.formats.images import TIFF_SUFFIXES
from octsr.formats.volume import Spacing, Volume, dicom_date, note_once, one_line, vendor_metadata
from octsr.utils.extras import require

HEIDELBERG_SUFFIXES = {".vol": "Heidelberg .vol", ".xml": "Heidelberg XML export", ".e2e": "Heidelberg .e2e"}


def is_heidelberg_export(path: Path) -> bool:
    """An XML file that a Heidelberg export wrote (root element HEDX); its folder's TIFFs are
    the B-scans it lists, not images of their own."""
    if path.suffix.lower() != ".xml" or not path.is_file():
        return False
    with path.open("rb") as f:
        return b"<HEDX" in f.read(4096)



def heidelberg_exports(folder: Path) -> list[Path]:
    """The XML files of the Heidelberg exports in `folder`."""
    return sorted(filter(is_heidelberg_export, folder.glob("*.xml")))


def in_heidelberg_export(path: Path) -> bool:
    """A TIFF beside a Heidelberg export's XML: one of the export's B-scans, not a volume or
    an image of its own."""
    return path.suffix.lower() in TIFF_SUFFIXES and bool(heidelberg_exports(path.parent))


def read_heidelberg(path: Path) -> Volume:
    """A Heidelberg .vol file, the XML file of a Heidelberg export (its B-scans are the
    TIFFs beside it), or an .e2e file (`read_e2e`), through eyepy: B-scans, spacing and
    laterality."""
    if path.suffix.lower() == ".e2e":
        return read_e2e(path)
    require("eyepy", "scanners", f"reading {HEIDELBERG_SUFFIXES[path.suffix.lower()]} files")
    import logging

    import eyepy

    logging.getLogger("eyepy").setLevel(logging.ERROR)  # its notes on layer names are not ours
    try:
        if path.suffix.lower() == ".vol":
            volume = eyepy.import_heyex_vol(path)
        else:
            volume = eyepy.import_heyex_xml(path.parent)
        scans = np.asarray(volume.data)
    except Exception as err:  # eyepy raises many types for a damaged or foreign file
        raise DataError(f"{path}: not a readable {HEIDELBERG_SUFFIXES[path.suffix.lower()]} ({one_line(err)})") from err
    if scans.ndim != 3 or scans.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{path}: B-scans of shape {scans.shape} and type {scans.dtype}; octsr reads "
                        f"8- or 16-bit volumes")

    def positive(value) -> float | None:
        return float(value) if value is not None and float(value) > 0 else None

    spacing = Spacing(positive(volume.scale_x), positive(volume.scale_y),
                      positive(volume.scale_z) if len(scans) > 1 else None)
    # eyepy hands a .vol's linear floats over as log-compressed grey (its from_vol_intensity);
    # an XML export's B-scans are images whose law the export does not state.
    law = "log" if path.suffix.lower() == ".vol" else None
    return Volume(scans, spacing, path, "heidelberg", vendor_metadata(volume), intensity=law)


log = logging.getLogger(__name__)

FORMAT = "Heidelberg .e2e"
MAGIC = b"CMDb"  # how every HEYEX file begins (LibE2E checks it; eyepy reads past it)
# Scan patterns (as in .vol files) whose B-scans are not a stack that eyepy's EyeVolume takes.
NOT_A_VOLUME = {2: "a circle scan", 5: "a star (radial) scan"}
# HEYEX's millimetres per degree of scan angle for its medium eye length (eyepy 0.21's
# MEDIUM_EYE_LENGTH_UM_PER_DEG, which reproduces HEYEX's own "Scaling X"). Kept here: eyepy
# 0.19 and older have no such name, while the raw positions read here are degrees in all.
MM_PER_DEGREE = 0.2896
# eyepy's names of its intensity transforms -> the law of the values they give (octsr.data.intensity)
LAWS = {"e2e": "log", "vol": "log"}


def read_e2e(path: Path) -> Volume:
    """The first OCT volume in a Heidelberg .e2e file: its B-scans (uint8, eyepy's log
    display), spacing (millimetres) and identifying metadata under DICOM keywords. Other
    series are left out with a note. DataError, in one line naming the file, where eyepy
    cannot read it or it holds no volume."""
    feature = "reading Heidelberg .e2e files"
    require("eyepy", "scanners", feature)
    try:
        from eyepy.io.he import HeE2eReader
    except ImportError as err:  # eyepy imports scikit-image, imageio and more at once
        raise ConfigError(f"{feature} needs the 'scanners' extra: eyepy is installed but cannot be imported "
                          f"({one_line(err)}); pip install 'octsr[scanners]'") from err

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open("rb") as f:
        start = f.read(len(MAGIC))
    if start != MAGIC:  # eyepy would parse any bytes as an empty index and say only that no series is there
        raise DataError(f"{path}: not a {FORMAT} file (it does not begin with {MAGIC.decode()})")
    try:
        with HeE2eReader(path) as reader:
            series, meta, raw, left_out = _first_volume(reader)
        if series is not None:
            scans, law = _display(meta["intensity_transform"], raw)
            volume = Volume(scans, _spacing(meta["bscan_meta"]), path, "heidelberg", _metadata(meta), intensity=law)
    except Exception as err:  # construct and eyepy raise many types for a damaged or foreign file
        raise DataError(f"{path}: not a readable {FORMAT} file ({one_line(err)})") from err
    if series is None:
        why = "; ".join(f"series {sid}: {reason}" for sid, reason in left_out.items()) or "it holds no series; it may be truncated"
        raise DataError(f"{path}: no OCT volume that eyepy reads in this {FORMAT} file ({why})")
    if left_out:
        note_once(log, f"{path}: read series {series.id} ({len(raw)} B-scans); left out "
                   + ", ".join(f"series {sid} ({reason})" for sid, reason in left_out.items()))
    if volume.bscans.ndim != 3 or volume.bscans.dtype not in (np.uint8, np.uint16):
        raise DataError(f"{path}: B-scans of shape {volume.bscans.shape} and type {volume.bscans.dtype}; octsr "
                        f"reads 8- or 16-bit volumes")
    return volume


def _first_volume(reader) -> tuple[Any, Any, np.ndarray | None, dict[int, str]]:
    """The first series eyepy reads as a volume, its eyepy metadata and its B-scans as stored
    (linear float32), and why each other series was left out (by series id).

    Read through the series rather than eyepy's `get_volume`: that also needs a localizer
    image and a layer folder in every B-scan (eyepy 0.21), neither of which the B-scans need."""
    chosen, left_out = (None, None, None), {}
    for series in reader.series:
        if chosen[0] is not None or not series.n_bscans:
            left_out[series.id] = f"{series.n_bscans} B-scans" if series.n_bscans else "no B-scans"
            continue
        try:
            meta = series.get_meta()
            pattern = meta["bscan_meta"][0]["scan_pattern"]
            if pattern in NOT_A_VOLUME:
                left_out[series.id] = NOT_A_VOLUME[pattern]
                continue
            chosen = (series, meta, series.get_bscans())
        except Exception as err:  # one unreadable series leaves the others readable
            left_out[series.id] = f"unreadable: {one_line(err)}"
    return (*chosen, left_out)


def _display(transform: str, raw: np.ndarray) -> tuple[np.ndarray, str | None]:
    """The B-scans as eyepy hands them over (its EyeVolume.data applies this same named
    transform), and the law of the values that gives."""
    from eyepy.core.utils import intensity_transforms

    return np.asarray(intensity_transforms[transform](raw)), LAWS.get(transform)


def _spacing(bscan_meta: list) -> Spacing:
    """Millimetres per pixel from the B-scans' own metadata as the file stores it: eyepy's
    volume scale for an .e2e file is 1 pixel, a placeholder. Down: the stated millimetres per
    row. Across: the first B-scan's length in degrees over the A-scans it spans. Between: the
    mean distance between neighbouring B-scans' centres, in the order they were taken."""
    bscan_meta = sorted(bscan_meta, key=lambda m: m["aktImage"])
    first = bscan_meta[0]
    columns = first["imgSizeWidth"] or first["size_x"]  # A-scans that span the angle; HEYEX may pad the ends
    length = math.dist((first["start_x"], first["start_y"]), (first["end_x"], first["end_y"]))
    centres = [((m["start_x"] + m["end_x"]) / 2, (m["start_y"] + m["end_y"]) / 2) for m in bscan_meta]
    steps = [math.dist(a, b) for a, b in zip(centres, centres[1:])]
    between = float(np.mean(steps)) * MM_PER_DEGREE if steps else None
    return Spacing(_positive(length * MM_PER_DEGREE / columns), _positive(first["scale_y"]), _positive(between))


def _positive(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) and value > 0 else None


def _metadata(meta) -> dict[str, str]:
    """Eye, patient and visit under DICOM keywords ("OD"/"OS", as octsr's .vol reading gives
    it); only what the file holds."""
    heyex = (meta.get("e2e_metadata") or {}).get("heyex") or {}
    patient, container = heyex.get("Patient") or {}, heyex.get("Container") or {}
    name = "^".join(str(patient.get(k) or "") for k in ("Surname", "First Name")).strip("^")
    sex = str(patient.get("Sex") or "").upper()
    found = {"Laterality": _laterality(meta.get("laterality")), "PatientName": name,
             "PatientID": str(patient.get("Patient ID") or ""), "PatientSex": sex if sex in ("M", "F", "O") else "",
             "StudyDate": dicom_date(container.get("Series Date"))}
    return {key: value for key, value in found.items() if value}


def _laterality(value: Any) -> str:
    """'OD'/'OS' from eyepy's laterality of an .e2e series, '' if neither: eyepy hands over
    str() of the file's ASCII code as an IntEnum, which Python 3.11 writes as the number ('82'
    for 'R') and older Pythons as the member ('LateralityEnum.OD')."""
    text = str(value or "")
    letter = chr(int(text)) if text.isdigit() and int(text) < 128 else text.rsplit(".", 1)[-1]
    return {"R": "OD", "L": "OS", "OD": "OD", "OS": "OS"}.get(letter.upper(), "")


