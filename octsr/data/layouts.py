"""The data layouts a config names (`data=duke|folder|volumes|phantom`): each is the DataModule
built from that layout's own settings, so every key of `conf/data/<layout>.yaml` is an
argument used here, and nowhere else. They have no defaults of their own: each default is
the one in `conf/data/<layout>.yaml`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from octsr.data.datamodule import PairedOCTDataModule
from octsr.data.pairs import DukePairs, FolderPairs
from octsr.data.phantom import PhantomPairs
from octsr.data.volume_pairs import VolumePairs


class DukeDataModule(PairedOCTDataModule):
    """Duke Bioptigen subjects (`DukePairs`) under `root`, split by subject folder name.

    Args:
        root: folder of subject folders.
        splits: `train`, `val`, `test` lists of subject folder names.
        frames, train_target, noisy_name, target_name, extra_frames, input_frames, teacher_dir:
            see `DukePairs`.
        **loader: the protocol and loader settings of `PairedOCTDataModule`.
    """

    def __init__(self, *, root: str, splits: Mapping[str, Any], frames: str, train_target: str, noisy_name: str,
                 target_name: str, extra_frames: str, input_frames: int, teacher_dir: str | None,
                 **loader: Any) -> None:
        source = DukePairs(root, splits["train"], splits["val"], splits["test"], noisy_name=noisy_name,
                           target_name=target_name, frames=frames, train_target=train_target,
                           extra_frames=extra_frames, input_frames=input_frames, teacher_dir=teacher_dir)
        super().__init__(source, **loader)


class FolderDataModule(PairedOCTDataModule):
    """Your own pairs (`FolderPairs`): `root/noisy/NAME` with `root/clean/NAME`.

    Args:
        root: folder holding `noisy_dir` and `clean_dir`.
        splits: `train`, `val`, `test` name lists, or (all empty) a seeded random split by
            `val_fraction` and `test_fraction` with its own `seed`.
        frames, train_target, noisy_dir, clean_dir, input_frames, teacher_dir: see `FolderPairs`.
        **loader: the protocol and loader settings of `PairedOCTDataModule`.
    """

    def __init__(self, *, root: str, splits: Mapping[str, Any], frames: str, train_target: str, noisy_dir: str,
                 clean_dir: str, input_frames: int, teacher_dir: str | None, **loader: Any) -> None:
        source = FolderPairs(root, noisy_dir=noisy_dir, clean_dir=clean_dir, frames=frames,
                             train_target=train_target, input_frames=input_frames, teacher_dir=teacher_dir,
                             **splits)
        super().__init__(source, **loader)


class PhantomDataModule(PairedOCTDataModule):
    """Synthetic pairs (`PhantomPairs`), made on the fly from `phantom`'s settings, each
    input `input_frames` independent noisy frames."""

    def __init__(self, *, phantom: Mapping[str, Any], input_frames: int, **loader: Any) -> None:
        super().__init__(PhantomPairs(**phantom, input_frames=input_frames), **loader)


class VolumeDataModule(PairedOCTDataModule):
    """Your own raw volumes, no averaged scans (`VolumePairs`): each B-scan of a volume in
    `root` trained towards its neighbour, split by volume.

    Args:
        root: folder of volumes (multi-page TIFF, DICOM, Heidelberg .vol or XML export).
        splits: `train`, `val`, `test` lists of volume names (file names without suffix), or
            (all empty) a seeded random split by `val_fraction` and `test_fraction` with `seed`.
        scored_bscans, input_frames, neighbours, intensity, register: see `VolumePairs`.
        **loader: the protocol and loader settings of `PairedOCTDataModule`.
    """

    def __init__(self, *, root: str, splits: Mapping[str, Any], scored_bscans: int, input_frames: int,
                 neighbours: str, intensity: str, register: bool, **loader: Any) -> None:
        super().__init__(VolumePairs(root, scored_bscans=scored_bscans, input_frames=input_frames,
                                     neighbours=neighbours, intensity=intensity, register=register,
                                     **splits), **loader)
