"""Weights shipped with octsr (see TRAINING.md beside this file for how they were made)."""

from __future__ import annotations

from pathlib import Path

from octsr.errors import DataError

DEFAULT_WEIGHTS = Path(__file__).with_name("duke_srcnn.pt")


def default_weights() -> Path:
    """The shipped model: SRCNN trained on all 12 Duke subjects."""
    if not DEFAULT_WEIGHTS.is_file():
        raise DataError(f"{DEFAULT_WEIGHTS}: the shipped weights are missing from this install; "
                        f"pass ckpt_path=<checkpoint>")
    return DEFAULT_WEIGHTS
