"""Denoise B-scans with a trained model: `python -m octsr.enhance input=scan.tif output=out/`.

Reads PNG and TIFF (8- or 16-bit; multi-page TIFF volumes, each page a B-scan, pages may
differ in size), DICOM Ophthalmic Tomography objects and Heidelberg .vol files, restores
every B-scan, and writes each result under the output folder at its input's relative path,
with its size, bit depth and every page (a DICOM input as a derived DICOM object, a .vol as
a TIFF with its spacing: `octsr.data.volumes`). A model trained on
several frames of one place (`data.input_frames`=K) takes each file as those K frames (a
K-page TIFF, the primary frame first) and writes one restored B-scan. Outputs are written to a
temporary name and renamed, never through a symbolic link, never over an input. Without
`ckpt_path` it uses the weights shipped with octsr.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

import octsr  # noqa: F401  (environment defaults)
from octsr.data.image_io import IMAGE_SUFFIXES, from_unit_range, read_pages, to_unit_range, write_pages
from octsr.data.volumes import (DICOM_SUFFIXES, VENDOR_SUFFIXES, is_dicom, read_volume, write_derived_dicom,
                                write_tiff_volume)
from octsr.errors import ConfigError, DataError
from octsr.settings import EnhanceSettings, check_settings
from octsr.utils.cli import command
from octsr.utils.failures import user_error_message

# torch and Lightning are imported where the work starts, after the settings are checked,
# so `--help` and a mistyped setting answer at once instead of after seconds of imports.

log = logging.getLogger(__name__)


def list_inputs(input_path: str | Path, exclude: Path | None = None) -> list[tuple[Path, Path]]:
    """(file, its path relative to the input) for a file, or every PNG/TIFF under a folder,
    subfolders included (symbolic links to folders are not followed; `exclude`, the output
    folder when it lies inside the input, is skipped)."""
    path = Path(input_path).expanduser()
    if path.is_file():
        return [(path, Path(path.name))]
    if not path.is_dir():
        raise DataError(f"input={input_path}: no such file or folder")
    skip = exclude.resolve() if exclude is not None else None
    if skip == path.resolve():
        raise ConfigError(f"output={exclude} is the input folder; choose another folder so no "
                          f"input scan is overwritten")
    files = []
    for folder, subfolders, names in os.walk(path):
        if skip is not None and Path(folder).resolve() == skip:
            subfolders.clear()
            continue
        subfolders.sort()
        files += [Path(folder) / name for name in sorted(names)
                  if Path(name).suffix.lower() in IMAGE_SUFFIXES | DICOM_SUFFIXES | {".vol"}
                  and not name.startswith(".")]
    if not files:
        raise DataError(f"input={input_path}: no PNG, TIFF, DICOM or .vol files in this folder or its subfolders")
    return [(f, f.relative_to(path)) for f in files]


def prepare_output(output: str | Path) -> Path:
    """The output folder, created and checked writable before any work is done."""
    out = Path(output).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"output={output}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as err:
        raise ConfigError(f"output={output}: cannot write there ({err.strerror or err})") from err
    return out


def plan_outputs(inputs: list[tuple[Path, Path]], out: Path) -> list[tuple[Path, Path]]:
    """(input, output file) pairs: each output at its input's relative path under `out`.
    Refuses any plan that could overwrite an input, write two inputs to one file, or write
    through a symbolic link or outside `out`."""
    root = out.resolve()
    sources = {p.resolve() for p, _ in inputs}
    seen: dict[str, Path] = {}
    plan = []
    for path, relative in inputs:
        target = out / relative
        if relative.suffix.lower() in VENDOR_SUFFIXES:  # a vendor's volume comes out as a TIFF
            target = target.with_suffix(".tif")
        key = str(relative).casefold()  # one file on case-insensitive file systems
        if key in seen:
            raise ConfigError(f"{path} and {seen[key]} would both be written to {target}; "
                              f"rename one of them")
        seen[key] = path
        if target.resolve() in sources:
            raise ConfigError(f"output={out}: {target} is an input; choose an output folder "
                              f"where no input scan can be overwritten")
        plan.append((path, target))
    for _, target in plan:
        # Symbolic links (a file, or a folder on the way) would send the output elsewhere.
        for part in [target, *target.parents]:
            if part == out:
                break
            if part.is_symlink():
                raise ConfigError(f"{part} is a symbolic link; octsr does not write through links "
                                  f"(remove it or choose another output folder)")
        if not target.parent.resolve().is_relative_to(root) and target.parent.exists():
            raise ConfigError(f"{target} lies outside output={out}")
    return plan


def as_model_input(pages: list, frames: int, path: Path) -> list:
    """What the model restores of a file's pages: each page (a single-frame model), or all
    pages as the frames of one place (a model of `frames` frames)."""
    if frames == 1:
        return pages
    if len(pages) != frames or len({p.shape for p in pages}) != 1:
        raise DataError(f"{path}: this model takes {frames} noisy frames of one place per file, as a "
                        f"{frames}-page TIFF of one size (trained with data.input_frames={frames}); "
                        f"the file has {len(pages)} page(s) of {', '.join(sorted({str(p.shape) for p in pages}))}")
    return [np.stack(pages)]


def enhance_volume(path: Path, target: Path, restorer, batch_size: int, anonymize: bool = False) -> list[np.ndarray]:
    """Restore every B-scan of a scanner's volume: a DICOM object into a derived DICOM object
    (`octsr.data.volumes.write_derived_dicom`), a vendor's file into a multi-page TIFF with its
    spacing recorded (`write_tiff_volume`). Returns the source's B-scans."""
    volume = read_volume(path)
    if restorer.input_frames != 1:
        raise DataError(f"{path}: this model takes {restorer.input_frames} noisy frames of one place "
                        f"per file (a TIFF); a volume's B-scans are of different places")
    restored = volume.from_unit_range(restorer(volume.to_unit_range(), batch_size))
    target.parent.mkdir(parents=True, exist_ok=True)
    if volume.format == "dicom":
        changes = write_derived_dicom(volume, restored, target, f"octsr denoised, weights {restorer.source.name}",
                                      anonymize)
        if changes:
            log.info("%s de-identified (DICOM basic profile): %s", target, "; ".join(changes))
    else:
        write_tiff_volume(target, restored, volume.spacing)
    return volume.bscans


def enhance(cfg: DictConfig) -> list[Path]:
    """Restore every input B-scan; returns the files written. With `on_error=skip`, a file
    that cannot be read or restored is reported and skipped, and the run ends with an error
    that counts them."""
    check_settings(cfg, EnhanceSettings)
    inputs = list_inputs(cfg.input, exclude=Path(cfg.output).expanduser())
    out = prepare_output(cfg.output)
    plan = plan_outputs(inputs, out)
    from octsr.inference import load_restorer

    restorer = load_restorer(cfg)
    log.info("model %s on %s, %d input file(s) -> %s", restorer.source, restorer.device, len(plan), out)
    written, skipped = [], []
    with logging_redirect_tqdm():  # log lines above the progress bar, not through it
        for path, target in tqdm(plan, desc="enhance", unit="file", disable=len(plan) < 2):
            try:
                start = time.perf_counter()
                if is_dicom(path) or path.suffix.lower() in VENDOR_SUFFIXES:
                    pages = enhance_volume(path, target, restorer, cfg.batch_size, cfg.anonymize)
                else:
                    pages = read_pages(path)
                    units = as_model_input([to_unit_range(page, path) for page in pages], restorer.input_frames, path)
                    restored = [from_unit_range(unit, page.dtype) for unit, page in
                                zip(restorer(units, cfg.batch_size), pages)]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    write_pages(target, restored, like=path)
            except (DataError, OSError) as err:
                if cfg.on_error != "skip":
                    raise
                reason = user_error_message(err) or str(err)
                log.warning("skipped %s: %s", path, reason)
                skipped.append(path)
                continue
            sizes = sorted({f"{w}x{h}" for h, w in (p.shape for p in pages)})
            log.info("%s: %d B-scan(s) of %s %s in %.2f s -> %s", path, len(pages), ", ".join(sizes),
                     pages[0].dtype, time.perf_counter() - start, target)
            written.append(target)
    if skipped:
        raise DataError(f"{len(skipped)} of {len(plan)} input file(s) skipped (reasons above), "
                        f"{len(written)} written to {out}")
    return written


cli = command("enhance", enhance)  # `python -m octsr.enhance` and the `octsr-enhance` command


if __name__ == "__main__":
    cli()
