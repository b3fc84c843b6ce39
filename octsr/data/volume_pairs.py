"""Training pairs from raw volumes alone (`data=volumes`): no averaged scan anywhere.

A scanner's volume holds B-scans a few micrometres apart, each with its own speckle over
nearly the same tissue. Noise2Noise (Lehtinen et al. 2018) trains a network to map one noisy
B-scan to its neighbour: the network cannot predict the neighbour's independent speckle, so
it learns what the two share, which is the tissue. On Duke this beat training on the frame
averages (experiments/unseen_scans), so a user's own raw volumes are training data.

Every split pairs a B-scan with its neighbour, so validation and test need no target either:
their PSNR is against the neighbouring B-scan, the Noise2Noise loss on volumes the network
has not seen, and it ranks checkpoints (experiments/scanners measures how well).

Each volume is trained on through the transform of its intensity law (`intensity`, auto by
default; `octsr.data.intensity`): speckle additive and of one spread, in the log domain the
shipped weights learned, so adapting them starts where they are good and a model learns
one noise law across volumes of any law. The checkpoint records it, and enhance and evaluate
put every file through the same transform.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from octsr.data.frame_targets import blurred, column_shifts, shift_columns
from octsr.data.pairs import SPLITS, ImagePair, split_by_name
from octsr.data.intensity import file_transform
from octsr.data.last_read import LastRead
from octsr.formats import VOLUME_SUFFIXES, count_bscans, format_of, read_volume
from octsr.formats.heidelberg import heidelberg_exports, in_heidelberg_export
from octsr.errors import ConfigError, DataError

log = logging.getLogger(__name__)


def neighbour(index: int, count: int) -> int:
    """The B-scan a B-scan is paired with: the next one; the last one's, the one before."""
    return index + 1 if index + 1 < count else index - 1


def train_partners(index: int, count: int, neighbours: str) -> list[int]:
    """The B-scans a train B-scan learns towards: its `neighbour` (`next`), or the one on each
    side (`both`): tissue changes from B-scan to B-scan, and the two sides' changes cancel
    to first order where one side's shift the network would learn as the mean."""
    if neighbours == "next":
        return [neighbour(index, count)]
    return [j for j in (index - 1, index + 1) if 0 <= j < count]


@dataclass(frozen=True)
class NeighbourPair:
    """B-scan `index` of the volume in `path` -> its neighbour `partner`, both in [0, 1] and
    then through the volume's intensity transform (`intensity`: `octsr.data.intensity`); with
    `register`, the neighbour's columns shifted onto the B-scan (`octsr.data.frame_targets`)."""

    name: str
    path: Path
    index: int
    partner: int
    volumes: LastRead  # shared by the pairs of every volume: each file is read once
    intensity: str = "stored"
    register: bool = False

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        scans = self.volumes.get(self.path, self._read)
        scan, partner = scans[self.index], scans[self.partner]
        if self.register:
            partner = shift_columns(partner, column_shifts(blurred(partner), blurred(scan)))
        return scan, partner

    def _read(self) -> list[np.ndarray]:
        volume = read_volume(self.path)
        scans = volume.to_unit_range()
        transform = file_transform(scans, self.intensity, volume.intensity)
        return scans if transform is None else [transform.forward(scan) for scan in scans]


def scored_indices(count: int, limit: int) -> list[int]:
    """Up to `limit` B-scans of a volume of `count`, spread evenly from first to last."""
    if count <= limit:
        return list(range(count))
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)}) if limit > 1 else [count // 2]


class VolumePairs:
    """Every volume file in `root` (any of `octsr.formats.FORMATS`; any mix), split by volume,
    each B-scan paired with its neighbour.

    Args:
        root: the folder of volumes; each is named by its file name without the suffix.
        train, val, test: volume names per split, or (all empty) a seeded random split by
            `val_fraction` and `test_fraction` with `seed`.
        scored_bscans: B-scans per val or test volume that are scored (spread evenly), so a
            128-B-scan volume does not make each validation 128 images long.
        input_frames: must be 1: a volume's neighbours are targets here, not extra inputs.
        neighbours: what a train B-scan learns towards: `next`, its neighbour (the one before
            for the last), or `both`, a pair towards each side. Val and test pair each scored
            B-scan with its next neighbour either way, so their scores compare.
        register: shift each neighbour column by column onto its B-scan (whole pixels) before
            it becomes a target, in every split, so that less of the tissue's change between
            B-scans is learnt as blur (as `registered_frame` does for a scan's frames).
        intensity: what the volumes' values are (`auto`: each volume's law as its file states
            it or as estimated from its B-scans; `log`, `linear`, `root`), each volume then
            taken through its transform; or `stored`: trained on the values as they are.
    """

    # What val and test images are scored against, for the tables that show those scores.
    reference = ("each B-scan's neighbouring B-scan (data=volumes: no averages; a ranking of methods, "
                 "not a distance to a clean scan)")

    def __init__(self, root: str | Path, train: Sequence[str] | None = None, val: Sequence[str] | None = None,
                 test: Sequence[str] | None = None, val_fraction: float = 0.2, test_fraction: float = 0.2,
                 seed: int = 0, scored_bscans: int = 8, input_frames: int = 1, neighbours: str = "next",
                 intensity: str = "auto", register: bool = False) -> None:
        if int(input_frames) != 1:
            raise ConfigError(f"data.input_frames={input_frames}: data=volumes trains each B-scan towards its "
                              f"neighbour, one frame in; stacked inputs need data=duke or data=folder")
        if int(scored_bscans) < 1:
            raise ConfigError(f"data.scored_bscans={scored_bscans}: must be 1 or more")
        self.root = root
        self.names = {"train": list(train or []), "val": list(val or []), "test": list(test or [])}
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, seed
        self.scored_bscans = int(scored_bscans)
        self.input_frames = 1
        self.neighbours = neighbours
        self.intensity = intensity
        self.register = bool(register)

    def volume_files(self) -> dict[str, Path]:
        root = Path(self.root).expanduser()
        if not root.is_dir():
            raise DataError(f"data.root={self.root}: no such folder ({root.resolve()})")
        found: dict[str, Path] = {}
        for path in sorted(root.iterdir()):
            # A Heidelberg XML export is a folder of B-scan TIFFs beside its XML: those TIFFs
            # are part of the export, not volumes of their own.
            if path.is_file() and format_of(path) is not None and not in_heidelberg_export(path):
                if path.stem in found:
                    raise DataError(f"{found[path.stem]} and {path} share the name {path.stem!r}")
                found[path.stem] = path
            elif path.is_dir():
                for export in heidelberg_exports(path):
                    found.setdefault(path.name, export)
        if not found:
            raise DataError(f"{root}: no volumes ({', '.join(VOLUME_SUFFIXES)}) found")
        return found

    def splits(self) -> dict[str, list[ImagePair]]:
        files = self.volume_files()
        by_split = split_by_name(files, self.names, self.val_fraction, self.test_fraction, self.seed,
                                 self.root, "volumes")
        volumes: LastRead = LastRead()
        out: dict[str, list[ImagePair]] = {}
        lonely: list[str] = []
        for split in SPLITS:
            out[split] = []
            for path in by_split[split]:
                count = count_bscans(path)  # from the header: the pixels are read when trained on
                if count < 2:
                    lonely.append(path.name)
                    continue
                if split == "train":
                    partners = {i: train_partners(i, count, self.neighbours) for i in range(count)}
                else:
                    partners = {i: [neighbour(i, count)] for i in scored_indices(count, self.scored_bscans)}
                out[split] += [NeighbourPair(f"{path.stem}_{i:03d}" + (f"_to_{j:03d}" if len(js) > 1 else ""),
                                             path, i, j, volumes, self.intensity, self.register)
                               for i, js in partners.items() for j in js]
        if lonely:
            if not out["train"]:
                raise DataError(f"{self.root}: every train volume holds a single B-scan ({', '.join(sorted(lonely)[:5])}"
                                f"{'...' if len(lonely) > 5 else ''}); data=volumes learns from neighbouring "
                                f"B-scans of a volume, so it needs volumes of 2 or more")
            log.warning("left out %d volume(s) of a single B-scan, which has no neighbour to learn from: %s",
                        len(lonely), ", ".join(sorted(lonely)[:10]))
        for split in ("val", "test"):
            if not out[split] and (by_split[split] or not any(self.names.values())):
                raise DataError(f"{self.root}: no volume of 2+ B-scans left for {split} "
                                f"({len(files)} volume(s) in all); add volumes or name them in data.splits.{split}")
        towards = "each neighbour" if self.neighbours == "both" else "its neighbour"
        log.info("volumes: %s; each train B-scan paired with %s (val and test: PSNR against the "
                 "neighbouring B-scan, no averaged target)", ", ".join(
                     f"{split} {len(by_split[split])} ({len(out[split])} {'pairs' if split == 'train' else 'B-scans'})"
                     for split in SPLITS), towards)
        return out

