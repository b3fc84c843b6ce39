"""Denoise B-scans with a trained model: `python -m octsr.enhance input=scan.tif output=out/`.

Reads PNG and TIFF (8- or 16-bit; multi-page TIFF volumes, each page a B-scan, pages may
differ in size), DICOM Ophthalmic Tomography objects and Heidelberg .vol files, restores
every B-scan, and writes each result under the output folder at its input's relative path,
with its size, bit depth and every page (a DICOM input as a derived DICOM object, a .vol as
a TIFF with its spacing: `octsr.formats`). A model trained on
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
from collections import Counter
from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

import octsr  # noqa: F401  (environment defaults)
from octsr.errors import ConfigError, DataError
from octsr.formats import BY_NAME, KNOWN, VENDOR_FORMATS, VOLUME_SUFFIXES, format_of, read_volume, stated_spacing
from octsr.formats.dicom import DICOM_SUFFIXES, dicom_kind, require_spacing, write_derived_dicom
from octsr.formats.heidelberg import heidelberg_exports
from octsr.formats.images import IMAGE_SUFFIXES, TIFF_SUFFIXES, read_pages, write_pages
from octsr.formats.tiff import write_tiff_volume
from octsr.settings import EnhanceSettings, check_settings
from octsr.utils.cli import command
from octsr.utils.failures import interrupted_after, user_error_message
from octsr.utils.provenance import OutputRecord, settings_digest
from octsr.weights import model_file, uses_tta

# torch and Lightning are imported where the work starts, after the settings are checked,
# so `--help` and a mistyped setting answer at once instead of after seconds of imports.

log = logging.getLogger(__name__)

VOLUME_BAR_FROM = 16  # B-scans in one file from which it gets its own progress bar


def list_inputs(input_path: str | Path, exclude: Path | None = None) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """(file, its path relative to the input) for a file, or every scan under a folder,
    subfolders included (symbolic links to folders are not followed; `exclude`, the output
    folder when it lies inside the input, is skipped); and the links in the folder that lead
    nowhere (a loop, a missing target), left out. Files are taken by what they are: images
    and vendors' files by their suffix, DICOM by its content too (PACS and CD exports name
    their files without a suffix); DICOM objects that are not OCT B-scans (the DICOMDIR
    index, photographs, reports) are left out of a folder with a note."""
    path = Path(input_path).expanduser()
    if path.is_file():
        return [(path, Path(path.name))], []
    if not path.is_dir():
        raise DataError(f"input={input_path}: no such file or folder")
    skip = exclude.resolve() if exclude is not None else None
    if skip == path.resolve():
        raise ConfigError(f"output={exclude} is the input folder; choose another folder so no "
                          f"input scan is overwritten")
    files, broken, not_oct = [], [], Counter()
    for folder, subfolders, names in os.walk(path):
        if skip is not None and Path(folder).resolve() == skip:
            subfolders.clear()
            continue
        subfolders.sort()
        # A Heidelberg XML export is one volume: its XML, not the B-scan TIFFs beside it.
        exports = heidelberg_exports(Path(folder))
        if exports:
            files += exports
            continue
        for name in sorted(name for name in names if not name.startswith(".")):
            what = input_kind(Path(folder) / name)
            if what == "input":
                files.append(Path(folder) / name)
            elif what == "broken link":
                broken.append(Path(folder) / name)
            elif what:
                not_oct[what] += 1
    if not_oct:
        log.info("left out %d DICOM object(s) that are not OCT B-scans: %s", sum(not_oct.values()),
                 ", ".join(f"{kind} ({count})" for kind, count in sorted(not_oct.items())))
    if not files and not broken:
        raise DataError(f"input={input_path}: no images (PNG, TIFF) or volumes ({KNOWN}) in this folder or its "
                        f"subfolders")
    return [(f, f.relative_to(path)) for f in files], broken


def input_kind(file: Path) -> str | None:
    """What a file in an input folder is to enhance: "input" (an image or a volume), "broken
    link" (a link that leads nowhere, noted), the kind of a DICOM object that holds no OCT
    B-scans (a DICOMDIR index, a photograph: left out), or None (anything else)."""
    if file.is_symlink() and not file.exists():
        log.warning("left out %s: a symbolic link that leads nowhere (a loop or a missing target)", file)
        return "broken link"
    fmt = format_of(file)
    if fmt is BY_NAME["dicom"]:
        return dicom_kind(file) or "input"
    return "input" if fmt is not None or file.suffix.lower() in IMAGE_SUFFIXES else None


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


def output_kind(path: Path, output_format: str) -> str | None:
    """What a file's result is: 'dicom' or 'tiff' for a scanner's volume, restored whole
    (`enhance_volume`): DICOM, a vendor's file, or, for DICOM output, any file
    (`check_output_settings` refuses those that cannot be placed); None for an image,
    restored page by page into its own format. A file without a telling suffix is opened to
    look for the DICOM mark, so this is asked once per input."""
    fmt = format_of(path)
    dicom = fmt is BY_NAME["dicom"]
    if not (dicom or fmt in VENDOR_FORMATS or output_format == "dicom"):
        return None
    if output_format == "auto":
        return "dicom" if dicom else "tiff"
    return output_format


def volume_output(relative: Path, kind: str | None) -> Path:
    """Where a file's result goes, relative to the output folder: a volume as its `kind`
    says (`output_kind`), any other file under its own name. A suffix is replaced only where
    it names the format (a PACS export's files may be named by their UIDs, dots and all)."""
    if kind is None:
        return relative
    suffix = relative.suffix.lower()
    if suffix in (DICOM_SUFFIXES if kind == "dicom" else TIFF_SUFFIXES):
        return relative
    new_suffix = ".dcm" if kind == "dicom" else ".tif"
    known = suffix in VOLUME_SUFFIXES
    return relative.with_suffix(new_suffix) if known else relative.with_name(relative.name + new_suffix)


def check_output_settings(kinds: dict[Path, str | None], anonymize: bool) -> None:
    """Refuse, before any work, a setting that cannot apply to the inputs (`kinds`: each
    input's `output_kind`): DICOM output for an image that states no spacing (a DICOM object
    must place its B-scans), anonymize for inputs none of which is written as DICOM."""
    unplaced = [path for path, kind in kinds.items() if kind == "dicom" and path.suffix.lower() in IMAGE_SUFFIXES
                and format_of(path) is not BY_NAME["dicom"]
                and (path.suffix.lower() not in TIFF_SUFFIXES or stated_spacing(path).missing())]
    if unplaced:
        more = f" (and {len(unplaced) - 1} more)" if len(unplaced) > 1 else ""
        raise ConfigError(f"output_format=dicom: {unplaced[0]}{more} states no spacing (across, down, between "
                          f"B-scans), and a DICOM object must place its B-scans; use output_format=auto for "
                          f"such files")
    if anonymize and "dicom" not in kinds.values():
        raise ConfigError("anonymize=true applies to DICOM output, and none of the inputs is written as DICOM "
                          "(PNG and TIFF outputs carry no patient data from octsr); leave it out")


def plan_outputs(inputs: list[tuple[Path, Path]], out: Path, kinds: dict[Path, str | None]) -> list[tuple[Path, Path]]:
    """(input, output file) pairs: each output at its input's relative path under `out`
    (`volume_output` of its `kinds` entry). Refuses any plan that could overwrite an input, write two inputs to
    one file, or write through a symbolic link or outside `out`."""
    root = out.resolve()
    sources = {p.resolve() for p, _ in inputs}
    seen: dict[str, Path] = {}
    plan = []
    for path, relative in inputs:
        target = out / volume_output(relative, kinds[path])
        key = str(target.relative_to(out)).casefold()  # one file on case-insensitive file systems
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


def enhance_volume(path: Path, target: Path, restorer, batch_size: int, anonymize: bool = False
                   ) -> tuple[list[tuple[int, int]], np.dtype]:
    """Restore every B-scan of a scanner's volume into a derived DICOM object
    (`octsr.formats.dicom.write_derived_dicom`) or a multi-page TIFF with its spacing recorded
    (`write_tiff_volume`), as `target`'s suffix says (`volume_output`). Returns the B-scans'
    shapes and pixel type."""
    volume = read_volume(path)
    if restorer.input_frames != 1:
        raise DataError(f"{path}: this model takes {restorer.input_frames} noisy frames of one place "
                        f"per file (a TIFF); a volume's B-scans are of different places")
    if target.suffix.lower() not in TIFF_SUFFIXES and volume.dataset is None:
        require_spacing(volume)  # before the work, not after it
    shapes = [scan.shape for scan in volume.bscans]
    # Restored over the volume's own pixels: a 512-frame 16-bit volume is held once, not
    # in four copies (experiments/speed records the peak memory).
    with bscan_progress(len(volume.bscans), path) as progress:
        restored = restorer.restore_stored(volume.bscans, batch_size, volume.max_value, path, in_place=True,
                                           progress=progress.update, law=volume.intensity)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix.lower() not in TIFF_SUFFIXES:
        changes = write_derived_dicom(volume, restored, target, f"octsr denoised, weights {restorer.source.name}",
                                      anonymize)
        if changes:
            log.info("%s de-identified (DICOM basic profile): %s", target, "; ".join(changes))
    else:
        write_tiff_volume(target, restored, volume.spacing)
    return shapes, restored[0].dtype


def file_state(path: Path) -> tuple[int, int] | None:
    """What tells a file replaced from the one before it (inode, modification time), None
    where there is none."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def bscan_progress(count: int, path: Path) -> tqdm:
    """A bar in B-scans per second over one file's B-scans, for volumes long enough to wait on."""
    return tqdm(total=count, desc=path.name, unit="B-scan", leave=False, disable=count < VOLUME_BAR_FROM)


def enhance_file(path: Path, target: Path, kind: str | None, restorer, cfg: DictConfig
                 ) -> tuple[list[tuple[int, int]], np.dtype]:
    """Restore one input file into `target`: a volume (`enhance_volume`), or an image's
    pages, each restored and written in the image's own format. Returns the B-scans' shapes
    and pixel type."""
    if kind is not None:
        return enhance_volume(path, target, restorer, cfg.batch_size, cfg.anonymize)
    pages = read_pages(path)
    with bscan_progress(len(pages), path) as progress:
        restored = restorer.restore_stored(pages, cfg.batch_size, source=path,
                                           in_place=all(p.flags.writeable for p in pages), progress=progress.update)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_pages(target, restored, like=path)
    return [page.shape for page in pages], pages[0].dtype


def enhance(cfg: DictConfig) -> list[Path]:
    """Restore every input B-scan; returns the files written. With `on_error=skip`, a file
    that cannot be read or restored is reported and skipped, and the run ends with an error
    that counts them."""
    check_settings(cfg, EnhanceSettings)
    inputs, broken = list_inputs(cfg.input, exclude=Path(cfg.output).expanduser())
    kinds = {path: output_kind(path, cfg.output_format) for path, _ in inputs}
    check_output_settings(kinds, cfg.anonymize)
    out = prepare_output(cfg.output)
    plan = plan_outputs(inputs, out, kinds)
    # What decides an output's pixels: a rerun with the same may replace it, nothing else.
    digest = settings_digest({"model": str(model_file(cfg).resolve()), "tile": cfg.tile, "halo": cfg.halo,
                              "tta": uses_tta(cfg), "precision": cfg.precision, "anonymize": cfg.anonymize,
                              "intensity": cfg.intensity,
                              "output_format": cfg.output_format})
    record = OutputRecord(out)
    record.check(plan, digest, cfg.overwrite, "output folder")
    from octsr.inference import load_restorer

    restorer = load_restorer(cfg)
    log.info("model %s on %s in %s%s, %d input file(s) -> %s", restorer.source, restorer.device,
             restorer.precision, " with test-time flips and turns (tta: 8 passes per B-scan, 8x the time)"
             if restorer.tta else "", len(plan), out)
    written, skipped = [], []

    def finished() -> str:
        return f"{len(written)} of {len(plan)} output(s) finished in {out}, each complete; rerun the same command to " \
               f"finish"

    # log lines above the progress bar, not through it
    with logging_redirect_tqdm(), interrupted_after(finished), record:  # record: folded at the end, however it ends
        for path, target in tqdm(plan, desc="enhance", unit="file", disable=len(plan) < 2):
            before = file_state(target)
            try:
                try:
                    start = time.perf_counter()
                    shapes, dtype = enhance_file(path, target, kinds[path], restorer, cfg)
                except (DataError, OSError) as err:
                    if cfg.on_error != "skip":
                        raise
                    reason = user_error_message(err) or str(err)
                    log.warning("skipped %s: %s", path, reason)
                    skipped.append(path)
                    continue
                written.append(target)
                record.add(path, target, digest)  # journaled: a killed run still vouches for what it finished
            except KeyboardInterrupt:
                # Ctrl-C that lands after the output was renamed into place, whole, and before
                # it was recorded: still vouched for, so the rerun takes it as its own.
                if file_state(target) != before:
                    written += [target] if target not in written else []
                    record.add(path, target, digest)
                raise
            sizes = sorted({f"{w}x{h}" for h, w in shapes})
            log.info("%s: %d B-scan(s) of %s %s in %.2f s -> %s", path, len(shapes), ", ".join(sizes),
                     dtype, time.perf_counter() - start, target)
    if skipped or broken:
        lost = [f"{len(skipped)} of {len(plan)} input file(s) skipped"] if skipped else []
        lost += [f"{len(broken)} symbolic link(s) in the input lead nowhere and were left out"] if broken else []
        raise DataError(f"{' and '.join(lost)} (named above); {len(written)} written to {out}")
    return written


cli = command("enhance", enhance)  # `python -m octsr.enhance` and the `octsr-enhance` command


if __name__ == "__main__":
    cli()
