"""Every logger config: a tiny run through the CLI, and what each logger wrote."""

from __future__ import annotations

import csv

import pytest

from tests.conftest import run_cli


def test_csv_logger_writes_metrics_and_hyperparameters(tmp_path):
    result = run_cli("octsr.train", "debug=tiny", "logger=csv", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert any(row.get("test/psnr") for row in rows) and any(row.get("val/psnr") for row in rows)
    assert "optim:" in (tmp_path / "hparams.yaml").read_text()
    assert not list(tmp_path.glob("events.out.tfevents.*"))


def test_two_loggers_at_once(tmp_path):
    result = run_cli("octsr.train", "debug=tiny", "logger=[tensorboard,csv]", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "metrics.csv").is_file() and list(tmp_path.glob("events.out.tfevents.*"))


def test_wandb_logger_stays_offline_in_the_run_folder(tmp_path):
    pytest.importorskip("wandb", reason="the wandb extra is not installed")
    env_free = {"WANDB_MODE": None, "WANDB_API_KEY": None}  # as on a machine never logged in
    result = run_cli("octsr.train", "debug=tiny", "logger=wandb", f"hydra.run.dir={tmp_path}", env=env_free)
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    assert list(run.glob("*.wandb"))


def test_mlflow_logger_records_params_and_metrics(tmp_path):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    from mlflow.tracking import MlflowClient

    result = run_cli("octsr.train", "debug=tiny", "logger=mlflow", f"paths.log_dir={tmp_path}",
                     f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("octsr").experiment_id])
    assert run.data.params["model"] == "SRCNN" and float(run.data.params["optim/lr"]) == 0.0002
    assert 0 < run.data.metrics["test/psnr"] < 100
