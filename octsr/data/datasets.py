"""Torch datasets over images held as arrays: lazy training patches, whole images."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from octsr.data.protocol import patch_grid


class PatchDataset(Dataset):
    """size x size patches at `stride` from the top left of each (noisy, target) image.

    Patches are cut when indexed, so only the source images are in memory, never the
    patch set (117,600 patches for the paper's protocol).
    Items: {"noisy": (1, size, size), "target": (1, size, size)} float32 tensors.
    """

    def __init__(self, noisy: Sequence[np.ndarray], target: Sequence[np.ndarray],
                 size: int, stride: int) -> None:
        self.noisy, self.target = noisy, target
        self.size, self.stride = size, stride
        self.grids = [patch_grid(*image.shape, size, stride) for image in noisy]
        counts = np.array([r * c for r, c in self.grids], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(counts)])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        image = int(np.searchsorted(self.offsets, index, side="right") - 1)
        local = index - int(self.offsets[image])
        row, col = divmod(local, self.grids[image][1])
        y, x = row * self.stride, col * self.stride
        window = np.s_[y : y + self.size, x : x + self.size]
        return {
            "noisy": torch.from_numpy(np.ascontiguousarray(self.noisy[image][window]))[None],
            "target": torch.from_numpy(np.ascontiguousarray(self.target[image][window]))[None],
        }


class WholeImageDataset(Dataset):
    """Whole images for validation and test. Items add the image's "name"."""

    def __init__(self, names: Sequence[str], noisy: Sequence[np.ndarray],
                 target: Sequence[np.ndarray]) -> None:
        self.names, self.noisy, self.target = list(names), noisy, target

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> dict:
        return {
            "name": self.names[index],
            "noisy": torch.from_numpy(self.noisy[index])[None],
            "target": torch.from_numpy(self.target[index])[None],
        }
