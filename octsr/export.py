"""Export a trained model: `python -m octsr.export ckpt_path=<ckpt> output=exported/model`.

TorchScript (`.pt`) and ONNX (`.onnx`) files hold the model's whole-image forward, traced:
noisy (N, frames, H, W) float32 in [0, 1] -> restored (N, 1, H, W) in [0, 1], with the
input standardization and output step inside (frames: 1, or `data.input_frames` of a
multi-frame model). Fully convolutional networks (SRCNN, U-Net, DnCNN) take any H and W; a network
with a fixed input size (CAE) is exported for its 41 x 41 tiles, and whole images need the
sliding-window step around it (`octsr.tiling.SlidingWindowInferer`).
`format=weights` writes the compact octsr weights file that `ckpt_path=` accepts.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from typing import TYPE_CHECKING

from omegaconf import DictConfig

import octsr  # noqa: F401
from octsr.errors import ConfigError
from octsr.settings import ExportSettings, check_settings
from octsr.utils.atomic import atomic_path
from octsr.utils.cli import command
from octsr.utils.extras import require
from octsr.utils.provenance import OutputRecord, settings_digest
from octsr.weights import model_file

# torch and Lightning are imported where the work starts, after the settings are checked,
# so `--help` and a mistyped setting answer at once instead of after seconds of imports.
if TYPE_CHECKING:
    from torch import Tensor

    from octsr.models.restoration_module import RestorationModule

log = logging.getLogger(__name__)


def example_input(model: RestorationModule) -> tuple[Tensor, bool]:
    """An input to trace with, and whether height and width may vary. It is smaller than
    the network's inference tile, so the trace holds no tiling loop."""
    import torch

    size = getattr(model.net, "input_size", None)
    if model.inferer is not None and size:
        return torch.rand(1, model.input_frames, size, size), False
    return torch.rand(1, model.input_frames, 64, 96), True


# Both formats trace the model's own whole-image forward through Lightning's exporters.
def export_torchscript(model: RestorationModule, example: Tensor, path: Path) -> Path:
    traced = model.to_torchscript(method="trace", example_inputs=example)
    with atomic_path(path) as tmp:
        traced.save(str(tmp))
    return path


def export_onnx(model: RestorationModule, example: Tensor, any_size: bool, path: Path,
                opset: int = 17) -> Path:
    axes = {0: "batch", 2: "height", 3: "width"} if any_size else {0: "batch"}
    with atomic_path(path) as tmp:
        model.to_onnx(str(tmp), example, input_names=["noisy"], output_names=["restored"],
                      dynamic_axes={"noisy": axes, "restored": axes}, opset_version=opset, dynamo=False)
    return path


def export(cfg: DictConfig) -> list[Path]:
    check_settings(cfg, ExportSettings)
    if cfg.format in ("all", "onnx"):
        require("onnx", "onnx", f"format={cfg.format}", instead="format=torchscript")
    output = Path(cfg.output).expanduser()
    if output.is_dir() or str(cfg.output).endswith(("/", "\\")):
        raise ConfigError(f"output={cfg.output} is a folder; give a file path (without an extension "
                          f"for torchscript/onnx, e.g. output={output / 'model'})")
    source = model_file(cfg)
    targets = [output] if cfg.format == "weights" else [
        output.with_suffix(suffix) for suffix, formats in ((".pt", ("all", "torchscript")), (".onnx", ("all", "onnx")))
        if cfg.format in formats]
    for target in targets:
        if target.exists() and source.exists() and target.resolve() == source.resolve():
            raise ConfigError(f"output={cfg.output} would write over {source}, the model this export reads "
                              f"(a checkpoint's optimizer and loop state would be lost); choose another output")
    record = OutputRecord(output.parent)
    digest = settings_digest({"format": cfg.format, "opset": cfg.opset})
    record.check([(source, target) for target in targets], digest, cfg.overwrite, "output")
    import torch

    from octsr.inference import load_restorer
    from octsr.models.checkpoint import save_weights

    restorer = load_restorer(cfg)
    model, ckpt_path = restorer.model, restorer.source
    output.parent.mkdir(parents=True, exist_ok=True)
    if cfg.format == "weights":
        save_weights(model, output, source=ckpt_path.name)
        return record.added(source, [output], digest)
    example, any_size = example_input(model)
    if model.match_input_mean and not any_size:
        raise ConfigError(f"{ckpt_path}: this model matches each whole image's brightness, which a "
                          f"file taking {example.shape[-1]}x{example.shape[-1]} tiles cannot do; use "
                          f"format=weights")
    # The example is smaller than a tile, so the trace records the untiled path on purpose:
    # the tiler's size test is not a warning for the user.
    # Lightning's to_torchscript warns of its own removal in 2.8 (pyproject.toml stays below it).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module="octsr.tiling")
        warnings.filterwarnings("ignore", message=".*to_torchscript` has been deprecated")
        written = []
        if cfg.format in ("all", "torchscript"):
            written.append(export_torchscript(model, example, output.with_suffix(".pt")))
        if cfg.format in ("all", "onnx"):
            written.append(export_onnx(model, example, any_size, output.with_suffix(".onnx"), cfg.opset))
    return record.added(source, written, digest)


def export_and_list(cfg: DictConfig) -> None:
    for path in export(cfg):
        print(f"wrote {path}")


cli = command("export", export_and_list)  # `python -m octsr.export` and the `octsr-export` command


if __name__ == "__main__":
    cli()
