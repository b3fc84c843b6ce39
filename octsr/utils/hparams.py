"""Send a run's hyperparameters to the loggers, with the metrics TensorBoard's HPARAMS view
shows next to them."""

from __future__ import annotations

from typing import Any, Mapping

from lightning_fabric.utilities.rank_zero import rank_zero_only
from omegaconf import DictConfig, OmegaConf
from pytorch_lightning.loggers import TensorBoardLogger

from octsr.metrics import METRICS
from octsr.utils.lightning_private import event_writer, flat_hyperparameters

# HPARAMS columns -> the run metric each one reports at the end: the best val PSNR, the val
# SSIM, and the test scores of the headline metrics (octsr.metrics.METRICS). Kept under
# `hp/`: TensorBoard lists a session's scalars by name and shows the first five, so these
# come right after `epoch`, and copies of the final values keep the val/test curves free of
# extra points.
HPARAM_METRICS = {
    "hp/val_psnr_best": "val/psnr_best",
    "hp/val_ssim": "val/ssim",
    **{f"hp/test_{metric.name}": f"test/{metric.name}" for metric in METRICS if metric.headline},
}


def _settings(node: Mapping[str, Any] | None) -> dict[str, Any]:
    """A config node's own settings: Hydra's plumbing (_target_, _partial_) left out."""
    return {k: v for k, v in (node or {}).items() if not str(k).startswith("_")}


def run_hparams(cfg: DictConfig, model) -> dict[str, Any]:
    """What defines a run: model, network, optimizer and schedule, data protocol, trainer
    limits, seed. Nested; the loggers flatten it (TensorBoard shows `optim/lr`)."""
    container = OmegaConf.to_container(cfg, resolve=True)
    return {
        "model": cfg.model.net._target_.rsplit(".", 1)[-1],
        "net": _settings(container["model"]["net"]),
        "residual": bool(container["model"].get("residual", False)),
        "loss": {"name": (container.get("loss") or {}).get("_target_", "torch.nn.MSELoss").rsplit(".", 1)[-1],
                 **_settings(container.get("loss"))},
        "optim": _settings(container.get("optim")),
        "scheduler": (container.get("scheduler") or {}).get("_target_", "constant").rsplit(".", 1)[-1],
        "data": {"name": container["data"].get("name"), "batch_size": container["data"].get("batch_size"),
                 "protocol": _settings(container["data"].get("protocol"))},
        "trainer": {k: container["trainer"].get(k) for k in ("max_epochs", "max_steps", "precision")},
        "seed": cfg.get("seed"),
        "parameters": model.parameter_count,
    }


def log_hyperparameters(cfg: DictConfig, model, loggers) -> None:
    params = run_hparams(cfg, model)
    for logger in loggers:
        logger.log_hyperparams(params)  # hparams.yaml; the parameters of other loggers
        if isinstance(logger, TensorBoardLogger):
            write_hparams_session(logger, params)


@rank_zero_only  # the other processes of a multi-GPU run have no event file
def write_hparams_session(logger: TensorBoardLogger, params: Mapping[str, Any]) -> None:
    """The run's hyperparameters as a TensorBoard HPARAMS session, and nothing more.

    Lightning also writes an experiment record, naming every metric with a NaN placeholder
    point. TensorBoard takes the first run's experiment record it finds, in which no
    hyperparameter differs, and shows its first five alphabetically (`data/batch_size`, ...).
    Without one, it compares the sessions of all runs and shows the hyperparameters that
    differ first (`model`, `optim/lr` in a sweep), and takes the metrics from the runs'
    scalars (tensorboard/plugins/hparams/backend_context.py)."""
    from torch.utils.tensorboard.summary import hparams

    flat = flat_hyperparameters(logger, params)
    _, session_start, session_end = hparams(flat, {})
    writer = event_writer(logger)
    writer.add_summary(session_start)
    writer.add_summary(session_end)


def log_final_metrics(metrics: Mapping[str, Any], loggers, step: int) -> None:
    final = {hp: float(metrics[name]) for hp, name in HPARAM_METRICS.items() if name in metrics}
    for logger in loggers:
        logger.log_metrics(final, step=step)
        logger.finalize("success")
