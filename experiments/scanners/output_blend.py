"""Is the shipped U-Net too strong or too weak on a scanner it never saw, and would averaging
it with its mirror image help? Without training: the shipped weights (`weights=best`,
`intensity=auto`) on each constructed scanner's 12 test scans, their output blended with the
input in the log domain at several weights, and averaged with the output of the left-right
mirrored B-scan.

    python experiments/scanners/output_blend.py      # about a minute per scanner on 2 cores

Writes output_blend.md beside this script.
"""

from __future__ import annotations

from pathlib import Path
from statistics import fmean

import numpy as np

from intensity import SCANNERS, unit
from octsr.data.intensity import IntensityTransform
from octsr.formats.images import read_raw
from octsr.inference import load_restorer
from octsr.scoring import image_scores
from octsr.utils.machine import machine

HERE = Path(__file__).resolve().parent
DUKE = HERE.parents[1] / ".." / "shared" / "data" / "duke-bioptigen"
WEIGHTS = (0.7, 0.8, 0.9, 1.0, 1.1)  # of the output; the rest is the input


def scanner_rows(scanner: str, restorer) -> dict[str, float]:
    psnr: dict[str, list[float]] = {}
    for subject in sorted(p for p in DUKE.resolve().iterdir() if p.is_dir()):
        noisy, target = (unit(SCANNERS[scanner](read_raw(subject / name))) for name in ("test.tif", "average.tif"))
        output = restorer([noisy])[0]
        mirrored = restorer([np.ascontiguousarray(noisy[:, ::-1])])[0][:, ::-1]
        transform = IntensityTransform.fit([noisy], "auto")
        log_in, log_out = transform.forward(noisy), transform.forward(output)
        for weight in WEIGHTS:
            blended = np.clip(transform.inverse(weight * log_out + (1 - weight) * log_in), 0, 1)
            psnr.setdefault(f"output x {weight} + input x {1 - weight:.1f} (log domain)", []).append(
                image_scores(blended, target)["psnr"])
        psnr.setdefault("mean of the output and the mirrored B-scan's", []).append(
            image_scores(np.clip((output + mirrored) / 2, 0, 1), target)["psnr"])
    return {row: fmean(values) for row, values in psnr.items()}


def main() -> None:
    restorer = load_restorer({"weights": "best", "intensity": "auto", "precision": "fp32"})
    results = {scanner: scanner_rows(scanner, restorer) for scanner in SCANNERS}
    rows = list(next(iter(results.values())))
    lines = ["# The shipped U-Net's output blended with its input, and with its mirror image", "",
             "PSNR (dB) against the averages, mean of the 12 Duke test scans as each scanner stores them; "
             "`weights=best`, `intensity=auto`, fp32. Output x 1.0 is the shipped weights as they are.", "",
             "| output | " + " | ".join(f"`{s}`" for s in results) + " |", "| --- |" + " --- |" * len(results)]
    lines += [f"| {row} | " + " | ".join(f"{results[s][row]:.2f}" for s in results) + " |" for row in rows]
    lines += ["", f"Machine: {machine()}. Command: `python experiments/scanners/output_blend.py`.", ""]
    (HERE / "output_blend.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
