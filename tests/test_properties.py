"""Property-based tests (Hypothesis): for any image size, pixel type and tile, the readers
and the tiler give the right result or one clear error, never a wrong image or a crash."""

from __future__ import annotations

import functools

import hydra
import numpy as np
import pytest
import tifffile
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from octsr.formats.images import read_grayscale, read_pages, write_pages
from octsr.errors import DataError
from octsr.tiling import TiledInferer
from octsr.models.restoration_module import RestorationModule
from tests.conftest import REPO, compose_train

SUPPORTED = {np.uint8: 255, np.uint16: 65535, np.int8: 127, np.int16: 32767}
DTYPES = [np.uint8, np.uint16, np.int8, np.int16, np.int32, np.uint32, np.int64, np.float32,
          np.float64, np.float16]
CHECKS = settings(max_examples=40, deadline=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def scans(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind == "f":
        lo, hi = draw(st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (0.0, 4.0)]))
        image = rng.uniform(lo, hi, (h, w)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        lo = draw(st.sampled_from([0, int(info.min)]))
        image = rng.integers(lo, int(info.max), (h, w), dtype=dtype, endpoint=True)
    return image


@CHECKS
@given(image=scans(), suffix=st.sampled_from([".tif", ".png"]))
def test_a_read_scan_is_the_stored_one_scaled_or_one_clear_error(tmp_path, image, suffix):
    path = tmp_path / f"scan{suffix}"
    if suffix == ".png" and image.dtype not in (np.uint8, np.uint16):
        return  # PNG stores only these
    write_pages(path, [image])
    np.testing.assert_array_equal(read_pages(path)[0], image)  # stored exactly as given
    try:
        unit = read_grayscale(path)
    except DataError as err:
        assert str(err).startswith(str(path)) and "\n" not in str(err)
        assert (image.dtype.type not in SUPPORTED and image.dtype.kind != "f") or image.min() < 0 \
            or (image.dtype.kind == "f" and image.max() > 1)
        return
    assert unit.dtype == np.float32 and unit.shape == image.shape
    if image.dtype.kind == "f":
        np.testing.assert_allclose(unit, image.astype(np.float32))
    else:
        np.testing.assert_allclose(unit, image / SUPPORTED[image.dtype.type], rtol=1e-6)


@CHECKS
@given(shapes=st.lists(st.tuples(st.integers(1, 30), st.integers(1, 30)), min_size=1, max_size=4),
       dtype=st.sampled_from([np.uint8, np.uint16]))
def test_every_page_of_a_volume_survives_a_round_trip(tmp_path, shapes, dtype):
    rng = np.random.default_rng(0)
    pages = [rng.integers(0, np.iinfo(dtype).max, shape, dtype=dtype) for shape in shapes]
    path = tmp_path / "volume.tif"
    write_pages(path, pages)
    back = read_pages(path)
    assert [p.shape for p in back] == list(shapes)
    for a, b in zip(back, pages):
        np.testing.assert_array_equal(a, b)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == len(pages)


@functools.lru_cache(maxsize=None)
def fresh_model(overrides: tuple[str, ...]) -> RestorationModule:
    cfg = compose_train(*overrides)
    torch.manual_seed(0)
    inferer = hydra.utils.instantiate(cfg.model.inferer) if cfg.model.get("inferer") else None
    return RestorationModule(hydra.utils.instantiate(cfg.model.net), optimizer=None, inferer=inferer,
                             log_images=False, residual=cfg.model.residual,
                             match_input_mean=cfg.model.match_input_mean).eval()


# Every model config, so a new network is covered as soon as it has a conf/model file, and the
# output steps that act on the whole image (a residual U-Net matched to its input's brightness).
MODELS = [(f"model={p.stem}",) for p in sorted((REPO / "conf" / "model").glob("[!_]*.yaml"))]
MODELS.append(("model=unet", "model.residual=true", "model.match_input_mean=true"))


# The one home of "tiles give the whole image's result": enhance, evaluate and validation all
# restore through the same forward and tiler.
@pytest.mark.parametrize("overrides", MODELS, ids=" ".join)
@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 80), w=st.integers(1, 80), tile=st.integers(4, 40))
def test_tiled_output_equals_the_whole_image(overrides, h, w, tile):
    model = fresh_model(overrides)
    image = torch.rand(1, 1, h, w, generator=torch.Generator().manual_seed(h * 100 + w))
    with torch.no_grad():
        whole = model(image)
        tiled = model(image, tiler=TiledInferer.for_model(model, tile))
    assert tiled.shape == whole.shape == image.shape
    torch.testing.assert_close(tiled, whole, atol=2e-5, rtol=0)
