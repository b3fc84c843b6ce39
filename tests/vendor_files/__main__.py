"""Write one small file of each vendor format octsr reads, built from the readers' own format
definitions, to try octsr on:

    python -m tests.vendor_files OUT    # OUT/heidelberg.e2e, topcon_jpeg.fda, topcon_raw.fds, <Cirrus name>.img

Each holds a speckled phantom retina (octsr.data.phantom): Heidelberg .e2e five B-scans of
linear intensity, Topcon .fda and .fds five 8-bit and 16-bit B-scans, Zeiss .img a Macular
Cube 200x200 (200 B-scans of 1024 x 200, the smallest grid whose size Zeiss states, so its
spacing is known). Needs the scanners extra (eyepy, OCT-Converter: `make install`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from octsr.data.phantom import phantom_scene, speckle_frame


def phantom_bscans(count: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    """`count` speckled B-scans of one phantom retina, float32 in [0, 1] (linear intensity)."""
    rng = np.random.default_rng(seed)
    scene = phantom_scene(height, width, rng)
    return np.stack([speckle_frame(scene, rng) for _ in range(count)])


def as_display(linear: np.ndarray, dtype=np.uint8) -> np.ndarray:
    """Linear intensity as a log display over 40 dB, the way scanners export grey levels."""
    grey = np.clip(1 + np.log10(np.maximum(linear, 1e-4)) / 4, 0, 1)
    return np.round(grey * np.iinfo(dtype).max).astype(dtype)


def write_samples(out: Path, cube: bool = True) -> dict[str, Path]:
    """One file per format in `out`, by format name; without `cube`, no Zeiss file (its 40 MB
    take a minute to restore on a 2-core CPU)."""
    from tests.vendor_files.heidelberg_e2e import write_e2e
    from tests.vendor_files.topcon import write_fda, write_fds
    from tests.vendor_files.zeiss import write_img

    out.mkdir(parents=True, exist_ok=True)
    linear = phantom_bscans(5, 256, 384)
    files = {"e2e": write_e2e(out / "heidelberg.e2e", linear),
             "fda": write_fda(out / "topcon_jpeg.fda", as_display(linear)),
             "fds": write_fds(out / "topcon_raw.fds", as_display(linear, np.uint16))}
    if cube:
        files["img"] = write_img(out, as_display(phantom_bscans(200, 1024, 200, seed=1)), pattern="Macular Cube")
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    for name, path in write_samples(parser.parse_args().out).items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
