"""Where, in each constructed scanner's scans, do the shipped weights gain or lose against BM3D?
No training: the shipped U-Net (`weights=best`, `intensity=auto`, fp32) and the better BM3D
row of part 3 (at the noise level its fold's val scans chose, read from
intensity_per_image.csv) restore the 12 test scans of each scanner; their squared errors
against the averages are split by how bright the average is, in the scanner's stored values.
Also: how many of the averages' pixels sit at the file's top code (saturated), and what each
method would score if it restored exactly those (an upper bound on what handling saturation
could give); and how bright the Noise2Noise targets a raw volume offers (the neighbouring
B-scans, 2.tif and 3.tif) are where the average is brightest, against the average and the
scan itself.

    python experiments/scanners/bright_layers.py      # about 6 minutes on 2 cores (BM3D: 36 scans)

Writes bright_layers.md beside this script.
"""

from __future__ import annotations

from pathlib import Path
from statistics import fmean

import numpy as np

from intensity import FOLDS, SCANNERS, SEED, VAL_SUBJECTS, bm3d_restored, chosen_rows, read_csv, unit
from octsr.crossval import fold_splits
from octsr.data.intensity import IntensityTransform
from octsr.formats.images import read_raw
from octsr.inference import load_restorer
from octsr.utils.machine import machine

HERE = Path(__file__).resolve().parent
DUKE = (HERE.parents[1] / ".." / "shared" / "data" / "duke-bioptigen").resolve()
EDGES = (0.0, 0.15, 0.3, 0.45, 0.6, 0.75, 1.0)  # brightness of the average, stored values in [0, 1]
TOP = 1.0 - 0.5 / 65535  # at the top code of a 16-bit file (and of 8-bit and float files)


def psnr(mse: float) -> float:
    return float(-10 * np.log10(mse))


def main() -> None:
    restorer = load_restorer({"weights": "best", "intensity": "auto", "precision": "fp32"})
    subjects = sorted(p for p in DUKE.iterdir() if p.is_dir())
    names = [s.name for s in subjects]
    earlier = read_csv(HERE / "intensity_per_image.csv")
    fold_of = {name: fold for fold in range(FOLDS)
               for name in fold_splits(names, FOLDS, fold, VAL_SUBJECTS, SEED)["test"]}
    lines = ["# Where the shipped U-Net gains and loses against BM3D, by brightness", "",
             "The shipped U-Net (`weights=best`, `intensity=auto`, fp32) and the better BM3D row of part 3 "
             "(at the noise level its fold's val scans chose) on the 12 test scans of each scanner. Each "
             "band of the average's brightness (stored values in [0, 1]): its share of the pixels, each "
             "method's squared error summed over the band's pixels and divided by all pixels (x 1e-4: the "
             "bands add up to the MSE), and each method's mean error there (output − average; negative: "
             "darker; over the band's pixels of all 12 scans). Errors: means over the 12 scans.", ""]
    for scanner, store in SCANNERS.items():
        scored, chosen = chosen_rows(earlier, names, scanner)
        method = max(chosen, key=lambda m: fmean(r["psnr"] for r in scored[m]))
        bands = len(EDGES) - 1
        share, pixels = np.zeros(bands), np.zeros(bands)
        bias = {"U-Net": np.zeros(bands), "BM3D": np.zeros(bands)}  # summed, then over `pixels`
        error = {"U-Net": np.zeros(bands), "BM3D": np.zeros(bands)}
        whole, exact_top, saturated = {"U-Net": [], "BM3D": []}, {"U-Net": [], "BM3D": []}, []
        swapped: list[float] = []  # the U-Net with BM3D's output in the brightest band
        brightest: dict[str, list[float]] = {}  # each frame's mean where the average is in its top 2 %
        for subject in subjects:
            noisy, target = (unit(store(read_raw(subject / f))) for f in ("test.tif", "average.tif"))
            transform = IntensityTransform.fit([noisy], "auto")
            outputs = {"U-Net": np.clip(restorer([noisy], 1, transform)[0], 0, 1),
                       "BM3D": bm3d_restored(noisy, chosen[method][fold_of[subject.name]],
                                             None if method == "BM3D, stored" else transform)}
            band = np.clip(np.digitize(target, EDGES[1:-1]), 0, bands - 1).ravel()
            counts = np.bincount(band, minlength=bands)
            share += counts / target.size / len(subjects)
            pixels += counts
            top = target >= TOP
            peak = target >= np.percentile(target, 98)
            for label, name in (("the average", "average.tif"), ("the scan (test.tif)", "test.tif"),
                                ("the B-scan before (2.tif)", "2.tif"), ("the B-scan after (3.tif)", "3.tif")):
                frame = target if name == "average.tif" else noisy if name == "test.tif" else unit(store(read_raw(subject / name)))
                brightest.setdefault(label, []).append(float(frame[peak].mean()))
            saturated.append(float(top.mean()))
            for label, output in outputs.items():
                difference = (output - target).ravel()
                squared = difference**2
                error[label] += np.bincount(band, squared, minlength=bands) / target.size / len(subjects)
                bias[label] += np.bincount(band, difference, minlength=bands)
                whole[label].append(psnr(squared.mean()))
                exact_top[label].append(psnr(np.where(top.ravel(), 0, squared).mean()))
            brightest_band = target >= EDGES[-2]
            swapped.append(psnr(np.mean((np.where(brightest_band, outputs["BM3D"], outputs["U-Net"]) - target) ** 2)))
            print(scanner, subject.name, {k: round(v[-1], 2) for k, v in whole.items()}, flush=True)
        bias = {label: total / np.maximum(pixels, 1) for label, total in bias.items()}
        margin = fmean(whole["U-Net"]) - fmean(whole["BM3D"])
        margin_top = fmean(exact_top["U-Net"]) - fmean(exact_top["BM3D"])
        sigmas = ", ".join(map(str, chosen[method]))
        lines += [f"### `{scanner}`: U-Net {fmean(whole['U-Net']):.2f} dB, {method} (sigma {sigmas} by fold) "
                  f"{fmean(whole['BM3D']):.2f} dB: {margin:+.2f} dB", "",
                  "| average's brightness | pixels | U-Net: squared error (x 1e-4) | BM3D: squared error (x 1e-4) "
                  "| U-Net − BM3D (x 1e-4) | U-Net: mean error | BM3D: mean error |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for k in range(bands):
            lines.append(f"| {EDGES[k]:.2f}–{EDGES[k + 1]:.2f} | {100 * share[k]:.1f} % | {1e4 * error['U-Net'][k]:.3f} "
                         f"| {1e4 * error['BM3D'][k]:.3f} | {1e4 * (error['U-Net'][k] - error['BM3D'][k]):+.3f} "
                         f"| {bias['U-Net'][k]:+.3f} | {bias['BM3D'][k]:+.3f} |")
        lines += ["", f"Saturated (the average at the file's top code): {100 * fmean(saturated):.2f} % of the "
                  f"pixels (up to {100 * max(saturated):.2f} % in one scan). Were those restored exactly by "
                  f"both: U-Net {fmean(exact_top['U-Net']):.2f} dB, BM3D {fmean(exact_top['BM3D']):.2f} dB, "
                  f"{margin_top:+.2f} dB.", "",
                  f"The U-Net with BM3D's output wherever the average is above {EDGES[-2]:.2f}: "
                  f"{fmean(swapped):.2f} dB, {fmean(swapped) - fmean(whole['BM3D']):+.2f} dB against BM3D.", "",
                  "Where the average is in its top 2 % (each scan's brightest layers), mean stored value of: "
                  + "; ".join(f"{label} {fmean(values):.3f}" for label, values in brightest.items()) + ".", ""]
    lines += [f"Machine: {machine()}. Command: `python experiments/scanners/bright_layers.py`.", ""]
    (HERE / "bright_layers.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
