"""Why 26 dB on Duke subject 09 is out of reach for a single-frame denoiser that has not
memorized that subject: its target is darker than all five of its noisy frames, while its
noisy frames look like the other subjects'.

Run from the repo root: python experiments/limits/subject09/analyze.py [DUKE_ROOT]
Prints a Markdown table (uint8 outputs, PSNR against average.tif, MAX 255).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import tifffile

REPO = Path(__file__).resolve().parents[3]
ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / ".." / "shared" / "data" / "duke-bioptigen"


def psnr(image: np.ndarray, target: np.ndarray) -> float:
    image = np.clip(np.round(image), 0, 255)
    return float(10 * np.log10(255**2 / np.mean((image - target) ** 2)))


def main() -> None:
    print("| subject | noisy mean | 4 other frames' mean | target mean | target - noisy, vitreous rows 0-24 "
          "| Gaussian σ 4 | same, offset removed | mean of 5 frames, σ 2.5 | same, offset removed |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for subject in sorted(p.name for p in ROOT.iterdir() if p.is_dir()):
        folder = ROOT / subject
        noisy = tifffile.imread(folder / "test.tif").astype(np.float64)
        target = tifffile.imread(folder / "average.tif").astype(np.float64)
        others = [tifffile.imread(folder / f"{k}.tif").astype(np.float64) for k in range(1, 5)]
        blur = cv2.GaussianBlur(noisy, (0, 0), 4)
        five = cv2.GaussianBlur(np.mean([noisy, *others], axis=0), (0, 0), 2.5)
        vitreous = np.s_[:25, 100:800]
        print(f"| {subject} | {noisy.mean():.1f} | {np.mean([o.mean() for o in others]):.1f} "
              f"| {target.mean():.1f} | {target[vitreous].mean() - noisy[vitreous].mean():+.1f} "
              f"| {psnr(blur, target):.2f} | {psnr(blur - blur.mean() + target.mean(), target):.2f} "
              f"| {psnr(five, target):.2f} | {psnr(five - five.mean() + target.mean(), target):.2f} |")


if __name__ == "__main__":
    main()
