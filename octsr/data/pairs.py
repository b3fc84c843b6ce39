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
from typing import Protocol, Sequence, TypeVar

import numpy as np

from octsr.data.frame_targets import FrameTargetPair
from octsr.formats.images import IMAGE_SUFFIXES, read_grayscale
from octsr.data.last_read import LastRead
from octsr.errors import DataError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
T = TypeVar("T")


class ImagePair(Protocol):
    """A named (noisy, target) pair whose pixels are read on demand."""

    name: str

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """(noisy, target), float32 in [0, 1]: target (H, W); noisy (H, W), or (frames, H, W)
        when the input is several noisy frames of the same place (`data.input_frames`)."""
        ...


class PairSource(Protocol):
    def splits(self) -> dict[str, list[ImagePair]]:
        """Pairs for "train", "val" and "test" (a split may be empty)."""
        ...


@dataclass(frozen=True)
class FilePair:
    """A noisy scan and its target on disk; with `more_frames`, the noisy input is the scan
    stacked with more noisy frames of the same place, (1 + len(more_frames), H, W)."""

    name: str
    noisy_path: Path
    target_path: Path
    more_frames: tuple[Path, ...] = ()

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        target = read_grayscale(self.target_path)
        frames = []
        for path in (self.noisy_path, *self.more_frames):
            frames.append(read_grayscale(path))
            if frames[-1].shape != target.shape:
                raise DataError(
                    f"{path} is {frames[-1].shape[0]}x{frames[-1].shape[1]} but its target "
                    f"{self.target_path} is {target.shape[0]}x{target.shape[1]}; pairs must match"
                )
        return (np.stack(frames) if self.more_frames else frames[0]), target


@dataclass(frozen=True)
class ArrayPair:
    """A pair already in memory (tests, notebooks)."""

    name: str
    noisy: np.ndarray
    target: np.ndarray

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        return self.noisy, self.target


def primary_frame(noisy: np.ndarray) -> np.ndarray:
    """The B-scan being restored: `noisy` itself, or the first of its stacked frames."""
    return noisy[0] if noisy.ndim == 3 else noisy


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


def stacked_pair(name: str, frames: Sequence[Path], target: Path, input_frames: int) -> FilePair:
    """The pair whose input is the first `input_frames` of a scan's noisy `frames` (the
    primary frame first), as channels."""
    if len(frames) < input_frames:
        raise DataError(f"{name}: data.input_frames={input_frames} needs {input_frames} noisy frames "
                        f"of this scan, found {len(frames)} ({', '.join(p.name for p in frames)})")
    return FilePair(name, frames[0], target, tuple(frames[1:input_frames]))


def training_pairs(name: str, frames: Sequence[Path], target: Path, use: str,
                   train_target: str, scans: LastRead | None = None,
                   teacher_outputs: Sequence[Path] = ()) -> list[ImagePair]:
    """The train pairs of one scan location from its noisy `frames` (the primary frame
    first) and averaged `target`.

    `use`="one": the primary frame -> target; "all": every frame -> target (the extra
    pairs are named NAME_STEM). `train_target`="next_frame" (Noise2Noise, Lehtinen et al.
    2018): every frame -> the next frame (the last -> the first), no average used; the
    network can only learn what the frames share, which on average is the clean scan.
    "nearest_frame": every frame -> the other frame most like it; "registered_frame": that
    frame shifted column by column onto the input (`octsr.data.frame_targets`); the pairs
    share `scans` (one per listing), so each scan's frames are read once. "teacher"
    (knowledge distillation): every frame -> a trained model's output for that frame,
    `teacher_outputs` (one per frame, in the same order).
    """
    names = [name if i == 0 else f"{name}_{path.stem}" for i, path in enumerate(frames)]
    if train_target == "average":
        chosen = frames if use == "all" else frames[:1]
        return [FilePair(names[i], path, target) for i, path in enumerate(chosen)]
    if train_target == "teacher":
        for path in teacher_outputs:
            if not path.is_file():
                raise DataError(f"{path}: missing (the teacher's output for {name}; write them for every train scan "
                                f"with `octsr.enhance input=<data.root> output=<data.teacher_dir>`)")
        return [FilePair(names[i], path, output) for i, (path, output) in enumerate(zip(frames, teacher_outputs))]
    if len(frames) < 2:
        raise DataError(f"{name}: data.train_target={train_target} needs at least two noisy frames, "
                        f"found {len(frames)} ({frames[0] if frames else 'none'})")
    if train_target == "next_frame":
        return [FilePair(names[i], path, frames[(i + 1) % len(frames)]) for i, path in enumerate(frames)]
    scans = scans if scans is not None else LastRead()
    return [FrameTargetPair(names[i], tuple(frames), i, register=train_target == "registered_frame", scans=scans)
            for i in range(len(frames))]


def teacher_outputs(teacher_dir: str | Path | None, root: Path, frames: Sequence[Path]) -> list[Path]:
    """Where `octsr.enhance input=<root> output=<teacher_dir>` wrote each of `frames`: at the
    same path relative to `root` (none without a `teacher_dir`)."""
    if teacher_dir is None:
        return []
    return [Path(teacher_dir).expanduser() / path.relative_to(root) for path in frames]


def _existing_dir(root: str | Path, key: str) -> Path:
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DataError(f"{key}={root}: no such folder ({path.resolve()})")
    return path


class DukePairs:
    """The Duke layout: one folder per subject holding `test.tif` (noisy) and `average.tif`,
    and possibly more noisy frames of the same location (`1.tif` ... `4.tif`).

    Args:
        root: folder holding the subject folders.
        train, val, test: subject folder names per split.
        noisy_name, target_name: file names inside each subject folder.
        frames: "one" trains on `noisy_name` only; "all" also on every extra frame (files
            matching `extra_frames`), each paired with the same target. Val and test always
            use `noisy_name`, so scores stay comparable.
        train_target: "average" (supervised), or Noise2Noise where each of the subject's
            noisy frames is trained towards another: "next_frame", "nearest_frame" or
            "registered_frame" (see `training_pairs`).
        extra_frames: glob for the extra noisy frames inside a subject folder.
        input_frames: noisy frames per input, as channels: `noisy_name` and then the first
            extra frames in name order, in every split (1: `noisy_name` alone).
        teacher_dir: with train_target "teacher", a trained model's outputs for `root`'s
            files at the same relative paths (`teacher_outputs`).
    """

    def __init__(
        self,
        root: str | Path,
        train: Sequence[str],
        val: Sequence[str],
        test: Sequence[str],
        noisy_name: str = "test.tif",
        target_name: str = "average.tif",
        frames: str = "one",
        train_target: str = "average",
        extra_frames: str = "[0-9]*.tif",
        input_frames: int = 1,
        teacher_dir: str | Path | None = None,
    ) -> None:
        self.teacher_dir = teacher_dir
        self.input_frames = int(input_frames)
        self.root = root
        self.subjects = {"train": list(train), "val": list(val), "test": list(test)}
        self.noisy_name = noisy_name
        self.target_name = target_name
        self.frames, self.train_target, self.extra_frames = frames, train_target, extra_frames

    def splits(self) -> dict[str, list[ImagePair]]:
        root = _existing_dir(self.root, "data.root")
        check_disjoint({split: [str(s) for s in names] for split, names in self.subjects.items()})
        out: dict[str, list[ImagePair]] = {}
        scans: LastRead = LastRead()
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
                extra = sorted(p for p in folder.glob(self.extra_frames)
                               if p.is_file() and p.name not in (self.noisy_name, self.target_name))
                if self.input_frames > 1:
                    out[split].append(stacked_pair(subject, [noisy, *extra], target, self.input_frames))
                elif split != "train":
                    out[split].append(FilePair(subject, noisy, target))
                else:
                    out[split] += training_pairs(subject, [noisy, *extra], target, self.frames, self.train_target,
                                                 scans, teacher_outputs(self.teacher_dir, root, [noisy, *extra]))
        return out


class FolderPairs:
    """A generic layout: `root/noisy/NAME` paired with `root/clean/NAME` (same stem).

    More noisy frames of the same location are named `root/noisy/NAME.K.ext` (K a number:
    `scan7.png`, `scan7.1.png`, `scan7.2.png` all pair with `clean/scan7.png`); they are
    used for training with `frames`="all" or a frame `train_target` (see
    `DukePairs`), never for val or test. A noisy name that has its own clean partner is a
    primary frame even if it ends in `.K`.

    Split either by explicit name lists (`train`, `val`, `test`: file stems) or, when those
    are empty, by a seeded shuffle with `val_fraction` and `test_fraction`.

    `input_frames` > 1 makes every input (all splits) `NAME` stacked with its first extra
    frames in name order, as channels. `teacher_dir`: as in `DukePairs`.
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
        frames: str = "one",
        train_target: str = "average",
        input_frames: int = 1,
        teacher_dir: str | Path | None = None,
    ) -> None:
        self.frames, self.train_target, self.input_frames = frames, train_target, int(input_frames)
        self.teacher_dir = teacher_dir
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

    def pairs(self) -> tuple[dict[str, FilePair], dict[str, list[Path]]]:
        """(the pairs by name, each name's extra noisy frames)."""
        root = _existing_dir(self.root, "data.root")
        noisy_root, clean_root = root / self.noisy_dir, root / self.clean_dir
        for folder in (noisy_root, clean_root):
            if not folder.is_dir():
                raise DataError(
                    f"{folder}: missing; data=folder expects {root}/{self.noisy_dir}/ and "
                    f"{root}/{self.clean_dir}/ with matching file names"
                )
        noisy, clean = self._images_by_stem(noisy_root), self._images_by_stem(clean_root)
        extra: dict[str, list[Path]] = {}
        for stem, path in list(noisy.items()):
            if stem in clean:
                continue
            base, _, number = stem.rpartition(".")
            if number.isdigit() and base in clean:
                extra.setdefault(base, []).append(noisy.pop(stem))
                continue
            raise DataError(f"{path}: no partner named {stem}.* in {clean_root} (an extra noisy "
                            f"frame of clean NAME is named NAME.K, K a number)")
        for frames in extra.values():  # NAME.2 before NAME.10
            frames.sort(key=lambda path: int(path.stem.rpartition(".")[2]))
        for stem, path in clean.items():
            if stem not in noisy:
                raise DataError(f"{path}: no partner named {stem}.* in {noisy_root}")
        if not noisy:
            raise DataError(f"{noisy_root}: no images (PNG or TIFF) found")
        return {stem: FilePair(stem, noisy[stem], clean[stem]) for stem in noisy}, extra

    def splits(self) -> dict[str, list[ImagePair]]:
        pairs, extra = self.pairs()
        out = self._split(pairs)
        if self.input_frames > 1:
            return {split: [stacked_pair(p.name, [p.noisy_path, *extra.get(p.name, [])], p.target_path,
                                         self.input_frames) for p in split_pairs]
                    for split, split_pairs in out.items()}
        scans: LastRead = LastRead()
        root = Path(self.root).expanduser()
        train: list[ImagePair] = []
        for pair in out["train"]:
            frames = [pair.noisy_path, *extra.get(pair.name, [])]
            train += training_pairs(pair.name, frames, pair.target_path, self.frames, self.train_target, scans,
                                    teacher_outputs(self.teacher_dir, root, frames))
        out["train"] = train
        return out

    def _split(self, pairs: dict[str, FilePair]) -> dict[str, list[FilePair]]:
        return split_by_name(pairs, self.names, self.val_fraction, self.test_fraction, self.seed,
                             self.root, "pairs")


def split_by_name(items: dict[str, T], names: dict[str, list[str]], val_fraction: float,
                  test_fraction: float, seed: int, root: str | Path, what: str) -> dict[str, list[T]]:
    """`items` (by name) into train, val and test: by the `names` lists where any is given,
    else by a shuffle seeded with `seed`, `val_fraction` and `test_fraction` of them."""
    if any(names.values()):
        check_disjoint(names)
        out: dict[str, list[T]] = {}
        for split in SPLITS:
            for name in names[split]:
                if name not in items:
                    raise DataError(
                        f"data.splits.{split} names {name!r}, which is not one of the {what} in "
                        f"{root} ({what}: {', '.join(sorted(items)[:10])}{'...' if len(items) > 10 else ''})"
                    )
            out[split] = [items[name] for name in names[split]]
        return out
    stems = sorted(items)
    random.Random(seed).shuffle(stems)
    n_test = round(len(stems) * test_fraction)
    n_val = round(len(stems) * val_fraction)
    if len(stems) - n_val - n_test < 1:
        raise DataError(
            f"{root}: {len(stems)} {what} leave none for training with "
            f"data.splits.val_fraction={val_fraction}, data.splits.test_fraction={test_fraction}"
        )
    return {
        "test": [items[s] for s in stems[:n_test]],
        "val": [items[s] for s in stems[n_test : n_test + n_val]],
        "train": [items[s] for s in stems[n_test + n_val :]],
    }
