"""One LightningModule for every restoration network: a loss on patches, metrics on whole images."""

from __future__ import annotations

import logging
from typing import Any, Callable

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import TensorBoardLogger
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric

from octsr.metrics import METRIC_NAMES, METRICS, NOISY_SUFFIX, score_batch
from octsr.models.architecture import ARCHITECTURE_KEY, input_frames
from octsr.tiling import SlidingWindowInferer, TiledInferer

log = logging.getLogger(__name__)


def primary_frame(noisy: Tensor) -> Tensor:
    """The frame being restored, (B, 1, H, W), of an input whose channels are noisy frames of
    one place (`data.input_frames`; the primary frame first, the others only add evidence)."""
    return noisy[:, :1]


class RestorationModule(pl.LightningModule):
    """Noisy B-scan in [0, 1] -> restored B-scan in [0, 1].

    `forward` standardizes the input with the training set's mean and std (buffers, so they
    travel in the checkpoint), runs the network, and applies a sigmoid, or, with `residual`,
    subtracts the network's output (the predicted noise) from the input. Training uses
    patches; validation and test use whole images, through `inferer` when the network has
    a fixed input size (CAE) or directly when it is fully convolutional (SRCNN).

    Args:
        net: a plain nn.Module mapping (B, frames, h, w) to (B, 1, h, w) logits.
        optimizer: a partial optimizer (Hydra `_partial_: true`), called with the parameters
            (None for a model that is only applied).
        inferer: whole-image strategy, or None to run `net` on whole images as they are.
        scheduler: a partial learning-rate scheduler stepped every optimizer step, or None
            for a constant rate; a `T_max` left None is filled with the run's total steps
            (so a cosine schedule ends at the end of training whatever the data size).
        log_images: log a noisy | output | target panel of the first val image at each validation.
        loss: the training loss (output, target) -> scalar (`conf/loss/`); None: MSE, the paper's.
        residual: the network predicts the noise instead of the clean image (`restore_patches`).
        match_input_mean: shift each whole restored image so its mean brightness is its
            input's. Averaging frames does not change the mean, but Duke's averaged targets
            are shifted in brightness against their scans, with no sign in the input of which
            way (experiments/unseen_scans); a network learns its train subjects' shifts and
            applies them to new scans. The shift is applied to
            validation, test and inference, not to training patches.
    """

    def __init__(self, net: nn.Module, optimizer: Callable[..., torch.optim.Optimizer] | None,
                 inferer: SlidingWindowInferer | None = None, log_images: bool = True,
                 scheduler: Callable[..., Any] | None = None, loss: nn.Module | None = None,
                 residual: bool = False, match_input_mean: bool = False,
                 architecture: dict[str, Any] | None = None) -> None:
        super().__init__()
        # Only plain values go in the checkpoint's hyperparameters: it must load with
        # weights_only=True, which refuses pickled objects such as the optimizer partial.
        self.save_hyperparameters(logger=False, ignore=["net", "optimizer", "inferer", "scheduler", "loss",
                                                         "architecture"])
        # channels_last puts a pixel's feature maps side by side, the layout oneDNN's CPU
        # convolutions are fastest in (experiments/speed measures the step). Only 4-D
        # weights change layout; the values are the same.
        self.net = net.to(memory_format=torch.channels_last)
        # A network that keeps many feature maps at full resolution (SRCNN) asks for whole
        # images in tiles (`inference_tile`), with a halo of its full reach: the same output,
        # in a fraction of the memory (experiments/speed records the peak RSS).
        tile = getattr(net, "inference_tile", None)
        self.whole_image_tiler = TiledInferer.for_network(net, tile, halo=0, window=inferer) if tile else None
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.inferer = inferer
        self.loss = loss if loss is not None else nn.MSELoss()
        self.residual = residual
        self.match_input_mean = match_input_mean
        # Saved in every checkpoint, so the model can be rebuilt from the file alone
        # (octsr.models.architecture); plain containers, as weights_only loading requires.
        self.architecture = architecture
        self.register_buffer("input_mean", torch.tensor(0.0))
        self.register_buffer("input_std", torch.tensor(1.0))
        # The training loss summed over the steps since it was last logged (a tensor, so
        # no step waits on a device or pays for a Metric's bookkeeping; `training_step`).
        self._loss_window: Tensor | None = None
        self._window_steps = 0
        # Val and test images are scored one by one by every metric of octsr.metrics.METRICS
        # and averaged; the test step scores the noisy input the same way.
        self.val_scores = nn.ModuleDict({name: MeanMetric() for name in METRIC_NAMES})
        self.test_scores = nn.ModuleDict({f"{name}{suffix}": MeanMetric() for name in METRIC_NAMES
                                          for suffix in ("", NOISY_SUFFIX)})
        self.val_psnr_best = MaxMetric()
        self.val_psnr_best.persistent(True)  # saved in checkpoints, so a resumed run keeps it

    # -- inference -------------------------------------------------------------------------
    @property
    def parameter_count(self) -> int:
        """The network's weights: what every table calls a model's size."""
        return sum(p.numel() for p in self.net.parameters())

    @property
    def input_frames(self) -> int:
        """Noisy frames of one place per input image, as the architecture record says (1
        for a model built without one)."""
        return input_frames(self.architecture) if self.architecture else 1

    def restore_patches(self, noisy: Tensor) -> Tensor:
        """Inputs the network accepts as they are (training patches, or the inferer's
        windows), (B, frames, h, w) in [0, 1] -> (B, 1, h, w).

        The input is standardized with the training set's mean and std. Direct: a sigmoid
        maps the network's output to [0, 1]. Residual: the network predicts the noise (in
        standardized units), subtracted from the primary input frame, so what the network
        does not learn passes through unchanged (DnCNN); not clamped, so the loss keeps its
        gradient at the ends of the range (`forward` clamps whole images)."""
        standardized = ((noisy - self.input_mean) / self.input_std).contiguous(memory_format=torch.channels_last)
        # The output step in float32 even where the network ran in bfloat16
        # (octsr.inference.precision): 16-bit scans keep their fine grey levels.
        if self.residual:
            return primary_frame(noisy) - self.net(standardized).float() * self.input_std
        return torch.sigmoid(self.net(standardized).float())

    def forward(self, noisy: Tensor, tiler: TiledInferer | None = None) -> Tensor:
        """Whole images (B, frames, H, W) in [0, 1] -> restored (B, 1, H, W) in [0, 1].

        The network runs in `tiler`'s pieces (e.g. `octsr.enhance`'s tile setting; None: the
        network's own), each through the sliding window where the network has one; then
        each whole image is shifted to its input's mean brightness (`match_input_mean`) and
        clamped to [0, 1] (a sigmoid output already is)."""
        tiler = tiler or self.whole_image_tiler
        window = self.inferer  # a network of fixed input size runs in sliding windows of it
        piece = (lambda tile: window(tile, self.restore_patches)) if window is not None else self.restore_patches
        output = tiler(noisy, piece) if tiler is not None else piece(noisy)
        if self.match_input_mean:
            output = output + (primary_frame(noisy).mean(dim=(-2, -1), keepdim=True)
                               - output.mean(dim=(-2, -1), keepdim=True))
        return output.clamp(0.0, 1.0) if (self.residual or self.match_input_mean) else output

    # -- training --------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if stage == "fit" and getattr(datamodule, "noisy_mean", None) is not None:
            self.input_mean.fill_(datamodule.noisy_mean)
            self.input_std.fill_(datamodule.noisy_std)

    def on_train_start(self) -> None:
        # Sanity-check validation must not count towards the best score (a resumed run
        # keeps the best it restored).
        if self.global_step == 0:
            self.val_psnr_best.reset()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        output = self.restore_patches(batch["noisy"])
        loss = self.loss(output, batch["target"])
        self._log_loss(loss.detach(), batch_idx)
        return loss

    def _log_loss(self, loss: Tensor, batch_idx: int) -> None:
        """`train/loss`: the mean over the steps since the last log, logged on the steps the
        loggers write (every `log_every_n_steps`) and at the epoch's end; weighted by its
        step count, so `train/loss_epoch` is the mean of every step. `self.log` costs a
        fixed fraction of a millisecond (experiments/speed), too much to pay every step."""
        self._loss_window = loss if self._loss_window is None else self._loss_window + loss
        self._window_steps += 1
        trainer = self.trainer
        step = self.global_step + 1  # this step, counted as the loggers count it
        epoch_ends = batch_idx + 1 >= trainer.num_training_batches or \
            (trainer.max_steps is not None and 0 < trainer.max_steps <= step)
        if step % max(1, trainer.log_every_n_steps) and not epoch_ends:
            return
        self.log("train/loss", self._loss_window / self._window_steps, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=self._window_steps)
        self._loss_window, self._window_steps = None, 0

    def on_train_epoch_start(self) -> None:
        self._loss_window, self._window_steps = None, 0

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.architecture is not None:
            checkpoint[ARCHITECTURE_KEY] = self.architecture

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        extra = {}
        if "T_max" in getattr(self.scheduler_factory, "keywords", {}) and \
                self.scheduler_factory.keywords["T_max"] is None:
            extra["T_max"] = max(1, int(self.trainer.estimated_stepping_batches))
        scheduler = self.scheduler_factory(optimizer=optimizer, **extra)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # -- validation and test ---------------------------------------------------------------
    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        output = self(batch["noisy"])
        on_bar = {metric.name: metric.headline for metric in METRICS}
        for name, values in score_batch(output, batch["target"]).items():
            self.val_scores[name](values)
            self.log(f"val/{name}", self.val_scores[name], prog_bar=on_bar[name])
        if batch_idx == 0 and self.hparams.log_images:
            self._log_panel(batch, output)

    def on_validation_epoch_end(self) -> None:
        self.val_psnr_best(self.val_scores["psnr"].compute())
        self.log("val/psnr_best", self.val_psnr_best.compute(), prog_bar=False)

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        output = self(batch["noisy"])
        target, noisy = batch["target"], primary_frame(batch["noisy"])
        scores = {**score_batch(output, target),
                  **{f"{name}{NOISY_SUFFIX}": values for name, values in score_batch(noisy, target).items()}}
        for name, values in scores.items():
            self.test_scores[name](values)
            self.log(f"test/{name}", self.test_scores[name])
        # Per-image rows for the CSV writer callback.
        return {"name": list(batch["name"]), **{name: values.tolist() for name, values in scores.items()}}

    def _log_panel(self, batch: dict[str, Any], output: Tensor) -> None:
        if not isinstance(self.logger, TensorBoardLogger):
            return
        panel = torch.cat([primary_frame(batch["noisy"])[0], output[0], batch["target"][0]], dim=-1).clamp(0, 1)
        # One tag per image so TensorBoard's slider steps through the validations.
        self.logger.experiment.add_image(f"val/noisy_output_target/{batch['name'][0]}", panel,
                                         self.global_step)
