"""Send a run's hyperparameters to the loggers, with the metrics TensorBoard's HPARAMS view
shows next to them."""

from __future__ import annotations

from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

# HPARAMS columns -> the run metric each one reports at the end. Kept under `hp/` so the
# placeholder logged at the start (every run must carry the same keys for TensorBoard to
# compare them) never shows up in the val/test curves.
HPARAM_METRICS = {
    "hp/val_psnr_best": "val/psnr_best",
    "hp/val_ssim": "val/ssim",
    "hp/test_psnr": "test/psnr",
    "hp/test_ssim": "test/ssim",
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
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def log_hyperparameters(cfg: DictConfig, model, loggers) -> None:
    params = run_hparams(cfg, model)
    for logger in loggers:
        logger.log_hyperparams(params, metrics={k: float("nan") for k in HPARAM_METRICS})


def log_final_metrics(metrics: Mapping[str, Any], loggers, step: int) -> None:
    final = {hp: float(metrics[name]) for hp, name in HPARAM_METRICS.items() if name in metrics}
    for logger in loggers:
        logger.log_metrics(final, step=step)
        logger.finalize("success")
