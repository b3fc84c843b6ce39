"""A tiny Heidelberg .e2e file (HEYEX's own export), built from eyepy's construct definitions
of the format (eyepy.io.he.e2e_format), for testing `octsr.formats.heidelberg`.

An .e2e file is a version block, a header, then chunks: each chunk lists folder headers, and
each folder points at one data container (a container header and one item). A folder's
patient, study, series and slice ids place its item in the file's hierarchy; -1 means "not
below this level". What this writes: one patient (name, id, sex), one study, and series
(laterality, exam time, IR localizer) of one slice per B-scan (its metadata, its pixels, one
unsegmented layer).

Positions are in degrees of scan angle, as the format stores them: `DEGREE_MM` turns the
spacing given in millimetres into degrees with the same constant eyepy (and HEYEX's medium
eye length) uses to turn them back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from eyepy.io.he import e2e_format as fmt
from eyepy.io.he.e2e_reader import MEDIUM_EYE_LENGTH_UM_PER_DEG

DEGREE_MM = MEDIUM_EYE_LENGTH_UM_PER_DEG / 1000
BSCAN_IMAGE, LOCALIZER_IMAGE = 35652097, 33620481  # Type1073741824.type of each kind of image
NO_LAYER = np.finfo(np.float32).max  # eyepy reads layer heights >= 3e38 as "not segmented"
PATIENT = {"firstname": "Jane", "surname": "Doe", "patient_id": "E2E-0001", "sex": "F"}


def stored(linear: np.ndarray) -> np.ndarray:
    """`linear` as the file stores it: each value rounded to the nearest of the format's
    unsigned 16-bit floats (eyepy's Bscan LUT), float32. The format has no zero: its smallest
    value is 2**-63."""
    table = np.sort(fmt.Bscan.LUT)
    above = np.clip(np.searchsorted(table, linear), 1, len(table) - 1)
    below = above - 1
    nearer = np.where(np.abs(table[above] - linear) < np.abs(linear - table[below]), above, below)
    return table[nearer].astype(np.float32)


def write_e2e(path: Path, bscans: np.ndarray, spacing_mm: tuple[float, float, float] = (0.0113, 0.0039, 0.12),
              laterality: str = "R",
              patient: dict | None = None, examined: str = "2021-03-04T10:20:30",
              scan_patterns: tuple[int, ...] = (3,)) -> Path:
    """Write `bscans` (B-scans, rows, columns), linear intensities in [0, 1] as Heidelberg
    stores them (rounded as `stored` says), as an .e2e file. `spacing_mm` is (across, down,
    between B-scans); `laterality` "R" or "L"; `patient` keys as PATIENT. One series of these
    B-scans per entry of `scan_patterns` (series ids 1, 2, ...): 3 a volume, 2 a circle scan."""
    bscans = np.asarray(bscans, dtype=np.float32)
    patient = {**PATIENT, **(patient or {})}
    items = [((1, -1, -1, -1), fmt.Type9(firstname=patient["firstname"], surname=patient["surname"], birthdate=0,
                                         sex=patient["sex"], patient_id=patient["patient_id"]))]
    for series, pattern in enumerate(scan_patterns, 1):
        items += _series(series, pattern, bscans, spacing_mm, laterality, examined)
    path.write_bytes(_file(items))
    return path


def _series(series: int, pattern: int, bscans: np.ndarray, spacing_mm, laterality: str, examined: str) -> list:
    """(patient, study, series, slice) ids and item of each folder of one series."""
    count, height, width = bscans.shape
    across, down, between = spacing_mm
    half_angle = across * width / DEGREE_MM / 2  # eyepy divides the scan angle by the width
    here = (1, 1, series, -1)
    items = [(here, fmt.Type11(unknown=bytes(14), laterality=fmt.LateralityEnum(ord(laterality)))),
             (here, fmt.Type10005(unknown=bytes(16), examination_time=examined)),
             (here, _texts(fmt.Type9007, "Infra-Red", "IR")),
             (here, _image(LOCALIZER_IMAGE, np.zeros((16, 16), np.uint8)))]
    for k, bscan in enumerate(bscans):
        # One B-scan's slice id is 2 in HEYEX's files, a volume's are 0, 2, 4 ... (eyepy reads both)
        where = (1, 1, series, 2 * k if count > 1 else 2)
        y = (k - (count - 1) / 2) * between / DEGREE_MM
        items += [(where, _bscan_meta(k, count, height, width, down, (-half_angle, y), (half_angle, y), examined,
                                      pattern)),
                  (where, _image(BSCAN_IMAGE, stored(bscan))),
                  # eyepy 0.21 reads no slice without a layer folder: write an unsegmented ILM
                  (where, fmt.Type10019(unknown0=0, id=0, unknown1=0, width=width, manual_edit_raw=0,
                                        unknown2=[], data=np.full(width, NO_LAYER, np.float32)))]
    return items


def _bscan_meta(k, count, height, width, down, start, end, examined, pattern) -> fmt.Type10004:
    (start_x, start_y), (end_x, end_y) = start, end
    return fmt.Type10004(
        unknown0=0, size_y=height, size_x=width, start_x=start_x, start_y=start_y, end_x=end_x, end_y=end_y,
        zero1=0, unknown1=0.0, scale_y=down, unknown2=0.0, zero2=0, unknown3=[0.0, 0.0], zero3=0,
        imgSizeWidth=width, n_bscans=count, aktImage=k, scan_pattern=pattern,
        center_x=(start_x + end_x) / 2, center_y=(start_y + end_y) / 2, unknown4=0, acquisitionTime=examined,
        numAve=1, quality=0.0, unknown5=0.0, unknown6=bytes(12), art_mode=1, oct_controller_fw_raw=bytes(4),
        oct_camera_fw_raw=bytes(4), oct_camera_fpga_raw=bytes(4), unknown7=bytes(4), focus_candidate_raw=0.0,
        unknown8=bytes(12), quality_ui=30.0, rest=b"")


def _image(kind: int, pixels: np.ndarray) -> fmt.Type1073741824:
    height, width = pixels.shape
    nbytes = pixels.size * (2 if kind == BSCAN_IMAGE else 1)
    return fmt.Type1073741824(size=nbytes, type=kind, n_values=pixels.size, height=height, width=width, data=pixels)


def _texts(kind, *texts: str):
    size = 256  # bytes per UTF-16 string, as HEYEX writes them (a 520-byte item holds two)
    return kind(n_strings=len(texts), string_size=size, text=list(texts))


def _file(items: list) -> bytes:
    """Version ("CMDb"), header ("MDbMDir") and one chunk of folder headers, then the data
    containers in the folders' order: eyepy finds the chunk's end from its last folder, so
    that folder's container must end the file."""
    chunk_at = fmt.version_format.sizeof() + fmt.header_format.sizeof()
    folders_at = chunk_at + fmt.header_format.sizeof()
    containers_at = folders_at + len(items) * fmt.folderheader_format.sizeof()
    folders, containers = [], []
    for (patient, study, series, slice_), item in items:
        ids = {"patient_id": patient, "study_id": study, "series_id": series, "slice_id": slice_,
               "ind": int(isinstance(item, fmt.Type1073741824) and item.type == BSCAN_IMAGE),
               "type": fmt.TypesEnum(item.type_id)}
        folder_at = folders_at + len(folders) * fmt.folderheader_format.sizeof()
        start, size = containers_at + sum(len(c) for c in containers), _item_size(item)
        header = fmt.ContainerHeader(magic3="MDbData", unknown0=0, header_pos=folder_at, pos=start, size=size,
                                     unknown1=0, unknown2=0, unknown3=0, **ids)
        containers.append(fmt.datacontainer_format.build(fmt.DataContainer(header=header, item=item)))
        folders.append(fmt.FolderHeader(pos=folder_at, start=start, size=size, unknown0=0, unknown1=0, unknown3=0,
                                        **ids))
    chunk = fmt.Chunk(chunk_header=_header(len(items), current=chunk_at, prev=0), folders=folders)
    head = fmt.e2e_format.build(fmt.E2EFormat(version=fmt.Version(name="CMDb", version=100, unknown0=[0] * 10),
                                              header=_header(len(items), current=0, prev=chunk_at), chunks=[chunk]))
    assert len(head) == containers_at, "the folder headers and the containers they point at disagree"
    return head + b"".join(containers)


def _header(entries: int, current: int, prev: int) -> fmt.Header:
    return fmt.Header(magic2="MDbMDir", version=100, unknown0=[0] * 10, num_entries=entries, current=current,
                      prev=prev, unknown1=0)


def _item_size(item) -> int:
    if isinstance(item, fmt.Type10019):
        # its padding count is read from the container header's size, so it cannot be built
        # alone: five uint32 fields, the padding, then one float32 per A-scan
        return 4 * (5 + len(item.unknown2) + item.width)
    formats = {fmt.Type9: fmt.type9_format, fmt.Type11: fmt.type11_format, fmt.Type10005: fmt.type10005_format,
               fmt.Type9007: fmt.type9007_format, fmt.Type1073741824: fmt.type1073741824_format,
               fmt.Type10004: fmt.type10004_format}
    return len(formats[type(item)].build(item))
