"""Duke's scans as a second, different scanner would show them, for experiments/scanners.

    python experiments/scanners/second_scanner.py OUT [--root ../shared/data/duke-bioptigen]

writes OUT/duke/<subject>/{test,average,1..4}.tif (the Duke layout, to score against the
transformed averages) and OUT/volumes/<subject>.tif (each subject's five transformed noisy
frames as one volume, in the order of duke_volumes.py: what the scanner would hand a user).

The transform is what differs between OCT devices after the optics:
- **Intensity compression.** Bioptigen's 8-bit scans are log-compressed: a grey level is
  proportional to the echo's decibels within the display's dynamic range. Heidelberg's
  Spectralis stores linear intensity and displays its fourth root (the .vol format's
  convention, as eyepy and OCT-Explorer show it). With a 40 dB range, grey y in [0, 1] is
  intensity I = 10^(4 (y - 1)), shown as I^(1/4) = 10^(y - 1): 0.1 to 1. Speckle, additive
  with one spread in the log domain, becomes multiplicative under a root: its spread now
  grows with brightness, which a model trained on log scans never saw. A gain of 1.4 puts
  the brightest averaged tissue near 0.9 of the range (speckle peaks above 1 saturate).
- **Lateral sampling.** 512 A-scans per B-scan where Bioptigen took 900 over the same
  width (Spectralis: 512, 768 or 1024): columns averaged down by area, which changes the
  speckle grain against the pixel grid.
- **Bit depth.** 16-bit pixels, as DICOM and Heidelberg exports of such a scanner hold.
The noisy frames and the averages take the same transform, so the averages stay the
reference of the same tissue.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from octsr.formats.images import read_raw, write_pages
from octsr.formats.tiff import write_tiff_volume
from octsr.formats.volume import UNKNOWN_SPACING

DYNAMIC_RANGE_DB = 40.0
GAIN = 1.4  # the display's gain: the averages' brightest tissue (0.62 after the root) near 0.9
COLUMNS = 512
FRAMES = ("1.tif", "2.tif", "test.tif", "3.tif", "4.tif")  # duke_volumes.py: their order in the eye


def second_scanner(scan: np.ndarray) -> np.ndarray:
    """An 8-bit log-compressed Bioptigen B-scan as the second scanner would store it (uint16)."""
    log_grey = scan.astype(np.float64) / 255.0
    root_grey = 10.0 ** (DYNAMIC_RANGE_DB / 40.0 * (log_grey - 1.0))  # (10^(dB/10))^(1/4)
    resampled = cv2.resize(root_grey, (COLUMNS, scan.shape[0]), interpolation=cv2.INTER_AREA)
    return np.round(np.clip(GAIN * resampled, 0, 1) * 65535).astype(np.uint16)


def write_scanner(root: Path, out: Path, store: Callable[[np.ndarray], np.ndarray] = second_scanner) -> None:
    """OUT/duke (the Duke layout, every frame and the average as `store` keeps it) and
    OUT/volumes (each subject's five stored noisy frames as one volume)."""
    for folder in ("duke", "volumes"):
        shutil.rmtree(out / folder, ignore_errors=True)
        (out / folder).mkdir(parents=True)
    for subject in sorted(p for p in root.iterdir() if p.is_dir()):
        (out / "duke" / subject.name).mkdir()
        for name in (*FRAMES, "average.tif"):
            write_pages(out / "duke" / subject.name / name, [store(read_raw(subject / name))])
        write_tiff_volume(out / "volumes" / f"{subject.name}.tif",
                          [store(read_raw(subject / name)) for name in FRAMES], UNKNOWN_SPACING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "duke-bioptigen")
    args = parser.parse_args()
    write_scanner(args.root.resolve(), args.out)
    print(f"wrote {args.out / 'duke'} and {args.out / 'volumes'}")


if __name__ == "__main__":
    main()
