"""Callbacks of our own; the rest come from Lightning (see conf/callbacks/)."""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from statistics import fmean
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EMAWeightAveraging, ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.trainer.states import TrainerFn

from octsr.errors import TrainingDiverged
from octsr.metrics import METRIC_NAMES, METRICS, NOISY_SUFFIX
from octsr.utils.atomic import commit
from octsr.utils.tables import write_csv

log = logging.getLogger(__name__)


class TestMetricsCSV(pl.Callback):
    """Write one CSV row per test image (every metric of `octsr.metrics.METRICS`, of the
    output and of the noisy input) and a final `mean` row, to `path`."""

    COLUMNS = ("image", *METRIC_NAMES, *(f"{name}{NOISY_SUFFIX}" for name in METRIC_NAMES))

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
        write_csv(self.path, [{k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in row.items()}
                              for row in [*self.rows, mean]])
        scores = ", ".join(f"{m.title} {m.format(mean[m.name])} (noisy input {m.format(mean[m.name + NOISY_SUFFIX])})"
                           for m in METRICS)
        log.info("test: %d images, %s -> %s", len(self.rows), scores, self.path)


class ThrottledProgressBar(TQDMProgressBar):
    """Lightning's TQDM bar, redrawn at most every `refresh_seconds` (and at the end of each
    loop) instead of every `refresh_rate` steps (its private update test:
    `octsr.utils.lightning_private`).

    A redraw also reads the logged metrics for the bar's postfix; at a fixed step count that
    cost follows the step rate (every 10 steps is 20 times a second on a GPU and several
    times on a CPU's small networks), where twice a second is all a person reads
    (experiments/speed, fixed cost per step)."""

    def __init__(self, refresh_seconds: float = 0.5, **kwargs: Any) -> None:
        super().__init__(refresh_rate=1, **kwargs)
        self.refresh_seconds = refresh_seconds
        self._drawn_at = -math.inf

    def _should_update(self, current: int, total: int) -> bool:
        if not self.is_enabled:
            return False
        now = time.monotonic()
        if current == total or now - self._drawn_at >= self.refresh_seconds:
            self._drawn_at = now
            return True
        return False


class EpochTimer(pl.Callback):
    """Log wall-clock seconds per training epoch (`time/train_epoch_s`, validation excluded)
    and per validation pass (`time/val_s`).

    An epoch resumed mid-way from a checkpoint was only partly run here, so its time is not
    logged (it would be neither the epoch's time nor comparable with the others)."""

    def __init__(self) -> None:
        self._epoch_start: float | None = None
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
        if self._epoch_start is None:
            log.info("epoch %d was resumed mid-way: its time is not logged", trainer.current_epoch)
            self._val_total = 0.0
            return
        seconds = time.perf_counter() - self._epoch_start - self._val_total
        self._epoch_start = None
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


def _last_checkpoint(trainer: pl.Trainer) -> str:
    path = getattr(trainer.checkpoint_callback, "last_model_path", "") or ""
    if path and os.path.isfile(path):
        return f"the last finite checkpoint is {path}"
    return "no checkpoint was saved before it"


class SafeCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint, made safe to resume from (through its private save
    methods: `octsr.utils.lightning_private`):

    - a checkpoint is written to a temporary name and renamed, so a crash or a full disk
      never leaves a truncated file under a real name;
    - weights holding NaN or infinite values are never saved: the run stops with
      `TrainingDiverged` and the files already written stay as they were;
    - `last.ckpt` is the latest state after every validation and every epoch (Lightning
      rewrites it only when a new best is saved), and every `last_every_n_steps` steps.
    """

    def __init__(self, *args: Any, last_every_n_steps: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_every_n_steps = last_every_n_steps
        self._last_saved_state: tuple[int, int] | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        every = self.last_every_n_steps
        if every and trainer.global_step % every == 0:
            self._refresh_last(trainer)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        self._refresh_last(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._refresh_last(trainer)

    def _refresh_last(self, trainer: pl.Trainer) -> None:
        if (self.save_last and trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking
                and not trainer.fast_dev_run and self._last_saved_state != self._loop_state(trainer)):
            saved_before = self._last_global_step_saved
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
            # Lightning skips every save at a step it has saved at; refreshing last.ckpt
            # (e.g. at epoch end, before that epoch's validation) must not skip the top-k one.
            self._last_global_step_saved = saved_before

    def _save_last_checkpoint(self, trainer: pl.Trainer, monitor_candidates: dict[str, Any]) -> None:
        super()._save_last_checkpoint(trainer, monitor_candidates)
        self._last_saved_state = self._loop_state(trainer)

    @staticmethod
    def _loop_state(trainer: pl.Trainer) -> tuple[int, int]:
        # The step alone is not enough: at an epoch's end the same step is saved after
        # validation and again once the epoch counts as done (what resuming reads).
        return trainer.global_step, trainer.fit_loop.epoch_progress.current.processed

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        broken = [name for name, weight in trainer.lightning_module.named_parameters()
                  if not torch.isfinite(weight).all()]
        if broken:
            raise TrainingDiverged(
                f"training diverged: {len(broken)} weight tensor(s) (e.g. {broken[0]}) hold NaN or "
                f"infinite values at epoch {trainer.current_epoch}, step {trainer.global_step}, so "
                f"they were not saved; {_last_checkpoint(trainer)} (try a lower optim.lr)")
        # Not atomic_path: every process of a multi-GPU run must name the same temporary
        # file (saving is collective; rank 0 writes it).
        partial = os.path.join(os.path.dirname(filepath), f".{os.path.basename(filepath)}.partial")
        try:
            trainer.save_checkpoint(partial, self.save_weights_only)
            if trainer.is_global_zero:
                commit(partial, filepath)
        finally:
            if trainer.is_global_zero and os.path.exists(partial):
                os.remove(partial)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(self)


class DivergenceGuard(pl.Callback):
    """Stop training with one line (`TrainingDiverged`) as soon as the training loss or a
    validation metric is NaN or infinite, before anything is saved from such weights."""

    def __init__(self, metrics: tuple[str, ...] = ("val/psnr", "val/ssim")) -> None:
        self.metrics = tuple(metrics)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        # Reading the loss waits for a GPU; there, look every log_every_n_steps (NaN weights
        # are never saved in between: SafeCheckpoint refuses them).
        if loss.device.type != "cpu" and trainer.global_step % trainer.log_every_n_steps:
            return
        if not math.isfinite(float(loss)):
            self._stop(trainer, f"the training loss is {float(loss)}")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for name in self.metrics:
            value = trainer.callback_metrics.get(name)
            if value is not None and not math.isfinite(float(value)):
                self._stop(trainer, f"{name} is {float(value)}")

    @staticmethod
    def _stop(trainer: pl.Trainer, what: str) -> None:
        raise TrainingDiverged(f"training diverged: {what} at epoch {trainer.current_epoch}, step "
                               f"{trainer.global_step}; {_last_checkpoint(trainer)} (try a lower optim.lr)")
