"""Volumes as scanners write them, made independently of octsr's writers: speckled B-scans,
and DICOM Ophthalmic Tomography objects built with pydicom's own API. For the tests and the
bench's volume row."""

from __future__ import annotations

import numpy as np

from octsr.formats.dicom import OPT_STORAGE


def opt_dataset(frames: np.ndarray, *, photometric: str = "MONOCHROME2", pixel_spacing=(0.0039, 0.0057),
                between: float | None = 0.12, positions: bool = False, sop_class: str = OPT_STORAGE,
                complete: bool = False):
    """A multi-frame DICOM object as a scanner writes one, built with pydicom's own API."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality = "OPT"
    ds.PatientID, ds.PatientName = "EYE-042", "Doe^Jane"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = generate_uid(), generate_uid(), generate_uid()
    ds.Laterality = "R"
    ds.NumberOfFrames = len(frames)
    ds.Rows, ds.Columns = frames.shape[1:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.BitsAllocated = ds.BitsStored = frames.dtype.itemsize * 8
    ds.HighBit, ds.PixelRepresentation = ds.BitsStored - 1, 0
    measures = Dataset()
    if pixel_spacing:
        measures.PixelSpacing = list(pixel_spacing)
    measures.SliceThickness = 0.0039
    if between is not None:
        measures.SpacingBetweenSlices = between
    shared = Dataset()
    shared.PixelMeasuresSequence = [measures]
    ds.SharedFunctionalGroupsSequence = [shared]
    if positions:
        per_frame = []
        for k in range(len(frames)):
            position, group = Dataset(), Dataset()
            position.ImagePositionPatient = [0.0, 0.0, 0.25 * k]
            group.PlanePositionSequence = [position]
            per_frame.append(group)
        ds.PerFrameFunctionalGroupsSequence = per_frame
    ds.PixelData = np.ascontiguousarray(frames).tobytes()
    if complete:
        complete_opt(ds, len(frames))
    return ds


def code(value: str, scheme: str, meaning: str):
    from pydicom.dataset import Dataset

    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def complete_opt(ds, frames: int) -> None:
    """The rest of what the Ophthalmic Tomography IOD requires, as a scanner fills it in."""
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20260101", "101500", "1", ""
    ds.ReferringPhysicianName, ds.PatientBirthDate, ds.PatientSex = "", "", "F"
    ds.SeriesNumber, ds.InstanceNumber, ds.AcquisitionNumber = 1, 1, 1
    ds.ContentDate, ds.ContentTime, ds.AcquisitionDateTime = "20260101", "101500", "20260101101500"
    ds.Manufacturer, ds.ManufacturerModelName = "pydicom test", "OPT builder"
    ds.DeviceSerialNumber, ds.SoftwareVersions = "0001", "1.0"
    ds.PositionReferenceIndicator, ds.ImageLaterality = "", "R"
    del ds.Laterality  # the series' laterality goes when the image states its own
    ds.AcquisitionDuration = 1.5
    ds.BurnedInAnnotation, ds.LossyImageCompression = "NO", "00"
    if ds.PhotometricInterpretation == "MONOCHROME2":
        ds.PresentationLUTShape = "IDENTITY"
    ds.AcquisitionDeviceTypeCodeSequence = [code("392012008", "SCT", "Optical Coherence Tomography Scanner")]
    ds.AnatomicRegionSequence = [code("81745001", "SCT", "Eye")]
    ds.DetectorType = "CCD"
    ds.AcquisitionContextSequence, ds.LightPathFilterTypeStackCodeSequence = [], []
    ds.RefractiveStateSequence = []
    for empty in ("AxialLengthOfTheEye", "HorizontalFieldOfView", "EmmetropicMagnification",
                  "IntraOcularPressure", "PupilDilated"):
        setattr(ds, empty, None)
    organization = generate_uid()
    dimension = Dataset()
    dimension.DimensionOrganizationUID = organization
    dimension.DimensionIndexPointer = 0x00209057  # In-Stack Position Number
    dimension.FunctionalGroupPointer = 0x00209111  # Frame Content Sequence
    organized = Dataset()
    organized.DimensionOrganizationUID = organization
    ds.DimensionOrganizationSequence, ds.DimensionIndexSequence = [organized], [dimension]
    shared = ds.SharedFunctionalGroupsSequence[0]
    orientation, anatomy = Dataset(), Dataset()
    orientation.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    anatomy.AnatomicRegionSequence, anatomy.FrameLaterality = [code("81745001", "SCT", "Eye")], "R"
    shared.PlaneOrientationSequence, shared.FrameAnatomySequence = [orientation], [anatomy]
    per_frame = ds.get("PerFrameFunctionalGroupsSequence") or [Dataset() for _ in range(frames)]
    for k, group in enumerate(per_frame):
        content, position = Dataset(), Dataset()
        content.StackID, content.InStackPositionNumber, content.DimensionIndexValues = "1", k + 1, [k + 1]
        content.FrameAcquisitionDateTime = content.FrameReferenceDateTime = f"20260101101500.{k:06d}"
        content.FrameAcquisitionDuration = 1500.0 / frames
        group.FrameContentSequence = [content]
        if "PlanePositionSequence" not in group:
            position.ImagePositionPatient = [0.0, 0.0, round(0.12 * k, 6)]
            group.PlanePositionSequence = [position]
    ds.PerFrameFunctionalGroupsSequence = per_frame


def write(ds, path):
    ds.save_as(path, enforce_file_format=True)
    return path


def speckled_volume(rng: np.random.Generator, bscans: int, shape=(80, 96), dtype=np.uint8) -> np.ndarray:
    """B-scans of one smooth layered 'retina' under independent multiplicative speckle."""
    rows = np.linspace(0, 6 * np.pi, shape[0])[:, None]
    tissue = 0.35 + 0.25 * np.sin(rows + np.linspace(0, 1, shape[1])[None, :])
    peak = np.iinfo(dtype).max
    return np.stack([np.clip(tissue * rng.gamma(4.0, 0.25, shape), 0, 1) * peak for _ in range(bscans)]).astype(dtype)


def identified_opt(frames: np.ndarray):
    """A complete OPT object that carries the patient's identity and the exam's dates and
    times where scanners and PACS put them: the top level, every frame's functional groups,
    request and other-ID sequences, referenced instances, private attributes at two depths."""
    from pydicom.dataset import Dataset
    from pydicom.uid import generate_uid

    ds = opt_dataset(frames, positions=True, complete=True)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Roe^Richard^Q", "MRN-5512-77", "19540317"
    ds.StudyDate, ds.StudyTime, ds.SeriesDate, ds.SeriesTime = "20250314", "093012", "20250314", "093544"
    ds.ContentDate, ds.ContentTime, ds.AcquisitionDateTime = "20250314", "093611", "20250314093611.250000"
    ds.AccessionNumber, ds.StudyID, ds.InstitutionName = "ACC-88413", "STUDY-4471", "Saint Lucia Eye Hospital"
    ds.OperatorsName, ds.ReferringPhysicianName = "Tech^Tessa", "Ref^Roland"
    ds.DeviceSerialNumber, ds.StationName = "SN-30217-X", "OCT-ROOM-3"
    other = Dataset()
    other.PatientID, other.IssuerOfPatientID = "NHS-943-476-5919", "Regional Registry"
    ds.OtherPatientIDsSequence = [other]
    request = Dataset()
    request.AccessionNumber, request.RequestedProcedureID = "ACC-88413", "RP-61203"
    request.ScheduledProcedureStepID, request.StudyInstanceUID = "SPS-70021", ds.StudyInstanceUID
    ds.RequestAttributesSequence = [request]
    referenced = Dataset()
    referenced.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.5.1"  # the fundus photograph beside it
    referenced.ReferencedSOPInstanceUID = generate_uid()
    ds.ReferencedImageSequence = [referenced]
    block = ds.private_block(0x0029, "ACME OCT 1.0", create=True)
    block.add_new(0x10, "LO", "Roe^Richard MRN-5512-77")
    block.add_new(0x11, "DA", "20250314")
    for k, group in enumerate(ds.PerFrameFunctionalGroupsSequence):
        content = group.FrameContentSequence[0]
        content.FrameAcquisitionDateTime = content.FrameReferenceDateTime = f"20250314093611.{k:06d}"
        nested = group.private_block(0x0031, "ACME FRAME", create=True)
        nested.add_new(0x01, "DT", f"20250314093611.{k:06d}")
    return ds


def identifying_values(ds) -> set[str]:
    """Every value in `ds` (any depth, private attributes included) that says who, when or
    which instance: names, IDs, dates, times, instance UIDs, institutions and devices."""
    from pydicom.uid import UID

    found: set[str] = set()

    def collect(dataset, element) -> None:
        if element.VR == "SQ" or element.is_empty:
            return
        values = [str(v) for v in (element.value if element.VM > 1 else [element.value])]
        if element.VR == "UI":
            found.update(v for v in values if not UID(v).is_valid or UID(v).name == v)  # not a class or syntax
        elif element.VR in {"PN", "DA", "DT", "TM"} or element.tag.is_private or element.keyword in {
                "PatientID", "AccessionNumber", "StudyID", "InstitutionName", "DeviceSerialNumber", "StationName",
                "RequestedProcedureID", "ScheduledProcedureStepID", "IssuerOfPatientID"}:
            found.update(v for v in values if len(v) >= 4)

    ds.walk(collect)
    return found
