"""octsr in napari: the plugin napari discovers (reader, "Denoise with octsr", writer), driven
in a real viewer on a virtual screen (pytest-xvfb starts Xvfb; pytest-qt runs the event loop)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

napari = pytest.importorskip("napari", reason="the napari extra is not installed")
pytest.importorskip("eyepy", reason="the scanners extra is not installed")

from octsr.errors import DataError  # noqa: E402
from octsr.formats import VOLUME_SUFFIXES, read_volume  # noqa: E402
from octsr.napari.reader import get_reader  # noqa: E402
from octsr.napari.record import METADATA_KEY, VolumeRecord  # noqa: E402
from octsr.napari.writer import write_volume  # noqa: E402
from tests.conftest import DUKE_ROOT, needs_duke  # noqa: E402
from tests.test_volumes import dicom_tool_errors  # noqa: E402

# Where the test run keeps its screenshot when asked (docs/napari.md says how).
SCREENSHOT = os.environ.get("OCTSR_NAPARI_SCREENSHOT")


@pytest.fixture(scope="module")
def e2e(tmp_path_factory) -> Path:
    """A Heidelberg .e2e of five speckled phantom B-scans (256 x 384), built by the repo's script."""
    from tests.vendor_files.heidelberg_e2e import write_e2e
    from tests.vendor_files.__main__ import phantom_bscans

    return write_e2e(tmp_path_factory.mktemp("napari") / "phantom.e2e", phantom_bscans(5, 256, 384),
                     (0.0113, 0.0039, 0.12))


def denoise(viewer, qtbot, layer, **choices):
    """Open "Denoise with octsr" as napari does for a user, set `choices`, press Denoise and
    wait for the result; returns the widget."""
    _, widget = viewer.window.add_plugin_dock_widget("octsr", "Denoise with octsr")
    widget._image.value = layer
    for name, value in choices.items():
        getattr(widget, f"_{name}").value = value
    widget._run.clicked.emit()
    if widget.worker is not None:
        with qtbot.waitSignal(widget.worker.finished, timeout=120_000):
            pass
    return widget


def test_napari_discovers_the_reader_widget_and_writer_for_every_format():
    from npe2 import PluginManager

    manager = PluginManager.instance()
    manager.discover()
    manifest = manager.get_manifest("octsr")
    contributions = manifest.contributions
    patterns = {p.lstrip("*") for p in contributions.readers[0].filename_patterns}
    assert patterns == set(VOLUME_SUFFIXES)
    assert [w.display_name for w in contributions.widgets] == ["Denoise with octsr"]
    assert set(contributions.writers[0].filename_extensions) == {".tif", ".tiff", ".dcm", ".dicom"}


def test_a_vendor_volume_opens_in_its_physical_scale(make_napari_viewer, e2e, tmp_path):
    viewer = make_napari_viewer()
    [layer] = viewer.open(e2e, plugin=None)  # as `napari phantom.e2e`: napari picks the reader
    assert layer.data.shape == (5, 256, 384) and layer.data.dtype == np.uint8
    assert tuple(layer.scale) == pytest.approx((0.12, 0.0039, 0.0113), rel=1e-5)
    assert [str(u) for u in layer.units] == ["millimeter"] * 3
    assert layer.metadata[METADATA_KEY].source == e2e
    # a file octsr does not read is left to napari's other readers
    (tmp_path / "notes.txt").write_text("not a scan")
    assert get_reader(str(tmp_path / "notes.txt")) is None and get_reader(str(tmp_path / "missing.vol")) is None


def test_an_axis_of_no_stated_spacing_is_shown_in_pixels(make_napari_viewer, tmp_path):
    from octsr.formats.tiff import write_tiff_volume
    from octsr.formats.volume import UNKNOWN_SPACING

    write_tiff_volume(tmp_path / "v.tif", [np.zeros((40, 50), np.uint16)] * 3, UNKNOWN_SPACING)
    [layer] = make_napari_viewer().open(tmp_path / "v.tif", plugin="octsr")
    assert tuple(layer.scale) == (1, 1, 1) and [str(u) for u in layer.units] == ["pixel"] * 3
    assert layer.contrast_limits == [0, 65535]


def test_the_widget_denoises_a_volume_into_a_new_layer_beside_it(make_napari_viewer, qtbot, e2e, tmp_path):
    viewer = make_napari_viewer()
    [noisy] = viewer.open(e2e, plugin="octsr")
    widget = denoise(viewer, qtbot, noisy, weights="fast")

    assert [layer.name for layer in viewer.layers] == ["phantom", "phantom denoised"], widget._status.value
    restored = viewer.layers["phantom denoised"]
    assert restored.data.shape == noisy.data.shape and restored.data.dtype == noisy.data.dtype
    assert tuple(restored.scale) == tuple(noisy.scale) and viewer.grid.enabled
    record = restored.metadata[METADATA_KEY]
    assert record.source == e2e and record.restored_by.name == "duke_srcnn.pt"
    # the same pixels enhance gives the file, not merely smoother ones
    from octsr.inference import load_restorer

    volume = read_volume(e2e)
    expected = load_restorer({"weights": "fast"}).restore_stored(volume.bscans, 1, volume.max_value,
                                                                 law=volume.intensity)
    assert np.array_equal(restored.data, np.stack(expected))
    assert np.abs(np.diff(restored.data.astype(float), axis=2)).mean() < \
        0.5 * np.abs(np.diff(noisy.data.astype(float), axis=2)).mean()

    # saved through octsr's writers: a TIFF with the spacing, a derived DICOM of the .e2e
    assert write_volume(str(tmp_path / "d.tif"), restored.data, restored.as_layer_data_tuple()[1])
    back = read_volume(tmp_path / "d.tif")
    assert np.array_equal(back.bscans, restored.data) and back.spacing == volume.spacing
    napari.save_layers(str(tmp_path / "d.dcm"), [restored], plugin="octsr")
    assert np.array_equal(read_volume(tmp_path / "d.dcm").bscans, restored.data)
    if shutil.which("dciodvfy"):
        assert all("Concatenation" in error for error in dicom_tool_errors("dciodvfy", tmp_path / "d.dcm"))


def test_the_widget_says_what_is_wrong_and_the_writer_refuses_what_it_cannot_derive(make_napari_viewer, qtbot,
                                                                                   tmp_path):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((2, 3, 4, 5), np.uint8), name="4d")
    widget = denoise(viewer, qtbot, layer)
    assert widget.worker is None and "4 dimensions" in widget._status.value and len(viewer.layers) == 1

    widget._checkpoint.value = tmp_path / "missing.ckpt"
    widget._image.value = viewer.add_image(np.zeros((64, 64), np.uint8), name="b")
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: widget._run.enabled, timeout=60_000)
    assert "missing.ckpt" in widget._status.value and len(viewer.layers) == 2

    # a single B-scan comes back as a single B-scan
    widget._checkpoint.line_edit.value = ""  # emptied, as a user does
    widget._weights.value = "fast"
    widget._run.clicked.emit()
    qtbot.waitUntil(lambda: len(viewer.layers) == 3 or "missing" not in widget._status.value and widget._run.enabled,
                    timeout=120_000)
    assert [layer.name for layer in viewer.layers][-1] == "b denoised", widget._status.value
    assert viewer.layers["b denoised"].data.shape == (64, 64)

    with pytest.raises(DataError, match="save it as .tif"):
        write_volume(str(tmp_path / "x.dcm"), np.zeros((2, 64, 64), np.uint8), {"metadata": {}})
    with pytest.raises(DataError, match="octsr writes"):
        write_volume(str(tmp_path / "x.png"), np.zeros((2, 64, 64), np.uint8),
                     {"metadata": {METADATA_KEY: VolumeRecord(None)}})


@needs_duke
def test_a_screenshot_shows_a_duke_volume_and_its_denoised_layer_side_by_side(make_napari_viewer, qtbot, tmp_path):
    """Five neighbouring Duke B-scans as one TIFF volume, denoised with the shipped weights,
    shown side by side (docs/img/napari_denoise.png is this picture)."""
    from octsr.formats.images import read_pages
    from octsr.formats.tiff import write_tiff_volume
    from octsr.formats.volume import UNKNOWN_SPACING

    frames = [read_pages(DUKE_ROOT / "01" / name)[0] for name in ("test.tif", "1.tif", "2.tif", "3.tif", "4.tif")]
    write_tiff_volume(tmp_path / "duke_01.tif", frames, UNKNOWN_SPACING)
    viewer = make_napari_viewer(show=True)
    [noisy] = viewer.open(tmp_path / "duke_01.tif", plugin="octsr")
    denoise(viewer, qtbot, noisy)
    assert len(viewer.layers) == 2 and viewer.grid.enabled
    viewer.window._qt_window.resize(1500, 640)
    qtbot.wait(200)
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=True, flash=False)
    grey = shot[..., :3].mean(axis=2)
    left, right = grey[:, : grey.shape[1] // 2], grey[:, grey.shape[1] // 2 :]
    # both halves show a retina; the denoised one varies less from pixel to pixel
    assert left.std() > 10 and right.std() > 10
    assert np.abs(np.diff(right, axis=1)).mean() < np.abs(np.diff(left, axis=1)).mean()
    if SCREENSHOT:
        import imageio.v3 as iio

        iio.imwrite(SCREENSHOT, viewer.screenshot(canvas_only=False, flash=False))
