"""Weights shipped with octsr (TRAINING.md beside this file says how each was made).

`weights=best` (the default of enhance, evaluate and export) is the most accurate model on
the cross-validation of experiments/unseen_scans at the default's speed; `weights=fast` the small
SRCNN, quicker per B-scan (experiments/speed) for when speed matters more than the last few
tenths of a dB; `weights=quality` a residual U-Net of the same size, run with test-time flips
and turns (8 passes per B-scan): more accurate still, for when quality matters more than time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from octsr.errors import ConfigError, DataError

SHIPPED = {
    "best": Path(__file__).with_name("duke_unet.pt"),
    "fast": Path(__file__).with_name("duke_srcnn.pt"),
    "quality": Path(__file__).with_name("duke_unet_residual.pt"),
}
DEFAULT_WEIGHTS = SHIPPED["best"]
# The shipped models that were chosen for their scores with test-time flips and turns
# (`tta`), and so run with them unless a user says `tta=false`.
SHIPPED_WITH_TTA = frozenset({"quality"})


def shipped_weights(name: str = "best") -> Path:
    """The file of the shipped model `name` ("best", "fast" or "quality")."""
    if name not in SHIPPED:
        raise ConfigError(f"weights={name}: choose one of {', '.join(SHIPPED)}, or give your own "
                          f"checkpoint as ckpt_path=")
    path = SHIPPED[name]
    if not path.is_file():
        raise DataError(f"{path}: the shipped weights are missing from this install; "
                        f"pass ckpt_path=<checkpoint>")
    return path


def model_file(settings: Mapping[str, Any]) -> Path:
    """The model file an entry point's settings name: `ckpt_path`, else the shipped
    `weights` (`best` by default)."""
    ckpt_path = settings.get("ckpt_path")
    return Path(ckpt_path).expanduser() if ckpt_path else shipped_weights(settings.get("weights") or "best")


def uses_tta(settings: Mapping[str, Any]) -> bool:
    """Whether an entry point's settings restore with test-time flips and turns: `tta`, or
    where it is empty, whether the shipped `weights` were chosen with them (`ckpt_path`:
    no)."""
    tta = settings.get("tta")
    if tta is not None:
        return bool(tta)
    return not settings.get("ckpt_path") and (settings.get("weights") or "best") in SHIPPED_WITH_TTA
