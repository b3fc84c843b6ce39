"""Which device inference runs on."""

from __future__ import annotations

import torch

from octsr.errors import ConfigError


def pick_device(name: str) -> torch.device:
    """`auto`: the GPU when there is one, else the CPU; `cpu`; `cuda`, `cuda:N` or `mps` (an
    error where that device is missing). The name's form is checked by octsr.settings."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(name.partition(":")[2] or 0)
        if index >= count:
            raise ConfigError(f"device={name}, but {count or 'no'} GPU(s) are visible; use "
                              f"device=cpu or device=auto")
    if name == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device=mps, but no Apple GPU is available; use device=cpu or device=auto")
    return torch.device(name)
