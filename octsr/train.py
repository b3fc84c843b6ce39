"""Train a restoration model, then test it: `python -m octsr.train model=srcnn optim.lr=0.0002`.

Composes conf/train.yaml, builds datamodule, model, callbacks, loggers and trainer from it,
fits, and tests the best checkpoint.
"""

from __future__ import annotations

import logging
from typing import Any

import hydra
from omegaconf import DictConfig

import octsr  # noqa: F401  (sets environment defaults before albumentations is imported)
from octsr.errors import ConfigError
from octsr.models.architecture import ARCHITECTURE_KEY, architecture_difference, architecture_record
from octsr.settings import TrainSettings, check_settings
from octsr.utils.cli import command

# torch and Lightning are imported where the work starts, after the settings are checked,
# so `--help` and a mistyped setting answer at once instead of after seconds of imports.

log = logging.getLogger(__name__)


def check_checkpoint_fits(path: str, cfg: DictConfig) -> int:
    """Fail early, in one line, if the checkpoint is unreadable, of another network, or
    (to resume training) holds no training state or has nothing left to train.
    Returns the checkpoint's global step."""
    from octsr.models.checkpoint import read_checkpoint

    checkpoint = read_checkpoint(path)
    difference = architecture_difference(checkpoint[ARCHITECTURE_KEY], architecture_record(cfg.model))
    if difference:
        raise ConfigError(f"ckpt_path={path} holds {difference}; pick the model= and data.input_frames "
                          f"it was trained with")
    if not cfg.get("train", True):
        return int(checkpoint.get("global_step", 0))
    if "loops" not in checkpoint or "optimizer_states" not in checkpoint:
        raise ConfigError(f"ckpt_path={path} holds weights only (no optimizer or loop state), so "
                          f"training cannot resume from it; resume from a run's checkpoints/last.ckpt, "
                          f"or test these weights with train=false")
    epochs_done = checkpoint["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"]
    max_epochs, max_steps = cfg.trainer.get("max_epochs"), cfg.trainer.get("max_steps") or -1
    limit = (f"trainer.max_epochs={max_epochs}" if max_epochs not in (None, -1) and epochs_done >= max_epochs
             else f"trainer.max_steps={max_steps}" if 0 < max_steps <= checkpoint["global_step"] else None)
    if limit:
        raise ConfigError(f"ckpt_path={path} has already trained {epochs_done} epoch(s), "
                          f"{checkpoint['global_step']} steps: nothing is left under {limit}; raise "
                          f"it to train on, or test the checkpoint with train=false")
    return int(checkpoint["global_step"])


def train(cfg: DictConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fit and test as `cfg` says. Returns (metrics, objects built)."""
    import pytorch_lightning as pl

    from octsr.data.intensity import training_domain
    from octsr.utils.hparams import log_final_metrics, log_hyperparameters
    from octsr.utils.instantiators import instantiate_callbacks, instantiate_loggers

    resumed_at = check_checkpoint_fits(cfg.ckpt_path, cfg) if cfg.get("ckpt_path") else None
    if not cfg.get("train", True) and cfg.get("test", True) and not cfg.get("ckpt_path"):
        raise ConfigError("train=false tests a trained model: give it as ckpt_path=<checkpoint>")
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)

    log.info("Instantiating datamodule <%s>", cfg.data._target_)
    datamodule: pl.LightningDataModule = hydra.utils.instantiate(cfg.data)
    log.info("Instantiating model <%s> with net <%s>", cfg.model._target_, cfg.model.net._target_)
    # Built as a partial and called here, so Hydra does not instantiate the record's configs.
    build_model = hydra.utils.instantiate(cfg.model, _partial_=True)
    model: pl.LightningModule = build_model(architecture=architecture_record(cfg.model, training_domain(cfg.data)))
    if cfg.get("init_from") and not cfg.get("ckpt_path"):
        from pathlib import Path

        from octsr.models.checkpoint import initial_weights
        from octsr.weights import SHIPPED, shipped_weights

        name = str(cfg.init_from)
        source = shipped_weights(name) if name in SHIPPED else Path(name).expanduser()
        model.load_state_dict(initial_weights(source, model.architecture, f"init_from={name}"), strict=False)
        log.info("Starting from the weights of init_from=%s", cfg.init_from)
    callbacks = instantiate_callbacks(cfg.get("callbacks"))
    loggers = instantiate_loggers(cfg.get("logger"))
    log.info("Instantiating trainer <%s>", cfg.trainer._target_)
    trainer: pl.Trainer = hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    objects = dict(cfg=cfg, datamodule=datamodule, model=model, callbacks=callbacks,
                   loggers=loggers, trainer=trainer)
    log_hyperparameters(cfg, model, loggers)

    if cfg.get("train", True):
        trainer.fit(model=model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"),
                    weights_only=True)
        if resumed_at is not None and trainer.global_step == resumed_at:
            log.warning("resumed from %s but trained no step: it had already reached the "
                        "trainer's limits (raise trainer.max_epochs or max_steps)", cfg.ckpt_path)
    metrics = dict(trainer.callback_metrics)

    if cfg.get("test", True):
        if cfg.get("train", True):
            ckpt_path = getattr(trainer.checkpoint_callback, "best_model_path", "") or None
            if ckpt_path is None:
                log.warning("No best checkpoint found; testing the weights as they are now")
        else:
            ckpt_path = cfg.ckpt_path
        log.info("Testing %s", ckpt_path or "current weights")
        trainer.test(model=model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        metrics.update(trainer.callback_metrics)

    log_final_metrics(metrics, loggers, step=trainer.global_step)
    log.info("Outputs in %s", cfg.paths.output_dir)
    return {k: float(v) for k, v in metrics.items()}, objects


def train_and_test(cfg: DictConfig) -> float | None:
    """The job of `python -m octsr.train`: the metric a sweeper optimizes (`optimized_metric`)."""
    check_settings(cfg, TrainSettings)  # before anything is loaded or built
    from octsr.utils.threads import configure_threads

    configure_threads(cfg.get("threads"))
    metrics, _ = train(cfg)
    optimized = cfg.get("optimized_metric")
    return metrics.get(optimized) if optimized else None


cli = command("train", train_and_test)  # `python -m octsr.train` and the `octsr-train` command


if __name__ == "__main__":
    cli()
