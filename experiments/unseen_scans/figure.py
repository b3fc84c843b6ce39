"""One crop of a test scan across noisy | BM3D | the trained rows | average, from finished
`python -m octsr.crossval` folders on the same folds (each model is the one whose fold held
the scan out; a row is taken from the first folder that has it).

    python experiments/unseen_scans/figure.py logs/crossval/quality --subject 10 \
        --rows srcnn unet --out experiments/unseen_scans/figure.png
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

REPO = Path(__file__).resolve().parents[2]
from octsr.formats.images import read_grayscale
from octsr.inference import load_restorer


def fold_of(runs: list[Path], row: str, subject: str) -> dict:
    for run in runs:
        for result in sorted((run / row).glob("fold*/fold_result.json")):
            info = json.loads(result.read_text())
            if subject in info["splits"]["test"]:
                return {**info, "dir": result.parent}
    raise SystemExit(f"{row}: no fold in {', '.join(map(str, runs))} tests subject {subject}")


def crop_box(target: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """Top left of a height x width box centred on the brightest row (the retinal pigment
    epithelium, where the thin outer bands are) at the scan's centre column."""
    row = int(np.argmax(target.mean(axis=1)))
    y = min(max(0, row - height // 2), target.shape[0] - height)
    return y, (target.shape[1] - width) // 2


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="finished octsr.crossval output folders")
    parser.add_argument("--subject", default="10")
    parser.add_argument("--rows", nargs="+", default=["srcnn", "unet"],
                        help='crossval rows; "<row> (tta)" for a row with test-time flips and turns')
    parser.add_argument("--data-root", type=Path, default=REPO / ".." / "shared" / "data" / "duke-bioptigen")
    parser.add_argument("--size", type=int, nargs=2, default=[160, 320], metavar=("H", "W"))
    parser.add_argument("--out", type=Path, default=Path("figure.png"))
    args = parser.parse_args(argv)

    noisy = read_grayscale(args.data_root / args.subject / "test.tif")
    target = read_grayscale(args.data_root / args.subject / "average.tif")
    scored = {}
    for run in reversed(args.runs):  # the first folder's scores win
        with (run / "per_image.csv").open() as f:
            scored.update({(r["row"], r["subject"]): r for r in csv.DictReader(f)})
    panels = [("noisy input", noisy, scored.get(("noisy input", args.subject)))]
    bm3d = fold_of(args.runs, "bm3d", args.subject)
    panels.append((f"BM3D (sigma {bm3d['sigma']:g})", np.load(bm3d["dir"] / f"{args.subject}.npy"),
                   next((r for (row, s), r in scored.items() if row.startswith("BM3D") and s == args.subject), None)))
    for row in args.rows:
        # "<row> (tta)": that row's model with test-time flips and turns, as crossval scores it.
        trained, tta = (row[: -len(" (tta)")], True) if row.endswith(" (tta)") else (row, False)
        restorer = load_restorer({"ckpt_path": fold_of(args.runs, trained, args.subject)["checkpoint"], "tta": tta})
        panels.append((row, restorer(noisy), scored.get((row, args.subject))))
    panels.append(("average (target)", target, None))

    h, w = args.size
    y, x = crop_box(target, h, w)
    fig, axes = plt.subplots(len(panels), 1, figsize=(w / 60, len(panels) * (h / 60 + 0.4)),
                             constrained_layout=True)
    for ax, (label, image, score) in zip(axes, panels):
        ax.imshow(np.clip(image[y : y + h, x : x + w], 0, 1), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        if score:
            label += f"  —  whole scan {float(score['psnr']):.2f} dB, SSIM {float(score['ssim']):.3f}"
        ax.set_title(label, fontsize=9, loc="left")
        ax.axis("off")
    fig.suptitle(f"Duke subject {args.subject} (held out), rows {y}-{y + h}, columns {x}-{x + w}",
                 fontsize=10)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
