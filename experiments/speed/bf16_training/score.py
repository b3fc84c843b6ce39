"""Score two fold-0 checkpoints of the shipped U-Net recipe, one trained in float32 and one
in bfloat16 autocast (`trainer.precision=bf16-mixed`), on fold 0's held-out Duke subjects
through the path octsr.crossval scores with (float32 inference, octsr.scoring).

    python experiments/speed/bf16_training/score.py FP32_RUN BF16_RUN

Each RUN is a training run folder (its best checkpoint is scored).
"""

from __future__ import annotations

import sys
from pathlib import Path
from statistics import fmean

REPO = Path(__file__).resolve().parents[3]
from octsr.data.pairs import DukePairs
from octsr.inference import load_restorer
from octsr.models.checkpoint import best_checkpoint
from octsr.scoring import score_method
from octsr.utils.machine import machine

TEST = ["01", "04", "07", "10"]  # fold 0 of experiments/unseen_scans


def main() -> None:
    runs = {"fp32": Path(sys.argv[1]), "bf16-mixed": Path(sys.argv[2])}
    pairs = DukePairs(REPO / ".." / "shared" / "data" / "duke-bioptigen", [], [], TEST).splits()["test"]
    images = [(p.name, *p.load()) for p in pairs]
    lines = ["| training precision | checkpoint | PSNR (dB) | SSIM | GMSD | EPI |", "| --- | --- | --- | --- | --- | --- |"]
    for name, run in runs.items():
        checkpoint = best_checkpoint(run)
        rows = score_method(load_restorer({"ckpt_path": str(checkpoint), "precision": "fp32"}), images, name)
        lines.append(f"| {name} | `{checkpoint.relative_to(REPO) if checkpoint.is_relative_to(REPO) else checkpoint}` | "
                     + " | ".join(f"{fmean(r[m] for r in rows):.4f}" for m in ("psnr", "ssim", "gmsd", "epi")) + " |")
    print("\n".join(lines) + f"\n\nFold 0 test subjects {', '.join(TEST)}; {machine()}.")


if __name__ == "__main__":
    main()
