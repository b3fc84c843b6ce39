"""Would a different transform close the gap on `root_512`? Without training: the shipped
weights (`weights=best`) on each constructed scanner's 12 test scans (and on Duke as stored),
with two changes to the intensity transform, each measured against the transform as shipped:

- a gain on the network's input around the reference median (and its inverse on the output):
  the speckle of `root_512` is weaker against the tissue than Duke's; a gain above 1 shows
  the network stronger speckle, below 1 weaker;
- the transform's two reference percentiles taken on a Gaussian-smoothed scan (and the
  reference levels on Duke's scans smoothed alike), so that the map follows the tissue's range
  rather than the speckle's, which the scanner's sampling changes.

Beside each PSNR, the loss a user without averages could choose by: the mean squared
difference, in the stored values, between the restored scan and its two neighbouring
B-scans (`2.tif` and `3.tif`, on either side of `test.tif`), as `data=volumes` picks its
checkpoints.

    python experiments/scanners/transform_levers.py      # about 3 minutes on 2 cores

Writes transform_levers.md beside this script.
"""

from __future__ import annotations

from pathlib import Path
from statistics import fmean

import cv2
import numpy as np

from intensity import SCANNERS, unit
from octsr.data.intensity import REFERENCE_LEVELS, REFERENCE_PERCENTILES, IntensityTransform
from octsr.formats.images import read_raw
from octsr.inference import load_restorer
from octsr.scoring import image_scores
from octsr.utils.machine import machine

HERE = Path(__file__).resolve().parent
DUKE = (HERE.parents[1] / ".." / "shared" / "data" / "duke-bioptigen").resolve()
GAINS = (0.85, 0.92, 1.08, 1.15, 1.3)
SMOOTHING = (2.0, 4.0)  # Gaussian sigma in pixels
STORES = {"Duke as stored": lambda scan: scan, **SCANNERS}


class GainedTransform:
    """The shipped transform, then a gain around the reference median (and back)."""

    def __init__(self, transform: IntensityTransform, gain: float) -> None:
        self.transform, self.gain = transform, gain

    def forward(self, image: np.ndarray) -> np.ndarray:
        return REFERENCE_LEVELS[0] + self.gain * (self.transform.forward(image) - REFERENCE_LEVELS[0])

    def inverse(self, output: np.ndarray) -> np.ndarray:
        return self.transform.inverse(REFERENCE_LEVELS[0] + (output - REFERENCE_LEVELS[0]) / self.gain)


def smoothed_fit(shipped: IntensityTransform, image: np.ndarray, sigma: float, levels: np.ndarray) -> IntensityTransform:
    """The shipped transform's law and floor, its map fitted on the percentiles of the smoothed scan."""
    compressed = (shipped.forward(image) - shipped.offset) / shipped.scale  # the law alone
    low, high = np.percentile(cv2.GaussianBlur(compressed, (0, 0), sigma), REFERENCE_PERCENTILES)
    scale = float((levels[1] - levels[0]) / (high - low))
    return IntensityTransform(shipped.law, scale, float(levels[1] - scale * high), shipped.floor)


def main() -> None:
    restorer = load_restorer({"weights": "best", "intensity": "auto", "precision": "fp32"})
    subjects = sorted(p for p in DUKE.iterdir() if p.is_dir())
    smoothed_levels = {sigma: np.median([np.percentile(cv2.GaussianBlur(unit(read_raw(s / "test.tif")), (0, 0), sigma),
                                                       REFERENCE_PERCENTILES) for s in subjects], axis=0)
                       for sigma in SMOOTHING}
    rows: dict[str, dict[str, float]] = {}
    losses: dict[str, dict[str, float]] = {}
    for name, store in STORES.items():
        psnr: dict[str, list[float]] = {}
        neighbour: dict[str, list[float]] = {}
        for subject in subjects:
            noisy, target, before, after = (unit(store(read_raw(subject / f)))
                                            for f in ("test.tif", "average.tif", "2.tif", "3.tif"))
            shipped = IntensityTransform.fit([noisy], "auto")
            transforms = {"the transform as shipped": shipped,
                          **{f"input gain {g}": GainedTransform(shipped, g) for g in GAINS},
                          **{f"percentiles of the scan smoothed by sigma {s:g} px": smoothed_fit(shipped, noisy, s, smoothed_levels[s])
                             for s in SMOOTHING}}
            for label, transform in transforms.items():
                output = np.clip(restorer([noisy], 1, transform)[0], 0, 1)
                psnr.setdefault(label, []).append(image_scores(output, target)["psnr"])
                neighbour.setdefault(label, []).append(float(np.mean((output - before) ** 2) + np.mean((output - after) ** 2)) / 2)
        rows[name] = {label: fmean(values) for label, values in psnr.items()}
        losses[name] = {label: fmean(values) for label, values in neighbour.items()}
        print(name, {k: round(v, 3) for k, v in rows[name].items()}, flush=True)
    labels = list(next(iter(rows.values())))
    lines = ["# The intensity transform, changed two ways, on the shipped U-Net", "",
             "PSNR (dB) against the averages, mean of the 12 Duke test scans as each scanner stores them; "
             "`weights=best`, fp32, no training. In brackets the neighbour loss (x 1e-4): the mean squared "
             "difference between the restored scan and the B-scans on either side of it, in stored values; "
             "each column's lowest in bold.", "",
             "| transform | " + " | ".join(f"`{s}`" if s in SCANNERS else s for s in rows) + " |",
             "| --- |" + " --- |" * len(rows)]
    def cell(s: str, label: str) -> str:
        loss = f"{1e4 * losses[s][label]:.3f}"
        return f"{rows[s][label]:.2f} ({'**' + loss + '**' if losses[s][label] == min(losses[s].values()) else loss})"

    lines += [f"| {label} | " + " | ".join(cell(s, label) for s in rows) + " |" for label in labels]
    lines += ["", f"Machine: {machine()}. Command: `python experiments/scanners/transform_levers.py`.", ""]
    (HERE / "transform_levers.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
