"""A trained model made ready to restore whole images: the one way every entry point loads one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from octsr.inference.device import pick_device
from octsr.inference.restore import restore
from octsr.models.checkpoint import load_model
from octsr.models.restoration_module import RestorationModule
from octsr.tiling import TiledInferer
from octsr.weights import shipped_weights


@dataclass
class Restorer:
    """A model in eval mode on its device, with the tiles that bound its memory on large
    images. Called on B-scans as `restore` is (an array, or a list of pages)."""

    model: RestorationModule
    device: torch.device
    tiler: TiledInferer
    source: Path  # the checkpoint or weights file it came from

    @property
    def input_frames(self) -> int:
        return self.model.input_frames

    def __call__(self, images: np.ndarray | list[np.ndarray], batch_size: int = 1):
        return restore(self.model, images, self.tiler, self.device, batch_size)


def load_restorer(settings: Mapping[str, Any]) -> Restorer:
    """The Restorer that `settings` name (an entry point's config, or a plain dict):
    `ckpt_path` (a checkpoint or weights file; empty: the shipped `weights`, `best` by
    default), `device` (`cpu` by default, `auto`, `cuda[:N]`, `mps`), `tile` and `halo`
    (empty: the network's own); `architecture`, the record that rebuilds a checkpoint
    written without one (`octsr.models.architecture.architecture_record`)."""
    ckpt_path = settings.get("ckpt_path")
    source = Path(ckpt_path).expanduser() if ckpt_path else shipped_weights(settings.get("weights") or "best")
    model = load_model(source, settings.get("architecture"))
    device = pick_device(settings.get("device") or "cpu")
    tiler = TiledInferer.for_model(model, settings.get("tile"), settings.get("halo"))
    return Restorer(model.to(device), device, tiler, source)
