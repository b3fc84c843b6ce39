"""Command-line conventions: help with examples, debug modes, experiment presets."""

from __future__ import annotations

import pytest
from omegaconf import open_dict
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from octsr.settings import TrainSettings, check_settings
from octsr.utils.cli import COMMANDS
from tests.conftest import REPO, compose_train, run_cli, tiny_train_config


@pytest.mark.parametrize("entry", COMMANDS)
def test_help_gives_examples_and_only_this_entry_points_settings(entry):
    result = run_cli(f"octsr.{entry}", "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    text = result.stdout
    assert f"python -m octsr.{entry} " in text  # at least one example command line
    assert "powered by Hydra" not in text and "_paired" not in text and "_target_" not in text
    if entry in ("enhance", "export", "report", "phantom"):
        assert "Config groups" not in text and "optim" not in text and "trainer" not in text
    if entry == "train":
        for model in (REPO / "conf" / "model").glob("[!_]*.yaml"):
            assert model.stem in text
        assert "+sweep          lr" in text and "srcnn*" in text and "phantom*" in text


def test_every_config_group_is_reachable_from_some_help():
    import yaml

    from octsr.utils.cli import ADDED_GROUPS

    composed = {group for entry in COMMANDS
                for item in yaml.safe_load((REPO / "conf" / f"{entry}.yaml").read_text())["defaults"]
                if isinstance(item, dict) for group in item}
    added = {group for groups in ADDED_GROUPS.values() for group in groups}
    groups = {p.name for p in (REPO / "conf").iterdir() if p.is_dir() and p.name not in ("hydra", "__pycache__")}
    assert groups <= composed | added, groups - composed - added


def test_debug_fdr_runs_one_batch_of_each(tmp_path):
    from octsr.train import train

    metrics, objects = train(tiny_train_config(tmp_path, debug="fdr"))
    assert objects["trainer"].global_step == 1
    assert "test/psnr" in metrics and (tmp_path / "test_metrics.csv").is_file()


def test_debug_overfit_drives_the_loss_down(tmp_path):
    from octsr.train import train

    cfg = tiny_train_config(tmp_path, debug="overfit")
    with open_dict(cfg):
        cfg.trainer.overfit_batches = 1
        cfg.optim.lr = 0.003
    train(cfg)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    losses = [e.value for e in events.Scalars("train/loss_epoch")]
    assert len(losses) == cfg.trainer.max_epochs and losses[-1] < 0.5 * losses[0], losses


def test_debug_profiler_writes_its_table(tmp_path):
    from octsr.train import train

    cfg = tiny_train_config(tmp_path, debug="profiler")
    train(cfg)
    assert "run_training_batch" in (tmp_path / "fit-profile.txt").read_text()


@pytest.mark.parametrize("preset", sorted(p.stem for p in (REPO / "conf" / "experiment").glob("[!_]*.yaml")))
def test_experiment_presets_compose_to_valid_settings(preset):
    cfg = compose_train(f"experiment={preset}")
    check_settings(cfg, TrainSettings)
    assert cfg.data.name in ("duke", "phantom", "folder", "volumes")


def test_a_mistyped_group_or_setting_is_one_line_with_a_suggestion(tmp_path):
    from octsr.utils.cli import unknown_key

    assert unknown_key("train", ["modle=srcnn"]) == (
        "modle=srcnn: modle is no setting or config group of octsr.train (did you mean model?); "
        "octsr-train --help lists them")
    assert "did you mean input?" in unknown_key("enhance", ["inputt=scan.tif"])
    fine = ["model=cae", "optim.lr=0.1", "seed=1", "+extra=1", "~debug", "hydra.run.dir=x",
            "hydra/launcher=basic", "logger=[tensorboard,csv]", "ckpt_path=a.ckpt", "-m", "--cfg", "job"]
    assert unknown_key("train", fine) is None
    assert unknown_key("crossval", ["data_root=x", "train_overrides=debug=tiny", "rows.a=model=cae"]) is None
    result = run_cli("octsr.train", "optimm.lr=0.1", f"paths.log_dir={tmp_path}")
    assert result.returncode == 2 and result.stderr.strip().splitlines() == [
        "octsr: error: optimm.lr=0.1: optimm is no setting or config group of octsr.train "
        "(did you mean optim?); octsr-train --help lists them"]
    assert not (tmp_path / "train").exists()


def test_each_command_the_tests_run_is_a_process_of_its_own(tmp_path):
    """run_cli's forked children behave as `python -m` would: the command's folder first on
    sys.path and as cwd, its environment, its own stdout, stderr and exit status, the exit
    handlers run, nothing left over from the command before, and a timeout that kills it."""
    import subprocess

    (tmp_path / "probe.py").write_text(
        "import atexit, os, sys\n"
        "atexit.register(lambda: print('exit handlers ran'))\n"
        "print(os.getcwd(), os.environ.get('OCTSR_PROBE'), sys.argv[1:], 'seen' if 'probe_mark' in sys.modules else 'fresh')\n"
        "sys.modules['probe_mark'] = sys\n"
        "print('to stderr', file=sys.stderr)\n"
        "if sys.argv[1:] == ['sleep']:\n"
        "    import time; time.sleep(60)\n"
        "sys.exit(3)\n")
    for _ in range(2):
        done = run_cli("probe", "a", "b c", cwd=tmp_path, env={"OCTSR_PROBE": "set"})
        assert done.returncode == 3
        assert done.stdout.splitlines() == [f"{tmp_path} set ['a', 'b c'] fresh", "exit handlers ran"]
        assert done.stderr == "to stderr\n"
    with pytest.raises(subprocess.TimeoutExpired):
        run_cli("probe", "sleep", cwd=tmp_path, timeout=2)
    assert run_cli("probe", cwd=tmp_path).returncode == 3  # the server goes on after a killed command
