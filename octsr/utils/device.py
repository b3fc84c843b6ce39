"""Which device inference runs on."""

from __future__ import annotations

import torch

from octsr.errors import ConfigError


def pick_device(name: str) -> torch.device:
    """`auto`: the GPU when there is one, else the CPU; `cpu`; `cuda` (an error without a GPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda, but no GPU is visible; use device=cpu or device=auto")
    return torch.device(name)
