"""The file formats octsr reads volumes from and writes them to, one module per family:
images and their pages (`images`), multi-page TIFF volumes (`tiff`), DICOM Ophthalmic
Tomography (`dicom`, with `deidentify`), Heidelberg .vol, .e2e and XML exports
(`heidelberg`), Topcon .fda and .fds (`topcon`), Zeiss Cirrus .img (`zeiss`); each hands a
`Volume` over (`volume`).

`FORMATS` lists them; `format_of` chooses a file's format once (DICOM by its content, any
suffix; the rest by suffix), and `read_volume` reads it: enhance, training on volumes and
evaluate all go through it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from octsr.errors import DataError
from octsr.formats.dicom import OPT_STORAGE, is_dicom, read_dicom
from octsr.formats.heidelberg import is_heidelberg_export, read_heidelberg
from octsr.formats.tiff import count_tiff_bscans, read_tiff_volume, recorded_spacing
from octsr.formats.topcon import read_topcon
from octsr.formats.volume import Spacing, Volume
from octsr.formats.zeiss import read_img


@dataclass(frozen=True)
class Format:
    """A family of volume files: what messages call it, its suffixes, its reader, and the
    extra that installs the library it reads through (None: octsr's own dependencies)."""

    name: str
    description: str
    suffixes: tuple[str, ...]
    read: Callable[[Path], Volume]
    extra: str | None = None


FORMATS = (
    Format("dicom", "DICOM Ophthalmic Tomography", (".dcm", ".dicom"), read_dicom),
    Format("tiff", "multi-page TIFF", (".tif", ".tiff"), read_tiff_volume),
    Format("heidelberg", "Heidelberg .vol, .e2e or XML export", (".vol", ".e2e", ".xml"), read_heidelberg, "scanners"),
    Format("topcon", "Topcon .fda or .fds", (".fda", ".fds"), read_topcon, "scanners"),
    Format("zeiss", "Zeiss Cirrus .img", (".img",), read_img, "scanners"),
)
BY_NAME = {fmt.name: fmt for fmt in FORMATS}
VOLUME_SUFFIXES = tuple(suffix for fmt in FORMATS for suffix in fmt.suffixes)
VENDOR_FORMATS = tuple(fmt for fmt in FORMATS if fmt.extra)  # the scanner makers' own files
# What a file of no known format is told it could have been.
KNOWN = ", ".join(fmt.description for fmt in FORMATS)


def format_of(path: Path) -> Format | None:
    """The format a file is read as, decided once: DICOM by its content whatever its name (PACS
    exports are often named by UIDs), an XML file only where a Heidelberg export wrote it,
    anything else by its suffix; None for a file of no volume format (a PNG is an image)."""
    if is_dicom(path):
        return BY_NAME["dicom"]
    suffix = path.suffix.lower()
    if suffix == ".xml" and not is_heidelberg_export(path):
        return None
    return next((fmt for fmt in FORMATS if suffix in fmt.suffixes), None)


def read_volume(path: str | Path) -> Volume:
    """The volume in `path`, read by its format (`format_of`). DataError, in one line naming
    the file, for a missing file or one of no format octsr reads."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    fmt = format_of(path)
    if fmt is None:
        raise DataError(f"{path}: not a volume octsr reads ({KNOWN})")
    return fmt.read(path)


def count_bscans(path: str | Path) -> int:
    """How many B-scans `read_volume(path)` would give, from the file's header where it has
    one (DICOM's NumberOfFrames, a TIFF's plain gray B-scan pages), so listing a folder of
    volumes decodes no pixels; other files are read."""
    import pydicom

    path = Path(path)
    fmt = format_of(path) if path.is_file() else None
    if fmt is BY_NAME["dicom"]:
        try:
            header = pydicom.dcmread(path, stop_before_pixels=True)
            if str(header.get("SOPClassUID", "")) == OPT_STORAGE:
                return int(header.get("NumberOfFrames") or 1)
        except Exception:
            pass  # read_volume says what is wrong with it
    elif fmt is BY_NAME["tiff"]:
        count = count_tiff_bscans(path)
        if count is not None:
            return count
    return len(read_volume(path).bscans)


def stated_spacing(path: Path) -> Spacing:
    """The spacing a volume file states, read from its header alone where it has one (a
    TIFF octsr wrote); other files are read whole."""
    if format_of(path) is BY_NAME["tiff"]:
        return recorded_spacing(path)
    return read_volume(path).spacing
