"""A folder of scans a user might hand octsr by mistake, beside one it reads: a truncated PNG
and integer TIFFs no scanner writes (negative 16-bit values, 32-bit integers). Used by the
enhance tests and by experiments/bad_inputs, which try them through the CLI."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import tifffile


def write_bad_scans(folder: Path, rng: np.random.Generator, shape: tuple[int, int] = (40, 60)) -> Path:
    """`folder` with good.png (a readable 8-bit scan), broken.png, negative.tif and wide.tif."""
    folder.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(folder / "good.png"), rng.integers(0, 256, shape, dtype=np.uint8))
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    tifffile.imwrite(folder / "negative.tif", rng.integers(-500, 500, shape, dtype=np.int16))
    tifffile.imwrite(folder / "wide.tif", rng.integers(0, 1 << 20, shape, dtype=np.uint32))
    return folder
