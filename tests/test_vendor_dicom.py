"""Each vendor format octsr reads, from the files the repo's script builds
(`python -m tests.vendor_files`), through `octsr.enhance` to DICOM: read by the one format
registry, restored, and written as an Ophthalmic Tomography object that dciodvfy passes
(no error but the concatenation attributes its tables ask of every multi-frame object, and
no attribute outside the IOD), de-identified or not."""

from __future__ import annotations

import shutil

import pydicom
import pytest

from octsr.formats import format_of, read_volume
from tests.conftest import run_cli, run_cli_batch
from tests.test_volumes import dicom_tool_errors

pytest.importorskip("eyepy", reason="the scanners extra is not installed")
pytest.importorskip("oct_converter", reason="OCT-Converter (the scanners extra) is not installed")

MAKERS = {"e2e": "Heidelberg Engineering", "fda": "Topcon", "fds": "Topcon", "img": "Carl Zeiss Meditec"}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    from tests.vendor_files.__main__ import write_samples

    return write_samples(tmp_path_factory.mktemp("vendor_files"), cube=False)


def check_dicom(written, source, maker: str) -> None:
    derived = pydicom.dcmread(written)
    assert derived.Manufacturer == maker and derived.NumberOfFrames == len(read_volume(source).bscans)
    stated, back = read_volume(source).spacing, read_volume(written).spacing
    for name in ("across_mm", "down_mm", "between_mm"):
        assert getattr(back, name) == pytest.approx(getattr(stated, name), rel=1e-5), name
    if shutil.which("dciodvfy") is None:
        pytest.skip("dicom3tools missing (make system-packages installs it)")
    assert all("Concatenation" in error for error in dicom_tool_errors("dciodvfy", written)), written


@pytest.mark.parametrize("anonymize", [False, True])
def test_every_vendor_file_enhances_to_dicom_that_dciodvfy_passes(samples, tmp_path, anonymize):
    out = tmp_path / "out"
    result = run_cli("octsr.enhance", f"input={samples['e2e'].parent}", f"output={out}", "output_format=dicom",
                     "weights=fast", f"anonymize={str(anonymize).lower()}")
    assert result.returncode == 0, result.stderr[-3000:]
    for kind, source in samples.items():
        assert format_of(source).name == {"e2e": "heidelberg", "fda": "topcon", "fds": "topcon"}[kind]
        written = out / source.with_suffix(".dcm").name
        check_dicom(written, source, MAKERS[kind])
        if anonymize:
            derived = pydicom.dcmread(written)
            identity = read_volume(source).metadata
            assert derived.PatientID != identity.get("PatientID") and derived.PatientIdentityRemoved == "YES"


def test_a_zeiss_cube_of_no_stated_size_enhances_to_tiff_and_is_refused_as_dicom(tmp_path):
    from tests.vendor_files.__main__ import as_display, phantom_bscans
    from tests.vendor_files.zeiss import write_img

    source = write_img(tmp_path, as_display(phantom_bscans(3, 96, 64)), pattern="Macular Cube")
    as_tiff, as_dicom = run_cli_batch([
        ("octsr.enhance", f"input={source}", f"output={tmp_path / 'tiff'}", "weights=fast"),
        ("octsr.enhance", f"input={source}", f"output={tmp_path / 'dicom'}", "weights=fast", "output_format=dicom")])
    assert as_tiff.returncode == 0, as_tiff.stderr[-3000:]
    assert len(read_volume(tmp_path / "tiff" / source.with_suffix(".tif").name).bscans) == 3
    assert as_dicom.returncode == 2 and "spacing" in as_dicom.stderr and "Traceback" not in as_dicom.stderr


@pytest.mark.slow
def test_a_zeiss_macular_cube_enhances_to_dicom_that_dciodvfy_passes(tmp_path):
    from tests.vendor_files.__main__ import as_display, phantom_bscans
    from tests.vendor_files.zeiss import write_img

    source = write_img(tmp_path, as_display(phantom_bscans(200, 1024, 200, seed=1)), pattern="Macular Cube")
    result = run_cli("octsr.enhance", f"input={source}", f"output={tmp_path / 'out'}", "output_format=dicom",
                     timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    check_dicom(tmp_path / "out" / source.with_suffix(".dcm").name, source, MAKERS["img"])
