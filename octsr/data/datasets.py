"""Torch datasets: training patches cut from views of source pairs, and whole images."""

from __future__ import annotations

import logging
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from octsr.data.protocol import View, affine_variants, patch_grid, variant_index_map

log = logging.getLogger(__name__)


class PixelStore:
    """Source pairs laid end to end in two flat float32 buffers (noisy, target).

    A noisy input of several frames, (frames, H, W), is stored frame after frame; every
    pair of a store has the same number of frames.

    Pairs are added one at a time and kept in memory until they would pass `budget_bytes`;
    from then on all of them live in two files under `spill_dir` (a temporary folder by
    default, removed with the store) that are memory-mapped, so a data set of any size
    trains with the pages the kernel chooses to keep, not with the whole set in RAM.
    """

    def __init__(self, budget_bytes: int, spill_dir: str | Path | None = None) -> None:
        self.budget_bytes, self.spill_dir = int(budget_bytes), spill_dir
        self.shapes: list[tuple[int, int]] = []
        self.offsets: list[int] = []
        self.input_frames: int | None = None
        self.noisy_offsets: list[int] = []
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._files: list[Any] | None = None
        self._folder: Path | None = None
        self.size = 0
        self.noisy_size = 0
        self.noisy: np.ndarray | None = None
        self.target: np.ndarray | None = None

    @property
    def spilled(self) -> bool:
        return self._folder is not None

    def add(self, noisy: np.ndarray, target: np.ndarray) -> int:
        """Store a pair (float32: target (H, W), noisy (H, W) or (frames, H, W)); returns its index."""
        frames = noisy.shape[0] if noisy.ndim == 3 else 1
        if self.input_frames is not None and frames != self.input_frames:
            raise ValueError(f"every pair of a store has {self.input_frames} noisy frame(s); got {frames}")
        self.input_frames = frames
        self.shapes.append(target.shape)
        self.offsets.append(self.size)
        self.noisy_offsets.append(self.noisy_size)
        self.size += target.size
        self.noisy_size += noisy.size
        pair = (np.ascontiguousarray(noisy, np.float32), np.ascontiguousarray(target, np.float32))
        if self._files is None and 4 * (self.size + self.noisy_size) > self.budget_bytes:
            self._spill()
        if self._files is None:
            self._chunks.append(pair)
        else:
            for file, array in zip(self._files, pair):
                file.write(array.tobytes())
        return len(self.shapes) - 1

    def _spill(self) -> None:
        self._folder = Path(tempfile.mkdtemp(prefix="octsr-pixels-", dir=self.spill_dir))
        weakref.finalize(self, shutil.rmtree, self._folder, True)
        self._files = [(self._folder / f"{name}.f32").open("wb") for name in ("noisy", "target")]
        log.info("train pixels pass data.memory_budget_mb: memory-mapped from %s", self._folder)
        for chunk in self._chunks:
            for file, array in zip(self._files, chunk):
                file.write(array.tobytes())
        self._chunks = []

    def finish(self) -> "PixelStore":
        """Make `noisy` and `target` (flat arrays) readable; no more `add` after this."""
        if self._files is None:
            self.noisy, self.target = (np.concatenate([pair[k].ravel() for pair in self._chunks] or
                                                      [np.empty(0, np.float32)]) for k in (0, 1))
            self._chunks = []
        else:
            for file in self._files:
                file.close()
            self._files = []
            self._open_maps()
        return self

    def _open_maps(self) -> None:
        self.noisy, self.target = (np.memmap(self._folder / f"{name}.f32", np.float32, "r", shape=(size,))
                                   for name, size in (("noisy", self.noisy_size), ("target", self.size)))

    def image(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Pair `index` as (noisy, target) arrays of its shape (views, not copies)."""
        start, shape = self.offsets[index], self.shapes[index]
        pixels = shape[0] * shape[1]
        noisy_start = self.noisy_offsets[index]
        noisy = self.noisy[noisy_start : noisy_start + self.input_frames * pixels]
        noisy = noisy.reshape((self.input_frames, *shape) if self.input_frames > 1 else shape)
        return noisy, self.target[start : start + pixels].reshape(shape)

    def __getstate__(self) -> dict:
        # A spawned DataLoader worker reopens the maps instead of receiving a copy of them.
        state = dict(self.__dict__)
        if self.spilled:
            state.update(noisy=None, target=None, _files=[])
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.spilled:
            self._open_maps()


class PatchDataset(Dataset):
    """size x size patches at `stride` from the top left of each train image.

    A train image is a `View` (a box of a stored source pair, flipped or rotated); its
    patches are cut from the source pixels through the view's index map when asked for, so
    neither the patches (117,600 for the paper's protocol) nor the cropped and rotated train
    images (600) are ever held: only the source pairs are, in `store`.
    `__getitems__` cuts a whole batch in one vectorized gather (the DataLoader calls it);
    give the loader `collate_fn=keep_batch`.

    Items: {"noisy": (frames, size, size), "target": (1, size, size)} float32 tensors.
    """

    def __init__(self, store: PixelStore, views: Sequence[tuple[int, View]], size: int,
                 stride: int) -> None:
        self.store, self.views = store, list(views)
        self.size, self.stride = size, stride
        self.grids = [patch_grid(*view.shape, size, stride) for _, view in self.views]
        counts = np.array([r * c for r, c in self.grids], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self._columns = np.array([c for _, c in self.grids] or [1], dtype=np.int64)
        # Within a view, a patch's pixels sit at fixed flat distances from its first pixel:
        # one (size, size) template per (variant map, source row length). A batch is then
        # one add and one gather per image kind.
        steps = np.arange(size, dtype=np.int64)
        templates: dict[tuple, int] = {}
        kinds, corners, origins = [], [], []
        for pair, view in self.views:
            rows, cols = variant_index_map(view.variant, view.height, view.width)
            pitch = store.shapes[pair][1]
            key = (*rows[1:], *cols[1:], pitch)
            kinds.append(templates.setdefault(key, len(templates)))
            # Flat position of the view's pixel (0, 0), and how it moves per patch row/column.
            corner = store.offsets[pair] + (view.y + rows[0]) * pitch + view.x + cols[0]
            corners.append(corner)
            origins.append(((rows[1] * pitch + cols[1]) * stride, (rows[2] * pitch + cols[2]) * stride))
        self._templates = np.stack([
            (r1 * steps[:, None] + r2 * steps[None, :]) * pitch + c1 * steps[:, None] + c2 * steps[None, :]
            for r1, r2, c1, c2, pitch in templates] or [np.zeros((size, size), np.int64)])
        self._kind = np.array(kinds or [0], dtype=np.int64)
        self._corner = np.array(corners or [0], dtype=np.int64)
        self._step = np.array(origins or [(0, 0)], dtype=np.int64)
        # A noisy input's frame k of a patch sits at the target's flat position, moved to the
        # pair's place in the noisy buffer, plus k frames.
        frames = self._frames = store.input_frames or 1
        self._noisy_shift = np.array([store.noisy_offsets[pair] - store.offsets[pair] for pair, _ in self.views]
                                     or [0], dtype=np.int64)
        self._frame_step = np.array([store.shapes[pair][0] * store.shapes[pair][1] for pair, _ in self.views]
                                    or [0], dtype=np.int64)[:, None] * np.arange(frames, dtype=np.int64)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def image(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Train image `index` as pixels (noisy, target), for checks and figures."""
        pair, view = self.views[index]
        noisy, target = self.store.image(pair)
        return view.pixels(noisy), view.pixels(target)

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor]:
        index = np.asarray(indices, dtype=np.int64)
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"patch index out of range 0..{len(self) - 1}")
        view = np.searchsorted(self.offsets, index, side="right") - 1
        row, col = np.divmod(index - self.offsets[view], self._columns[view])
        start = self._corner[view] + row * self._step[view, 0] + col * self._step[view, 1]
        flat = self._templates[self._kind[view]] + start[:, None, None]
        if self._frames == 1:  # the noisy buffer is laid out like the target's: same positions
            noisy_flat = flat[:, None]
        else:
            noisy_flat = (flat + self._noisy_shift[view, None, None])[:, None] + self._frame_step[view, :, None, None]
        return {"noisy": torch.from_numpy(self.store.noisy[noisy_flat]),
                "target": torch.from_numpy(self.store.target[flat])[:, None]}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        return {key: value[0] for key, value in self.__getitems__([index]).items()}


def keep_batch(batch: Any) -> Any:
    """collate_fn for datasets whose `__getitems__` already returns a batch."""
    return batch


class WholeImageDataset(Dataset):
    """Whole images for validation and test. Items add the image's "name".

    `variants` (names from `protocol.VARIANTS`), where given, says which affine variant of
    its pair each item is; it is made when the item is read, so the five val variants of a
    pair hold one pair's pixels, not five.
    """

    def __init__(self, names: Sequence[str], noisy: Sequence[np.ndarray],
                 target: Sequence[np.ndarray], variants: Sequence[str] | None = None) -> None:
        self.names, self.noisy, self.target = list(names), noisy, target
        self.variants = variants

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict:
        noisy, target = self.noisy[index], self.target[index]
        if self.variants is not None:
            _, noisy, target = next(affine_variants(noisy, target, [self.variants[index]]))
        return {
            "name": self.names[index],
            "noisy": torch.from_numpy(noisy)[None] if noisy.ndim == 2 else torch.from_numpy(noisy),
            "target": torch.from_numpy(target)[None],
        }
