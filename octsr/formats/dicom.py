"""DICOM Ophthalmic Tomography Image Storage (pydicom): volumes read from it, and the derived
series octsr writes, with the derivation in each frame's functional groups and the source
series referenced."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import numpy as np

from octsr.errors import DataError
from octsr.formats.deidentify import deidentify, new_uid
from octsr.formats.volume import Spacing, Volume, one_line
from octsr.utils.atomic import atomic_path

log = logging.getLogger(__name__)

OPT_STORAGE = "1.2.840.10008.5.1.4.1.1.77.1.5.4"  # Ophthalmic Tomography Image Storage
MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"  # a DICOMDIR: the index of a CD or PACS export
DICOM_SUFFIXES = {".dcm", ".dicom"}
# Who makes the scanners whose own formats octsr reads (octsr.formats.FORMATS' names).
MAKERS = {"heidelberg": "Heidelberg Engineering", "topcon": "Topcon", "zeiss": "Carl Zeiss Meditec"}
# What identifies a DICOM volume, kept so that a derived series can name its source.
IDENTIFYING = ("PatientID", "PatientName", "PatientBirthDate", "PatientSex", "StudyInstanceUID",
               "StudyDate", "StudyID", "AccessionNumber", "SeriesInstanceUID", "SOPInstanceUID",
               "FrameOfReferenceUID", "Manufacturer", "ManufacturerModelName", "Laterality", "ImageLaterality")



def is_dicom(path: Path) -> bool:
    """By suffix, or by the DICM mark after the preamble (scanners and PACS exports often
    write no suffix)."""
    return path.suffix.lower() in DICOM_SUFFIXES or _has_dicom_preamble(path)


def _has_dicom_preamble(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(132)[128:] == b"DICM"
    except OSError:
        return False  # unreadable: not taken for DICOM by its content


def dicom_kind(path: Path) -> str | None:
    """None for a DICOM file that may hold OCT B-scans (or whose header does not say), else
    what it is instead, by its SOP class (a DICOMDIR index, a photograph, a report): what a
    folder of a PACS or CD export holds beside the scans."""
    from pydicom.filereader import read_file_meta_info
    from pydicom.uid import UID

    try:
        sop_class = str(read_file_meta_info(path).get("MediaStorageSOPClassUID", ""))
    except Exception:
        return None  # no file meta: read_volume says what is wrong with it
    if not sop_class or sop_class == OPT_STORAGE:
        return None
    return "DICOMDIR index" if sop_class == MEDIA_DIRECTORY else UID(sop_class).name



def require_spacing(volume: Volume) -> None:
    """DataError unless `volume` states all three spacings, which a DICOM object needs to
    place its B-scans (never a made-up value)."""
    missing = volume.spacing.missing()
    if missing:
        raise DataError(f"{volume.source}: its spacing {' and '.join(missing)} is not stated, and a DICOM object "
                        f"must place its B-scans; use output_format=tiff for this file")


def read_dicom(path: Path) -> Volume:
    """A DICOM Ophthalmic Tomography object: its frames (MONOCHROME1 turned so that bright is
    high, as MONOCHROME2), its spacing from the functional groups, its identifying metadata.
    The header is read without the pixels, which are then decoded a frame at a time into one
    array: a long volume is held once, not as its encoded bytes beside its decoded frames."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import iter_pixels

    whole = None
    try:
        dataset = pydicom.dcmread(path, stop_before_pixels=True)
    except InvalidDicomError:
        dataset = whole = _read_without_preamble(path)
    except (EOFError, OSError, ValueError, KeyError) as err:
        raise DataError(f"{path}: not a readable DICOM file ({one_line(err)})") from err
    sop_class = str(dataset.get("SOPClassUID", ""))
    if sop_class != OPT_STORAGE:
        name = getattr(dataset.get("SOPClassUID"), "name", None) or sop_class or "no SOP class"
        raise DataError(f"{path}: a DICOM {name} object, not Ophthalmic Tomography (OCT B-scans); "
                        f"octsr restores OCT volumes only")
    if dataset.get("SamplesPerPixel", 1) != 1 or dataset.get("BitsAllocated") not in (8, 16):
        raise DataError(f"{path}: {dataset.get('SamplesPerPixel')} sample(s) of {dataset.get('BitsAllocated')} "
                        f"bits per pixel; octsr reads grayscale 8- or 16-bit OCT")
    if dataset.get("PixelRepresentation", 0) != 0:
        raise DataError(f"{path}: signed pixels; octsr reads unsigned 8- or 16-bit OCT")
    try:
        count, rows, columns = int(dataset.get("NumberOfFrames") or 1), int(dataset.Rows), int(dataset.Columns)
    except (AttributeError, TypeError, ValueError) as err:
        raise DataError(f"{path}: no usable frame count and size (Rows, Columns, NumberOfFrames)") from err
    frames = np.empty((count, rows, columns), np.uint8 if dataset.BitsAllocated == 8 else np.uint16)
    decoded = 0
    try:
        for decoded, frame in enumerate(iter_pixels(path if whole is None else whole), 1):
            frames[decoded - 1] = frame
    except Exception as err:  # missing pixel data, a truncated file, an undecodable syntax
        syntax = getattr(dataset.file_meta, "TransferSyntaxUID", None)
        raise DataError(f"{path}: cannot decode its pixels (transfer syntax {getattr(syntax, 'name', syntax)}); "
                        f"the file may be truncated or damaged ({one_line(err)})") from err
    if decoded != count:
        raise DataError(f"{path}: {decoded} frame(s) of pixel data where NumberOfFrames says {count}")
    frames = _as_monochrome2(dataset, frames)
    metadata = {key: str(dataset.get(key)) for key in IDENTIFYING if key in dataset}
    return Volume(frames, _dicom_spacing(dataset, len(frames)), path, "dicom", metadata,
                  _stored_peak(dataset), dataset)


def _read_without_preamble(path: Path):
    """A DICOM dataset written without the 128-byte preamble and DICM mark (older tools and
    some PACS exports do), read whole; the file meta it lacks is filled from the dataset.
    DataError, in words a user can act on, when the file is no DICOM dataset either."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

    try:
        dataset = pydicom.dcmread(path, force=True)
        usable = "SOPClassUID" in dataset and "Rows" in dataset
    except Exception:
        usable = False
    if not usable:
        raise DataError(f"{path}: not a DICOM file (it lacks the preamble and 'DICM' mark DICOM files begin with, "
                        f"and does not read as a DICOM dataset without them); check that the file is complete "
                        f"and is DICOM, e.g. with dcmdump")
    meta = dataset.file_meta
    if "TransferSyntaxUID" not in meta:
        implicit, little = dataset.original_encoding
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = meta.get("MediaStorageSOPClassUID") or dataset.SOPClassUID
    meta.MediaStorageSOPInstanceUID = meta.get("MediaStorageSOPInstanceUID") or dataset.get("SOPInstanceUID", "")
    return dataset


def _stored_peak(dataset) -> int:
    return 2 ** int(dataset.get("BitsStored", dataset.BitsAllocated)) - 1


def _as_monochrome2(dataset, frames: np.ndarray) -> np.ndarray:
    """MONOCHROME1 frames turned so that bright is high (and back: the turn is its own inverse)."""
    if dataset.get("PhotometricInterpretation") != "MONOCHROME1":
        return frames
    return (_stored_peak(dataset) - frames).astype(frames.dtype)


def write_derived_dicom(source: Volume, bscans: list[np.ndarray] | np.ndarray, target: Path, description: str,
                        anonymize: bool = False) -> list[str]:
    """The restored `bscans` of the DICOM volume `source` as a new Ophthalmic Tomography
    object a viewer files beside it: a new series and SOP instance, ImageType DERIVED, the
    series and derivation described (`description`), the source instance referenced;
    patient, study, frame of reference, spacing and bit depth kept. Uncompressed (explicit
    VR little endian), written to a temporary name and renamed. Uses up `source`: its
    dataset becomes the derived object's.

    `anonymize`: DICOM's basic de-identification profile applied to the whole dataset before
    writing (`octsr.formats.deidentify`: nested sequences, private attributes, every date and
    time). Returns what it changed, as "removed X" / "replaced Y" (empty without it)."""
    import datetime

    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    # The header as read, not read again: changed in place, so `source` is spent afterwards.
    # A volume from another format gets a new header from what its file states.
    from_dicom = source.dataset is not None
    dataset = source.dataset if from_dicom else new_opt_header(source)
    # Back to the source's sense; an array of the frames is used as it is (no second copy).
    frames = _as_monochrome2(dataset, bscans if isinstance(bscans, np.ndarray) else np.stack(bscans))
    if frames.shape != (int(dataset.get("NumberOfFrames", 1)), dataset.Rows, dataset.Columns):
        raise DataError(f"{source.source}: {frames.shape[0]} restored B-scans of {frames.shape[1:]} do not fit its "
                        f"{dataset.get('NumberOfFrames', 1)} frames of {dataset.Rows}x{dataset.Columns}")
    derived_from = (str(dataset.SOPClassUID), str(dataset.SOPInstanceUID), str(dataset.SeriesInstanceUID)) \
        if from_dicom else None
    now = datetime.datetime.now()
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    frames = np.ascontiguousarray(frames.astype(np.uint8 if dataset.BitsAllocated == 8 else "<u2", copy=False))
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.SeriesInstanceUID = generate_uid()
    dataset.SeriesNumber = int(dataset.get("SeriesNumber") or 0) + 1000
    dataset.SeriesDescription = description[:64]
    image_type = list(dataset.get("ImageType") or ["ORIGINAL", "PRIMARY"])
    dataset.ImageType = ["DERIVED", *image_type[1:]]
    for outside_the_iod in ("SourceImageSequence", "DerivationDescription"):  # where older writers put them
        dataset.pop(outside_the_iod, None)
    dataset.ContentDate, dataset.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    # The series description octsr wrote names only octsr and the weights: kept through the profile.
    changes = deidentify(dataset, keep=("SeriesDescription",)) if anonymize else []
    _describe_derivation(dataset, description, derived_from, renamed=anonymize)
    # The pixels go to the file from a buffer over the frames, not through a bytes copy of
    # them: a long volume is never held twice.
    dataset.PixelData = io.BufferedReader(_FramesBuffer(frames))
    dataset["PixelData"].VR = "OB" if dataset.BitsAllocated == 8 else "OW"
    try:
        with atomic_path(target) as tmp:
            dataset.save_as(tmp, enforce_file_format=True)
    finally:
        del dataset.PixelData
    return changes


def _describe_derivation(dataset, description: str, derived_from: tuple[str, str, str] | None,
                         renamed: bool) -> None:
    """The derivation where the Ophthalmic Tomography IOD places it: each frame's Derivation
    Image functional group (the processing coded as smoothing, DCM 113087, and described;
    the source frame referenced as the source of an image processing operation, DCM 121322),
    and the source series and instance in the Common Instance Reference module.
    `derived_from`: the source's SOP class, instance and series UIDs (None for a volume from
    another format); `renamed`: they are given as de-identification replaced them."""
    from pydicom.dataset import Dataset

    uid = new_uid if renamed else str
    frames = int(dataset.get("NumberOfFrames") or 1)
    per_frame = list(dataset.get("PerFrameFunctionalGroupsSequence") or [])
    per_frame += [Dataset() for _ in range(frames - len(per_frame))]
    for number, group in enumerate(per_frame[:frames], 1):
        derivation = Dataset()
        derivation.DerivationDescription = description[:1024]
        derivation.DerivationCodeSequence = [_code("113087", "DCM", "Smoothing")]
        derivation.SourceImageSequence = []
        if derived_from:
            source = Dataset()
            source.ReferencedSOPClassUID, source.ReferencedSOPInstanceUID = derived_from[0], uid(derived_from[1])
            source.ReferencedFrameNumber = number
            source.PurposeOfReferenceCodeSequence = [_code("121322", "DCM", "Source image for image processing "
                                                                            "operation")]
            derivation.SourceImageSequence = [source]
        group.DerivationImageSequence = [derivation]
    dataset.PerFrameFunctionalGroupsSequence = per_frame
    if derived_from:
        instance, series = Dataset(), Dataset()
        instance.ReferencedSOPClassUID, instance.ReferencedSOPInstanceUID = derived_from[0], uid(derived_from[1])
        series.SeriesInstanceUID, series.ReferencedInstanceSequence = uid(derived_from[2]), [instance]
        dataset.ReferencedSeriesSequence = [series]


class _FramesBuffer(io.RawIOBase):
    """The bytes of an array, read in pieces without a copy of the whole (pydicom writes a
    buffered element value, an io.BufferedIOBase, piece by piece)."""

    def __init__(self, array: np.ndarray) -> None:
        super().__init__()
        self._bytes = memoryview(array).cast("B")
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._at = {io.SEEK_SET: 0, io.SEEK_CUR: self._at, io.SEEK_END: len(self._bytes)}[whence] + offset
        return self._at

    def tell(self) -> int:
        return self._at

    def readinto(self, buffer) -> int:
        piece = self._bytes[self._at : self._at + len(buffer)]
        buffer[: len(piece)] = piece
        self._at += len(piece)
        return len(piece)


def new_opt_header(volume: Volume):
    """A complete Ophthalmic Tomography header (every module the IOD requires) for a volume
    read from another format, from what that file states: spacing (all three are needed to
    place the B-scans: DataError naming the missing ones otherwise, never a made-up value),
    the eye, the patient and visit where the file holds them, and the maker. New study,
    series and frame of reference: the scanner's own are not in the file."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    require_spacing(volume)
    bscans = volume.bscans
    count, (rows, columns) = len(bscans), bscans[0].shape
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = OPT_STORAGE
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.Modality = OPT_STORAGE, "OPT"
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID = generate_uid()
    metadata = volume.metadata
    ds.PatientName, ds.PatientID = metadata.get("PatientName", ""), metadata.get("PatientID", "")
    ds.PatientBirthDate, ds.PatientSex = metadata.get("PatientBirthDate", ""), ""
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = generate_uid(), generate_uid(), generate_uid()
    ds.StudyDate = ds.ContentDate = metadata.get("StudyDate", "")
    ds.StudyTime = ds.ContentTime = ""
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName, ds.PositionReferenceIndicator = "", "", "", ""
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.AcquisitionDateTime = ds.StudyDate
    # The Enhanced General Equipment module wants these (type 1): what the file states (its
    # maker by its format at least), the rest said to be unknown rather than invented.
    unknown = f"unknown ({volume.source.suffix.lstrip('.')} file)"
    ds.Manufacturer = metadata.get("Manufacturer") or MAKERS.get(volume.format, "unknown")
    ds.ManufacturerModelName = metadata.get("ManufacturerModelName") or unknown
    ds.DeviceSerialNumber = metadata.get("DeviceSerialNumber") or unknown
    ds.SoftwareVersions = f"octsr {_octsr_version()}"
    ds.AcquisitionNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ImageLaterality = {"OD": "R", "OS": "L", "R": "R", "L": "L"}.get(str(metadata.get("Laterality", "")).upper(), "U")
    ds.NumberOfFrames, ds.Rows, ds.Columns = count, rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PresentationLUTShape = 1, "MONOCHROME2", "IDENTITY"
    ds.BitsAllocated = ds.BitsStored = bscans[0].dtype.itemsize * 8
    ds.HighBit, ds.PixelRepresentation = ds.BitsStored - 1, 0
    ds.BurnedInAnnotation, ds.LossyImageCompression = "NO", "00"
    ds.AcquisitionDeviceTypeCodeSequence = [_code("392012008", "SCT", "Optical Coherence Tomography Scanner")]
    ds.AnatomicRegionSequence = [_code("81745001", "SCT", "Eye")]
    ds.DetectorType = "CCD"
    ds.AcquisitionContextSequence, ds.LightPathFilterTypeStackCodeSequence, ds.RefractiveStateSequence = [], [], []
    for unknown in ("AxialLengthOfTheEye", "HorizontalFieldOfView", "EmmetropicMagnification",
                    "IntraOcularPressure", "PupilDilated"):
        setattr(ds, unknown, None)
    organization = generate_uid()
    dimension, organized = Dataset(), Dataset()
    dimension.DimensionOrganizationUID = organized.DimensionOrganizationUID = organization
    dimension.DimensionIndexPointer = 0x00209057  # In-Stack Position Number
    dimension.FunctionalGroupPointer = 0x00209111  # Frame Content Sequence
    ds.DimensionOrganizationSequence, ds.DimensionIndexSequence = [organized], [dimension]
    measures, orientation, anatomy, shared = Dataset(), Dataset(), Dataset(), Dataset()
    spacing = volume.spacing
    measures.PixelSpacing = [round(spacing.down_mm, 9), round(spacing.across_mm, 9)]  # rows, then columns
    measures.SliceThickness = round(spacing.between_mm, 9)
    measures.SpacingBetweenSlices = round(spacing.between_mm, 9)
    orientation.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 0.0, -1.0]  # across the eye, then into it
    anatomy.AnatomicRegionSequence, anatomy.FrameLaterality = [_code("81745001", "SCT", "Eye")], ds.ImageLaterality
    shared.PixelMeasuresSequence, shared.PlaneOrientationSequence = [measures], [orientation]
    shared.FrameAnatomySequence = [anatomy]
    ds.SharedFunctionalGroupsSequence = [shared]
    per_frame = []
    for k in range(count):
        group, content, position = Dataset(), Dataset(), Dataset()
        content.StackID, content.InStackPositionNumber, content.DimensionIndexValues = "1", k + 1, [k + 1]
        content.FrameAcquisitionDateTime = content.FrameReferenceDateTime = ds.AcquisitionDateTime
        position.ImagePositionPatient = [0.0, round(k * spacing.between_mm, 6), 0.0]
        group.FrameContentSequence, group.PlanePositionSequence = [content], [position]
        per_frame.append(group)
    ds.PerFrameFunctionalGroupsSequence = per_frame
    return ds


def _octsr_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("octsr")
    except PackageNotFoundError:
        return "(source tree)"


def _code(value: str, scheme: str, meaning: str):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _dicom_spacing(dataset, frames: int) -> Spacing:
    """PixelSpacing (rows, then columns) and SpacingBetweenSlices from the shared functional
    groups, else the first frame's, else the top level; between B-scans, else the distance
    between the first two frames' positions."""
    def measures(group_sequence: str) -> Any:
        groups = dataset.get(group_sequence)
        if groups and "PixelMeasuresSequence" in groups[0]:
            return groups[0].PixelMeasuresSequence[0]
        return None

    source = measures("SharedFunctionalGroupsSequence") or measures("PerFrameFunctionalGroupsSequence") or dataset
    pixel = source.get("PixelSpacing")
    down, across = (float(pixel[0]), float(pixel[1])) if pixel and len(pixel) == 2 else (None, None)
    between = source.get("SpacingBetweenSlices")
    between = float(between) if between is not None else _position_step(dataset) if frames > 1 else None
    return Spacing(across, down, between)


def _position_step(dataset) -> float | None:
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    try:
        first, second = (np.array(per_frame[i].PlanePositionSequence[0].ImagePositionPatient, float)
                         for i in (0, 1))
    except (TypeError, AttributeError, IndexError, KeyError):
        return None
    step = float(np.linalg.norm(second - first))
    return step if step > 0 else None


