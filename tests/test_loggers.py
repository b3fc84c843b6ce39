"""Every logger config: a tiny run through the CLI, and what each logger wrote."""

from __future__ import annotations

import csv
import importlib.util

import pytest

from tests.conftest import run_cli_batch


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """One tiny run per logger setting (one process for all of them), by name: (folder, result)."""
    root = tmp_path_factory.mktemp("loggers")
    commands = {"csv": ["logger=csv"], "both": ["logger=[tensorboard,csv]"]}
    if importlib.util.find_spec("mlflow"):
        commands["mlflow"] = ["logger=mlflow", f"paths.log_dir={root / 'mlflow'}"]
    if importlib.util.find_spec("wandb"):  # last: it leaves a background service behind
        commands["wandb"] = ["logger=wandb"]
    # as on a machine never logged in to wandb
    results = run_cli_batch([("octsr.train", "debug=tiny", *extra, f"hydra.run.dir={root / name}")
                             for name, extra in commands.items()], env={"WANDB_MODE": None, "WANDB_API_KEY": None})
    return {name: (root / name, result) for name, result in zip(commands, results)}


def test_csv_logger_writes_metrics_and_hyperparameters(runs):
    folder, result = runs["csv"]
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((folder / "metrics.csv").open()))
    assert any(row.get("test/psnr") for row in rows) and any(row.get("val/psnr") for row in rows)
    assert "optim:" in (folder / "hparams.yaml").read_text()
    assert not list(folder.glob("events.out.tfevents.*"))


def test_two_loggers_at_once(runs):
    folder, result = runs["both"]
    assert result.returncode == 0, result.stderr[-3000:]
    assert (folder / "metrics.csv").is_file() and list(folder.glob("events.out.tfevents.*"))


def test_wandb_logger_stays_offline_in_the_run_folder(runs):
    if "wandb" not in runs:
        pytest.skip("the wandb extra is not installed")
    folder, result = runs["wandb"]
    assert result.returncode == 0, result.stderr[-3000:]
    (run,) = (folder / "wandb").glob("offline-run-*")
    assert list(run.glob("*.wandb"))


def test_mlflow_logger_records_params_and_metrics(runs):
    if "mlflow" not in runs:
        pytest.skip("the mlflow extra is not installed")
    from mlflow.tracking import MlflowClient

    folder, result = runs["mlflow"]
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(f"sqlite:///{folder}/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("octsr").experiment_id])
    assert run.data.params["model"] == "SRCNN" and float(run.data.params["optim/lr"]) == 0.0002
    assert 0 < run.data.metrics["test/psnr"] < 100
