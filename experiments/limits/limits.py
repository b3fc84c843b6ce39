"""What bounds the single-frame targets (BM3D + 0.45 dB PSNR, + 0.01 SSIM, ≤ 0.9x GMSD) on Duke, measured on the
same 3 folds as the cross-validation tables.

Two questions, each a table in results.md:

1. **More frames for the same network.** Each fold's model of the shipped recipe
   (`experiment=unet_registered`) restores every frame of its held-out subjects (`test.tif`,
   `1.tif` ... `4.tif`), one pass each. The restorations of the other frames are shifted
   column by column onto the restored `test.tif` (octsr.data.frame_targets, the
   registration of the `registered_frame` target) and averaged with it: the two frames most
   like `test.tif` ("3 frames"), then all four ("5 frames"): what the five-frame methods of
   the table of published methods start from, given to this network.
2. **What the scores reward against `average.tif`.** The same one-frame outputs changed in
   ways whose effect on fidelity is known: grain added (white noise, or a share of the
   input's own noise put back), one region made exactly the average (the retina and
   choroid, or the rest: `tissue`, outlined in tissue.png), and the average itself blurred.

BM3D's outputs are the cross-validation's own (`bm3d/fold*/<subject>.npy` of the run).
Scores as in the cross-validation (octsr.scoring, float32, against `average.tif`).

    python experiments/limits/limits.py [--run logs/crossval/teacher] [--row unet_n2n_registered]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
from octsr.data.frame_targets import blurred, column_shifts, shift_columns, similarity
from octsr.formats.images import read_grayscale
from octsr.inference import load_restorer
from octsr.scoring import image_scores

DUKE = REPO / ".." / "shared" / "data" / "duke-bioptigen"
FRAMES = ("test.tif", "1.tif", "2.tif", "3.tif", "4.tif")
METRICS = ("psnr", "ssim", "gmsd", "epi")


def registered_means(images: list[np.ndarray], counts: tuple[int, ...]) -> list[np.ndarray]:
    """For each count, images[0] averaged with the `count - 1` others most like it, each
    shifted per column onto it first (the blur, order and shifts found once for all counts)."""
    smooth = [blurred(image) for image in images]
    others = sorted(range(1, len(images)), key=lambda i: -similarity(smooth[0], smooth[i]))
    moved = [shift_columns(images[i], column_shifts(smooth[i], smooth[0])) for i in others[:max(counts) - 1]]
    return [np.mean([images[0], *moved[:count - 1]], axis=0) for count in counts]


def tissue(target: np.ndarray) -> np.ndarray:
    """The retina and choroid of a B-scan, 7 px around them included: in each column, the
    rows from the first to the last pixel above Otsu's threshold on the average blurred by
    5 px (so the darker layers between bright bands are in). The rest is the vitreous above
    and the dim depth below."""
    smooth = (cv2.GaussianBlur(target, (0, 0), 5) * 255).astype(np.uint8)
    _, bright = cv2.threshold(smooth, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.dilate(bright, np.ones((15, 15), np.uint8)).astype(bool)
    below_top = np.logical_or.accumulate(bright, axis=0)
    above_bottom = np.logical_or.accumulate(bright[::-1], axis=0)[::-1]
    return below_top & above_bottom


def tissue_figure(subjects: list[str], out: Path) -> None:
    """The `tissue` region outlined in red on the averages of `subjects`, at half size, stacked."""
    panels = []
    for subject in subjects:
        target = read_grayscale(DUKE / subject / "average.tif")
        half = (target.shape[1] // 2, target.shape[0] // 2)
        region = cv2.resize(tissue(target).astype(np.uint8), half, interpolation=cv2.INTER_NEAREST)
        outline = cv2.morphologyEx(region, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(bool)
        panel = np.repeat(cv2.resize((255 * target).astype(np.uint8), half, interpolation=cv2.INTER_AREA)[..., None],
                          3, axis=2)
        panel[outline] = (0, 0, 255)  # BGR
        panels.append(panel)
    cv2.imwrite(str(out), np.vstack(panels))


def frame_rows(noisy: list[np.ndarray], restored: list[np.ndarray]) -> dict[str, np.ndarray]:
    three, five = registered_means(restored, (3, 5))
    return {"noisy frames, registered mean of 5": registered_means(noisy, (5,))[0],
            "network, 1 frame": restored[0], "network, 3 frames": three, "network, 5 frames": five}


def probe_rows(noisy: np.ndarray, output: np.ndarray, bm3d: np.ndarray, target: np.ndarray,
               rng: np.random.Generator) -> dict[str, np.ndarray]:
    inside = tissue(target)
    rows = {"BM3D": bm3d, "network, 1 frame": output}
    for sd in (0.01, 0.02, 0.03):
        rows[f"+ white noise, sd {sd:g} ({255 * sd:.1f} grey levels)"] = output + rng.normal(0, sd, output.shape)
    for share in (0.05, 0.1):
        rows[f"+ {share:.0%} of (input - output)"] = output + share * (noisy - output)
    for name, restored in (("network", output), ("BM3D", bm3d)):
        rows[f"{name}, tissue := average"] = np.where(inside, target, restored)
        rows[f"{name}, outside the tissue := average"] = np.where(inside, restored, target)
    for sigma in (1, 2, 4):
        rows[f"average blurred, sigma {sigma} px (no network)"] = cv2.GaussianBlur(target, (0, 0), sigma)
    return rows


def table(rows: list[dict], reference: str) -> list[str]:
    """Mean scores per method, and each method's paired difference from `reference`."""
    base = {r["image"]: r for r in rows if r["method"] == reference}
    lines = [f"| method | PSNR (dB) | SSIM | GMSD | EPI | vs {reference}: PSNR, SSIM, GMSD (scans better) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        means = [np.mean([r[m] for r in mine]) for m in METRICS]
        paired = []
        for metric, sign in (("psnr", 1), ("ssim", 1), ("gmsd", -1)):
            deltas = [r[metric] - base[r["image"]][metric] for r in mine]
            paired.append(f"{np.mean(deltas):+.4f} ({sum(sign * d > 0 for d in deltas)}/{len(deltas)})")
        lines.append(f"| {method} | {means[0]:.2f} | {means[1]:.4f} | {means[2]:.4f} | {means[3]:.3f} | "
                     f"{'' if method == reference else ', '.join(paired)} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=REPO / "logs" / "crossval" / "teacher")
    parser.add_argument("--row", default="unet_n2n_registered")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    frames, probes = [], []
    folds = sorted((args.run / args.row).glob("fold*"))
    if not folds:
        sys.exit(f"limits.py: no fold runs in {args.run / args.row}; run bash experiments/unseen_scans/teacher/run.sh "
                 "first (or pass --run and --row of another cross-validation)")
    for fold in folds:
        result = json.loads((fold / "fold_result.json").read_text())
        restorer = load_restorer({"ckpt_path": result["checkpoint"], "precision": "fp32"})
        for subject in result["splits"]["test"]:
            noisy = [read_grayscale(DUKE / subject / name) for name in FRAMES]
            target = read_grayscale(DUKE / subject / "average.tif")
            with torch.no_grad():
                restored = [restorer.model(torch.from_numpy(x)[None, None], tiler=restorer.tiler)[0, 0].numpy()
                            for x in noisy]
            bm3d = np.load(args.run / "bm3d" / fold.name / f"{subject}.npy")
            for found, rows in ((frames, {"BM3D": bm3d, **frame_rows(noisy, restored)}),
                                (probes, probe_rows(noisy[0], restored[0], bm3d, target, rng))):
                found += [{"method": method, "image": subject, **image_scores(output, target)}
                          for method, output in rows.items()]
            print(f"{subject}: done", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "per_image.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["table", *frames[0]])
        writer.writeheader()
        writer.writerows([{"table": "frames", **r} for r in frames] + [{"table": "probes", **r} for r in probes])
    text = ["## 1. More frames for the same network", "", *table(frames, "network, 1 frame"), "",
            "## 2. What the scores reward against average.tif", "", *table(probes, "network, 1 frame"), "",
            f"Model: each fold's `{args.row}` run in {args.run.relative_to(REPO) if args.run.is_relative_to(REPO) else args.run}; "
            f"{len(frames) // 5} held-out scans. Command: `python experiments/limits/limits.py`."]
    (args.out / "results.md").write_text("\n".join(text) + "\n")
    tissue_figure(["04", "09", "12"], args.out / "tissue.png")
    print("\n".join(text))


if __name__ == "__main__":
    main()
