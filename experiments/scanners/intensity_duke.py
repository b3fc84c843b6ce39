"""Does the intensity transform change anything on Duke, the scanner the shipped weights
learned? The shipped models on the 12 Duke test scans, values as stored and with
`intensity=auto` (each scan found log-like; only the percentile map applies).

    python experiments/scanners/intensity_duke.py [--out experiments/scanners]

Writes intensity_duke.md. PSNR, SSIM and GMSD against average.tif, mean over the 12 scans;
fp32, the weights' own tta setting, one thread.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from octsr.formats.images import read_raw
from octsr.inference import load_restorer
from octsr.scoring import image_scores
from octsr.utils.machine import machine

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--root", type=Path, default=REPO / ".." / "shared" / "data" / "duke-bioptigen")
    args = parser.parse_args()
    torch.set_num_threads(1)
    subjects = sorted(p for p in args.root.resolve().iterdir() if p.is_dir())
    lines = ["# The intensity transform on Duke", "",
             f"`python experiments/scanners/intensity_duke.py`, {time.strftime('%Y-%m-%d')}, {machine()}.", "",
             "| weights | intensity | PSNR (dB) | SSIM | GMSD |", "| --- | --- | --- | --- | --- |"]
    for weights in ("best", "fast"):
        for intensity in ("stored", "auto"):
            restorer = load_restorer({"weights": weights, "precision": "fp32", "intensity": intensity})
            scores = [image_scores(restorer([read_raw(s / "test.tif").astype(np.float32) / 255])[0],
                                   read_raw(s / "average.tif").astype(np.float32) / 255) for s in subjects]
            mean = {k: float(np.mean([q[k] for q in scores])) for k in ("psnr", "ssim", "gmsd")}
            lines.append(f"| {weights} | {intensity} | {mean['psnr']:.3f} | {mean['ssim']:.4f} | {mean['gmsd']:.4f} |")
            print(lines[-1], flush=True)
    (args.out / "intensity_duke.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
