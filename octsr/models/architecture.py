"""The architecture record: what rebuilds a trained model from its file alone.

Training stores it in every checkpoint under `ARCHITECTURE_KEY` (and `save_weights` in every
weights file), so `octsr.models.checkpoint.load_model` never needs the training config.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

ARCHITECTURE_KEY = "octsr_architecture"

# Classes that moved: a record written before the move names the old path, and is read
# with the new one (`read_record`), so every checkpoint keeps loading.
MOVED_TARGETS = {
    "octsr.models.inference.SlidingWindowInferer": "octsr.tiling.SlidingWindowInferer",
    "octsr.inference.SlidingWindowInferer": "octsr.tiling.SlidingWindowInferer",
    "octsr.inference.tiling.SlidingWindowInferer": "octsr.tiling.SlidingWindowInferer",
}


def architecture_record(model_cfg: DictConfig, intensity: str = "stored") -> dict[str, Any]:
    """The record of a `conf/model/*` config: network and sliding-window configs as plain
    dicts, the output step's settings, and `intensity`, the domain its training data was in
    (`data.intensity`: `stored` values, or each file through the transform of its law,
    `octsr.data.intensity`), which inference then puts every file in."""
    return {
        "net": OmegaConf.to_container(model_cfg.net, resolve=True),
        "inferer": OmegaConf.to_container(model_cfg.inferer, resolve=True) if model_cfg.get("inferer") else None,
        "residual": bool(model_cfg.get("residual", False)),
        "match_input_mean": bool(model_cfg.get("match_input_mean", False)),
        "intensity": str(intensity),
    }


def network_name(record: dict[str, Any]) -> str:
    """The network's class name, e.g. SRCNN."""
    return record["net"]["_target_"].rsplit(".", 1)[-1]


def read_record(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record in today's terms: moved classes under their new paths, switches that
    older records lack at their defaults."""
    record = {"inferer": None, "residual": False, "match_input_mean": False, "intensity": "stored", **record}
    for key in ("net", "inferer"):
        if record[key] and record[key].get("_target_") in MOVED_TARGETS:
            record[key] = {**record[key], "_target_": MOVED_TARGETS[record[key]["_target_"]]}
    return record


def input_frames(record: dict[str, Any]) -> int:
    """Noisy frames of one place the network takes per image (`data.input_frames` at
    training): its `in_channels`, 1 for records from before multi-frame inputs."""
    return int(record["net"].get("in_channels", 1))


def architecture_difference(saved: dict[str, Any], wanted: dict[str, Any]) -> str | None:
    """How the network in a file (`saved` record) differs from the one a config builds
    (`wanted`), in words (e.g. "in_channels 1 here, 5 in the config"); None if they match.
    Weights load only into the same network, so training or testing the file with the other
    one would end in a size mismatch."""
    saved, wanted = read_record(saved), read_record(wanted)
    if saved["net"]["_target_"] != wanted["net"]["_target_"]:
        return f"a {network_name(saved)}, but the config builds a {network_name(wanted)}"
    # Keys an older record lacks were at their defaults then: only shared keys are compared,
    # and the input frame count, which older records lack, by `input_frames`.
    differ = [f"{key} {saved['net'][key]} here, {wanted['net'][key]} in the config"
              for key in sorted(set(saved["net"]) & set(wanted["net"]) - {"_target_", "in_channels"})
              if saved["net"][key] != wanted["net"][key]]
    if input_frames(saved) != input_frames(wanted):
        differ.insert(0, f"{input_frames(saved)} input frame(s) here, {input_frames(wanted)} in the config "
                         f"(data.input_frames)")
    differ += [f"{key} {saved[key]} here, {wanted[key]} in the config" for key in ("residual",)
               if saved[key] != wanted[key]]
    return f"a {network_name(saved)} with {'; '.join(differ)}" if differ else None
