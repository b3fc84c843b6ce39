"""How alike the Duke noisy frames are to each other, and how much closer column-wise
registration brings them: the evidence behind `data.train_target=nearest_frame` and
`registered_frame` (octsr.data.frame_targets).

For every subject, the PSNR between Gaussian-blurred copies (sigma 3 px, speckle mostly gone)
of each pair of its five frames, before and after the second frame of the pair is shifted
column by column onto the first. Prints Markdown: the mean over subjects, and each frame's
target under next_frame and nearest_frame.

    python experiments/unseen_scans/targets/frame_similarity.py [--data-root ../shared/data/duke-bioptigen]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
from octsr.data.frame_targets import blurred, column_shifts, nearest, shift_columns, similarity
from octsr.formats.images import read_grayscale

NAMES = ["test.tif", "1.tif", "2.tif", "3.tif", "4.tif"]


def table(matrix: np.ndarray, title: str) -> str:
    lines = [f"| {title} | " + " | ".join(NAMES) + " |", "|" + " --- |" * (len(NAMES) + 1)]
    for i, name in enumerate(NAMES):
        lines.append(f"| {name} | " + " | ".join("–" if i == j else f"{matrix[i, j]:.2f}"
                                                  for j in range(len(NAMES))) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=REPO / ".." / "shared" / "data" / "duke-bioptigen")
    root = parser.parse_args().data_root
    subjects = sorted(p.name for p in root.iterdir() if (p / "average.tif").is_file())
    raw, registered, picks = [], [], []
    for subject in subjects:
        frames = [read_grayscale(root / subject / name) for name in NAMES]
        smooth = [blurred(frame) for frame in frames]
        n = len(frames)
        raw.append(np.array([[similarity(smooth[i], smooth[j]) if i != j else np.nan for j in range(n)]
                             for i in range(n)]))
        reg = np.full((n, n), np.nan)
        for i in range(n):
            for j in range(n):
                if i != j:
                    moved = shift_columns(frames[j], column_shifts(smooth[j], smooth[i]))
                    reg[i, j] = similarity(blurred(moved), smooth[i])
        registered.append(reg)
        picks.append([NAMES[nearest(i, smooth)] for i in range(n)])
    raw_mean, reg_mean = np.mean(raw, axis=0), np.mean(registered, axis=0)  # NaN diagonal: printed as –
    print(f"Mean over the {len(subjects)} subjects, PSNR (dB) between blurred frames (row: input, column: target).\n")
    print(table(raw_mean, "as stored"))
    print()
    print(table(reg_mean, "registered"))
    n = len(NAMES)
    nxt = np.mean([r[i, (i + 1) % n] for r in raw for i in range(n)])
    near = np.mean([np.nanmax(r[i]) for r in raw for i in range(n)])
    near_reg = np.mean([reg[i, int(np.nanargmax(r[i]))] for r, reg in zip(raw, registered) for i in range(n)])
    print(f"\nMean similarity of a frame to its target: next_frame {nxt:.2f} dB, nearest_frame {near:.2f} dB, "
          f"registered_frame {near_reg:.2f} dB.\n")
    print("| subject | " + " | ".join(f"{name} -> (nearest)" for name in NAMES) + " |")
    print("|" + " --- |" * (n + 1))
    for subject, pick in zip(subjects, picks):
        print(f"| {subject} | " + " | ".join(pick) + " |")


if __name__ == "__main__":
    main()
