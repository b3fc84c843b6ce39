"""The architecture record: what rebuilds a trained model from its file alone.

Training stores it in every checkpoint under `ARCHITECTURE_KEY` (and `save_weights` in every
weights file), so `octsr.models.checkpoint.load_model` never needs the training config.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

ARCHITECTURE_KEY = "octsr_architecture"


def architecture_record(model_cfg: DictConfig) -> dict[str, Any]:
    """The record of a `conf/model/*` config: network and sliding-window configs as plain
    dicts, and the output step's settings."""
    return {
        "net": OmegaConf.to_container(model_cfg.net, resolve=True),
        "inferer": OmegaConf.to_container(model_cfg.inferer, resolve=True) if model_cfg.get("inferer") else None,
        "residual": bool(model_cfg.get("residual", False)),
        "match_input_mean": bool(model_cfg.get("match_input_mean", False)),
    }


def network_name(record: dict[str, Any]) -> str:
    """The network's class name, e.g. SRCNN."""
    return record["net"]["_target_"].rsplit(".", 1)[-1]
