"""A run never loses work: checkpoints are never written from NaN weights, last.ckpt is the
latest state, nothing is left truncated under a real name, run folders never collide."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import open_dict

from octsr.errors import TrainingDiverged
from octsr.train import train
from octsr.utils.run_dirs import fresh_dir
from tests.conftest import REPO, run_cli
from tests.test_train import one_line_error


def checkpoint_files(run: Path) -> list[Path]:
    return sorted((run / "checkpoints").glob("*")) if (run / "checkpoints").is_dir() else []


def all_finite(path: Path) -> bool:
    state = torch.load(path, weights_only=True)["state_dict"]
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


class PoisonWeights(pl.Callback):
    """Turns one weight to NaN when `epoch` starts: a run that diverges mid-way."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            with torch.no_grad():
                next(pl_module.net.parameters()).view(-1)[0] = float("nan")


def test_divergence_stops_the_run_and_keeps_the_last_finite_checkpoint(tiny_cfg, tmp_path, monkeypatch):
    import octsr.utils.instantiators as instantiators

    with open_dict(tiny_cfg):
        tiny_cfg.trainer.max_epochs = 3
    real = instantiators.instantiate_callbacks
    monkeypatch.setattr("octsr.utils.instantiators.instantiate_callbacks",
                        lambda cfg: [*real(cfg), PoisonWeights(epoch=1)])
    with pytest.raises(TrainingDiverged, match=r"training diverged: the training loss is nan at "
                                               r"epoch 1.*the last finite checkpoint is .*last\.ckpt"):
        train(tiny_cfg)
    files = checkpoint_files(tmp_path)
    assert files and not [f for f in files if "nan" in f.name or f.name.startswith(".")], files
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert all_finite(last)
    assert torch.load(last, weights_only=True)["epoch"] == 0


def test_a_diverging_learning_rate_is_one_line_and_saves_nothing(tmp_path):
    result = run_cli("octsr.train", "debug=tiny", "optim.lr=1e30", f"hydra.run.dir={tmp_path}/run")
    assert one_line_error(result).startswith("octsr: error: training diverged:")
    assert all(all_finite(f) for f in checkpoint_files(tmp_path / "run") if f.suffix == ".ckpt")


def test_last_ckpt_is_the_latest_epoch_even_when_the_best_is_older(tmp_path):
    # mode=min keeps the worst validation as "best", so it is not the last epoch.
    result = run_cli("octsr.train", "debug=tiny", "trainer.max_epochs=4",
                     "callbacks.model_checkpoint.mode=min", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"octsr: run folder {tmp_path}/run\n")
    files = {f.name: torch.load(f, weights_only=True) for f in checkpoint_files(tmp_path / "run")}
    assert files["last.ckpt"]["epoch"] == 3
    # Saved after the last validation too: its loop state says all 4 epochs are done.
    assert files["last.ckpt"]["loops"]["fit_loop"]["epoch_progress"]["current"]["processed"] == 4
    best = [c for name, c in files.items() if name != "last.ckpt"]
    assert len(best) == 1 and best[0]["global_step"] <= files["last.ckpt"]["global_step"]


def test_last_ckpt_is_refreshed_every_n_steps(tiny_cfg, monkeypatch):
    from octsr.callbacks import SafeCheckpoint

    steps = []
    real = SafeCheckpoint._save_last_checkpoint

    def spy(self, trainer, candidates):
        steps.append(trainer.global_step)
        real(self, trainer, candidates)

    monkeypatch.setattr(SafeCheckpoint, "_save_last_checkpoint", spy)
    with open_dict(tiny_cfg):
        tiny_cfg.callbacks.model_checkpoint.last_every_n_steps = 1
    _, objects = train(tiny_cfg)
    final = objects["trainer"].global_step
    assert final >= 3 and set(range(1, final + 1)) <= set(steps), steps


def test_a_full_disk_leaves_no_truncated_checkpoint(tiny_cfg, tmp_path, monkeypatch):
    real = pl.Trainer.save_checkpoint

    def disk_full(self, filepath, weights_only=False, storage_options=None):
        Path(filepath).parent.mkdir(parents=True, exist_ok=True)
        Path(filepath).write_bytes(b"\0" * 16384)  # what a half-written file looks like
        raise OSError(errno.ENOSPC, "No space left on device", str(filepath))

    monkeypatch.setattr(pl.Trainer, "save_checkpoint", disk_full)
    with pytest.raises(OSError, match="No space left"):
        train(tiny_cfg)
    monkeypatch.setattr(pl.Trainer, "save_checkpoint", real)
    assert checkpoint_files(tmp_path) == []  # neither a .ckpt nor a leftover partial file


def test_resuming_needs_a_training_checkpoint_with_work_left(trained_tiny, tmp_path):
    from octsr.models.checkpoint import load_model, save_weights

    best = trained_tiny["best"]
    weights = tmp_path / "weights.pt"
    save_weights(load_model(best), weights)
    finished = Path(best).parent / "last.ckpt"
    for ckpt, expected in ((weights, "holds weights only"), (finished, "has already trained 1 epoch(s)")):
        result = run_cli("octsr.train", "debug=tiny", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path}/r")
        assert expected in one_line_error(result)


def test_a_resumed_epoch_is_not_timed_as_the_whole_run(tiny_cfg, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    with open_dict(tiny_cfg):
        tiny_cfg.trainer.max_steps = 2  # stop mid-way through epoch 0
        tiny_cfg.callbacks.model_checkpoint.last_every_n_steps = 1
        tiny_cfg.test = False
    train(tiny_cfg)
    resumed = tiny_cfg.copy()
    with open_dict(resumed):
        resumed.trainer.max_steps = -1
        resumed.trainer.max_epochs = 2
        resumed.ckpt_path = str(tmp_path / "checkpoints" / "last.ckpt")
        resumed.paths.output_dir = str(tmp_path / "resumed")
    _, objects = train(resumed)
    assert objects["trainer"].current_epoch == 2
    events = EventAccumulator(str(tmp_path / "resumed"))
    events.Reload()
    epochs = [e.value for e in events.Scalars("time/train_epoch_s")]
    assert len(epochs) == 1 and 0 < epochs[0] < 60, epochs  # epoch 1 only; epoch 0 was partial


def test_fresh_dir_never_hands_out_a_folder_twice(tmp_path):
    names = [fresh_dir(str(tmp_path / "run")) for _ in range(3)]
    assert names == [str(tmp_path / "run"), str(tmp_path / "run_2"), str(tmp_path / "run_3")]


def test_runs_and_sweeps_started_together_get_their_own_folders(tmp_path):
    # Both ask for the same folder name at once, as two runs started in one second do.
    common = ["train=false", "test=false", "debug=tiny", "hydra/launcher=basic"]
    commands = [[sys.executable, "-m", "octsr.train", *common, "hydra.run.dir=${fresh_dir:%s}" % (tmp_path / "run")]
                for _ in range(2)]
    commands += [[sys.executable, "-m", "octsr.train", "-m", *common, "seed=1",
                  "hydra.sweep.dir=${fresh_dir:%s}" % (tmp_path / "sweep")] for _ in range(2)]
    procs = [subprocess.Popen(c, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for c in commands]
    for proc in procs:
        assert proc.wait(timeout=300) == 0, proc.stderr.read()[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "run_2", "sweep", "sweep_2"]
    for folder in ("run", "run_2"):
        assert (tmp_path / folder / ".hydra" / "config.yaml").is_file()
    for folder in ("sweep", "sweep_2"):
        assert len(list((tmp_path / folder).glob("*/.hydra/config.yaml"))) == 1
