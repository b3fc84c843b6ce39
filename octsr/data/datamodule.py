"""The LightningDataModule: a pair source + the paper's protocol -> train/val/test loaders."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytorch_lightning as pl
from torch.utils.data import DataLoader

from octsr.data.datasets import PatchDataset, PixelStore, WholeImageDataset, keep_batch
from octsr.data.pairs import PairSource
from octsr.data.protocol import PaperProtocol
from octsr.data.scanners import scanner_copy
from octsr.errors import DataError

log = logging.getLogger(__name__)


class PairedOCTDataModule(pl.LightningDataModule):
    """Train on lazily cut patches of cropped + augmented pairs; validate and test on whole images.

    Inputs (`noisy`) and targets are float32 in [0, 1]. The training-set mean and standard
    deviation of the inputs are exposed as `noisy_mean` / `noisy_std`; the model stores them
    and standardizes its own inputs, so the same numbers are reused at inference.

    Args:
        source: where the pairs come from (`octsr.data.pairs`, `octsr.data.phantom`).
        protocol: crops, variants and patches (`PaperProtocol`).
        batch_size: training patches per batch (val and test run one whole image at a time).
        num_workers: DataLoader worker processes. 0 (the default) was fastest on a 2-core
            CPU: the main process cuts a batch quickly (experiments/speed), and a worker
            would take a core from the model.
        memory_budget_mb: train source pairs are held in memory up to this size and
            memory-mapped from a temporary file beyond it (`spill_dir`, default: the
            system's temporary folder).
        seed: seeds the random crops, so a seed gives the same training set.
        scanner_copies: each train pair is also trained on as this many simulated other
            scanners would store it (`octsr.data.scanners`: another intensity law, range,
            gain, black level, lateral sampling and bit depth, each copy its own), shown to
            the network as inference shows such a scanner's files; 0 (the default): the
            pairs as they are.
        name: the layout's name, for logs.

    A config names one of `octsr.data.layouts`, which builds `source` from its own settings.
    """

    def __init__(self, source: PairSource, protocol: PaperProtocol, batch_size: int = 128,
                 num_workers: int = 0, pin_memory: bool = False, seed: int = 0, name: str = "",
                 memory_budget_mb: float = 1024, spill_dir: str | None = None, scanner_copies: int = 0) -> None:
        super().__init__()
        self.name = name
        self.source, self.protocol = source, protocol
        self.batch_size, self.num_workers, self.pin_memory = batch_size, num_workers, pin_memory
        self.seed, self.scanner_copies = seed, scanner_copies
        self.memory_budget_mb, self.spill_dir = memory_budget_mb, spill_dir
        self._splits = None
        self.train_set: PatchDataset | None = None
        self.val_set: WholeImageDataset | None = None
        self.test_set: WholeImageDataset | None = None
        self.noisy_mean: float | None = None
        self.noisy_std: float | None = None

    def splits(self):
        if self._splits is None:
            self._splits = self.source.splits()
        return self._splits

    def _require(self, split: str) -> list:
        pairs = self.splits()[split]
        if not pairs:
            raise DataError(f"the {split} split is empty; list some pairs in data.splits.{split}")
        return pairs

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", None) and self.train_set is None:
            self._setup_train()
        if stage in ("fit", "validate", None) and self.val_set is None:
            self._setup_val()
        if stage in ("test", None) and self.test_set is None:
            self.test_set = self._whole_images("test")

    def _setup_train(self) -> None:
        store = PixelStore(self.memory_budget_mb * 2**20, self.spill_dir)
        views = []
        # Input statistics over every train image's pixels (a variant only moves them).
        total, total_sq, pixels = 0.0, 0.0, 0
        pairs = self._require("train")
        for index, pair in enumerate(pairs):
            for copy, (pair_noisy, pair_target) in enumerate(self._train_copies(pair, index)):
                place = [self.seed, index] + ([copy] if copy else [])  # the pair as loaded: crops as ever
                seed = int(np.random.SeedSequence(place).generate_state(1)[0])
                stored = store.add(pair_noisy, pair_target)
                box_sums: dict[tuple[int, int, int, int], tuple[float, float, int]] = {}
                for view in self.protocol.train_views(pair_target.shape, seed, pair.name):
                    views.append((stored, view))
                    key = (view.y, view.x, view.height, view.width)
                    if key not in box_sums:  # a crop's variants share its pixels: sum them once
                        box = pair_noisy[..., view.y : view.y + view.height, view.x : view.x + view.width]
                        box_sums[key] = (float(box.sum(dtype=np.float64)),
                                         float(np.square(box, dtype=np.float64).sum()), box.size)
                    total += box_sums[key][0]
                    total_sq += box_sums[key][1]
                    pixels += box_sums[key][2]
        mean = total / pixels
        var = total_sq / pixels - mean**2
        if not var > 1e-12:
            raise DataError("the training inputs are constant: nothing to standardize or learn")
        self.noisy_mean, self.noisy_std = mean, var**0.5
        p = self.protocol
        self.train_set = PatchDataset(store.finish(), views, p.patch_size, p.patch_stride)
        if len(self.train_set) == 0:
            raise DataError(
                f"no {p.patch_size}x{p.patch_size} training patch fits in the train images; "
                f"lower data.protocol.patch_size"
            )
        copies = f" (each also as {self.scanner_copies} simulated scanner(s))" if self.scanner_copies else ""
        log.info("train: %d pairs%s -> %d images -> %d patches of %dx%d (stride %d); "
                 "input mean %.4f std %.4f", len(pairs), copies, len(views), len(self.train_set),
                 p.patch_size, p.patch_size, p.patch_stride, mean, self.noisy_std)

    def _train_copies(self, pair, index: int):
        """A train pair as loaded, then as each of `scanner_copies` simulated scanners
        stores it (`octsr.data.scanners.scanner_copy`), seeded by the pair's place."""
        noisy, target = pair.load()
        yield noisy, target
        rng = np.random.default_rng([self.seed, index])
        for _ in range(self.scanner_copies):
            copy_noisy, copy_target, _ = scanner_copy(noisy, target, rng)
            yield copy_noisy, copy_target

    def _setup_val(self) -> None:
        names, noisy, target, variants = [], [], [], []
        pairs = self._require("val")
        for pair in pairs:
            # Each variant is made when it is validated: only the source pair is held.
            pair_noisy, pair_target = pair.load()
            for variant in self.protocol.val_variants:
                names.append(f"{pair.name}_{variant}")
                noisy.append(pair_noisy)
                target.append(pair_target)
                variants.append(variant)
        self.val_set = WholeImageDataset(names, noisy, target, variants)
        log.info("val: %d pairs -> %d whole images", len(pairs), len(names))

    def _whole_images(self, split: str) -> WholeImageDataset:
        pairs = self._require(split)
        loaded = [pair.load() for pair in pairs]
        log.info("%s: %d whole images", split, len(pairs))
        return WholeImageDataset([p.name for p in pairs], [n for n, _ in loaded], [t for _, t in loaded])

    def _loader(self, dataset, batch_size: int, shuffle: bool, **kwargs: Any) -> DataLoader:
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle,
                          num_workers=self.num_workers, pin_memory=self.pin_memory,
                          persistent_workers=self.num_workers > 0, **kwargs)

    def train_dataloader(self) -> DataLoader:
        # The dataset cuts a whole batch per call (`__getitems__`): nothing left to collate.
        return self._loader(self.train_set, self.batch_size, shuffle=True, collate_fn=keep_batch)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, 1, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.test_set, 1, shuffle=False)
