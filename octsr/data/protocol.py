"""The paper's data protocol: paired random crops and the five affine variants.

albumentations applies each transform to input and target with the same parameters
(`additional_targets`), which is what keeps a pair aligned.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import albumentations as A
import numpy as np

from octsr.errors import ConfigError, DataError

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


def check_variants(names: Sequence[str], key: str) -> list[str]:
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ConfigError(f"{key}: unknown variant(s) {unknown}; choose from {list(VARIANTS)}")
    return list(names)


def affine_variants(noisy: np.ndarray, target: np.ndarray,
                    names: Sequence[str]) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Yield (variant name, noisy, target) for each named variant, in order."""
    for name in names:
        out = A.Compose(VARIANTS[name], additional_targets=_PAIRED)(image=noisy, target=target)
        yield name, np.ascontiguousarray(out["image"]), np.ascontiguousarray(out["target"])


def random_crops(noisy: np.ndarray, target: np.ndarray, size: int, count: int, seed: int,
                 name: str = "<image>") -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`count` random size x size crops, each taken at the same place in noisy and target."""
    h, w = noisy.shape
    if h < size or w < size:
        raise DataError(
            f"{name} is {h}x{w}, smaller than data.protocol.crop_size={size}; lower the crop "
            f"size or set data.protocol.crops_per_image=0 to train on whole images"
        )
    crop = A.Compose([A.RandomCrop(size, size)], additional_targets=_PAIRED, seed=seed)
    for _ in range(count):
        out = crop(image=noisy, target=target)
        yield out["image"], out["target"]


def patch_grid(height: int, width: int, size: int, stride: int) -> tuple[int, int]:
    """Rows and columns of size x size patches at `stride` from the top left (no padding)."""
    if height < size or width < size:
        return 0, 0
    return (height - size) // stride + 1, (width - size) // stride + 1


class PaperProtocol:
    """Every number of the paper's data protocol, as config (`data.protocol.*`).

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
        for key, value in (("crop_size", crop_size), ("patch_size", patch_size),
                           ("patch_stride", patch_stride)):
            if int(value) < 1:
                raise ConfigError(f"data.protocol.{key}={value}: must be a positive integer")
        if int(crops_per_image) < 0:
            raise ConfigError(f"data.protocol.crops_per_image={crops_per_image}: must be >= 0")
        if crops_per_image and patch_size > crop_size:
            raise ConfigError(
                f"data.protocol.patch_size={patch_size} is larger than crop_size={crop_size}"
            )
        self.crop_size, self.crops_per_image = int(crop_size), int(crops_per_image)
        self.train_variants = check_variants(train_variants, "data.protocol.train_variants")
        self.val_variants = check_variants(val_variants, "data.protocol.val_variants")
        if not self.train_variants or not self.val_variants:
            raise ConfigError("data.protocol.train_variants and val_variants need at least one "
                              "variant (identity keeps the image as it is)")
        self.patch_size, self.patch_stride = int(patch_size), int(patch_stride)

    def train_images(self, noisy: np.ndarray, target: np.ndarray, seed: int,
                     name: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The train images one source pair becomes: crops x variants."""
        if self.crops_per_image:
            crops = random_crops(noisy, target, self.crop_size, self.crops_per_image, seed, name)
        else:
            crops = iter([(noisy, target)])
        for crop_noisy, crop_target in crops:
            for _, v_noisy, v_target in affine_variants(crop_noisy, crop_target, self.train_variants):
                yield v_noisy, v_target

    def val_images(self, noisy: np.ndarray, target: np.ndarray,
                   name: str) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """The val images one source pair becomes: its variants, uncropped, named."""
        for variant, v_noisy, v_target in affine_variants(noisy, target, self.val_variants):
            yield f"{name}_{variant}", v_noisy, v_target
