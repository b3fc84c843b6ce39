"""A trained model made ready to restore whole images: the one way every entry point loads one,
and the last of the three layers a B-scan is restored through (docs/design.md's glossary):
the network pass on what the network takes (`RestorationModule.restore_patches`), whole
images in tiles and windows (`RestorationModule.forward`), and the `Restorer`, which takes
pixels as files hold them (arrays in [0, 1], or stored 8/16-bit values) through the model on
its device, precision and intensity domain."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch

from octsr.data.intensity import IntensityTransform, file_transform
from octsr.errors import ConfigError, DataError
from octsr.formats.images import from_unit_range, to_unit_range
from octsr.inference.device import pick_device
from octsr.inference.precision import autocast, choose_precision
from octsr.models.checkpoint import load_model
from octsr.models.restoration_module import RestorationModule
from octsr.tiling import TiledInferer
from octsr.weights import model_file, uses_tta


def as_frames(image: np.ndarray, frames: int) -> np.ndarray:
    """An image as (frames, H, W): a 2-D B-scan is one frame; a 3-D array is frames already."""
    stacked = image[None] if image.ndim == 2 else image
    if stacked.ndim != 3 or stacked.shape[0] != frames:
        got = "one frame" if image.ndim == 2 else f"an array of shape {tuple(image.shape)}"
        raise ConfigError(f"this model takes {frames} noisy frame{'s' * (frames != 1)} of each place "
                          f"(trained with data.input_frames={frames}); got {got}")
    return stacked


def one_place(pages: list[np.ndarray], frames: int, source: str | Path) -> list[np.ndarray]:
    """A file's pages as the `frames` noisy frames of one place that a model of several input
    frames takes: DataError unless it holds exactly that many, of one size."""
    if len(pages) != frames or len({p.shape for p in pages}) != 1:
        raise DataError(f"{source}: this model takes {frames} noisy frames of one place per file, as a "
                        f"{frames}-page TIFF of one size (trained with data.input_frames={frames}); "
                        f"the file has {len(pages)} page(s) of {', '.join(sorted({str(p.shape) for p in pages}))}")
    return pages


def dihedral_mean(restore_batch: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor) -> torch.Tensor:
    """Test-time augmentation: the mean of `restore_batch` over the 8 flips and quarter turns
    of (B, C, H, W) `batch`, each output turned back. A network is not exactly symmetric
    (nor is its padding), so the 8 views err differently and their mean errs less, at 8x
    the time."""
    total = None
    for turns in range(4):
        for flip in (False, True):
            view = torch.rot90(batch, turns, dims=(-2, -1))
            view = view.flip(-1) if flip else view
            output = restore_batch(view)
            output = torch.rot90(output.flip(-1) if flip else output, -turns, dims=(-2, -1))
            total = output if total is None else total + output
    return total / 8


@dataclass
class Restorer:
    """A model in eval mode on its device, with the tiles that bound its memory on large
    images. Called on B-scans as `restore` is (an array, or a list of pages)."""

    model: RestorationModule
    device: torch.device
    tiler: TiledInferer
    source: Path  # the checkpoint or weights file it came from
    tta: bool = False  # each B-scan restored as the mean of its 8 flips and quarter turns (8x the time)
    precision: str = "fp32"  # 'fp32' or 'bf16' (octsr.inference.precision)
    # How stored values reach the network: 'stored', as they are; or the law of the files
    # ('log', 'linear', 'root', or 'auto': estimated per file), whose transform shows them in
    # the log domain the shipped weights learned, and models trained through it
    # (octsr.data.intensity).
    intensity: str = "stored"

    @property
    def input_frames(self) -> int:
        return self.model.input_frames

    def __call__(self, images: np.ndarray | list[np.ndarray] | torch.Tensor, batch_size: int = 1,
                 transform: IntensityTransform | None = None):
        """Restored images, in [0, 1], shaped like `images`:

        - a 2-D array (one B-scan), or a (frames, H, W) array for a model that takes several
          noisy frames of one place (its `input_frames`) -> a 2-D float32 array;
        - a list of those (the pages of a file, sizes may differ) -> a list; pages of one
          size go through `batch_size` at a time;
        - a (B, frames, H, W) tensor (already in the network's domain) -> a (B, 1, H, W)
          tensor on the input's device.

        Arrays go through the intensity transform of one file: `transform`, or one fitted to
        these images (`intensity`); `tta` restores each as the mean over its 8 flips and
        quarter turns (`dihedral_mean`); `precision` runs the network's convolutions in
        bfloat16 or float32, the result is float32 either way."""
        if isinstance(images, torch.Tensor):
            return self._run(images.to(self.device)).to(images.device)
        single = isinstance(images, np.ndarray)  # one B-scan, or the frames of one place
        pages = [images] if single else list(images)
        if self.intensity != "stored" or transform is not None:
            transform = transform or IntensityTransform.fit(pages, self.intensity)
            pages = [transform.forward(page) for page in pages]
        outputs = self._restore_arrays([as_frames(page, self.input_frames) for page in pages], batch_size)
        if transform is not None:
            outputs = [transform.inverse(output) for output in outputs]
        return outputs[0] if single else outputs

    @torch.no_grad()
    def _run(self, batch: torch.Tensor) -> torch.Tensor:
        def restore_batch(views: torch.Tensor) -> torch.Tensor:
            with autocast(self.precision, self.device):
                return self.model(views, tiler=self.tiler).float()

        return dihedral_mean(restore_batch, batch) if self.tta else restore_batch(batch)

    def _restore_arrays(self, images: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
        """(frames, H, W) arrays -> restored (H, W) arrays, those of one size `batch_size` at a time."""
        restored: list[np.ndarray] = [np.empty(0)] * len(images)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, image in enumerate(images):
            by_shape.setdefault(image.shape, []).append(i)
        for indices in by_shape.values():
            for start in range(0, len(indices), batch_size):
                chunk = indices[start : start + batch_size]
                batch = torch.from_numpy(np.stack([images[i] for i in chunk]).astype(np.float32))
                output = self._run(batch.to(self.device))[:, 0].float().cpu().numpy()
                for i, page in zip(chunk, output):
                    restored[i] = page
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # so callers timing a restore time the work, not the launch
        return restored

    def transform_for(self, pages: list[np.ndarray], peak: int | None = None, law: str | None = None,
                      source: str | Path = "<array>") -> IntensityTransform | None:
        """One intensity transform for all of a file's stored `pages` (a volume's B-scans share
        it), fitted on up to 16 of them; `law`: what the file states its values are, taken
        over an estimate. None where values go in as stored."""
        if self.intensity == "stored":
            return None
        sample = pages[:: max(1, len(pages) // 16)][:16]
        return file_transform([to_unit_range(page, source, peak) for page in sample], self.intensity, law)

    @property
    def smallest_side(self) -> int:
        """The fewest rows or columns an image may have: the network's reach (how far each
        output pixel draws on its surroundings) plus one. Below that, most of what the
        network sees of an image is its padding, and the result is not a restoration."""
        return int(getattr(self.model.net, "receptive_radius", 0) or 0) + 1

    def check_size(self, shape: tuple[int, ...], source: str | Path) -> None:
        height, width = shape[-2:]
        if min(height, width) < self.smallest_side:
            raise DataError(f"{source}: a B-scan of {width}x{height} pixels; this model needs at least "
                            f"{self.smallest_side} in each direction (its reach), a real B-scan has hundreds")

    def restore_stored(self, pages: list[np.ndarray], batch_size: int = 1, peak: int | None = None,
                       source: str | Path = "<array>", in_place: bool = False,
                       progress: Callable[[int], Any] | None = None, law: str | None = None) -> list[np.ndarray]:
        """B-scans as a file stores them (8/16-bit, or floats in [0, 1]; `peak`: the brightest
        value the file stores, `octsr.formats.images.to_unit_range`) -> restored, in the same
        type. Only `batch_size` B-scans are ever held as floats, so a volume of any length
        costs its own pixels and not four times them; `in_place` writes each result over its
        input (a volume whose input is not needed again: no second copy at all). `progress`
        is called with the number of B-scans done after each batch; `law`: what the file states
        its values are (`transform_for`)."""
        if self.input_frames > 1:  # the pages are the frames of one place: one B-scan out
            [(_, restored)] = self.restored_batches(pages, 1, peak, source, law)
            if progress is not None:
                progress(len(pages))
            return restored
        restored = pages if in_place else [np.empty(0)] * len(pages)
        for start, outputs in self.restored_batches(pages, batch_size, peak, source, law):
            for index, output in enumerate(outputs, start):
                if in_place:
                    pages[index][...] = output
                else:
                    restored[index] = output
            if progress is not None:
                progress(len(outputs))
        return restored

    def restored_batches(self, pages: list[np.ndarray], batch_size: int = 1, peak: int | None = None,
                         source: str | Path = "<array>", law: str | None = None
                         ) -> Iterator[tuple[int, list[np.ndarray]]]:
        """`restore_stored`'s work one batch at a time, for a caller that reports between
        batches: (index of the batch's first B-scan, its restored B-scans in the stored type).
        A model of several input frames takes the pages as the frames of one place and gives
        one B-scan (index 0)."""
        for page in pages:
            self.check_size(page.shape, source)
        transform = self.transform_for(pages, peak, law, source)
        if self.input_frames > 1:
            frames = one_place(pages, self.input_frames, source)
            output = self([np.stack([to_unit_range(page, source, peak) for page in frames])], 1, transform)[0]
            yield 0, [from_unit_range(output, pages[0].dtype, peak)]
            return
        for start in range(0, len(pages), batch_size):
            chunk = pages[start : start + batch_size]
            outputs = self([to_unit_range(page, source, peak) for page in chunk], batch_size, transform)
            yield start, [from_unit_range(output, page.dtype, peak) for page, output in zip(chunk, outputs)]


def load_restorer(settings: Mapping[str, Any]) -> Restorer:
    """The Restorer that `settings` name (an entry point's config, or a plain dict):
    `ckpt_path` (a checkpoint or weights file; empty: the shipped `weights`, `best` by
    default), `device` (`cpu` by default, `auto`, `cuda[:N]`, `mps`), `tile` and `halo`
    (empty: the network's own); `tta` (test-time flips and turns; empty: on for the shipped
    models chosen with them, `octsr.weights.uses_tta`);
    `precision` (fp32 by default; bf16, or auto: `octsr.inference.precision`);
    `intensity` (auto by default: each file reaches the model in the domain it was trained
    in: through the transform of the file's law, estimated, for the shipped weights, which
    learned log-display scans, and for a checkpoint trained through it (`data.intensity`);
    as stored for a checkpoint trained on stored values; `stored`, or a law, `log`,
    `linear` or `root`, for every model: `octsr.data.intensity`);
    `architecture`, the record that rebuilds a checkpoint written without one
    (`octsr.models.architecture.architecture_record`)."""
    source = model_file(settings)
    model = load_model(source, settings.get("architecture"))
    device = pick_device(settings.get("device") or "cpu")
    tiler = TiledInferer.for_model(model, settings.get("tile"), settings.get("halo"))
    model = model.to(device)
    precision = choose_precision(settings.get("precision") or "fp32", model, device, tiler)
    intensity = settings.get("intensity") or "auto"
    if intensity == "auto" and settings.get("ckpt_path") and model.architecture.get("intensity") == "stored":
        intensity = "stored"
    return Restorer(model, device, tiler, source, uses_tta(settings), precision, intensity)
