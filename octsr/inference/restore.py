"""Restore images with a loaded model: the one path from pixels to restored pixels.

Every consumer goes through the model's `forward(noisy, tiler)` (standardize, network in
tiles or sliding windows, output step): validation and test call it on batches, export
traces it, and `restore` below wraps it for arrays, which is what `Restorer` (enhance,
evaluate, crossval, the report's panel) calls.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from octsr.errors import ConfigError
from octsr.inference.precision import autocast
from octsr.models.restoration_module import RestorationModule
from octsr.tiling import TiledInferer


def as_frames(image: np.ndarray, frames: int) -> np.ndarray:
    """An image as (frames, H, W): a 2-D B-scan is one frame; a 3-D array is frames already."""
    stacked = image[None] if image.ndim == 2 else image
    if stacked.ndim != 3 or stacked.shape[0] != frames:
        got = "one frame" if image.ndim == 2 else f"an array of shape {tuple(image.shape)}"
        raise ConfigError(f"this model takes {frames} noisy frame{'s' * (frames != 1)} of each place "
                          f"(trained with data.input_frames={frames}); got {got}")
    return stacked


def dihedral_mean(restore_batch: Callable[[Tensor], Tensor], batch: Tensor) -> Tensor:
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


@torch.no_grad()
def restore(model: RestorationModule, images: np.ndarray | list[np.ndarray] | Tensor,
            tiler: TiledInferer | None = None, device: torch.device | str = "cpu",
            batch_size: int = 1, tta: bool = False, precision: str = "fp32") -> np.ndarray | list[np.ndarray] | Tensor:
    """Restored images, in [0, 1], shaped like `images`:

    - a 2-D array (one B-scan), or a (frames, H, W) array for a model that takes several
      noisy frames of one place (its `input_frames`) -> a 2-D float32 array;
    - a list of those (the pages of a volume, sizes may differ) -> a list; pages of one
      size go through `batch_size` at a time;
    - a (B, frames, H, W) tensor -> a (B, 1, H, W) tensor on the same device as the input.

    `tta`: the mean over the 8 flips and quarter turns of each image (`dihedral_mean`).
    `precision`: 'fp32', or 'bf16' (the network's convolutions in bfloat16,
    `octsr.inference.precision`); the result is float32 either way.
    """
    device = torch.device(device)

    def restore_batch(batch: Tensor) -> Tensor:
        with autocast(precision, device):
            return model(batch, tiler=tiler).float()

    run = (lambda batch: dihedral_mean(restore_batch, batch)) if tta else restore_batch
    if isinstance(images, Tensor):
        return run(images.to(device)).to(images.device)
    if isinstance(images, np.ndarray):
        return restore(model, [images], tiler, device, batch_size, tta, precision)[0]
    frames = model.input_frames
    images = [as_frames(image, frames) for image in images]
    restored: list[np.ndarray | None] = [None] * len(images)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(i)
    for indices in by_shape.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            batch = torch.from_numpy(np.stack([images[i] for i in chunk]).astype(np.float32))
            output = run(batch.to(device))[:, 0].float().cpu().numpy()
            for i, page in zip(chunk, output):
                restored[i] = page
    if device.type == "cuda":
        torch.cuda.synchronize()  # so callers timing a restore time the work, not the launch
    return restored
