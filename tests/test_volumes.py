"""Volumes in, one interface: B-scans, spacing and metadata from multi-page TIFF and DICOM
Ophthalmic Tomography objects that pydicom builds (not octsr), and one line for the rest."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from octsr.data.volumes import OPT_STORAGE, read_volume
from octsr.errors import DataError
from tests.conftest import VENDOR_SAMPLES

pydicom = pytest.importorskip("pydicom")


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
            position.ImagePositionPatient = [0.0, 0.0, 0.12 * k]
            group.PlanePositionSequence = [position]
    ds.PerFrameFunctionalGroupsSequence = per_frame


def write(ds, path):
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_16_bit_opt_object_gives_its_frames_spacing_and_identity(tmp_path):
    frames = np.random.default_rng(0).integers(0, 65536, (4, 30, 50), dtype=np.uint16)
    volume = read_volume(write(opt_dataset(frames), tmp_path / "scan.dcm"))
    assert volume.format == "dicom" and len(volume.bscans) == 4
    for read, stored in zip(volume.bscans, frames):
        assert read.dtype == np.uint16
        np.testing.assert_array_equal(read, stored)
    assert (volume.spacing.across_mm, volume.spacing.down_mm, volume.spacing.between_mm) == (0.0057, 0.0039, 0.12)
    assert volume.metadata["PatientID"] == "EYE-042" and volume.metadata["Laterality"] == "R"


def test_monochrome1_is_turned_bright_high_and_spacing_comes_from_positions(tmp_path):
    frames = np.random.default_rng(1).integers(0, 256, (3, 20, 40), dtype=np.uint8)
    ds = opt_dataset(frames, photometric="MONOCHROME1", between=None, positions=True)
    volume = read_volume(write(ds, tmp_path / "no_suffix"))  # found by its DICM preamble
    np.testing.assert_array_equal(volume.bscans[0], 255 - frames[0])
    assert volume.spacing.between_mm == pytest.approx(0.25)


def test_a_spacing_the_file_does_not_state_stays_unknown(tmp_path):
    frames = np.zeros((2, 10, 12), np.uint16)
    volume = read_volume(write(opt_dataset(frames, pixel_spacing=None, between=None), tmp_path / "s.dcm"))
    assert volume.spacing.missing() == ["across", "down", "between B-scans"]


def test_rle_compressed_opt_is_decoded(tmp_path):
    from pydicom.uid import RLELossless

    frames = np.random.default_rng(2).integers(0, 4096, (2, 16, 24), dtype=np.uint16)
    ds = opt_dataset(frames)
    ds.compress(RLELossless)
    volume = read_volume(write(ds, tmp_path / "rle.dcm"))
    np.testing.assert_array_equal(np.stack(volume.bscans), frames)


def test_a_dicom_that_is_not_oct_is_one_line(tmp_path):
    ct = opt_dataset(np.zeros((1, 8, 8), np.uint16), sop_class="1.2.840.10008.5.1.4.1.1.2")
    with pytest.raises(DataError, match=r"ct.dcm: a DICOM CT Image Storage object, not Ophthalmic Tomography") as err:
        read_volume(write(ct, tmp_path / "ct.dcm"))
    assert "\n" not in str(err.value)


def test_a_truncated_dicom_is_one_line(tmp_path):
    whole = write(opt_dataset(np.ones((3, 40, 60), np.uint16)), tmp_path / "whole.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut.dcm: ") as err:
        read_volume(tmp_path / "cut.dcm")
    assert "\n" not in str(err.value)


def test_a_tiff_volume_has_its_pages_and_no_guessed_spacing(tmp_path):
    pages = np.random.default_rng(3).integers(0, 65536, (3, 12, 20), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "vol.tif", pages, photometric="minisblack")
    volume = read_volume(tmp_path / "vol.tif")
    assert volume.format == "tiff" and len(volume.bscans) == 3
    assert volume.spacing.missing() == ["across", "down", "between B-scans"]


def test_anything_else_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("not a scan")
    with pytest.raises(DataError, match="not a volume octsr reads"):
        read_volume(tmp_path / "notes.txt")


def dicom_tool_errors(tool: str, path) -> set[str]:
    import subprocess

    done = subprocess.run([tool, str(path)], capture_output=True, text=True)
    return {line.strip() for line in (done.stdout + done.stderr).splitlines() if line.startswith("Error")}


def test_enhance_writes_a_derived_opt_object_that_other_readers_accept(tmp_path):
    """`octsr.enhance input=scan.dcm`: a new series of the same study, patient, frame of
    reference, spacing and bit depth; dciodvfy finds no error the input does not have, and
    DCMTK reads it."""
    import shutil

    from tests.conftest import run_cli

    frames = (np.random.default_rng(4).random((3, 96, 160)) * 4095).astype(np.uint16)
    ds = opt_dataset(frames, positions=True, complete=True)
    ds.BitsStored, ds.HighBit = 12, 11  # a 12-bit scanner in 16-bit words
    source = write(ds, tmp_path / "scan.dcm")
    result = run_cli("octsr.enhance", f"input={source}", f"output={tmp_path / 'out'}", "weights=fast")
    assert result.returncode == 0, result.stderr[-3000:]
    derived = pydicom.dcmread(tmp_path / "out" / "scan.dcm")
    for kept in ("PatientID", "PatientName", "StudyInstanceUID", "FrameOfReferenceUID", "BitsStored",
                 "NumberOfFrames", "Rows", "Columns", "SOPClassUID"):
        assert derived.get(kept) == ds.get(kept), kept
    for new in ("SeriesInstanceUID", "SOPInstanceUID"):
        assert derived.get(new) != ds.get(new), new
    assert derived.ImageType[0] == "DERIVED" and "octsr" in derived.SeriesDescription
    assert "duke_srcnn.pt" in derived.SeriesDescription
    assert derived.SourceImageSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
    assert read_volume(tmp_path / "out" / "scan.dcm").spacing == read_volume(source).spacing
    restored = derived.pixel_array
    assert restored.shape == frames.shape and restored.max() <= 4095 and not np.array_equal(restored, frames)
    if shutil.which("dciodvfy") is None or shutil.which("dcmdump") is None:
        pytest.skip("dicom3tools or DCMTK missing (make system-packages installs them)")
    # A valid object: dciodvfy's tables flag only the single-part concatenation attributes.
    assert all("Concatenation" in error for error in dicom_tool_errors("dciodvfy", source))
    assert dicom_tool_errors("dciodvfy", tmp_path / "out" / "scan.dcm") <= dicom_tool_errors("dciodvfy", source)
    import subprocess

    dumped = subprocess.run(["dcmdump", str(tmp_path / "out" / "scan.dcm")], capture_output=True, text=True)
    assert dumped.returncode == 0 and "octsr denoised" in dumped.stdout


def test_enhance_ends_a_truncated_or_non_oct_dicom_in_one_line(tmp_path):
    from tests.conftest import run_cli_batch

    whole = write(opt_dataset(np.ones((3, 40, 60), np.uint16)), tmp_path / "whole.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(whole[: len(whole) // 2])
    write(opt_dataset(np.zeros((1, 8, 8), np.uint16), sop_class="1.2.840.10008.5.1.4.1.1.2"), tmp_path / "ct.dcm")
    results = run_cli_batch([("octsr.enhance", f"input={tmp_path / name}", f"output={tmp_path / 'out'}", "weights=fast")
                             for name in ("cut.dcm", "ct.dcm")])
    for name, result in zip(("cut.dcm", "ct.dcm"), results):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1, (name, result.stderr[-2000:])
        assert lines[0].startswith(f"octsr: error: {tmp_path / name}: "), lines
    assert not (tmp_path / "out" / "cut.dcm").exists() and not (tmp_path / "out" / "ct.dcm").exists()


needs_vendor_samples = pytest.mark.skipif(
    not (VENDOR_SAMPLES / "heyex_vol" / "test_volume.vol").is_file(),
    reason=f"vendor sample files not found at {VENDOR_SAMPLES} (the shared data folder beside the repo)")


@needs_vendor_samples
@pytest.mark.parametrize("sample", ["heyex_vol/test_volume.vol", "heyex_xml/test_volume/test_dummy.xml"])
def test_heidelberg_files_give_their_bscans_spacing_and_eye(sample):
    """eyepy's own test files (vendor-samples/README.md: 10 B-scans of 40 x 50, right eye)."""
    pytest.importorskip("eyepy", reason="the scanners extra is not installed")
    volume = read_volume(VENDOR_SAMPLES / sample)
    assert len(volume.bscans) == 10 and volume.bscans[0].shape == (40, 50) and volume.bscans[0].dtype == np.uint8
    assert volume.spacing.missing() == [] and volume.metadata.get("Laterality") == "OD"
    # millimetres per pixel of a Spectralis: microns down an A-scan, tens of microns across
    assert 0.001 < volume.spacing.down_mm < volume.spacing.across_mm < volume.spacing.between_mm < 1


@needs_vendor_samples
def test_enhance_writes_a_vol_as_a_tiff_volume_with_its_spacing(tmp_path):
    pytest.importorskip("eyepy", reason="the scanners extra is not installed")
    from tests.conftest import run_cli

    source = VENDOR_SAMPLES / "heyex_vol" / "test_volume.vol"
    result = run_cli("octsr.enhance", f"input={source}", f"output={tmp_path}", "weights=fast")
    assert result.returncode == 0, result.stderr[-3000:]
    written = read_volume(tmp_path / "test_volume.tif")
    assert [b.shape for b in written.bscans] == [(40, 50)] * 10 and written.bscans[0].dtype == np.uint8
    assert written.spacing == read_volume(source).spacing


def test_a_damaged_vol_is_one_line(tmp_path):
    pytest.importorskip("eyepy", reason="the scanners extra is not installed")
    (tmp_path / "scan.vol").write_bytes(b"HSF-OCT-103\0" + bytes(200))
    with pytest.raises(DataError, match=r"scan.vol: not a readable Heidelberg .vol") as err:
        read_volume(tmp_path / "scan.vol")
    assert "\n" not in str(err.value)


def test_anonymize_removes_the_patients_identifiers_and_says_which(tmp_path):
    from tests.conftest import run_cli

    frames = (np.random.default_rng(5).random((2, 48, 64)) * 255).astype(np.uint8)
    ds = opt_dataset(frames)
    ds.PatientBirthDate, ds.StudyDate = "19700101", "20260101"
    source = write(ds, tmp_path / "scan.dcm")
    result = run_cli("octsr.enhance", f"input={source}", f"output={tmp_path / 'out'}", "weights=fast",
                     "anonymize=true")
    assert result.returncode == 0, result.stderr[-3000:]
    said = [line for line in (result.stdout + result.stderr).splitlines() if "de-identified" in line]
    assert len(said) == 1 and "removed PatientID, PatientName" in said[0] and "PatientBirthDate" in said[0]
    derived = pydicom.dcmread(tmp_path / "out" / "scan.dcm")
    assert not derived.get("PatientName") and not derived.get("PatientID")
    for identifying in ("PatientBirthDate", "StudyDate", "StudyInstanceUID", "FrameOfReferenceUID"):
        assert derived.get(identifying) != ds.get(identifying), identifying
    assert "octsr" in derived.SeriesDescription and derived.pixel_array.shape == frames.shape
