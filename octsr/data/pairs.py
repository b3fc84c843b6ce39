"""Where noisy/target pairs come from, and how they split into train, val and test.

A *source* turns a layout on disk (or a generator) into named pairs per split. Sources only
list files when asked (`splits()`), and pairs only read pixels when asked (`load()`), so a
config can be built and checked without touching the data.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from octsr.data.image_io import IMAGE_SUFFIXES, read_grayscale
from octsr.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class ImagePair(Protocol):
    """A named (noisy, target) pair whose pixels are read on demand."""

    name: str

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """(noisy, target), each float32 (H, W) in [0, 1], of equal shape."""
        ...


class PairSource(Protocol):
    def splits(self) -> dict[str, list[ImagePair]]:
        """Pairs for "train", "val" and "test" (a split may be empty)."""
        ...


@dataclass(frozen=True)
class FilePair:
    name: str
    noisy_path: Path
    target_path: Path

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        noisy = read_grayscale(self.noisy_path)
        target = read_grayscale(self.target_path)
        if noisy.shape != target.shape:
            raise DataError(
                f"{self.noisy_path} is {noisy.shape[0]}x{noisy.shape[1]} but its target "
                f"{self.target_path} is {target.shape[0]}x{target.shape[1]}; pairs must match"
            )
        return noisy, target


@dataclass(frozen=True)
class ArrayPair:
    """A pair already in memory (tests, notebooks)."""

    name: str
    noisy: np.ndarray
    target: np.ndarray

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        return self.noisy, self.target


def check_disjoint(names: dict[str, Sequence[str]]) -> None:
    """Test must share nothing with train or val. Train and val may overlap (e.g. to train
    final weights on every scan), which only makes the val scores optimistic: warned."""
    for split in ("train", "val"):
        shared = sorted(set(names.get("test", [])) & set(names.get(split, [])))
        if shared:
            raise DataError(f"{', '.join(shared)} in both data.splits.{split} and data.splits.test; "
                            f"a test scan must not be trained or validated on")
    shared = sorted(set(names.get("train", [])) & set(names.get("val", [])))
    if shared:
        log.warning("%s in both data.splits.train and data.splits.val: val scores will be "
                    "optimistic", ", ".join(shared))


def _existing_dir(root: str | Path, key: str) -> Path:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(f"{key}={root}: no such folder ({path.resolve()})")
    return path


class DukePairs:
    """The Duke layout: one folder per subject holding `test.tif` (noisy) and `average.tif`.

    Args:
        root: folder holding the subject folders.
        train, val, test: subject folder names per split.
        noisy_name, target_name: file names inside each subject folder.
    """

    def __init__(
        self,
        root: str | Path,
        train: Sequence[str],
        val: Sequence[str],
        test: Sequence[str],
        noisy_name: str = "test.tif",
        target_name: str = "average.tif",
    ) -> None:
        self.root = root
        self.subjects = {"train": list(train), "val": list(val), "test": list(test)}
        self.noisy_name = noisy_name
        self.target_name = target_name

    def splits(self) -> dict[str, list[ImagePair]]:
        root = _existing_dir(self.root, "data.root")
        check_disjoint({split: [str(s) for s in names] for split, names in self.subjects.items()})
        out: dict[str, list[ImagePair]] = {}
        for split in SPLITS:
            out[split] = []
            for subject in self.subjects[split]:
                subject = str(subject)
                folder = root / subject
                if not folder.is_dir():
                    present = sorted(p.name for p in root.iterdir() if p.is_dir())
                    raise DataError(
                        f"data.splits.{split} names subject {subject}, but {folder} does not "
                        f"exist (subjects in {root}: {', '.join(present) or 'none'})"
                    )
                noisy, target = folder / self.noisy_name, folder / self.target_name
                for path, role in ((noisy, "noisy input"), (target, "averaged target")):
                    if not path.is_file():
                        raise DataError(f"{path}: missing ({role} of subject {subject})")
                out[split].append(FilePair(subject, noisy, target))
        return out


class FolderPairs:
    """A generic layout: `root/noisy/NAME` paired with `root/clean/NAME` (same stem).

    Split either by explicit name lists (`train`, `val`, `test`: file stems) or, when those
    are empty, by a seeded shuffle with `val_fraction` and `test_fraction`.
    """

    def __init__(
        self,
        root: str | Path,
        noisy_dir: str = "noisy",
        clean_dir: str = "clean",
        train: Sequence[str] | None = None,
        val: Sequence[str] | None = None,
        test: Sequence[str] | None = None,
        val_fraction: float = 0.2,
        test_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        self.root = root
        self.noisy_dir, self.clean_dir = noisy_dir, clean_dir
        self.names = {"train": list(train or []), "val": list(val or []), "test": list(test or [])}
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.seed = seed

    @staticmethod
    def _images_by_stem(folder: Path) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                if path.stem in found:
                    raise DataError(f"{found[path.stem]} and {path} share the name {path.stem!r}")
                found[path.stem] = path
        return found

    def pairs(self) -> dict[str, FilePair]:
        root = _existing_dir(self.root, "data.root")
        noisy_root, clean_root = root / self.noisy_dir, root / self.clean_dir
        for folder in (noisy_root, clean_root):
            if not folder.is_dir():
                raise DataError(
                    f"{folder}: missing; data=folder expects {root}/{self.noisy_dir}/ and "
                    f"{root}/{self.clean_dir}/ with matching file names"
                )
        noisy, clean = self._images_by_stem(noisy_root), self._images_by_stem(clean_root)
        for stem, path in noisy.items():
            if stem not in clean:
                raise DataError(f"{path}: no partner named {stem}.* in {clean_root}")
        for stem, path in clean.items():
            if stem not in noisy:
                raise DataError(f"{path}: no partner named {stem}.* in {noisy_root}")
        if not noisy:
            raise DataError(f"{noisy_root}: no images (PNG or TIFF) found")
        return {stem: FilePair(stem, noisy[stem], clean[stem]) for stem in noisy}

    def splits(self) -> dict[str, list[ImagePair]]:
        pairs = self.pairs()
        if any(self.names.values()):
            check_disjoint(self.names)
            out: dict[str, list[ImagePair]] = {}
            for split in SPLITS:
                for name in self.names[split]:
                    if name not in pairs:
                        raise DataError(
                            f"data.splits.{split} names {name!r}, which is not a pair in "
                            f"{self.root} (pairs: {', '.join(sorted(pairs)[:10])}...)"
                        )
                out[split] = [pairs[name] for name in self.names[split]]
            return out
        stems = sorted(pairs)
        random.Random(self.seed).shuffle(stems)
        n_test = round(len(stems) * self.test_fraction)
        n_val = round(len(stems) * self.val_fraction)
        if len(stems) - n_val - n_test < 1:
            raise DataError(
                f"{self.root}: {len(stems)} pairs leave none for training with "
                f"data.splits.val_fraction={self.val_fraction}, "
                f"data.splits.test_fraction={self.test_fraction}"
            )
        return {
            "test": [pairs[s] for s in stems[:n_test]],
            "val": [pairs[s] for s in stems[n_test : n_test + n_val]],
            "train": [pairs[s] for s in stems[n_test + n_val :]],
        }
