"""Topcon .fda and .fds files in the layout OCT-Converter reads, each chunk's header built with
OCT-Converter's own `construct` Structs (oct_converter.readers.binary_structs.fda_binary and
fds_binary, after uocte's description of the format), filled with what a test asks for and
zeros elsewhere.

The file: a 15-byte header (`header`: "FOCT", the fixation "FDA", two version words), then
chunks, each the length of its name (u8), the name, its size (u32) and its data, then a zero
length that ends the list. The Structs are native-endian (Int32un); Topcon files are
little-endian, as is every machine these tests run on.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from construct import Array, FormatField, GreedyBytes, Int8ul, Int32sl, Int32ul, PascalString, Prefixed, Renamed, \
    StringEncoded, Struct
from oct_converter.readers.binary_structs import fda_binary, fds_binary

# One chunk as the readers walk the list (fda.py/fds.py get_list_of_file_chunks).
CHUNK = Struct("name" / PascalString(Int8ul, "latin-1"), "data" / Prefixed(Int32ul, GreedyBytes))
END = b"\x00"  # a chunk name of length 0: the end of the list


def write_fda(path: Path, bscans: np.ndarray, *, raw: bool = False, scan_mm: tuple[float, float] | None = (6.0, 6.0),
              axial_um: float = 2.6, patient_id: str = "TOP-042", first_name: str = "Ada", last_name: str = "Lovelace",
              sex: int = 2, birth: date | None = date(1950, 12, 10), eye: int = 0,
              captured: datetime = datetime(2021, 3, 4, 5, 6, 7), model: str = "3D OCT-2000",
              fundus: bool = True) -> Path:
    """An .fda file of `bscans` ((B-scans, rows, columns): uint8 as lossless JPEG 2000 slices
    in @IMG_JPEG, or with `raw` uint16 in @IMG_MOT_COMP_03), the scan's width and length in mm
    and axial µm per pixel in @PARAM_SCAN_04 (none where `scan_mm` is None), patient, eye
    (0 right, 1 left) and capture date; with `fundus`, a colour fundus photograph and the
    scan's place on it (@IMG_FUNDUS, @REGIST_INFO), which eyepy's import_topcon_fda needs."""
    bscans = np.asarray(bscans)
    count, height, width = bscans.shape
    chunks = [(b"@FDA_FILE_INFO", _built(fda_binary.fda_file_info_header, **{"0x2": 2, "0x3e8": 1000}))]
    chunks += _common(fda_binary, patient_id, first_name, last_name, sex, birth, eye, captured, model)
    if raw:
        chunks.append((b"@IMG_MOT_COMP_03", _built(fda_binary.oct_header_2, scan_mode=2, width=width, height=height,
                                                   bits_per_pixel=16, number_slices=count, format=0,
                                                   size=bscans.size * 2) + _raw16(bscans)))
    else:
        slices = b"".join(Int32sl.build(len(j2k)) + j2k for j2k in map(_j2k, bscans))
        chunks.append((b"@IMG_JPEG", _built(fda_binary.oct_header, scan_mode=2, width=width, height=height,
                                            number_slices=count, unknown3=0xA02) + slices))
    if scan_mm is not None:
        chunks.append((b"@PARAM_SCAN_04", _built(fda_binary.param_scan_04_header, x_dimension_mm=scan_mm[0],
                                                 y_dimension_mm=scan_mm[1], z_resolution_um=axial_um)))
    if fundus:
        photo = _j2k(np.random.default_rng(7).integers(0, 256, (40, 48, 3), dtype=np.uint8))
        chunks.append((b"@IMG_FUNDUS", _built(fda_binary.fundus_header, width=48, height=40, bits_per_pixel=24,
                                              number_slices=1, format="", size=len(photo)) + photo))
        chunks.append((b"@REGIST_INFO", _built(fda_binary.regist_info_header, version="8.0.1.20198",
                                               bounding_box_in_fundus_pixels=[4, 6, 44, 34])))
    return _write(path, chunks)


def write_fds(path: Path, bscans: np.ndarray, *, scan_mm: tuple[float, float] | None = (6.0, 6.0),
              axial_um: float = 3.5, patient_id: str = "UKB-7", first_name: str = "", last_name: str = "",
              sex: int = 1, birth: date | None = date(1944, 2, 29), eye: int = 1,
              captured: datetime = datetime(2010, 11, 12, 13, 14, 15), model: str = "3D OCT-1000") -> Path:
    """An .fds file of `bscans` ((B-scans, rows, columns), uint16) in @IMG_SCAN_03, with the
    same patient, capture and @PARAM_SCAN_04 chunks as `write_fda`."""
    bscans = np.asarray(bscans)
    count, height, width = bscans.shape
    chunks = [(b"@FILE_INFO", _built(fds_binary.file_info_header, **{"0x2": 2, "0x3e8": 1000,
                                                                      "8.0.1.20198": "8.0.1.20198"}))]
    chunks += _common(fds_binary, patient_id, first_name, last_name, sex, birth, eye, captured, model)
    chunks.append((b"@IMG_SCAN_03", _built(fds_binary.oct_header, scan_mode=2, width=width, height=height,
                                           bits_per_pixel=16, number_slices=count, format=0,
                                           size=bscans.size * 2) + _raw16(bscans)))
    if scan_mm is not None:
        chunks.append((b"@PARAM_SCAN_04", _built(fds_binary.param_scan_04_header, x_dimension_mm=scan_mm[0],
                                                 y_dimension_mm=scan_mm[1], z_resolution_um=axial_um)))
    return _write(path, chunks)


def _common(binary, patient_id, first_name, last_name, sex, birth, eye, captured, model) -> list[tuple[bytes, bytes]]:
    birth_date = [birth.year, birth.month, birth.day] if birth else [0, 0, 0]
    when = [captured.year, captured.month, captured.day, captured.hour, captured.minute, captured.second]
    return [
        (b"@HW_INFO_03", _built(binary.hw_info_03_header, model_name=model, serial_number="1234")),
        (b"@PATIENT_INFO_02", _built(binary.patient_info_02_header, patient_id=patient_id, first_name=first_name,
                                     last_name=last_name, sex=sex, birth_date=birth_date)),
        (b"@CAPTURE_INFO_02", _built(binary.capture_info_02_header, eye=eye, scan_mode=2, label="3D Macula",
                                     cap_date=when)),
    ]


def _write(path: Path, chunks: list[tuple[bytes, bytes]]) -> Path:
    header = fda_binary.header.build({"file_code": "FOCT", "file_type": "FDA", "major_ver": 2, "minor_ver": 1000})
    path.write_bytes(header + b"".join(CHUNK.build({"name": name.decode("latin-1"), "data": data})
                                       for name, data in chunks) + END)
    return path


def _raw16(bscans: np.ndarray) -> bytes:
    """B-scan after B-scan, each row after row (what the readers' Fortran-order reshape to
    (width, height, slices) undoes)."""
    return np.ascontiguousarray(bscans, "<u2").tobytes()


def _j2k(image: np.ndarray) -> bytes:
    """A lossless JPEG 2000 codestream (the uocte notes: slices are j2k coded), which the
    reader decodes with Pillow."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, format="JPEG2000", irreversible=False, no_jp2=True)
    return out.getvalue()


def _built(struct: Struct, **values: Any) -> bytes:
    """`struct` built from `values`, every field not given zero (numbers, arrays) or empty (text)."""
    return struct.build({**_zero(struct), **values})


def _zero(con) -> Any:
    while isinstance(con, Renamed):
        con = con.subcon
    if isinstance(con, Struct):
        return {sub.name: _zero(sub) for sub in con.subcons if sub.name}
    if isinstance(con, Array):
        return [_zero(con.subcon) for _ in range(con.count)]
    if isinstance(con, StringEncoded):
        return ""
    if isinstance(con, FormatField):
        return 0.0 if con.fmtstr[-1] in "efd" else 0
    raise TypeError(f"no zero for {con!r}")
