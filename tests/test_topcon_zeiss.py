"""Topcon .fda/.fds and Zeiss .img files through octsr.formats: small files built from the
readers' own format definitions (tests/vendor_files) read back with their pixels, spacing,
intensity law and metadata; OCT-Converter's (and eyepy's) own readers read the same files to
the same pixels; a cut or foreign file is one line naming it. Skipped where OCT-Converter
(the `scanners` extra) cannot be imported."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("oct_converter.readers", reason="OCT-Converter (the scanners extra) is not installed")

from oct_converter.readers import fda as fda_module  # noqa: E402
from oct_converter.readers import fds as fds_module  # noqa: E402

from octsr.errors import ConfigError, DataError  # noqa: E402
from octsr.formats.topcon import legacy_fromstring, read_fda, read_fds  # noqa: E402
from octsr.formats.zeiss import cirrus_name, read_img  # noqa: E402
from tests.vendor_files.topcon import write_fda, write_fds  # noqa: E402
from tests.vendor_files.zeiss import img_name, write_img, write_sparse_img  # noqa: E402

NUMPY_REFUSES_BINARY_FROMSTRING = tuple(int(p) for p in np.__version__.split(".")[:2]) >= (2, 3)


def needs_jpeg2000():
    from PIL import features

    if not features.check("jpg_2000"):
        pytest.skip("Pillow was built without OpenJPEG: .fda B-scans are JPEG 2000")


def scans(dtype, shape=(3, 64, 96), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)


def assert_one_line_naming(err, path) -> None:
    message = str(err.value)
    assert str(path) in message and "\n" not in message, message


# Topcon .fda


def test_an_fda_gives_its_jpeg2000_bscans_spacing_law_and_identity(tmp_path):
    needs_jpeg2000()
    stored = scans(np.uint8)
    volume = read_fda(write_fda(tmp_path / "scan.fda", stored, scan_mm=(6.0, 7.0), axial_um=2.6))
    assert volume.format == "topcon" and volume.bscans.shape == (3, 64, 96) and volume.bscans.dtype == np.uint8
    np.testing.assert_array_equal(volume.bscans, stored)
    # width / A-scans, axial µm in mm, length / B-scans
    assert volume.spacing.across_mm == pytest.approx(6.0 / 96)
    assert volume.spacing.down_mm == pytest.approx(0.0026)
    assert volume.spacing.between_mm == pytest.approx(7.0 / 3)
    assert volume.intensity == "log"
    assert volume.metadata == {"Manufacturer": "Topcon", "ManufacturerModelName": "3D OCT-2000", "Laterality": "OD",
                               "PatientName": "Lovelace^Ada", "PatientID": "TOP-042", "PatientBirthDate": "19501210",
                               "PatientSex": "F", "StudyDate": "20210304"}


def test_an_fda_with_only_the_raw_volume_gives_its_16_bit_bscans_and_no_stated_law(tmp_path):
    stored = scans(np.uint16, seed=1)
    volume = read_fda(write_fda(tmp_path / "raw.fda", stored, raw=True, eye=1))
    assert volume.bscans.dtype == np.uint16
    np.testing.assert_array_equal(volume.bscans, stored)
    assert volume.intensity is None and volume.metadata["Laterality"] == "OS"


def test_a_spacing_the_topcon_file_does_not_state_stays_unknown(tmp_path):
    volume = read_fda(write_fda(tmp_path / "bare.fda", scans(np.uint16), raw=True, scan_mm=None))
    assert volume.spacing.missing() == ["across", "down", "between B-scans"]
    line = read_fds(write_fds(tmp_path / "line.fds", scans(np.uint16, (1, 64, 96)), scan_mm=(6.0, 0.0)))
    assert line.spacing.between_mm is None and line.spacing.across_mm == pytest.approx(6.0 / 96)


# Topcon .fds


def test_an_fds_gives_its_bscans_spacing_and_identity(tmp_path):
    stored = scans(np.uint16, (4, 50, 70), seed=2)
    volume = read_fds(write_fds(tmp_path / "ukb.fds", stored, scan_mm=(6.0, 6.0), axial_um=3.5))
    assert volume.bscans.shape == (4, 50, 70) and volume.bscans.dtype == np.uint16
    np.testing.assert_array_equal(volume.bscans, stored)
    assert volume.bscans.flags.writeable and volume.bscans.flags.c_contiguous
    assert (volume.spacing.across_mm, volume.spacing.down_mm, volume.spacing.between_mm) == \
        pytest.approx((6.0 / 70, 0.0035, 6.0 / 4))
    assert volume.intensity is None
    # No names in the file: none made up.
    assert volume.metadata == {"Manufacturer": "Topcon", "ManufacturerModelName": "3D OCT-1000", "Laterality": "OS",
                               "PatientID": "UKB-7", "PatientBirthDate": "19440229", "PatientSex": "M",
                               "StudyDate": "20101112"}


# OCT-Converter's and eyepy's own readers, and the numpy they need


def test_oct_converters_own_readers_read_the_built_topcon_files_to_the_same_volume(tmp_path):
    needs_jpeg2000()
    jpeg, raw, fds = scans(np.uint8), scans(np.uint16, seed=3), scans(np.uint16, seed=4)
    fda_path, raw_path = write_fda(tmp_path / "j.fda", jpeg), write_fda(tmp_path / "r.fda", raw, raw=True)
    fds_path = write_fds(tmp_path / "s.fds", fds)
    with legacy_fromstring(fda_module, fds_module):
        theirs = [fda_module.FDA(fda_path).read_oct_volume(), fda_module.FDA(raw_path).read_oct_volume(),
                  fds_module.FDS(fds_path).read_oct_volume()]
    for their, ours, stored in zip(theirs, (read_fda(fda_path), read_fda(raw_path), read_fds(fds_path)),
                                   (jpeg, raw, fds)):
        np.testing.assert_array_equal(np.stack(their.volume), stored)
        np.testing.assert_array_equal(ours.bscans, np.stack(their.volume))
        across, between, down = their.pixel_spacing
        assert (ours.spacing.across_mm, ours.spacing.between_mm, ours.spacing.down_mm) == (across, between, down)
        assert their.laterality == {"OD": "R", "OS": "L"}[ours.metadata["Laterality"]]
        assert their.patient_id == ours.metadata["PatientID"]


def test_eyepys_topcon_reader_reads_the_built_fda_to_the_same_bscans(tmp_path):
    needs_jpeg2000()
    eyepy = pytest.importorskip("eyepy")
    stored = scans(np.uint8, seed=5)
    path = write_fda(tmp_path / "e.fda", stored)
    with legacy_fromstring(fda_module):
        theirs = eyepy.import_topcon_fda(path)
    np.testing.assert_array_equal(np.asarray(theirs.data), stored)
    np.testing.assert_array_equal(read_fda(path).bscans, np.asarray(theirs.data))
    assert theirs.scale_y == pytest.approx(read_fda(path).spacing.down_mm)


def test_the_numpy_stand_in_reaches_the_topcon_readers_only_and_only_while_reading(tmp_path):
    path = write_fds(tmp_path / "s.fds", scans(np.uint16))
    if NUMPY_REFUSES_BINARY_FROMSTRING:  # the trap: OCT-Converter 0.7 alone fails on current numpy
        with pytest.raises(ValueError, match="fromstring"):
            fds_module.FDS(path)
    read_fds(path)
    assert fda_module.np is np and fds_module.np is np
    if NUMPY_REFUSES_BINARY_FROMSTRING:  # numpy itself is as it was, for every other caller
        with pytest.raises(ValueError, match="fromstring"):
            np.fromstring(b"\x01\x02", dtype=np.uint8)
    with legacy_fromstring(fds_module):
        assert fds_module.np is not np
        np.testing.assert_array_equal(fds_module.np.fromstring(b"\x01\x00\x02\x00", dtype=np.uint16), [1, 2])
        assert fds_module.np.uint16 is np.uint16
        # Text mode is numpy's own, not the stand-in's.
        np.testing.assert_array_equal(fds_module.np.fromstring("1 2", dtype=int, sep=" "), [1, 2])
    assert fds_module.np is np


# Damaged and foreign Topcon files


@pytest.mark.parametrize("suffix", [".fda", ".fds"])
def test_a_truncated_topcon_file_is_one_line_naming_it(tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    if suffix == ".fda":
        write_fda(path, scans(np.uint16), raw=True)
    else:
        write_fds(path, scans(np.uint16))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    reader = read_fda if suffix == ".fda" else read_fds
    with pytest.raises(DataError, match="truncated or damaged") as err:
        reader(path)
    assert_one_line_naming(err, path)


def test_a_topcon_file_whose_pixel_chunk_is_short_is_one_line(tmp_path):
    path = write_fds(tmp_path / "short.fds", scans(np.uint16))
    data = bytearray(path.read_bytes())
    at = data.index(b"@IMG_SCAN_03") + len(b"@IMG_SCAN_03") + 4  # the chunk's data: its header first
    data[at + 5 : at + 9] = (10_000).to_bytes(4, "little")  # the header now claims 10000 rows per B-scan
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match="too few for the 3 B-scans of 10000x96") as err:
        read_fds(path)
    assert_one_line_naming(err, path)


@pytest.mark.parametrize("content", [b"", bytes(range(256)) * 4, b"FOCT" + bytes(range(200, 256)) * 3,
                                     b"FOCTFDA" + bytes(8) + bytes([5]) + b"@JUNK" + (10**9).to_bytes(4, "little")])
def test_a_file_that_is_not_a_topcon_file_is_one_line_naming_it(tmp_path, content):
    path = tmp_path / "garbage.fda"
    path.write_bytes(content)
    with pytest.raises(DataError) as err:
        read_fda(path)
    assert_one_line_naming(err, path)


def test_a_topcon_file_without_bscans_says_so(tmp_path):
    path = write_fda(tmp_path / "empty.fda", scans(np.uint16), raw=True)
    data = path.read_bytes().replace(b"@IMG_MOT_COMP_03", b"@IMG_MOT_COMP_99")
    path.write_bytes(data)
    with pytest.raises(DataError, match="without B-scans") as err:
        read_fda(path)
    assert_one_line_naming(err, path)


def test_an_oct_converter_that_cannot_be_imported_names_the_extra(tmp_path, monkeypatch):
    path = write_fds(tmp_path / "s.fds", scans(np.uint16))
    monkeypatch.setitem(sys.modules, "oct_converter.readers.fds", None)  # as a missing h5py would make it
    with pytest.raises(ConfigError, match=r"'scanners' extra: OCT-Converter is installed but cannot be imported"):
        read_fds(path)


# Zeiss .img


def test_an_img_gives_its_bscans_surface_up_and_what_its_name_states(tmp_path):
    stored = scans(np.uint8)
    path = write_img(tmp_path, stored)
    assert path.name == "P1234_Macular Cube 96x3_7-25-2011_14-35-58_OD_sn12345_cube_z.img"
    volume = read_img(path)
    assert volume.format == "zeiss" and volume.bscans.shape == (3, 64, 96) and volume.bscans.dtype == np.uint8
    np.testing.assert_array_equal(volume.bscans, stored)
    assert volume.intensity == "log"
    assert volume.metadata == {"Manufacturer": "Carl Zeiss Meditec", "Laterality": "OD", "PatientID": "P1234",
                               "StudyDate": "20110725"}
    # A 96x3 grid is no pattern whose size Zeiss states: nothing guessed.
    assert volume.spacing.missing() == ["across", "down", "between B-scans"]


def test_the_img_file_holds_each_bscan_turned_by_180_degrees(tmp_path):
    """The orientation the readers agree on, held against the bytes, not the builder: the file's
    first byte is the bottom-right pixel of the first B-scan, and the last byte of that
    B-scan's block its top-left one."""
    raw = np.zeros(3 * 64 * 96, np.uint8)
    raw[0], raw[64 * 96 - 1], raw[64 * 96 + 95] = 10, 20, 30
    path = tmp_path / img_name(96, 3)
    path.write_bytes(raw.tobytes())
    bscans = read_img(path).bscans
    assert bscans[0, 63, 95] == 10 and bscans[0, 0, 0] == 20 and bscans[1, 63, 0] == 30
    assert np.count_nonzero(bscans) == 3


def test_oct_converters_img_reader_reads_the_built_file_transposed_and_turned(tmp_path):
    from oct_converter.readers import IMG

    stored = scans(np.uint8, (3, 64, 96), seed=6)
    path = write_img(tmp_path, stored, patient_id="", eye="OS")
    theirs = IMG(path).read_oct_volume(rows=96, cols=64)
    assert len(theirs.volume) == 3 and theirs.volume[0].shape == (96, 64)  # A-scans down, depth across
    np.testing.assert_array_equal(np.stack([scan.T[::-1, ::-1] for scan in theirs.volume]), stored)
    ours = read_img(path)
    np.testing.assert_array_equal(ours.bscans, stored)
    assert theirs.laterality == "L" and ours.metadata["Laterality"] == "OS" and "PatientID" not in ours.metadata


def test_a_full_macular_cube_gets_the_spacing_zeiss_states_for_it(tmp_path):
    marks = {(0, 0, 0): 1, (127, 1023, 511): 2, (64, 100, 300): 3}
    path = write_sparse_img(tmp_path, 512, 128, 1024, marks)
    volume = read_img(path)
    assert volume.bscans.shape == (128, 1024, 512)
    assert {key: int(volume.bscans[key]) for key in marks} == marks and np.count_nonzero(volume.bscans) == 3
    assert (volume.spacing.across_mm, volume.spacing.down_mm, volume.spacing.between_mm) == \
        pytest.approx((6.0 / 512, 2.0 / 1024, 6.0 / 128))


def test_cirrus_names_give_grid_patient_eye_and_date(tmp_path):
    from octsr.formats.zeiss import _spacing

    name = cirrus_name(tmp_path / "AB-12_clinic_Optic Disc Cube 200x200_12-3-2019_9-5-7_OS_sn4321_cube_raw.img")
    assert (name.pattern, name.ascans, name.bscans, name.patient_id, name.eye) == \
        ("Optic Disc Cube", 200, 200, "AB-12_clinic", "OS")
    assert name.acquired.isoformat() == "2019-12-03T09:05:07"
    assert (_spacing(name, 1024).across_mm, _spacing(name, 1024).between_mm) == pytest.approx((0.03, 0.03))
    assert _spacing(name, 512).down_mm is None  # not a Cirrus depth: its 2 mm is not known to apply
    other = cirrus_name(tmp_path / "Anterior Segment Cube 512x128_1-1-2001_1-1-1_OD_sn1_cube_z.img")
    assert other.patient_id == "" and _spacing(other, 1024).missing() == ["across", "down", "between B-scans"]


@pytest.mark.parametrize("name, match", [
    ("P1_Macular Cube 96x3_7-25-2011_14-35-58_OD_sn1_cube_z.img", "not 3 B-scans of 96 A-scans"),
    ("scan.img", "states no scan pattern"),
    ("P1_Macular Cube 96x3_7-25-2011_14-35-58_OD_sn1_hidef_z.img", "hidef"),
])
def test_an_img_that_cannot_be_laid_out_is_one_line_naming_it(tmp_path, name, match):
    path = tmp_path / name
    path.write_bytes(bytes(3 * 96 * 64 - 1))  # one byte short of 3 B-scans of 64 rows
    with pytest.raises(DataError, match=match) as err:
        read_img(path)
    assert_one_line_naming(err, path)
