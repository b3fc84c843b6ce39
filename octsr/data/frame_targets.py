"""Noise2Noise targets chosen among a scan's own noisy frames (`data.train_target`).

Duke's extra frames are neighbouring B-scans: globally aligned, but the tissue under them
moves a few pixels up or down from column to column, and some frames lie further away than
others (experiments/unseen_scans/frames_alignment.md). Whatever differs between a frame and its
target, other than speckle, the network can only learn as blur. So a frame's target can be
the frame most like it ("nearest_frame") and, further, that frame with each column shifted
onto the input ("registered_frame").

Similarity and shifts are measured on Gaussian-blurred copies (sigma 3 px), where speckle is
mostly gone, so they follow the tissue and not the input's own noise.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from octsr.formats.images import read_grayscale
from octsr.data.last_read import LastRead
from octsr.errors import DataError

log = logging.getLogger(__name__)

BLUR_SIGMA = 3.0
# Columns per shift estimate: wide enough that speckle averages out, narrow enough to follow
# the retina's curvature; and the largest axial shift searched, in pixels (Duke: up to 7).
STRIP_WIDTH = 64
MAX_SHIFT = 10


def blurred(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), BLUR_SIGMA)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR (MAX 1) between two blurred frames: how alike their tissue is."""
    mse = float(np.mean((a - b) ** 2, dtype=np.float64))
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def nearest(index: int, blurred_frames: list[np.ndarray]) -> int:
    """The frame most like frame `index` (by `similarity`), another one."""
    scores = [(similarity(blurred_frames[index], other), i) for i, other in enumerate(blurred_frames) if i != index]
    return max(scores)[1]


def column_shifts(moving: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Per column, the whole-pixel axial shift that best lays blurred `moving` onto blurred
    `fixed`: found per strip of STRIP_WIDTH columns (least squares over +-MAX_SHIFT rows,
    rows near the top and bottom left out), then interpolated between strip centres."""
    height, width = fixed.shape
    margin = min(MAX_SHIFT, height // 4)
    centres, shifts = [], []
    for start in range(0, width, STRIP_WIDTH):
        columns = slice(start, min(start + STRIP_WIDTH, width))
        reference = fixed[margin:height - margin, columns]
        errors = [np.mean((moving[margin - s:height - margin - s, columns] - reference) ** 2)
                  for s in range(-margin, margin + 1)]
        shifts.append(int(np.argmin(errors)) - margin)
        centres.append((columns.start + columns.stop - 1) / 2)
    return np.rint(np.interp(np.arange(width), centres, shifts)).astype(int)


def shift_columns(image: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """`image` with column j moved down by shifts[j] rows (up where negative), the edge row
    repeated into the gap; whole pixels, so no interpolation blurs the target."""
    rows = np.clip(np.arange(image.shape[0])[:, None] - shifts[None, :], 0, image.shape[0] - 1)
    return np.take_along_axis(image, rows, axis=0)


@dataclass(frozen=True)
class FrameTargetPair:
    """Frame `index` of a scan's noisy `frames` -> the nearest other frame, shifted column
    by column onto it when `register` is set. The choice is made when the pixels are read;
    the pairs of one scan share `scans`, so its frames are read and blurred once."""

    name: str
    frames: tuple[Path, ...]
    index: int
    register: bool = False
    scans: LastRead = field(default_factory=LastRead, compare=False, repr=False)

    def _read(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        images = [read_grayscale(path) for path in self.frames]
        for path, image in zip(self.frames, images):
            if image.shape != images[0].shape:
                raise DataError(f"{path} is {image.shape[0]}x{image.shape[1]} but {self.frames[0]} is "
                                f"{images[0].shape[0]}x{images[0].shape[1]}; a scan's frames must match")
        return images, [blurred(image) for image in images]

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        images, smooth = self.scans.get(self.frames, self._read)
        partner = nearest(self.index, smooth)
        target = images[partner]
        if self.register:
            shifts = column_shifts(smooth[partner], smooth[self.index])
            target = shift_columns(target, shifts)
            log.debug("%s: target %s, columns shifted %+d to %+d px", self.name, self.frames[partner].name,
                      shifts.min(), shifts.max())
        else:
            log.debug("%s: target %s", self.name, self.frames[partner].name)
        return images[self.index], target
