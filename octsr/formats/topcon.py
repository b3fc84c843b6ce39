"""Topcon's own OCT files, read through OCT-Converter (the `scanners` extra).

A Topcon file (`.fda` from the 3D OCT-1000/2000 and Maestro, `.fds` from the 3D OCT-1000
Mark II that the UK Biobank used) is a 15-byte header ("FOCT", the fixation, two version
words) and a list of named chunks, each a length-prefixed name, a 32-bit size and its data.
The B-scans are in `@IMG_JPEG` (an .fda's 8-bit slices, each a JPEG 2000 codestream),
`@IMG_MOT_COMP_03` (an .fda's 16-bit raw volume) or `@IMG_SCAN_03` (an .fds's 16-bit raw
volume); the scan's size in millimetres and the axial resolution in micrometres are in
`@PARAM_SCAN_04` (or `_02`), the patient in `@PATIENT_INFO_02` and the eye and date in
`@CAPTURE_INFO_02`. The layout was reverse-engineered (uocte's wiki, then OCT-Converter):
no vendor specification stands behind it.

These readers are tested on small files built from OCT-Converter's own format definitions
(its `construct` Structs, tests/vendor_files/topcon.py), which OCT-Converter's and eyepy's
readers read back the same; not on scans from a device.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Iterator

import numpy as np

from octsr.formats.volume import Spacing, Volume, one_line, vendor_metadata
from octsr.errors import ConfigError, DataError
from octsr.utils.extras import require

log = logging.getLogger(__name__)

MAGIC = b"FOCT"
SEX = {1: "M", 2: "F", 3: "O"}  # @PATIENT_INFO_02's sex, as OCT-Converter maps it
EYE = {0: "OD", 1: "OS"}  # @CAPTURE_INFO's eye: 0 right, 1 left (OCT-Converter, retimat)


def read_topcon(path: Path) -> Volume:
    """A Topcon .fda or .fds file, by its suffix (`read_fda`, `read_fds`)."""
    return read_fds(path) if path.suffix.lower() == ".fds" else read_fda(path)


def read_fda(path: str | Path) -> Volume:
    """A Topcon .fda file: its B-scans as OCT-Converter decodes them (the JPEG 2000 slices of
    `@IMG_JPEG` where the file has them, else the 16-bit `@IMG_MOT_COMP_03` volume), the
    spacing its `@PARAM_SCAN` chunk states, and patient, eye and visit.

    eyepy 0.21 has a .fda reader too (`import_topcon_fda`), but it is a wrapper around the
    same OCT-Converter class that also requires a fundus photograph and `@REGIST_INFO`,
    divides by zero on a one-B-scan line scan, and drops the patient and the eye; it is
    therefore not used here."""
    path = Path(path)
    fda = _reader_module("fda")

    def pixels(reader) -> tuple[list[np.ndarray], dict, str | None]:
        if b"@IMG_JPEG" not in reader.chunk_dict and b"@IMG_MOT_COMP_03" not in reader.chunk_dict:
            raise DataError(f"{path}: a Topcon file without B-scans (no @IMG_JPEG or @IMG_MOT_COMP_03 chunk)")
        with legacy_fromstring(fda):
            scans, header = reader.read_oct_data_chunk()
        # The JPEG 2000 slices are the 8-bit images the device displays, log-compressed as
        # every OCT display is; no reader states a law for the raw 16-bit volume.
        return scans, header, "log" if b"@IMG_JPEG" in reader.chunk_dict else None

    return _read_topcon(path, fda, fda.FDA, fda.fda_binary, pixels)


def read_fds(path: str | Path) -> Volume:
    """A Topcon .fds file: its 16-bit `@IMG_SCAN_03` volume laid out as OCT-Converter reads
    it, the spacing its `@PARAM_SCAN` chunk states, and patient, eye and visit."""
    path = Path(path)
    fds = _reader_module("fds")

    def pixels(reader) -> tuple[np.ndarray, Any, str | None]:
        # OCT-Converter decodes an .fds's pixels only inside read_oct_volume, which also parses
        # every other chunk (each from its start to the end of the file) and fails on a file
        # without @CAPTURE_INFO; the chunk is decoded here as that method decodes it, through
        # the header Struct it uses (tests/test_topcon_zeiss.py holds the two to the same pixels).
        location, size = _chunk_place(reader, b"@IMG_SCAN_03", path)
        header_size = fds.fds_binary.oct_header.sizeof()
        with open(reader.filepath, "rb") as f:
            f.seek(location)
            header = fds.fds_binary.oct_header.parse(f.read(header_size))
            count = header.width * header.height * header.number_slices
            if header_size + 2 * count > size:
                raise DataError(f"{path}: its @IMG_SCAN_03 chunk holds {size} bytes, too few for the "
                                f"{header.number_slices} B-scans of {header.height}x{header.width} its header states")
            raw = f.read(2 * count)
        # Each B-scan's rows of `width` samples one after another, B-scan after B-scan: what
        # OCT-Converter's reshape (width, height, slices) in Fortran order and transpose give.
        scans = np.frombuffer(raw, "<u2").reshape(header.number_slices, header.height, header.width)
        return scans.astype(np.uint16), header, None  # a native-order, writable copy

    return _read_topcon(path, fds, fds.FDS, fds.fds_binary, pixels)


@contextmanager
def legacy_fromstring(*modules: ModuleType) -> Iterator[None]:
    """numpy's binary `fromstring` for the duration, inside `modules` alone.

    OCT-Converter 0.7's Topcon readers (oct_converter.readers.fda and .fds) read every chunk
    name length, chunk size and raw volume with `np.fromstring(bytes, dtype)`, whose binary
    mode numpy deprecated in 1.14 and removed in 2.3 (ValueError: "The binary mode of
    fromstring is removed, use frombuffer instead"), so their constructors fail on current
    numpy. octsr does not pin numpy below 2.3 (training and everything else run on current
    numpy) and does not replace `numpy.fromstring` for the process: the `np` name inside the
    given reader modules is pointed at a stand-in that is numpy in every other respect and
    whose `fromstring` does for bytes what numpy before 2.3 did (a copy of the bytes as an
    array, `frombuffer(...).copy()`), and is pointed back afterwards. A lock keeps two reads
    in two threads from restoring each other's stand-in early. Where a later OCT-Converter
    calls `frombuffer` itself, the stand-in is simply never asked for `fromstring`."""
    with _SHIM_LOCK:
        saved = [(module, module.np) for module in modules]
        for module in modules:
            module.np = _NUMPY_WITH_BINARY_FROMSTRING
        try:
            yield
        finally:
            for module, original in reversed(saved):
                module.np = original


class _NumpyWithBinaryFromstring:
    """numpy, but for `fromstring` on bytes (see legacy_fromstring)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(np, name)

    @staticmethod
    def fromstring(string, dtype=float, count=-1, *, sep="", **kwargs):
        if sep == "" and isinstance(string, (bytes, bytearray, memoryview)):
            return np.frombuffer(string, dtype=dtype, count=count).copy()
        return np.fromstring(string, dtype=dtype, count=count, sep=sep, **kwargs)


_NUMPY_WITH_BINARY_FROMSTRING = _NumpyWithBinaryFromstring()
_SHIM_LOCK = threading.RLock()


def _reader_module(kind: str) -> ModuleType:
    """oct_converter.readers.fda or .fds; a one-line ConfigError naming the extra where it
    cannot be imported (the package imports every reader, h5py's included)."""
    feature = f"reading Topcon .{kind} files"
    require("oct_converter", "scanners", feature)
    import importlib

    try:
        return importlib.import_module(f"oct_converter.readers.{kind}")
    except ImportError as err:
        raise ConfigError(f"{feature} needs the 'scanners' extra: OCT-Converter is installed but cannot be "
                          f"imported ({one_line(err)}); pip install 'octsr[scanners]'") from err


def _read_topcon(path: Path, module: ModuleType, reader_class, binary: ModuleType, pixels) -> Volume:
    kind = path.suffix.lower() or ".fda"
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open("rb") as f:
        start = f.read(len(MAGIC))
    if start != MAGIC:
        raise DataError(f"{path}: not a Topcon {kind} file (it does not begin with {MAGIC.decode()})")
    try:
        with legacy_fromstring(module):
            reader = reader_class(path)
    except Exception as err:  # construct, numpy and IndexError at the file's end: a cut or damaged chunk list
        raise DataError(f"{path}: cannot list the chunks of this Topcon {kind} file; it may be truncated or "
                        f"damaged ({one_line(err)})") from err
    try:
        scans, header, law = pixels(reader)
        scans = np.stack(scans) if isinstance(scans, list) else scans
    except DataError:
        raise
    except Exception as err:  # PIL on a damaged codestream, construct on a short header
        raise DataError(f"{path}: cannot decode the B-scans of this Topcon {kind} file ({one_line(err)})") from err
    if scans.ndim != 3 or scans.dtype not in (np.uint8, np.uint16) or not scans.size:
        raise DataError(f"{path}: B-scans of shape {scans.shape} and type {scans.dtype}; octsr reads 8- or "
                        f"16-bit grey volumes")
    return Volume(scans, _spacing(reader, header, len(scans), path), path, "topcon",
                  _metadata(reader, binary, path), intensity=law)


def _spacing(reader, header, count: int, path: Path) -> Spacing:
    """OCT-Converter's reading of @PARAM_SCAN_04 (else _02): the scan's width and length in mm
    over its A-scans and B-scans, and the axial resolution (µm per pixel) in mm; unknown
    where the file has no such chunk. OCT-Converter divides a size by the count of samples (as
    its DICOM export states it); eyepy's wrapper divides by one less, under 1% apart from 128
    samples on."""
    if b"@PARAM_SCAN_04" not in reader.chunk_dict and b"@PARAM_SCAN_02" not in reader.chunk_dict:
        return Spacing(None, None, None)
    try:
        across, between, down = reader.read_scan_params(header)
    except Exception as err:  # a cut or foreign @PARAM_SCAN chunk: the spacing stays unknown, the B-scans are fine
        log.warning("%s: its @PARAM_SCAN chunk does not read (%s); spacing unknown", path, one_line(err))
        return Spacing(None, None, None)

    def positive(value) -> float | None:
        value = float(value)
        return value if np.isfinite(value) and value > 0 else None

    return Spacing(positive(across), positive(down), positive(between) if count > 1 else None)


def _metadata(reader, binary: ModuleType, path: Path) -> dict[str, Any]:
    """Patient, eye, visit and device under DICOM keywords, from the chunks that hold them, each
    parsed alone with OCT-Converter's Struct for it; a chunk that does not parse is left out
    with a warning (the B-scans do not depend on it)."""
    patient = _parsed(reader, binary, path, b"@PATIENT_INFO_02")
    capture = _parsed(reader, binary, path, b"@CAPTURE_INFO_02") or _parsed(reader, binary, path, b"@CAPTURE_INFO")
    hardware = next(filter(None, (_parsed(reader, binary, path, f"@HW_INFO_0{n}".encode()) for n in (3, 2, 1))), {})
    eyepy_like = SimpleNamespace(laterality=EYE.get(capture.get("eye")), meta={
        "patient": {"lastname": patient.get("last_name"), "firstname": patient.get("first_name"),
                    "patient_id": patient.get("patient_id"), "dob": _iso(patient.get("birth_date"))},
        "visit_date": _iso(capture.get("cap_date")),
    })
    found = {"Manufacturer": "Topcon", **vendor_metadata(eyepy_like)}
    if patient.get("sex") in SEX:
        found["PatientSex"] = SEX[patient["sex"]]
    if hardware.get("model_name"):
        found["ManufacturerModelName"] = hardware["model_name"]
    return found


def _parsed(reader, binary: ModuleType, path: Path, name: bytes) -> dict[str, Any]:
    struct = getattr(binary, f"{name.decode().lstrip('@').lower()}_header", None)
    if name not in reader.chunk_dict or struct is None:
        return {}
    try:
        location, size = _chunk_place(reader, name, path)
        with open(reader.filepath, "rb") as f:
            f.seek(location)
            parsed = struct.parse(f.read(size))
    except Exception as err:  # construct on a short chunk, a name not in ASCII
        log.warning("%s: its %s chunk does not read (%s); left out", path, name.decode(), one_line(err))
        return {}
    return {key: (value.strip("\0 ") if isinstance(value, str) else value) for key, value in parsed.items()
            if not key.startswith("_")}


def _chunk_place(reader, name: bytes, path: Path) -> tuple[int, int]:
    """Where the (first) chunk `name` starts and its size, as Python ints (OCT-Converter keeps
    numpy uint32 sizes, which overflow in sums past 4 GiB under numpy 2's promotion)."""
    if name not in reader.chunk_dict:
        raise DataError(f"{path}: no {name.decode()} chunk")
    location, size = reader.chunk_dict[name]
    if isinstance(location, list):  # a chunk that occurs more than once
        location, size = location[0], size[0]
    return int(location), int(size)


def _iso(numbers) -> str:
    """(year, month, day[, hour, minute, second]) as ISO, '' where it is not a date (zeros)."""
    try:
        values = [int(n) for n in numbers]
        return (datetime(*values).isoformat() if len(values) == 6 else date(*values[:3]).isoformat())
    except (TypeError, ValueError):
        return ""
