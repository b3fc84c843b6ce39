"""Export a trained model: `python -m octsr.export ckpt_path=<ckpt> output=exported/model`.

TorchScript (`.pt`) and ONNX (`.onnx`) files hold one self-contained module:
noisy (N, frames, H, W) float32 in [0, 1] -> restored (N, 1, H, W) in [0, 1], with the
input standardization inside (frames: 1, or `data.input_frames` of a multi-frame model). Fully convolutional networks (SRCNN) take any H and W; a network
with a fixed input size (CAE) is exported for its 41 x 41 tiles, and whole images need the
sliding-window step around it (`octsr.inference.SlidingWindowInferer`).
`format=weights` writes the compact octsr weights file that `ckpt_path=` accepts.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig
from torch import Tensor, nn

import octsr  # noqa: F401
from octsr.errors import ConfigError
from octsr.inference import input_frames
from octsr.models.checkpoint import load_model, save_weights
from octsr.models.restoration_module import RestorationModule, apply_network, finish_whole_image
from octsr.settings import ExportSettings, check_settings
from octsr.utils.atomic import atomic_path
from octsr.utils.cli import check_command_line
from octsr.utils.extras import require
from octsr.utils.failures import exit_on_user_error
from octsr.weights import shipped_weights

log = logging.getLogger(__name__)


class ExportedRestorer(nn.Module):
    """The network with its input standardization and output step (sigmoid, or the
    residual subtracted and clamped), as one plain module."""

    def __init__(self, model: RestorationModule) -> None:
        super().__init__()
        self.net = model.net
        self.residual = model.residual
        self.match_input_mean = model.match_input_mean
        self.register_buffer("input_mean", model.input_mean.clone())
        self.register_buffer("input_std", model.input_std.clone())

    def forward(self, noisy: Tensor) -> Tensor:
        output = apply_network(self.net, noisy, self.input_mean, self.input_std, self.residual)
        return finish_whole_image(output, noisy, self.residual, self.match_input_mean)


def example_input(model: RestorationModule) -> tuple[Tensor, bool]:
    """An input to trace with, and whether height and width may vary."""
    size = getattr(model.net, "input_size", None)
    frames = input_frames(model)
    if model.inferer is not None and size:
        return torch.rand(1, frames, size, size), False
    return torch.rand(1, frames, 64, 96), True


def export_torchscript(module: ExportedRestorer, example: Tensor, path: Path) -> Path:
    traced = torch.jit.trace(module, example)
    with atomic_path(path) as tmp:
        traced.save(str(tmp))
    return path


def export_onnx(module: ExportedRestorer, example: Tensor, any_size: bool, path: Path,
                opset: int = 17) -> Path:
    axes = {0: "batch", 2: "height", 3: "width"} if any_size else {0: "batch"}
    with atomic_path(path) as tmp:
        torch.onnx.export(module, (example,), str(tmp), input_names=["noisy"],
                          output_names=["restored"], dynamic_axes={"noisy": axes, "restored": axes},
                          opset_version=opset, dynamo=False)
    return path


def export(cfg: DictConfig) -> list[Path]:
    check_settings(cfg, ExportSettings)
    if cfg.format in ("all", "onnx"):
        require("onnx", "onnx", f"format={cfg.format}", instead="format=torchscript")
    output = Path(cfg.output).expanduser()
    if output.is_dir() or str(cfg.output).endswith(("/", "\\")):
        raise ConfigError(f"output={cfg.output} is a folder; give a file path (without an extension "
                          f"for torchscript/onnx, e.g. output={output / 'model'})")
    ckpt_path = cfg.ckpt_path or shipped_weights(cfg.get("weights", "best"))
    model = load_model(ckpt_path)
    output.parent.mkdir(parents=True, exist_ok=True)
    if cfg.format == "weights":
        save_weights(model, output,
                     source=Path(ckpt_path).name)
        return [output]
    module = ExportedRestorer(model).eval()
    example, any_size = example_input(model)
    if model.match_input_mean and not any_size:
        raise ConfigError(f"{ckpt_path}: this model matches each whole image's brightness, which a "
                          f"file taking {example.shape[-1]}x{example.shape[-1]} tiles cannot do; use "
                          f"format=weights")
    written = []
    with torch.no_grad():
        if cfg.format in ("all", "torchscript"):
            written.append(export_torchscript(module, example, output.with_suffix(".pt")))
        if cfg.format in ("all", "onnx"):
            written.append(export_onnx(module, example, any_size, output.with_suffix(".onnx"), cfg.opset))
    return written


@hydra.main(version_base="1.3", config_path="pkg://octsr.conf", config_name="export")
def main(cfg: DictConfig) -> None:
    try:
        for path in export(cfg):
            print(f"wrote {path}")
    except Exception as err:
        exit_on_user_error(err)


def cli() -> None:
    """`python -m octsr.export` and the `octsr-export` command."""
    check_command_line("export")
    main()


if __name__ == "__main__":
    cli()
