"""Heidelberg .e2e files through octsr.formats.heidelberg, on files built from eyepy's own
definitions of the format (tests/vendor_files/heidelberg_e2e.py)."""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("eyepy", reason="the scanners extra is not installed")

from octsr.errors import DataError  # noqa: E402
from octsr.formats.heidelberg import read_e2e  # noqa: E402
from tests.vendor_files.heidelberg_e2e import stored, write_e2e  # noqa: E402

SPACING = (0.0113, 0.0039, 0.12)  # mm across, down, between: a Spectralis volume's order of size


def linear_bscans(count=3, height=64, width=96, seed=0) -> np.ndarray:
    """Linear intensities as the format stores them (exactly representable), from speckle-like
    dark values to bright ones, different in every B-scan."""
    rng = np.random.default_rng(seed)
    return stored(rng.exponential(0.02, (count, height, width)).clip(1e-6, 1).astype(np.float32))


def log_display(linear: np.ndarray) -> np.ndarray:
    """eyepy's display of linear .e2e values (eyepy.core.utils.from_e2e_intensity), written
    out: a log with its offset and range mapped to 0..255."""
    return np.round(255 * np.clip((np.log(linear + 2.44e-4) + 8.3) / 8.285, 0, 1))


@pytest.mark.parametrize("laterality, eye", [("R", "OD"), ("L", "OS")])
def test_a_built_file_reads_back_with_its_pixels_spacing_and_eye(tmp_path, laterality, eye):
    linear = linear_bscans()
    path = write_e2e(tmp_path / "scan.e2e", linear, SPACING, laterality,
                     {"firstname": "Ada", "surname": "Lovelace", "patient_id": "HE-42", "sex": "F"})
    volume = read_e2e(path)

    assert volume.bscans.shape == (3, 64, 96) and volume.bscans.dtype == np.uint8
    assert volume.intensity == "log" and volume.format == "heidelberg" and volume.source == path
    # B-scan k is the k-th written, each pixel its own value on eyepy's log display
    assert np.abs(volume.bscans.astype(int) - log_display(linear)).max() <= 1
    assert len(np.unique(volume.bscans)) > 50  # the law was tested on a spread of greys, not two
    spacing = (volume.spacing.across_mm, volume.spacing.down_mm, volume.spacing.between_mm)
    assert spacing == pytest.approx(SPACING, rel=1e-5)
    assert volume.metadata == {"Laterality": eye, "PatientName": "Lovelace^Ada", "PatientID": "HE-42",
                               "PatientSex": "F", "StudyDate": "20210304"}


def test_one_bscan_has_no_spacing_between_bscans(tmp_path):
    volume = read_e2e(write_e2e(tmp_path / "line.e2e", linear_bscans(count=1), SPACING))
    assert volume.bscans.shape == (1, 64, 96)
    assert volume.spacing.between_mm is None and volume.spacing.across_mm == pytest.approx(SPACING[0], rel=1e-5)


def test_the_first_volume_is_read_and_the_series_left_out_are_named(tmp_path, caplog):
    path = write_e2e(tmp_path / "two.e2e", linear_bscans(), SPACING, scan_patterns=(2, 3, 3))
    with caplog.at_level(logging.WARNING, logger="octsr.formats.heidelberg"):
        volume = read_e2e(path)
    assert volume.bscans.shape == (3, 64, 96)
    notes = [r.getMessage() for r in caplog.records]
    assert notes == [f"{path}: read series 2 (3 B-scans); left out series 1 (a circle scan), series 3 (3 B-scans)"]


def test_a_file_of_no_volume_is_one_line_naming_it(tmp_path):
    path = write_e2e(tmp_path / "circle.e2e", linear_bscans(), SPACING, scan_patterns=(2,))
    with pytest.raises(DataError) as info:
        read_e2e(path)
    assert str(info.value) == f"{path}: no OCT volume that eyepy reads in this Heidelberg .e2e file " \
                              f"(series 1: a circle scan)"


def damaged(tmp_path, how: str):
    whole = write_e2e(tmp_path / "whole.e2e", linear_bscans(), SPACING).read_bytes()
    content = {"empty": b"", "in its header": whole[:60], "in its folder list": whole[:300],
               "in its last B-scan": whole[:-5000], "garbage": np.random.default_rng(1).bytes(20000),
               "garbage behind its mark": b"CMDb" + np.random.default_rng(2).bytes(20000),
               "text": b"not an e2e file\n" * 100}[how]
    path = tmp_path / f"{how.replace(' ', '_')}.e2e"
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("how", ["empty", "in its header", "in its folder list", "in its last B-scan", "garbage",
                                 "garbage behind its mark", "text"])
def test_a_truncated_or_foreign_file_is_a_data_error_in_one_line_naming_it(tmp_path, how):
    path = damaged(tmp_path, how)
    with pytest.raises(DataError) as info:
        read_e2e(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message and "Traceback" not in message
    assert len(message) < 600


def test_eyepys_own_reader_reads_the_built_file(tmp_path):
    """The builder follows eyepy's definitions: eyepy's importer (its whole EyeVolume path,
    localizer and layers included) reads the file, with the values and positions written."""
    import eyepy
    from eyepy.io.he import HeE2eReader

    linear = linear_bscans()
    path = write_e2e(tmp_path / "scan.e2e", linear, SPACING, "L")
    volume = eyepy.import_heyex_e2e(path)

    assert volume.shape == (3, 64, 96)
    assert np.array_equal(volume.raw_data, linear)  # what the file stores, bit for bit
    assert np.array_equal(volume.data, read_e2e(path).bscans)  # octsr hands over what eyepy does
    assert chr(int(volume.laterality)) == "L"
    # eyepy's volume scale is a 1-pixel placeholder for .e2e; the spacing is in each B-scan's
    # metadata, which eyepy's own HEYEX-style summary turns into these
    assert (volume.scale_x, volume.scale_y, volume.scale_z) == (1, 1, 1)
    oct_image = volume.meta["e2e_metadata"]["heyex"]["OCT Image"]
    assert oct_image["Scaling X"] == "11.30 µm/pixel" and oct_image["Scaling Z"] == "3.90 µm/pixel"
    pattern = volume.meta["e2e_metadata"]["heyex"]["OCT Scan Pattern"]
    assert pattern["Distance between B-Scans"] == "120 µm" and pattern["Number of B-Scans"] == "3"
    assert [m["aktImage"] for m in volume.meta["bscan_meta"]] == [0, 1, 2]
    with HeE2eReader(path) as reader:
        assert [s.id for s in reader.series] == [1] and reader.patients[0].folders[9][0].data.surname == "Doe"
