"""Denoise B-scans with a trained model: `python -m octsr.enhance input=scan.tif output=out/`.

Reads PNG and TIFF (8- or 16-bit; multi-page TIFF volumes, each page a B-scan), restores
every B-scan, and writes each result under the output folder with its input's file name,
size and bit depth. Without `ckpt_path` it uses the weights shipped with octsr.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from tqdm import tqdm

import octsr  # noqa: F401  (environment defaults)
from octsr.data.image_io import IMAGE_SUFFIXES, from_unit_range, read_pages, to_unit_range, write_pages
from octsr.errors import ConfigError, DataError
from octsr.models.checkpoint import load_model
from octsr.models.inference import TiledInferer
from octsr.utils.device import pick_device
from octsr.utils.failures import exit_on_user_error
from octsr.weights import shipped_weights

log = logging.getLogger(__name__)


def list_inputs(input_path: str | Path) -> list[Path]:
    path = Path(input_path).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise DataError(f"input={input_path}: no PNG or TIFF files in this folder")
        return files
    raise DataError(f"input={input_path}: no such file or folder")


def check_output(inputs: list[Path], output: str | Path) -> Path:
    """The output folder, refusing any setting that could overwrite an input."""
    out = Path(output).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output={output}: exists and is not a folder")
    input_dirs = {p.resolve().parent for p in inputs}
    if out.resolve() in input_dirs:
        raise ConfigError(f"output={output} is the input folder; choose another folder so no "
                          f"input scan is overwritten")
    return out


@torch.no_grad()
def restore_pages(model, pages: np.ndarray, inferer: TiledInferer, batch_size: int,
                  device: torch.device, path: Path) -> np.ndarray:
    """(pages, H, W) as stored -> restored, same shape and dtype."""
    unit = to_unit_range(pages, path)
    restored = np.empty_like(unit)
    for start in range(0, len(unit), batch_size):
        batch = torch.from_numpy(unit[start : start + batch_size])[:, None].to(device)
        restored[start : start + batch_size] = model(batch, tiler=inferer)[:, 0].float().cpu().numpy()
    return from_unit_range(restored, pages.dtype)


def enhance(cfg: DictConfig) -> list[Path]:
    """Restore every input B-scan; returns the files written."""
    inputs = list_inputs(cfg.input)
    out = check_output(inputs, cfg.output)
    ckpt_path = cfg.ckpt_path or shipped_weights(cfg.get("weights", "best"))
    model = load_model(ckpt_path)
    device = pick_device(cfg.device)
    model.to(device)
    inferer = TiledInferer.for_network(model.net, cfg.tile, cfg.halo)
    log.info("model %s on %s, %d input file(s) -> %s", ckpt_path, device, len(inputs), out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in tqdm(inputs, desc="enhance", unit="file", disable=len(inputs) < 2):
        target = out / path.name  # the name only: nothing lands outside the output folder
        if target.exists() and target.resolve() == path.resolve():
            raise ConfigError(f"{target} is an input; refusing to overwrite it")
        pages = read_pages(path)
        start = time.perf_counter()
        restored = restore_pages(model, pages, inferer, cfg.batch_size, device, path)
        write_pages(target, restored, like=path)
        log.info("%s: %d B-scan(s) of %dx%d %s in %.2f s -> %s", path.name, len(pages),
                 *pages.shape[1:], pages.dtype, time.perf_counter() - start, target)
        written.append(target)
    return written


@hydra.main(version_base="1.3", config_path="../conf", config_name="enhance")
def main(cfg: DictConfig) -> None:
    try:
        enhance(cfg)
    except Exception as err:
        exit_on_user_error(err)


if __name__ == "__main__":
    main()
