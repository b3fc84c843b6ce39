"""Restore images with a loaded model: the one path from pixels to restored pixels.

Every consumer goes through the model's `forward(noisy, tiler)` (standardize, network in
tiles or sliding windows, output step): validation and test call it on batches, and
`restore` below wraps it for arrays, which is what enhance, evaluate, crossval and the
report's panel use. Export traces the same steps (`octsr.export.ExportedRestorer`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from octsr.inference.tiling import TiledInferer


@torch.no_grad()
def restore(model: nn.Module, images: np.ndarray | list[np.ndarray] | Tensor,
            tiler: TiledInferer | None = None, device: torch.device | str = "cpu",
            batch_size: int = 1) -> np.ndarray | list[np.ndarray] | Tensor:
    """Restored images, in [0, 1], shaped like `images`:

    - a 2-D array (one B-scan) -> a 2-D float32 array;
    - a list of 2-D arrays (the pages of a volume, sizes may differ) -> a list; pages of
      one size go through `batch_size` at a time;
    - a (B, 1, H, W) tensor -> a tensor on the same device as the input.
    """
    device = torch.device(device)
    if isinstance(images, Tensor):
        return model(images.to(device), tiler=tiler).to(images.device)
    if isinstance(images, np.ndarray):
        return restore(model, [images], tiler, device, batch_size)[0]
    restored: list[np.ndarray | None] = [None] * len(images)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(i)
    for indices in by_shape.values():
        for start in range(0, len(indices), batch_size):
            chunk = indices[start : start + batch_size]
            batch = torch.from_numpy(np.stack([images[i] for i in chunk]).astype(np.float32))[:, None]
            output = model(batch.to(device), tiler=tiler)[:, 0].float().cpu().numpy()
            for i, page in zip(chunk, output):
                restored[i] = page
    if device.type == "cuda":
        torch.cuda.synchronize()  # so callers timing a restore time the work, not the launch
    return restored


def restorer(model: nn.Module, tiler: TiledInferer | None = None,
             device: torch.device | str = "cpu") -> Callable[[np.ndarray], np.ndarray]:
    """`restore` bound to a model: one 2-D B-scan in, its restored version out."""
    return lambda image: restore(model, image, tiler, device)
