"""The README's picture: one crop of a Duke B-scan as noisy input | octsr (the shipped
weights) | frame average, with each whole scan's PSNR and SSIM against the average.

    python docs/readme_figure.py                       # writes docs/img/readme_figure.png
    python docs/readme_figure.py --subject 03 --weights fast --out /tmp/fig.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from octsr.formats.images import read_grayscale  # noqa: E402
from octsr.inference import load_restorer  # noqa: E402
from octsr.metrics import psnr, ssim  # noqa: E402
from octsr.utils.atomic import atomic_path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def crop_box(target: np.ndarray, height: int, width: int) -> tuple[int, int]:
    """Top left of a height x width box centred on the brightest row (the retinal pigment
    epithelium, where the thin outer bands are) at the scan's centre column."""
    row = int(np.argmax(target.mean(axis=1)))
    y = min(max(0, row - height // 2), target.shape[0] - height)
    return y, (target.shape[1] - width) // 2


def scores(image: np.ndarray, target: np.ndarray) -> str:
    a, b = torch.from_numpy(image)[None, None], torch.from_numpy(target)[None, None]
    return f"{psnr(a, b).item():.2f} dB, SSIM {ssim(a, b).item():.3f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=REPO / ".." / "shared" / "data" / "duke-bioptigen")
    parser.add_argument("--subject", default="10")
    parser.add_argument("--weights", default="best", help="shipped weights: best (U-Net) or fast (SRCNN)")
    parser.add_argument("--size", type=int, nargs=2, default=[210, 330], metavar=("H", "W"))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "readme_figure.png")
    args = parser.parse_args(argv)

    noisy = read_grayscale(args.data_root / args.subject / "test.tif")
    target = read_grayscale(args.data_root / args.subject / "average.tif")
    restorer = load_restorer({"weights": args.weights})
    model, output = restorer.model, restorer(noisy)

    h, w = args.size
    y, x = crop_box(target, h, w)
    panels = [("one noisy B-scan", noisy), (f"octsr (shipped {type(model.net).__name__}, weights={args.weights})", output),
              ("average of the repeated scans", target)]
    fig, axes = plt.subplots(1, 3, figsize=(3 * w / 100, h / 100 + 0.55), constrained_layout=True)
    for ax, (label, image) in zip(axes, panels):
        ax.imshow(np.clip(image[y : y + h, x : x + w], 0, 1), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        whole = "" if image is target else f"\n{scores(image, target)}"
        ax.set_title(label + whole, fontsize=8)
        ax.axis("off")
    fig.set_dpi(100)
    fig.canvas.draw()
    # one grey channel, not matplotlib's RGBA: the speckle does not compress, so this is 3x smaller
    grey = cv2.cvtColor(np.asarray(fig.canvas.buffer_rgba()), cv2.COLOR_RGBA2GRAY)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.out) as tmp:
        _, png = cv2.imencode(".png", grey, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        tmp.write_bytes(png.tobytes())
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB): Duke subject {args.subject}, "
          f"rows {y}-{y + h}, columns {x}-{x + w}")


if __name__ == "__main__":
    main()
