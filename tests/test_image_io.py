import cv2
import numpy as np
import pytest
import tifffile

from octsr.formats.images import read_grayscale, read_pages
from octsr.errors import DataError


@pytest.fixture
def gradient():
    return np.linspace(0, 1, 30 * 40, dtype=np.float64).reshape(30, 40)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_8_and_16_bit_scale_to_unit_range(tmp_path, gradient, dtype):
    peak = np.iinfo(dtype).max
    stored = np.round(gradient * peak).astype(dtype)
    cv2.imwrite(str(tmp_path / "scan.png"), stored)
    image = read_grayscale(tmp_path / "scan.png")
    assert image.dtype == np.float32 and image.shape == (30, 40)
    np.testing.assert_allclose(image, stored / peak, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("compression", [None, "zlib", "packbits", "lzw"])
def test_tiff_compressed_8_and_16_bit(tmp_path, gradient, dtype, compression):
    peak = np.iinfo(dtype).max
    stored = np.round(gradient * peak).astype(dtype)
    tifffile.imwrite(tmp_path / "scan.tif", stored, compression=compression)
    np.testing.assert_allclose(read_grayscale(tmp_path / "scan.tif"), stored / peak, atol=1e-6)


def test_colour_png_is_folded_to_gray(tmp_path):
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 1] = 200
    cv2.imwrite(str(tmp_path / "c.png"), rgb)
    image = read_grayscale(tmp_path / "c.png")
    assert image.shape == (10, 12)
    assert 0.3 < image.mean() < 0.8


def test_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="missing.png: no such file"):
        read_grayscale(tmp_path / "missing.png")
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="broken.png"):
        read_grayscale(tmp_path / "broken.png")
    (tmp_path / "broken.tif").write_bytes(b"II*\x00garbage")
    with pytest.raises(DataError, match="broken.tif: cannot read TIFF"):
        read_grayscale(tmp_path / "broken.tif")
    tifffile.imwrite(tmp_path / "volume.tif", np.zeros((3, 8, 8), np.uint8), photometric="minisblack")
    with pytest.raises(DataError, match="volume.tif: a volume of 3 B-scans"):
        read_grayscale(tmp_path / "volume.tif")
    tifffile.imwrite(tmp_path / "float.tif", np.full((8, 8), 3.0, np.float32))
    with pytest.raises(DataError, match=r"float.tif: float image spans \[3, 3\]"):
        read_grayscale(tmp_path / "float.tif")


def test_a_gray_tiff_with_an_alpha_sample_is_one_bscan(tmp_path, caplog):
    """Photometric MINISBLACK with one extra sample declared as alpha: the gray sample is the
    B-scan, with a note; an extra sample of unstated meaning is refused in one line."""
    import logging

    image = np.random.default_rng(0).integers(0, 255, (60, 80, 2), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "alpha.tif", image, photometric="minisblack", extrasamples=["unassalpha"])
    tifffile.imwrite(tmp_path / "extra.tif", image, photometric="minisblack", extrasamples=["unspecified"])
    with caplog.at_level(logging.WARNING):
        pages = read_pages(tmp_path / "alpha.tif")
    assert len(pages) == 1 and np.array_equal(pages[0], image[..., 0]) and "alpha" in caplog.text
    with pytest.raises(DataError, match=r"extra.tif: gray pixels with 1 extra sample\(s\) of unstated meaning") as err:
        read_pages(tmp_path / "extra.tif")
    assert "\n" not in str(err.value)
