"""napari's widget contribution, "Denoise with octsr": an image layer restored by the shipped
weights or a checkpoint, off the UI thread with a progress bar, added as a new layer beside it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Generator

import numpy as np
from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label, PushButton, create_widget
from napari.qt.threading import create_worker
from napari.utils.notifications import show_error
from omegaconf import OmegaConf

from octsr.errors import ConfigError, DataError
from octsr.napari.record import METADATA_KEY, VolumeRecord, record_of
from octsr.settings import InferenceSettings, check_settings
from octsr.weights import SHIPPED, uses_tta

if TYPE_CHECKING:
    import napari

PRECISIONS = ("fp32", "bf16", "auto")
DEVICES = ("cpu", "auto", "cuda", "mps")
INTENSITIES = ("auto", "stored", "log", "linear", "root")


class DenoiseWidget(Container):
    """The settings of `python -m octsr.enhance` that decide the pixels (weights or
    checkpoint, tta, precision, device, intensity), and a button that restores the chosen
    layer's B-scans into a new layer named after it, in its scale and stored range."""

    def __init__(self, napari_viewer: "napari.viewer.Viewer") -> None:
        self._viewer = napari_viewer
        self._image = create_widget(annotation="napari.layers.Image", label="volume")
        self._weights = ComboBox(choices=list(SHIPPED), value="best", label="shipped weights")
        self._checkpoint = FileEdit(mode="r", filter="*.ckpt *.pt", label="or checkpoint", value="")
        self._tta = CheckBox(text="tta: flips and turns (8x the time)", value=uses_tta({"weights": "best"}))
        self._precision = ComboBox(choices=PRECISIONS, value="fp32", label="precision")
        self._device = ComboBox(choices=DEVICES, value="cpu", label="device")
        self._intensity = ComboBox(choices=INTENSITIES, value="auto", label="intensity")
        self._side_by_side = CheckBox(text="show side by side", value=True)
        self._run = PushButton(text="Denoise")
        self._status = Label(value="")
        super().__init__(widgets=[self._image, self._weights, self._checkpoint, self._tta, self._precision,
                                  self._device, self._intensity, self._side_by_side, self._run, self._status])
        self._weights.changed.connect(lambda name: setattr(self._tta, "value", uses_tta({"weights": name})))
        self._run.changed.connect(self.denoise)
        self.worker = None  # the running restoration, if any (tests wait on it)

    def settings(self) -> dict[str, Any]:
        """The widget's choices as an entry point's settings, checked as enhance checks them."""
        # The field's text: its value turns an emptied field into the working folder.
        checkpoint = self._checkpoint.line_edit.value.strip()
        settings = {"ckpt_path": checkpoint or None,
                    "weights": self._weights.value, "device": self._device.value, "tta": self._tta.value,
                    "precision": self._precision.value, "intensity": self._intensity.value}
        check_settings(OmegaConf.create(settings), InferenceSettings)
        return settings

    def denoise(self) -> None:
        """Restore the chosen layer in a worker thread; the result arrives as a new layer."""
        layer = self._image.value
        try:
            if layer is None:
                raise DataError("open a volume first (File > Open, or drag it in)")
            pages, record = layer_pages(layer)
            settings = self.settings()
        except (ConfigError, DataError) as err:
            self._report(err)
            return
        self._run.enabled = False
        self._status.value = f"denoising {len(pages)} B-scan(s)..."
        self.worker = create_worker(restore_pages, settings, pages, record,
                                    _progress={"total": len(pages), "desc": "octsr denoise"},
                                    _connect={"returned": lambda result: self._add(layer, *result),
                                              "errored": self._report, "finished": self._done})

    def _add(self, layer, restored: np.ndarray, record: VolumeRecord) -> None:
        restored = restored.reshape(np.shape(layer.data))  # a single B-scan's layer stays 2-D
        self._viewer.add_image(restored, name=f"{layer.name} denoised", scale=layer.scale, translate=layer.translate,
                               units=layer.units, contrast_limits=layer.contrast_limits, colormap=layer.colormap,
                               metadata={**layer.metadata, METADATA_KEY: record})
        self._viewer.grid.enabled = self._side_by_side.value
        self._status.value = f"{layer.name} denoised with {record.restored_by.name}"

    def _report(self, err: BaseException) -> None:
        self._status.value = f"not denoised: {err}"
        show_error(f"octsr: {err}")

    def _done(self) -> None:
        self._run.enabled = True


def layer_pages(layer) -> tuple[list[np.ndarray], VolumeRecord]:
    """An image layer's B-scans as stored, and the record of the volume they came from (a
    layer octsr did not read: its pixel type's range, law estimated)."""
    if getattr(layer, "rgb", False) or getattr(layer, "multiscale", False):
        raise DataError(f"{layer.name}: a colour or multiscale layer; octsr restores grey B-scans")
    data = np.asarray(layer.data)
    if data.ndim not in (2, 3):
        raise DataError(f"{layer.name}: a layer of {data.ndim} dimensions; octsr restores a B-scan (2) or a volume "
                        f"of B-scans (3)")
    record = record_of(layer.metadata) or VolumeRecord(None)
    return list(data[None] if data.ndim == 2 else data), record


def restore_pages(settings: dict[str, Any], pages: list[np.ndarray], record: VolumeRecord
                  ) -> Generator[int, None, tuple[np.ndarray, VolumeRecord]]:
    """`pages` restored by the model `settings` name, as enhance restores a volume (one
    intensity transform for all of them, the stored type and range kept). Runs in the worker
    thread and yields the B-scans done after each, which napari's progress bar counts in the
    UI thread."""
    from octsr.inference import load_restorer

    restorer = load_restorer(settings)
    restored: list[np.ndarray] = []
    for _, outputs in restorer.restored_batches(pages, 1, record.max_value, record.source or "layer",
                                                record.intensity):
        restored += outputs
        yield len(outputs)
    return np.stack(restored), record.restored(Path(restorer.source))
