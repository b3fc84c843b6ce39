"""Flip-only test-time augmentation on the fold checkpoints of experiments/unseen_scans/edges (run
after run.sh): the left-right mirror (2 views) and both mirrors (4 views), no quarter turns,
scored like the cross-validation (octsr.scoring, float32).

    python experiments/unseen_scans/edges/tta_flips.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[3]
from octsr.data.pairs import DukePairs
from octsr.inference import load_restorer
from octsr.scoring import image_scores

RUN = REPO / "logs" / "crossval" / "edges"
FOLDS = [["01", "04", "07", "10"], ["02", "05", "08", "11"], ["03", "06", "09", "12"]]


def main() -> None:
    for row in ("unet_n2n", "unet_n2n_residual"):
        scores: dict[str, list[dict[str, float]]] = {"plain": [], "left-right": [], "both mirrors": []}
        for k, test in enumerate(FOLDS):
            restorer = load_restorer({"ckpt_path": json.loads((RUN / row / f"fold{k}" / "fold_result.json")
                                                              .read_text())["checkpoint"], "precision": "fp32"})

            def run(x: torch.Tensor) -> torch.Tensor:
                return restorer.model(x, tiler=restorer.tiler)

            for pair in DukePairs(REPO / ".." / "shared" / "data" / "duke-bioptigen", [], [], test).splits()["test"]:
                noisy, target = pair.load()
                x = torch.from_numpy(noisy)[None, None]
                with torch.no_grad():
                    plain = run(x)
                    mirrored = (plain + run(x.flip(-1)).flip(-1)) / 2
                    both = (2 * mirrored + run(x.flip(-2)).flip(-2) + run(x.flip(-1, -2)).flip(-1, -2)) / 4
                for name, output in (("plain", plain), ("left-right", mirrored), ("both mirrors", both)):
                    scores[name].append(image_scores(output[0, 0].numpy(), target))
        for name, values in scores.items():
            print(f"| {row} | {name} | " + " | ".join(f"{np.mean([s[m] for s in values]):.4f}"
                                                     for m in ("psnr", "ssim", "gmsd", "epi")) + " |")


if __name__ == "__main__":
    main()
