"""The paper's data protocol: paired random crops and the five affine variants.

albumentations applies each transform to input and target with the same parameters
(`additional_targets`), which is what keeps a pair aligned.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Sequence

import albumentations as A
import numpy as np

from octsr.errors import DataError

_PAIRED = {"target": "image"}

# rot90 left (counter-clockwise) = transpose, then flip rows; right = transpose, then flip
# columns. Built from flips/transposes so they work on non-square (uncropped val) images.
VARIANTS: dict[str, list[A.BasicTransform]] = {
    "identity": [],
    "hflip": [A.HorizontalFlip(p=1.0)],
    "vflip": [A.VerticalFlip(p=1.0)],
    "rot90_left": [A.Transpose(p=1.0), A.VerticalFlip(p=1.0)],
    "rot90_right": [A.Transpose(p=1.0), A.HorizontalFlip(p=1.0)],
}


def affine_variants(noisy: np.ndarray, target: np.ndarray,
                    names: Sequence[str]) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (variant name, noisy, target) for each named variant, in order. A noisy input
    of several frames, (frames, H, W), has each frame transformed alike."""
    # albumentations keeps channels last.
    channels_last = np.moveaxis(noisy, 0, -1) if noisy.ndim == 3 else noisy
    for name in names:
        out = A.Compose(VARIANTS[name], additional_targets=_PAIRED)(image=channels_last, target=target)
        image = np.moveaxis(out["image"], -1, 0) if noisy.ndim == 3 else out["image"]
        yield name, np.ascontiguousarray(image), np.ascontiguousarray(out["target"])


def crop_origins(shape: tuple[int, int], size: int, count: int, seed: int,
                 name: str = "<image>") -> list[tuple[int, int]]:
    """Top-left corners (y, x) of `count` random size x size crops of an image of `shape`.

    albumentations' RandomCrop picks them: it is run on two images holding each pixel's row
    and column, so the corners are exactly where it would have cut the pair itself.
    """
    h, w = shape
    if h < size or w < size:
        raise DataError(
            f"{name} is {h}x{w}, smaller than data.protocol.crop_size={size}; lower the crop "
            f"size or set data.protocol.crops_per_image=0 to train on whole images"
        )
    rows, cols = np.indices((h, w), dtype=np.float32)
    crop = A.Compose([A.RandomCrop(size, size)], additional_targets=_PAIRED, seed=seed)
    corners = []
    for _ in range(count):
        out = crop(image=rows, target=cols)
        corners.append((int(out["image"][0, 0]), int(out["target"][0, 0])))
    return corners


def random_crops(noisy: np.ndarray, target: np.ndarray, size: int, count: int, seed: int,
                 name: str = "<image>") -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`count` random size x size crops, each taken at the same place in noisy and target."""
    for y, x in crop_origins(target.shape, size, count, seed, name):
        yield noisy[..., y : y + size, x : x + size], target[y : y + size, x : x + size]


@lru_cache(maxsize=256)
def variant_index_map(variant: str, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each pixel of `variant` of a height x width image comes from, as two affine maps.

    Returns (row, col) coefficient triples (c0, ci, cj): pixel (i, j) of the variant is pixel
    (row0 + rowi*i + rowj*j, col0 + coli*i + colj*j) of the original. Read off by applying
    the variant's own albumentations transforms to images of row and column indices, so a
    patch cut through these maps is exactly a patch of the transformed image.
    """
    probe = np.indices((height, width), dtype=np.float32)
    out = A.Compose(VARIANTS[variant], additional_targets=_PAIRED)(image=probe[0], target=probe[1])
    maps = []
    for key in ("image", "target"):
        m = out[key]
        down, right = m[min(1, len(m) - 1), 0], m[0, min(1, m.shape[1] - 1)]
        maps.append(np.array([m[0, 0], down - m[0, 0], right - m[0, 0]], dtype=np.int64))
    return maps[0], maps[1]


@dataclass(frozen=True)
class View:
    """One train image, kept as where it lies in its source pair, not as pixels: the
    height x width box at (y, x), seen through `variant`."""

    y: int
    x: int
    height: int
    width: int
    variant: str

    @property
    def shape(self) -> tuple[int, int]:
        """The train image's shape (a 90-degree rotation swaps height and width)."""
        swapped = self.variant in ("rot90_left", "rot90_right")
        return (self.width, self.height) if swapped else (self.height, self.width)

    def pixels(self, image: np.ndarray) -> np.ndarray:
        """The train image itself, cut from its source `image` (for checks and figures)."""
        box = image[..., self.y : self.y + self.height, self.x : self.x + self.width]
        return next(affine_variants(box, box[0] if box.ndim == 3 else box, [self.variant]))[1]


def patch_grid(height: int, width: int, size: int, stride: int) -> tuple[int, int]:
    """Rows and columns of size x size patches at `stride` from the top left (no padding)."""
    if height < size or width < size:
        return 0, 0
    return (height - size) // stride + 1, (width - size) // stride + 1


class PaperProtocol:
    """Every number of the paper's data protocol, as config (`data.protocol.*`), taken as
    `octsr.settings.ProtocolSettings` checked them.

    Args:
        crop_size: side of the random square crops taken from each train image.
        crops_per_image: crops per train image; 0 trains on the whole images instead.
        train_variants: affine variants kept of each train crop (names from VARIANTS).
        val_variants: variants kept of each (uncropped) val image.
        patch_size, patch_stride: training patches cut from the top left of each image.
    """

    def __init__(self, crop_size: int = 227, crops_per_image: int = 20,
                 train_variants: Sequence[str] = tuple(VARIANTS),
                 val_variants: Sequence[str] = tuple(VARIANTS),
                 patch_size: int = 41, patch_stride: int = 14) -> None:
        self.crop_size, self.crops_per_image = int(crop_size), int(crops_per_image)
        self.train_variants, self.val_variants = list(train_variants), list(val_variants)
        self.patch_size, self.patch_stride = int(patch_size), int(patch_stride)

    def train_views(self, shape: tuple[int, int], seed: int, name: str) -> list[View]:
        """The train images a source pair of `shape` becomes (crops x variants), as views."""
        if self.crops_per_image:
            size = self.crop_size
            boxes = [(y, x, size, size) for y, x in
                     crop_origins(shape, size, self.crops_per_image, seed, name)]
        else:
            boxes = [(0, 0, *shape)]
        return [View(*box, variant) for box in boxes for variant in self.train_variants]

    def train_images(self, noisy: np.ndarray, target: np.ndarray, seed: int,
                     name: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The train images one source pair becomes, as pixels: crops x variants."""
        for view in self.train_views(target.shape, seed, name):
            yield view.pixels(noisy), view.pixels(target)
