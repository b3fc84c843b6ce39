"""Sweeps: the one-command lr sweep, TensorBoard comparison, the report, failures, launchers."""

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

from hydra.types import RunMode

from octsr.report import report
from tests.conftest import CONF, compose_train, run_cli, tensorboard_server

# Named by the swept values only: not by `debug=tiny`, which every run shares.
EXPECTED_RUNS = sorted(f"{m}_lr{lr}" for m in ("cae", "srcnn")
                       for lr in ("0.0002", "0.0003", "0.0004", "0.0005", "0.0006"))


def test_one_command_makes_ten_readably_named_runs(lr_sweep):
    runs = sorted(p.name for p in lr_sweep.iterdir() if (p / ".hydra").is_dir())
    assert runs == EXPECTED_RUNS
    for run in runs:
        assert (lr_sweep / run / "test_metrics.csv").is_file()


def get_json(url: str, data: bytes | None = None):
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_tensorboard_serves_each_run_with_val_psnr_and_hparams(lr_sweep):
    with tensorboard_server(lr_sweep) as base:
        runs: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sorted(runs) != EXPECTED_RUNS:
            time.sleep(1)
            try:
                runs = get_json(f"{base}/data/runs")
            except OSError:
                continue
        assert sorted(runs) == EXPECTED_RUNS
        for run in runs:
            query = urllib.parse.urlencode({"run": run, "tag": "val/psnr"})
            points = get_json(f"{base}/data/plugin/scalars/scalars?{query}")
            assert points and all(0 < value < 100 for _, _, value in points)
        experiment = get_json(f"{base}/data/plugin/hparams/experiment", data=b'{"experimentName": ""}')
        hparams = {h["name"] for h in experiment["hparamInfos"]}
        metrics = {m["name"]["tag"] for m in experiment["metricInfos"]}
        assert {"model", "optim/lr", "net/width", "seed"} <= hparams
        # what differs between the runs comes first: TensorBoard shows the first five unticked
        differing = [h["name"] for h in experiment["hparamInfos"] if h.get("differs")]
        assert {"model", "optim/lr"} <= set(differing) and len(differing) <= 5, differing
        assert [h["name"] for h in experiment["hparamInfos"][:len(differing)]] == differing
        assert {"hp/val_psnr_best", "hp/test_psnr", "hp/test_ssim"} <= metrics


def report_main(paths: list[str], *overrides: str) -> None:
    """octsr.report in this process, on its real config."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        report(compose(config_name="report", overrides=[f"runs=[{','.join(paths)}]", *overrides]))


def test_report_tables_and_plots(lr_sweep, tmp_path, capsys):
    report_main([str(lr_sweep)], f"out={tmp_path}")
    table = (tmp_path / "results.md").read_text().splitlines()
    assert len(table) == 2 + 10
    assert sum("| done |" in line for line in table) == 10
    csv_rows = (tmp_path / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 10
    for image in ("metrics_vs_lr.png", "panel.png"):
        data = (tmp_path / image).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_a_failing_run_does_not_stop_the_sweep(tmp_path):
    # A huge learning rate turns the weights and the loss into NaN in the first steps.
    result = run_cli("octsr.train", "-m", "model=srcnn", "optim.lr=1e30,0.001", "debug=tiny",
                     f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"octsr: sweep folder {tmp_path}" in result.stdout  # said first, and the next step last
    assert f"compare its runs with: python -m octsr.report {tmp_path}" in result.stdout
    failed = tmp_path / "lr1e+30"
    assert "training diverged: the training loss is nan" in (failed / "FAILED.txt").read_text()
    assert (tmp_path / "lr0.001" / "test_metrics.csv").is_file()
    report_main([str(tmp_path)], f"out={tmp_path / 'report'}", "panel=false")
    table = (tmp_path / "report" / "results.md").read_text()
    assert "failed: training diverged: the training loss is nan at epoch 0" in table
    assert "| done |" in table


def test_report_reads_half_written_and_damaged_runs(lr_sweep, tmp_path):
    import shutil

    runs = sorted(p for p in lr_sweep.iterdir() if (p / ".hydra").is_dir())[:5]
    copies = [Path(shutil.copytree(run, tmp_path / "sweep" / run.name)) for run in runs]
    (copies[0] / ".hydra" / "hydra.yaml").unlink()  # a run without Hydra's own record
    metrics = copies[1] / "test_metrics.csv"
    metrics.write_text(metrics.read_text()[:40])  # killed while writing its test results
    (copies[2] / "FAILED.txt").write_text("")  # killed while recording its failure
    (copies[3] / ".hydra" / "config.yaml").write_text("model: [unclosed")  # damaged config
    result = run_cli("octsr.report", str(tmp_path / "sweep"), f"out={tmp_path / 'report'}")
    assert result.returncode == 0, result.stderr[-3000:]
    table = (tmp_path / "report" / "results.md").read_text()
    row = {line.split("|")[-2].strip(): line for line in table.splitlines()[2:]}
    assert "| cae |" in row[copies[0].name] and "| done |" in row[copies[0].name]
    assert "unfinished (test_metrics.csv is incomplete)" in row[copies[1].name]
    assert "failed: (no reason written)" in row[copies[2].name]
    assert "unreadable .hydra/config.yaml" in row[copies[3].name]
    assert "| done |" in row[copies[4].name]
    assert (tmp_path / "report" / "panel.png").is_file()


def test_report_lists_the_fold_runs_of_a_crossval_folder(lr_sweep, tmp_path):
    """A cross-validation folder is not a training run itself (its Hydra config is the
    cross-validation's): its fold runs below it are listed, each once."""
    import shutil

    runs = sorted(p for p in lr_sweep.iterdir() if (p / ".hydra").is_dir())[:3]
    folder = tmp_path / "crossval"
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "config.yaml").write_text("task_name: crossval\nfolds: 3\n")
    for k, run in enumerate(runs):
        shutil.copytree(run, folder / "unet" / f"fold{k}")
    report_main([str(folder)], f"out={tmp_path / 'report'}", "panel=false")
    table = (tmp_path / "report" / "results.md").read_text()
    listed = [line.split("|")[-2].strip() for line in table.splitlines()[2:]]
    assert listed == ["unet/fold0", "unet/fold1", "unet/fold2"] and "unfinished" not in table
    # The same folder's report may be made again; another folder's report into the same
    # place is refused, the first one kept.
    report_main([str(folder)], f"out={tmp_path / 'report'}", "panel=false")
    result = run_cli("octsr.report", str(folder / "unet" / "fold0"), f"out={tmp_path / 'report'}", "panel=false")
    assert result.returncode == 2 and "already exist" in result.stderr and "overwrite=true" in result.stderr
    assert (tmp_path / "report" / "results.md").read_text() == table


def test_plain_override_lists_sweep_in_parallel_with_threads_split(tmp_path):
    """The default launcher runs two at a time, each with half the cores."""
    import os

    result = run_cli("octsr.train", "-m", "model=srcnn", "optim.lr=0.0002,0.0004", "debug=tiny",
                     f"hydra.sweep.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["lr0.0002", "lr0.0004"]
    threads = max(1, (os.cpu_count() or 1) // 2)
    logs = [(run / "train.log").read_text() for run in tmp_path.iterdir() if (run / "train.log").is_file()]
    assert len(logs) == 2 and all(f"torch uses {threads} CPU threads" in log for log in logs)
    # a sweep run's checkpoint is a plain override, unquoted
    ckpt = tmp_path / "lr0.0004" / "checkpoints" / "last.ckpt"
    tested = run_cli("octsr.train", "debug=tiny", "train=false", f"ckpt_path={ckpt}",
                     f"hydra.run.dir={tmp_path}/retest")
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert (tmp_path / "retest" / "test_metrics.csv").is_file()


def test_ddp_on_two_cpu_processes(tmp_path):
    result = run_cli("octsr.train", "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
                     "debug=tiny", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "MEMBER: 2/2" in result.stderr + result.stdout
    rows = (tmp_path / "test_metrics.csv").read_text().splitlines()
    # Both test images, though each process tested one of them.
    assert [r.split(",")[0] for r in rows] == ["image", "phantom_003", "phantom_004", "mean"]


def test_slurm_and_optuna_configs_compose():
    from hydra import compose, initialize_config_dir

    from tests.conftest import CONF

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        slurm = compose("train", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
        optuna = compose("train", overrides=["hparams_search=optuna"], return_hydra_config=True)
    assert slurm.hydra.launcher._target_.endswith("SlurmLauncher")
    assert slurm.hydra.launcher.gpus_per_node == 1
    assert optuna.hydra.sweeper._target_.endswith("OptunaSweeper")
    assert optuna.hydra.sweeper.direction == "maximize"
    assert set(optuna.hydra.sweeper.params) == {"optim.lr", "model.net.width"}
    assert optuna.optimized_metric == "val/psnr_best"
    gpu = compose_train("trainer=gpu")
    assert gpu.trainer.precision == "32-true" and gpu.trainer.accelerator == "gpu"


def test_optuna_search_runs_trials(tmp_path):
    result = run_cli("octsr.train", "-m", "hparams_search=optuna", "model=srcnn", "debug=tiny",
                     "hydra.sweeper.n_trials=3", "hydra.sweeper.sampler.n_startup_trials=2",
                     "trainer.limit_train_batches=1", f"hydra.sweep.dir={tmp_path}", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    best = (tmp_path / "optimization_results.yaml").read_text()
    assert "best_params" in best and "model.net.width" in best


def test_threads_per_run_follow_the_launcher(monkeypatch):
    from octsr.utils import threads

    monkeypatch.setattr(threads.os, "cpu_count", lambda: 16)
    for n_jobs, expected in ((2, 2), (4, 4), (-1, 16), (None, 1)):
        monkeypatch.setattr(threads, "HydraConfig", _FakeHydra(n_jobs))
        assert threads.runs_in_parallel() == expected
    # A single run keeps every core, whatever launcher a sweep would use.
    monkeypatch.setattr(threads, "HydraConfig", _FakeHydra(2, mode=RunMode.RUN))
    assert threads.runs_in_parallel() == 1


class _FakeHydra:
    def __init__(self, n_jobs, mode=None):
        from hydra.types import RunMode

        self.n_jobs, self.mode = n_jobs, mode or RunMode.MULTIRUN

    def initialized(self):
        return True

    def get(self):
        from omegaconf import OmegaConf

        return OmegaConf.create({"mode": self.mode,
                                 "launcher": {} if self.n_jobs is None else {"n_jobs": self.n_jobs}})


def test_the_learning_rate_axis_is_ticked_at_the_rates_tried(tmp_path, monkeypatch):
    """One rate alone gets one readable tick, not matplotlib's labels 1e-8 apart running into each other."""
    import matplotlib.pyplot as plt

    from octsr.report_figures import plot_metrics_vs_lr

    ticks = []
    monkeypatch.setattr(plt, "close", lambda fig: ticks.append([t.get_text() for t in fig.axes[0].get_xticklabels()]))
    row = {"model": "srcnn", "test_psnr": 25.1, "test_ssim": 0.62, "val_psnr_best": 25.3, "val_ssim": 0.63}
    plot_metrics_vs_lr([{**row, "lr": 0.0002}], tmp_path / "one.png")
    plot_metrics_vs_lr([{**row, "lr": lr} for lr in (0.0002, 0.0004, 0.0006)], tmp_path / "three.png")
    assert ticks == [["0.0002"], ["0.0002", "0.0004", "0.0006"]]
