"""How far each Duke noisy frame is from the averaged target, raw and blurred.

The blurred score (Gaussian, sigma 3 px) mostly removes speckle, so what is left measures
whether a frame shows the same structure as the target: `test.tif` is the frame the average
is registered to, `1.tif`...`4.tif` are neighbouring B-scans. This bounds what training on the
extra frames (data.frames=all) or between them (data.train_target=next_frame) can gain.

    python experiments/unseen_scans/frames_alignment.py [--data-root ../shared/data/duke-bioptigen]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
from octsr.formats.images import read_grayscale


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((a - b) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=REPO / ".." / "shared" / "data" / "duke-bioptigen")
    root = parser.parse_args().data_root
    names = ["test.tif", "1.tif", "2.tif", "3.tif", "4.tif"]
    print("| subject | " + " | ".join(f"{n} raw / blurred" for n in names) + " | mean of 5 |")
    print("|" + " --- |" * (len(names) + 2))
    raw, blurred, mean5 = [], [], []
    for subject in sorted(p.name for p in root.iterdir() if (p / "average.tif").is_file()):
        target = read_grayscale(root / subject / "average.tif")
        frames = [read_grayscale(root / subject / n) for n in names]
        raw.append([psnr(f, target) for f in frames])
        blurred.append([psnr(cv2.GaussianBlur(f, (0, 0), 3), target) for f in frames])
        mean5.append(psnr(np.mean(frames, axis=0), target))
        print(f"| {subject} | " + " | ".join(f"{r:.2f} / {b:.2f}" for r, b in zip(raw[-1], blurred[-1]))
              + f" | {mean5[-1]:.2f} |")
    raw_a, blurred_a = np.array(raw), np.array(blurred)
    print(f"\nMean: test.tif {raw_a[:, 0].mean():.2f} dB raw, {blurred_a[:, 0].mean():.2f} dB blurred; "
          f"1.tif-4.tif {raw_a[:, 1:].mean():.2f} dB raw, {blurred_a[:, 1:].mean():.2f} dB blurred; "
          f"mean of the 5 frames {np.mean(mean5):.2f} dB.")


if __name__ == "__main__":
    main()
