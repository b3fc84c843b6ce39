"""Duke's subjects as the raw volumes a scanner would give: each subject's five noisy frames
as one multi-page TIFF, in the order they lie in the eye, and no averaged scan.

    python experiments/scanners/duke_volumes.py OUT [--root ../shared/data/duke-bioptigen]

writes OUT/01.tif ... OUT/12.tif, for `python -m octsr.train data=volumes data.root=OUT`.

The frames are neighbouring B-scans (the data's README); their order is not stated, so it is
taken from how alike they are (PSNR between Gaussian-blurred copies, sigma 2, mean over the
12 subjects, measured 2026-11-30): 1-2 28.75 dB, 2-test 28.48, test-3 28.69, 3-4 28.73, while
1-4 is the least alike (27.12). So the chain is 1, 2, test, 3, 4, with test.tif, the frame
the average was registered to, in the middle.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from octsr.formats.images import read_raw
from octsr.formats.tiff import write_tiff_volume
from octsr.formats.volume import UNKNOWN_SPACING

ORDER = ("1.tif", "2.tif", "test.tif", "3.tif", "4.tif")


def write_duke_volumes(root: Path, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for subject in sorted(p for p in root.iterdir() if p.is_dir()):
        target = out / f"{subject.name}.tif"
        write_tiff_volume(target, [read_raw(subject / name) for name in ORDER], UNKNOWN_SPACING)
        written.append(target)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "duke-bioptigen")
    args = parser.parse_args()
    for path in write_duke_volumes(args.root.resolve(), args.out):
        print(path)


if __name__ == "__main__":
    main()
