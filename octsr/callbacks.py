"""Callbacks of our own; the rest come from Lightning (see conf/callbacks/)."""

from __future__ import annotations

import csv
import logging
import time
from pathlib import Path
from statistics import fmean
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EMAWeightAveraging
from pytorch_lightning.trainer.states import TrainerFn

log = logging.getLogger(__name__)


class TestMetricsCSV(pl.Callback):
    """Write one CSV row per test image (PSNR, SSIM of the output and of the noisy input)
    and a final `mean` row, to `path`."""

    COLUMNS = ("image", "psnr", "ssim", "psnr_noisy", "ssim_noisy")

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.rows = []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not outputs:
            return
        for i, name in enumerate(outputs["name"]):
            self.rows.append({"image": name, **{k: outputs[k][i] for k in self.COLUMNS[1:]}})

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.world_size > 1:
            # Each process tested a share of the images (the sampler may repeat one to even
            # the shares out): gather every row, once per image.
            shares = [None] * trainer.world_size
            torch.distributed.all_gather_object(shares, self.rows)
            self.rows = list({row["image"]: row for share in shares for row in share}.values())
        if not self.rows or not trainer.is_global_zero:
            return
        mean = {"image": "mean", **{k: fmean(r[k] for r in self.rows) for k in self.COLUMNS[1:]}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.COLUMNS)
            writer.writeheader()
            for row in [*self.rows, mean]:
                writer.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()})
        log.info("test: %d images, PSNR %.2f dB (noisy input %.2f dB), SSIM %.4f (noisy %.4f) -> %s",
                 len(self.rows), mean["psnr"], mean["psnr_noisy"], mean["ssim"], mean["ssim_noisy"],
                 self.path)


class EpochTimer(pl.Callback):
    """Log wall-clock seconds per training epoch (`time/train_epoch_s`, validation excluded)
    and per validation pass (`time/val_s`)."""

    def __init__(self) -> None:
        self._epoch_start = 0.0
        self._val_start = 0.0
        self._val_total = 0.0

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._epoch_start, self._val_total = time.perf_counter(), 0.0

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        self._val_start = time.perf_counter()

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        seconds = time.perf_counter() - self._val_start
        self._val_total += seconds
        pl_module.log("time/val_s", seconds)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        seconds = time.perf_counter() - self._epoch_start - self._val_total
        pl_module.log("time/train_epoch_s", seconds)
        log.info("epoch %d: %.1f s training, %.1f s validating", trainer.current_epoch, seconds,
                 self._val_total)


class EMAWeights(EMAWeightAveraging):
    """Lightning's exponential moving average of the weights, tested as it was validated.

    Lightning saves the average as the checkpoint's `state_dict` (what validation scored
    and what `octsr.enhance` loads), but when the same Trainer then tests a checkpoint it
    puts the raw, un-averaged weights back. Outside fitting there is nothing to resume, so
    the loaded `state_dict`, the average, is left as it is.
    """

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        if trainer.state.fn == TrainerFn.FITTING:
            super().on_load_checkpoint(trainer, pl_module, checkpoint)
