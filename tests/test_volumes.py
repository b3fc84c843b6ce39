"""Volumes in, one interface: B-scans, spacing and metadata from multi-page TIFF and DICOM
Ophthalmic Tomography objects that pydicom builds (not octsr), and one line for the rest."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tifffile

from octsr.formats.images import read_pages
from octsr.formats import count_bscans, read_volume
from octsr.formats.dicom import OPT_STORAGE
from octsr.errors import DataError
from tests.conftest import VENDOR_SAMPLES, results_in
from tests.opt_objects import opt_dataset, write

pydicom = pytest.importorskip("pydicom")


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


def test_a_localizer_or_thumbnail_page_is_left_out_of_a_tiff_volume_with_a_note(tmp_path, caplog):
    """As scanners export them: a 96x96 localizer first, then the 64x128 B-scans, then a
    thumbnail marked reduced-resolution. The volume is the B-scans alone (header count
    and pixels agree); an image read of the file still has every page."""
    rng = np.random.default_rng(4)
    bscans = rng.integers(0, 256, (4, 64, 128), dtype=np.uint8)
    with tifffile.TiffWriter(tmp_path / "vol.tif") as tif:
        tif.write(rng.integers(0, 256, (96, 96), dtype=np.uint8), photometric="minisblack", metadata=None)
        for scan in bscans:
            tif.write(scan, photometric="minisblack", metadata=None)
        tif.write(bscans[0, ::2, ::2], photometric="minisblack", metadata=None, subfiletype=1)
    with caplog.at_level(logging.WARNING):
        volume = read_volume(tmp_path / "vol.tif")
    assert np.array_equal(np.stack(volume.bscans), bscans) and count_bscans(tmp_path / "vol.tif") == 4
    assert (f"{tmp_path / 'vol.tif'}: left out 2 of its 6 pages as not B-scans of this volume (its 4 B-scans "
            f"are 64x128): pages 1 (96x96), 6 (marked reduced-resolution)") in caplog.text
    assert len(read_pages(tmp_path / "vol.tif")) == 6


def test_a_tiff_of_pages_with_no_common_size_is_no_volume(tmp_path):
    with tifffile.TiffWriter(tmp_path / "mixed.tif") as tif:
        for shape in ((64, 128), (64, 128), (96, 96), (96, 96), (32, 32)):
            tif.write(np.zeros(shape, np.uint8), photometric="minisblack", metadata=None)
    for read in (read_volume, count_bscans):
        with pytest.raises(DataError, match="mixed.tif: its pages are 2 of 64x128, 2 of 96x96, 1 of 32x32 "
                                            r"\(rows x columns\) and no size holds most of them") as err:
            read(tmp_path / "mixed.tif")
        assert "\n" not in str(err.value)


def test_anything_else_is_one_line(tmp_path):
    (tmp_path / "notes.txt").write_text("not a scan")
    with pytest.raises(DataError, match="not a volume octsr reads"):
        read_volume(tmp_path / "notes.txt")


def dicom_tool_errors(tool: str, path) -> set[str]:
    import subprocess

    done = subprocess.run([tool, str(path)], capture_output=True, text=True)
    # Errors, and attributes outside the IOD (which make the object a "Standard Extended" one).
    return {line.strip() for line in (done.stdout + done.stderr).splitlines()
            if line.startswith("Error") or "not present in standard DICOM IOD" in line}


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
    # The derivation where the IOD places it: each frame's Derivation Image functional group.
    for number, group in enumerate(derived.PerFrameFunctionalGroupsSequence, 1):
        derivation = group.DerivationImageSequence[0]
        assert derivation.DerivationCodeSequence[0].CodeValue == "113087" and "octsr" in derivation.DerivationDescription
        source_frame = derivation.SourceImageSequence[0]
        assert (source_frame.ReferencedSOPInstanceUID, source_frame.ReferencedFrameNumber) == (ds.SOPInstanceUID, number)
        assert source_frame.PurposeOfReferenceCodeSequence[0].CodeValue == "121322"
    assert derived.ReferencedSeriesSequence[0].SeriesInstanceUID == ds.SeriesInstanceUID
    assert "SourceImageSequence" not in derived and "DerivationDescription" not in derived
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


@needs_vendor_samples
def test_enhance_writes_vendor_volumes_as_opt_objects_that_other_readers_accept(tmp_path):
    """output_format=dicom: a .vol file and a folder holding an XML export (its XML, not its
    B-scan TIFFs one by one) each become one Ophthalmic Tomography object, with the spacing,
    eye and patient the file states; dciodvfy flags only its concatenation attributes."""
    pytest.importorskip("eyepy", reason="the scanners extra is not installed")
    import shutil
    import subprocess

    from tests.conftest import run_cli_batch

    vol, export = VENDOR_SAMPLES / "heyex_vol" / "test_volume.vol", VENDOR_SAMPLES / "heyex_xml" / "test_volume"
    results = run_cli_batch([("octsr.enhance", f"input={source}", f"output={tmp_path / name}", "weights=fast",
                              "output_format=dicom") for name, source in (("vol", vol), ("xml", export))])
    assert all(r.returncode == 0 for r in results), results[-1].stderr[-3000:]
    assert results_in(tmp_path / "xml") == ["test_dummy.dcm"]
    for written, source in ((tmp_path / "vol" / "test_volume.dcm", vol), (tmp_path / "xml" / "test_dummy.dcm", export / "test_dummy.xml")):
        derived = pydicom.dcmread(written)
        assert derived.SOPClassUID == OPT_STORAGE and derived.ImageType[0] == "DERIVED"
        assert derived.ImageLaterality == "R" and derived.NumberOfFrames == 10 and derived.BitsAllocated == 8
        got, stated = read_volume(written).spacing, read_volume(source).spacing
        assert vars(got) == pytest.approx(vars(stated), rel=1e-6)  # DICOM's decimal strings hold 16 characters
        if shutil.which("dciodvfy") and shutil.which("dcmdump"):
            assert all("Concatenation" in error for error in dicom_tool_errors("dciodvfy", written))
            assert subprocess.run(["dcmdump", str(written)], capture_output=True).returncode == 0
    assert str(pydicom.dcmread(tmp_path / "xml" / "test_dummy.dcm").PatientName) == "Doe^John"  # from the XML


def test_a_volume_of_unknown_spacing_is_no_dicom(tmp_path):
    from octsr.formats.dicom import write_derived_dicom
    from octsr.formats.volume import UNKNOWN_SPACING, Spacing, Volume

    scans = np.zeros((2, 8, 8), np.uint8)
    volume = Volume(scans, Spacing(0.01, 0.004, None), tmp_path / "scan.vol", "heidelberg")
    with pytest.raises(DataError, match="spacing between B-scans is not stated.*output_format=tiff"):
        write_derived_dicom(volume, scans, tmp_path / "scan.dcm", "octsr")
    assert not (tmp_path / "scan.dcm").exists()
    assert UNKNOWN_SPACING.missing() == ["across", "down", "between B-scans"]


def test_a_damaged_vol_is_one_line(tmp_path):
    pytest.importorskip("eyepy", reason="the scanners extra is not installed")
    (tmp_path / "scan.vol").write_bytes(b"HSF-OCT-103\0" + bytes(200))
    with pytest.raises(DataError, match=r"scan.vol: not a readable Heidelberg .vol") as err:
        read_volume(tmp_path / "scan.vol")
    assert "\n" not in str(err.value)


def test_anonymize_leaves_no_identifier_date_or_time_of_the_input_anywhere(tmp_path):
    """`anonymize=true` on an object that carries identity at every depth: no name, ID,
    date, time, instance UID or private value of the input anywhere in the output (file meta
    and nested sequences included), the profile's marks set, and what it did said once."""
    import shutil

    from tests.conftest import run_cli
    from tests.opt_objects import identified_opt, identifying_values

    frames = (np.random.default_rng(5).random((3, 48, 64)) * 255).astype(np.uint8)
    ds = identified_opt(frames)
    secrets = identifying_values(ds) | identifying_values(ds.file_meta)
    assert {"MRN-5512-77", "NHS-943-476-5919", "19540317", "20250314093611.000002", "093012"} <= secrets
    source = write(ds, tmp_path / "scan.dcm")
    result = run_cli("octsr.enhance", f"input={source}", f"output={tmp_path / 'out'}", "weights=fast",
                     "anonymize=true")
    assert result.returncode == 0, result.stderr[-3000:]
    said = [line for line in (result.stdout + result.stderr).splitlines() if "de-identified" in line]
    assert len(said) == 1 and "PatientID" in said[0] and "FrameAcquisitionDateTime (x3)" in said[0], said
    derived = pydicom.dcmread(tmp_path / "out" / "scan.dcm")
    leaks = []

    def look(dataset, element) -> None:
        if element.VR == "SQ" or element.is_empty:
            return
        if element.tag.is_private:
            leaks.append(f"private {element.tag}")
        for value in (element.value if element.VM > 1 else [element.value]):
            text = str(value)
            if (text in secrets) if element.VR == "UI" else any(secret in text for secret in secrets):
                leaks.append(f"{element.keyword or element.tag} = {text}")

    derived.walk(look)
    derived.file_meta.walk(look)
    assert not leaks, leaks
    assert derived.PatientIdentityRemoved == "YES"
    assert derived.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert derived.file_meta.MediaStorageSOPInstanceUID == derived.SOPInstanceUID
    # Type 1 values stay present (valid: dciodvfy below).
    assert derived.AcquisitionDateTime and derived.ContentDate and derived.StudyInstanceUID
    assert "octsr" in derived.SeriesDescription and derived.pixel_array.shape == frames.shape
    if shutil.which("dciodvfy") is None:
        pytest.skip("dicom3tools missing (make system-packages installs them)")
    assert dicom_tool_errors("dciodvfy", tmp_path / "out" / "scan.dcm") <= dicom_tool_errors("dciodvfy", source)

def test_a_pacs_export_is_read_by_what_its_files_are(tmp_path):
    """A CD or PACS export (a DICOMDIR, instance files without a suffix in subfolders, a
    photograph beside the OCT): each OCT object restored, the rest left out with a note."""
    from pydicom.fileset import FileSet

    from tests.conftest import run_cli

    rng = np.random.default_rng(6)
    export = FileSet()
    for series in (1, 2):
        ds = opt_dataset((rng.random((3, 40, 60)) * 255).astype(np.uint8), complete=True)
        ds.SeriesNumber = series
        export.add(ds)
    photo = opt_dataset((rng.random((1, 20, 20)) * 255).astype(np.uint8), complete=True,
                        sop_class="1.2.840.10008.5.1.4.1.1.77.1.5.1")  # Ophthalmic Photography 8 Bit
    photo.SeriesNumber, photo.Modality = 3, "OP"
    export.add(photo)
    export.write(tmp_path / "cd")
    assert not any(p.suffix for p in (tmp_path / "cd").rglob("IM*"))  # as a CD names them
    result = run_cli("octsr.enhance", f"input={tmp_path / 'cd'}", f"output={tmp_path / 'out'}", "weights=fast")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "left out 2 DICOM object(s) that are not OCT B-scans: DICOMDIR index (1), Ophthalmic Photography" \
        in result.stdout + result.stderr
    written = sorted(p for p in (tmp_path / "out").rglob("IM*"))
    assert len(written) == 2 and all(p.suffix == ".dcm" for p in written)
    assert all(read_volume(p).bscans.shape == (3, 40, 60) for p in written)


def test_a_dicom_without_its_preamble_is_read_and_a_foreign_file_is_named_plainly(tmp_path):
    frames = (np.random.default_rng(7).random((2, 40, 60)) * 255).astype(np.uint8)
    ds = opt_dataset(frames, complete=True)
    del ds.file_meta  # as older tools write it: no preamble, no DICM mark, no file meta
    ds.save_as(tmp_path / "bare.dcm", implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert (tmp_path / "bare.dcm").read_bytes()[128:132] != b"DICM"
    volume = read_volume(tmp_path / "bare.dcm")
    assert np.array_equal(volume.bscans, frames) and volume.spacing.between_mm == pytest.approx(0.12)
    (tmp_path / "other.dcm").write_bytes(np.random.default_rng(8).bytes(3000))
    with pytest.raises(DataError) as err:
        read_volume(tmp_path / "other.dcm")
    assert "not a DICOM file" in str(err.value) and "force" not in str(err.value)
