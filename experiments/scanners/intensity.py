"""Does knowing each scan's intensity law put the shipped weights ahead of BM3D on scanners
they never saw? Duke's scans stored as three other devices would store them, scored on the
same subject folds as experiments/unseen_scans.

    python experiments/scanners/intensity.py [--out experiments/scanners] [--jobs 2]
    python experiments/scanners/intensity.py --name augmented --reuse experiments/scanners/intensity_per_image.csv \
        --model "candidate=octsr/weights/duke_unet.pt" --model "held out=logs/<crossval>/<row>"

Rows per scanner: the noisy input; the shipped U-Net (`weights=best`, as `octsr.enhance`
runs it) on the stored values (`intensity=stored`) and with the intensity transform
(`intensity=auto`: the law estimated from each scan, `octsr.data.intensity`); BM3D with its
noise level chosen per fold on that fold's val scans, on the stored values and after the
same transform (what a careful user of BM3D does with speckle). Writes intensity.md and
intensity_per_image.csv beside this script (or to --out).

More models as rows: `--model LABEL=PATH`, a weights file or checkpoint (run as the shipped
weights are, `intensity=auto`), or a crossval row's folder of fold runs (fold0, fold1, ...:
each subject restored by the best checkpoint of the fold that tests it, so by a model that
never saw it). `--reuse CSV` takes the other rows from an earlier run's per-image CSV instead
of computing them again (BM3D is most of the time); `--name` names the files written.

The scanners (each a function of a Duke B-scan in [0, 1], Bioptigen's log display; the
noisy scans and the averages take the same transform, so each averaged reference is the
log-domain mean, the mean a Noise2Noise model trained on log scans learns):
- `root_512`: linear intensity over 40 dB under a fourth root, gain 1.4, 512 A-scans, 16-bit
  (second_scanner.py: Heidelberg Spectralis's display law and lateral sampling).
- `log_1024`: another log display, its range compressed to 0.8 of Bioptigen's with an
  offset of 0.1 (another dynamic range and gain, as Cirrus and Topcon exports differ), 1024
  A-scans (resampled up from 900), 8-bit.
- `linear_768`: linear intensity over 40 dB as 32-bit floats in [0, 1], as Heidelberg .vol
  files store it, 768 A-scans averaged in intensity (how a coarser lateral sampling sums
  echoes).
"""

from __future__ import annotations

import argparse
import csv
import shlex
import sys
import time
from dataclasses import replace
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from statistics import fmean

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
from second_scanner import second_scanner

from octsr.crossval import fold_splits
from octsr.formats.images import read_raw
from octsr.scoring import image_scores
from octsr.utils.machine import machine

SIGMAS = {"stored": (0.1, 0.2, 0.4, 0.8), "transformed": (0.2, 0.3, 0.4, 0.6)}
FOLDS, VAL_SUBJECTS, SEED = 3, 2, 0  # conf/crossval.yaml's


def log_1024(scan: np.ndarray) -> np.ndarray:
    grey = np.clip(0.8 * scan.astype(np.float64) / 255 + 0.1, 0, 1)
    return np.round(cv2.resize(grey, (1024, scan.shape[0]), interpolation=cv2.INTER_LINEAR) * 255).astype(np.uint8)


def linear_768(scan: np.ndarray) -> np.ndarray:
    intensity = 10.0 ** (4.0 * (scan.astype(np.float64) / 255 - 1.0))
    return cv2.resize(intensity, (768, scan.shape[0]), interpolation=cv2.INTER_AREA).astype(np.float32)


SCANNERS = {"root_512": second_scanner, "log_1024": log_1024, "linear_768": linear_768}


def unit(stored: np.ndarray) -> np.ndarray:
    from octsr.formats.images import to_unit_range

    return to_unit_range(stored, "<scan>").astype(np.float32)


def subject_rows(scanner: str, subject: Path, models: dict[str, Path], baselines: bool) -> list[dict]:
    """Each method's scores on one subject's test.tif under one scanner: `models` (label ->
    the weights file or checkpoint that restores this subject); with `baselines`, the noisy
    input, the shipped U-Net with and without the transform, and BM3D at each sigma."""
    import torch

    from octsr.data.intensity import IntensityTransform
    from octsr.inference import load_restorer

    torch.set_num_threads(1)
    transform_of = SCANNERS[scanner]
    noisy, target = (unit(transform_of(read_raw(subject / name))) for name in ("test.tif", "average.tif"))
    rows = []

    def add(method: str, output: np.ndarray, seconds: float, sigma: float | None = None) -> None:
        rows.append({"scanner": scanner, "subject": subject.name, "method": method, "sigma": sigma,
                     "seconds": round(seconds, 2), **image_scores(output, target)})

    runs = {f"shipped, intensity={intensity}": {"weights": "best", "intensity": intensity}
            for intensity in ("stored", "auto")} if baselines else {}
    runs.update({label: {"ckpt_path": str(path), "intensity": "auto"} for label, path in models.items()})
    if baselines:
        add("noisy input", noisy, 0.0)
    for label, settings in runs.items():
        restorer = load_restorer({**settings, "precision": "fp32"})
        if label in models:  # every model here learned log scans: shown each scanner through the transform, as the
            restorer = replace(restorer, intensity="auto")  # shipped weights are (older checkpoints record 'stored')
        start = time.perf_counter()
        add(label, restorer([noisy])[0], time.perf_counter() - start)
    if not baselines:
        return rows
    transform = IntensityTransform.fit([noisy], "auto")
    for domain, sigmas in SIGMAS.items():
        for sigma in sigmas:
            start = time.perf_counter()
            output = bm3d_restored(noisy, sigma, None if domain == "stored" else transform)
            add(f"BM3D, {domain}", output, time.perf_counter() - start, sigma)
    return rows


def bm3d_restored(noisy: np.ndarray, sigma: float, transform=None) -> np.ndarray:
    """BM3D at noise level `sigma` on the stored values, or with `transform` (an
    `IntensityTransform`) through the scan's intensity transform and back; in [0, 1]."""
    import bm3d

    if transform is None:
        return np.clip(bm3d.bm3d(noisy, sigma_psd=sigma), 0, 1)
    return np.clip(transform.inverse(bm3d.bm3d(transform.forward(noisy), sigma_psd=sigma)), 0, 1)


def model_for(path: Path, subject: str, subjects: list[str]) -> Path:
    """The file that restores `subject`: `path` itself, or in a crossval row's folder the best
    checkpoint of the fold that tests the subject."""
    from octsr.models.checkpoint import best_checkpoint

    if path.is_file():
        return path
    fold = next(f for f in range(FOLDS) if subject in fold_splits(subjects, FOLDS, f, VAL_SUBJECTS, SEED)["test"])
    return best_checkpoint(path / f"fold{fold}")


def read_csv(path: Path) -> list[dict]:
    """An earlier run's per-image rows, numbers as numbers."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if key not in ("scanner", "subject", "method"):
                row[key] = float(value) if value not in ("", None) else None
    return rows


def chosen_rows(rows: list[dict], subjects: list[str], scanner: str) -> tuple[dict[str, list[dict]], dict[str, list]]:
    """One scanner's rows by method, each test scan scored in the fold that tests it; BM3D at
    the sigma its fold's val scans chose (returned too, by method, a sigma per fold)."""
    chosen, picked = {}, []
    for fold in range(FOLDS):
        splits = fold_splits(subjects, FOLDS, fold, VAL_SUBJECTS, SEED)
        for method in ("BM3D, stored", "BM3D, transformed"):
            val = [r for r in rows if r["scanner"] == scanner and r["method"] == method
                   and r["subject"] in splits["val"]]
            by_sigma = {s: fmean(r["psnr"] for r in val if r["sigma"] == s) for s in {r["sigma"] for r in val}}
            sigma = max(by_sigma, key=by_sigma.get)
            chosen.setdefault(method, []).append(sigma)
            picked += [r for r in rows if r["scanner"] == scanner and r["method"] == method
                       and r["sigma"] == sigma and r["subject"] in splits["test"]]
    methods = [m for m in dict.fromkeys(r["method"] for r in rows if r["scanner"] == scanner) if m not in chosen]
    scored = {m: [r for r in rows if r["scanner"] == scanner and r["method"] == m] for m in methods}
    scored.update({m: [r for r in picked if r["method"] == m] for m in chosen})
    return scored, chosen


def table(rows: list[dict], subjects: list[str]) -> list[str]:
    """Per scanner, each method's mean over the 12 test scans (each scored in the fold that
    tests it); BM3D at the sigma its fold's val scans chose."""
    lines = []
    for scanner in SCANNERS:
        scored, chosen = chosen_rows(rows, subjects, scanner)
        best_bm3d = max(("BM3D, stored", "BM3D, transformed"), key=lambda m: fmean(r["psnr"] for r in scored[m]))
        lines += [f"### {scanner}", "",
                  "| method | PSNR (dB) | SSIM | GMSD | PSNR, brightness matched | vs the better BM3D (dB) | s / B-scan |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for method, found in scored.items():
            label = f"{method} (sigma {', '.join(map(str, chosen[method]))} by fold)" if method in chosen else method
            mean = {k: fmean(r[k] for r in found) for k in ("psnr", "ssim", "gmsd", "psnr_matched", "seconds")}
            gap = mean["psnr"] - fmean(r["psnr"] for r in scored[best_bm3d])
            lines.append(f"| {label} | {mean['psnr']:.2f} | {mean['ssim']:.4f} | {mean['gmsd']:.4f} | "
                         f"{mean['psnr_matched']:.2f} | {gap:+.2f} | {mean['seconds']:.2f} |")
        lines.append("")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--root", type=Path, default=REPO / ".." / "shared" / "data" / "duke-bioptigen")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--model", action="append", default=[], metavar="LABEL=PATH",
                        help="a weights file or checkpoint, or a crossval row's folder of fold runs")
    parser.add_argument("--reuse", type=Path, help="take the baseline rows from this earlier per-image CSV")
    parser.add_argument("--name", default="intensity", help="names the .md and _per_image.csv written")
    args = parser.parse_args()
    subjects = sorted(p for p in args.root.resolve().iterdir() if p.is_dir())
    names = [s.name for s in subjects]
    models = dict(item.split("=", 1) for item in args.model)
    tasks = [(scanner, subject, {label: model_for(Path(path), subject.name, names) for label, path in models.items()},
              args.reuse is None) for scanner in SCANNERS for subject in subjects]
    started = time.time()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = [row for done in pool.map(subject_rows, *zip(*tasks)) for row in done]
    if args.reuse:
        rows = read_csv(args.reuse) + rows
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / f"{args.name}_per_image.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    command = shlex.join(["python", "experiments/scanners/intensity.py", *sys.argv[1:]])
    lines = ["# The shipped U-Net and BM3D on three other scanners" + (" (and more models)" if models else ""), "",
             f"`{command}`, {time.strftime('%Y-%m-%d')}, {machine()}, "
             f"{(time.time() - started) / 60:.0f} min. Folds as experiments/unseen_scans "
             f"(3 folds, 2 val subjects, seed 0); each subject scored in the fold that tests it. One thread "
             f"per process, {args.jobs} processes." + (f" Rows other than {', '.join(models)} from {args.reuse}."
                                                      if args.reuse else ""), "",
             *table(rows, names)]
    (args.out / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
