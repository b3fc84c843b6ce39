"""Load trained models from checkpoints and weight files safely, and save compact weights.

Every load uses `torch.load(weights_only=True)`: tensors and plain containers only, so no
code runs from a file. The network is rebuilt from the architecture record that training
stores in each checkpoint (`ARCHITECTURE_KEY`), not from the caller's config.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hydra
import torch

from octsr.errors import ConfigError, DataError
from octsr.models.architecture import ARCHITECTURE_KEY, architecture_difference, read_record
from octsr.models.restoration_module import RestorationModule
from octsr.utils.atomic import atomic_path

def read_checkpoint(path: str | Path, require_architecture: bool = True) -> dict[str, Any]:
    """The checkpoint's contents; DataError naming the file if it is missing, damaged,
    not a checkpoint, or (with `require_architecture`) not an octsr one."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such checkpoint file")
    if not _saved_by_torch(path):
        raise DataError(f"{path}: not a checkpoint ({_what_it_is(path)}, not one torch.save writes); give a "
                        f"training run's checkpoints/*.ckpt or a weights file (octsr.export format=weights)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # the unpickler fails on foreign or damaged bytes with any error type
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise DataError(f"{path}: not a readable checkpoint (truncated, damaged or another "
                        f"format: {reason})") from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise DataError(f"{path}: not a checkpoint (no state_dict inside)")
    if require_architecture and ARCHITECTURE_KEY not in checkpoint:
        raise DataError(f"{path}: not an octsr checkpoint (it has no {ARCHITECTURE_KEY} record)")
    return checkpoint


def _saved_by_torch(path: Path) -> bool:
    """Whether the file begins as torch.save writes: a zip archive's first entry, or (before
    PyTorch 1.6) a pickle's protocol mark 0x80; a truncated one too, so that it is named as
    such. torch.load on anything else fails with whatever error the unpickler meets first
    (an IndexError for a YAML file)."""
    with path.open("rb") as f:
        head = f.read(4)
    return head == b"PK\x03\x04" or head.startswith(b"\x80")


# Bytes of a text file: printable ASCII, UTF-8's multi-byte characters, tab, newlines, form feed.
TEXT_BYTES = bytes([9, 10, 12, 13, *range(32, 127), *range(128, 256)])


def _what_it_is(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(4096)
    if not head:
        return "an empty file"
    return "a text file" if not head.translate(None, TEXT_BYTES) else "a file of another format"


def load_model(path: str | Path, architecture: dict[str, Any] | None = None) -> RestorationModule:
    """A trained RestorationModule in eval mode on the CPU, from a training checkpoint
    (`*.ckpt`) or a weights file written by `save_weights`.

    `architecture` (`octsr.models.architecture.architecture_record`) is used only for a
    file without its own record (checkpoints from before the record existed)."""
    checkpoint = read_checkpoint(path, require_architecture=architecture is None)
    architecture = read_record(checkpoint.get(ARCHITECTURE_KEY, architecture))
    try:
        net = hydra.utils.instantiate(architecture["net"])
        inferer = hydra.utils.instantiate(architecture["inferer"]) if architecture.get("inferer") else None
    except Exception as err:
        raise DataError(f"{path}: cannot rebuild its network {architecture.get('net')}: {err}") from err
    model = RestorationModule(net, optimizer=None, inferer=inferer, log_images=False,
                              residual=bool(architecture["residual"]),
                              match_input_mean=bool(architecture["match_input_mean"]), architecture=architecture)
    weights = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.") or k.startswith("input_")}
    expected = {k: v.shape for k, v in model.state_dict().items() if k.startswith("net.") or k.startswith("input_")}
    got = {k: v.shape for k, v in weights.items()}
    if got != expected:
        missing = sorted(set(expected) - set(got))[:3]
        wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])[:3]
        raise DataError(f"{path}: weights do not fit {architecture['net']['_target_']} "
                        f"(missing {missing}, wrong shape {wrong})")
    model.load_state_dict(weights, strict=False)
    return model.eval()


def save_weights(model: RestorationModule, path: str | Path, **info: Any) -> None:
    """A compact file: network weights, input statistics and the model's architecture
    record (no optimizer)."""
    if model.architecture is None:
        raise ValueError("the model has no architecture record to save (build it with one)")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()
             if k.startswith("net.") or k.startswith("input_")}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, ARCHITECTURE_KEY: model.architecture, "info": info}, tmp)


def initial_weights(path: Path, architecture: dict[str, Any], setting: str) -> dict[str, torch.Tensor]:
    """The network weights to start training from: those of the checkpoint or weights file
    `path` (named by `setting`, e.g. init_from=best), which must hold the network
    `architecture` describes. Not the input statistics: the new training data standardizes
    its own inputs, which is what lets a model meet another scanner's range."""
    checkpoint = read_checkpoint(path)
    difference = architecture_difference(checkpoint[ARCHITECTURE_KEY], architecture)
    if difference:
        raise ConfigError(f"{setting} ({path}) holds {difference}; train the network it holds "
                          f"(experiment=adapt builds the shipped U-Net)")
    return {k: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}


def best_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint a training run kept as its best: the one its ModelCheckpoint recorded
    as `best_model_path` (what `octsr.train` tests), found by name in the run's
    checkpoints/ folder so a moved run still resolves; last.ckpt when it kept none."""
    folder = Path(run_dir) / "checkpoints"
    last = folder / "last.ckpt"
    if not last.is_file():
        raise DataError(f"{run_dir}: no checkpoints/last.ckpt (not a training run, or it saved nothing yet)")
    for state in read_checkpoint(last).get("callbacks", {}).values():
        best = state.get("best_model_path") if isinstance(state, dict) else None
        if best and (folder / Path(best).name).is_file():
            return folder / Path(best).name
    return last
