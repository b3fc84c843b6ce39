"""Subject-wise cross-validation: fold arithmetic, and the real CLI on a tiny setting."""

import csv
from pathlib import Path

import pytest

from octsr.crossval import Plan, fold_splits, link_reused
from octsr.scoring import image_scores as scores
from octsr.errors import ConfigError
from tests.conftest import DUKE_ROOT, needs_duke, run_cli, run_cli_batch

SUBJECTS = [f"{i:02d}" for i in range(1, 13)]


def test_folds_test_every_subject_once_and_never_train_on_it():
    folds = [fold_splits(SUBJECTS, 3, k, 2, seed=0) for k in range(3)]
    assert sorted(s for f in folds for s in f["test"]) == SUBJECTS
    for f in folds:
        assert len(f["test"]) == 4 and len(f["val"]) == 2 and len(f["train"]) == 6
        assert not set(f["test"]) & (set(f["val"]) | set(f["train"]))
        assert not set(f["val"]) & set(f["train"])
    assert fold_splits(SUBJECTS, 3, 1, 2, seed=0) == folds[1]  # seeded
    with pytest.raises(ConfigError, match="val_subjects=8"):
        fold_splits(SUBJECTS, 3, 0, 8, seed=0)


def test_brightness_matched_psnr_forgives_only_a_constant_shift():
    import numpy as np

    target = np.random.default_rng(0).random((32, 32), dtype=np.float32) * 0.5
    shifted = scores(target + 0.1, target)
    assert shifted["psnr"] == pytest.approx(20.0, abs=1e-3) and shifted["psnr_matched"] > 60
    noisy = target + np.random.default_rng(1).normal(0, 0.1, target.shape).astype(np.float32)
    assert scores(noisy, target)["psnr_matched"] == pytest.approx(scores(noisy, target)["psnr"], abs=0.1)


@needs_duke
def test_crossval_cli_trains_every_fold_and_writes_one_table(tmp_path):
    """Two tiny rows x 2 folds on 4 subjects (BM3D is slow; its path is tested in evaluate),
    one of them a residual U-Net on 5 stacked frames."""
    args = ["subjects=[01,02,03,04]", "folds=2", "val_subjects=1", f"data_root={DUKE_ROOT}",
            "~rows", '+rows={srcnn:"model=srcnn",resunet5:"model=unet model.residual=true model.match_input_mean=true data.input_frames=5"}',
            'train_overrides="debug=tiny trainer=cpu data.protocol.crop_size=64 callbacks.progress_bar=null"',
            "bm3d.enabled=false", f"hydra.run.dir={tmp_path}"]
    result = run_cli("octsr.crossval", *args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    with (tmp_path / "crossval.csv").open() as f:
        rows = {r["row"]: r for r in csv.DictReader(f)}
    assert list(rows) == ["noisy input", "srcnn", "resunet5", "resunet5 (no mean matching)"]
    for name, row in rows.items():
        per_subject = [float(row[f"psnr_{s}"]) for s in SUBJECTS[:4]]
        assert float(row["psnr"]) == pytest.approx(sum(per_subject) / 4, abs=1e-6), name
    assert int(rows["srcnn"]["params"]) == 8129 and float(rows["srcnn"]["ms_per_bscan"]) > 0
    assert "| srcnn | 8,129 |" in (tmp_path / "crossval.md").read_text()
    assert len((tmp_path / "per_image.csv").read_text().splitlines()) == 1 + 4 * 4
    assert " done (4 of 4 runs, " in result.stderr + result.stdout
    assert len(list(tmp_path.glob("*/fold*/fold_result.json"))) == 4


def test_a_rerun_trains_only_the_folds_without_a_result_and_refuses_changed_rows(tmp_path):
    """What makes a killed cross-validation resumable: a fold with fold_result.json is not
    planned again, a half-done one starts over in an empty folder, and a row whose settings
    differ from its finished folds' is refused before anything trains."""
    import json

    from octsr.crossval import fold_jobs

    folds = [fold_splits(SUBJECTS[:4], 2, k, 1, seed=0) for k in range(2)]
    plan = Plan(SUBJECTS[:4], "duke", {"srcnn": ["model=srcnn"]}, folds, None, [], False, [], "basic", [], 1, 1,
                tmp_path)
    (tmp_path / "srcnn" / "fold0").mkdir(parents=True)
    (tmp_path / "srcnn" / "fold0" / "fold_result.json").write_text(json.dumps({"overrides": ["model=srcnn"]}))
    (tmp_path / "srcnn" / "fold1" / "checkpoints").mkdir(parents=True)  # killed half-way
    (jobs,) = fold_jobs(plan)
    assert (jobs["row"], jobs["fold"], jobs["splits"]) == ("srcnn", 1, folds[1])
    assert "hydra.sweep.subdir=srcnn/fold1" in jobs["overrides"] and not (tmp_path / "srcnn" / "fold1").exists()
    assert jobs["command"].startswith("python -m octsr.train data=duke ")
    changed = Plan(**{**plan.__dict__, "rows": {"srcnn": ["model=srcnn", "model.net.width=8"]}})
    with pytest.raises(ConfigError, match="row 'srcnn' was trained in .* with other settings"):
        fold_jobs(changed)


def test_crossval_without_rows_is_one_line(tmp_path):
    result = run_cli("octsr.crossval", "~rows", f"data_root={tmp_path}", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2 and "octsr: error: rows is empty" in result.stderr


@pytest.mark.slow
@needs_duke
def test_bm3d_fold_chooses_sigma_on_val_and_keeps_its_test_outputs(tmp_path):
    import numpy as np

    from octsr.crossval import bm3d_fold

    splits = {"train": [], "val": ["07"], "test": ["10"]}
    result = bm3d_fold(splits, str(DUKE_ROOT), [0.1, 0.3], tmp_path)
    assert set(result["val_psnr"]) == {0.1, 0.3} and result["sigma"] == max(result["val_psnr"], key=result["val_psnr"].get)
    output = np.load(tmp_path / "10.npy")
    assert output.shape == (450, 900) and 0 <= output.min() and output.max() <= 1
    assert bm3d_fold(splits, str(DUKE_ROOT), [0.1, 0.3], tmp_path) == json_roundtrip(result)


def json_roundtrip(result):
    import json

    return json.loads(json.dumps(result))


@needs_duke
def test_rows_and_subjects_are_checked_before_any_fold_trains(tmp_path):
    """A wrong override in a row, or a data root that lacks subjects the folds need, ends in
    one line before anything trains (no fold folder is made)."""
    partial = tmp_path / "duke"
    partial.mkdir()
    for subject in ("01", "02", "03"):
        (partial / subject).symlink_to(DUKE_ROOT / subject, target_is_directory=True)
    bad_row, missing = run_cli_batch([
        ("octsr.crossval", f"hydra.run.dir={tmp_path / 'a'}", f"data_root={DUKE_ROOT}", "bm3d.enabled=false",
         "~rows", '+rows.bad="model=srcnn optim.lr=-1"'),
        ("octsr.crossval", f"hydra.run.dir={tmp_path / 'b'}", f"data_root={partial}", "bm3d.enabled=false")])
    for result, expected in ((bad_row, "rows.bad (model=srcnn optim.lr=-1), fold 0: optim.lr=-1"),
                             (missing, f"names subject 04, but {partial / '04'} does not exist")):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1 and expected in lines[0], result.stderr[-2000:]
    assert not list((tmp_path / "a").glob("bad")) and not (tmp_path / "b" / "srcnn").exists()


def test_reuse_links_only_the_folds_finished_with_the_same_settings(tmp_path):
    import json

    earlier, now = tmp_path / "earlier", tmp_path / "now"
    folds = [fold_splits(SUBJECTS, 3, k, 2, seed=0) for k in range(3)]
    finished = {("unet", 0): ["experiment=unet_n2n"], ("unet", 1): ["experiment=unet_n2n", "model.net.width=8"],
                ("bm3d", 2): None}
    for (row, k), overrides in finished.items():
        (earlier / row / f"fold{k}").mkdir(parents=True)
        (earlier / row / f"fold{k}" / "fold_result.json").write_text(json.dumps(
            {"splits": folds[k], **({"overrides": overrides} if overrides else {"sigma": 0.4})}))
    plan = Plan(SUBJECTS, "duke", {"unet": ["experiment=unet_n2n"]}, folds, [0.4], [], False, [earlier],
                "basic", [], 1, 1, now)
    link_reused(plan)
    linked = sorted(str(p.relative_to(now)) for p in now.glob("*/fold*") if p.is_symlink())
    assert linked == ["bm3d/fold2", "unet/fold0"]  # fold 1 was trained with other settings
    assert (now / "unet" / "fold0").resolve() == (earlier / "unet" / "fold0").resolve()


def test_reuse_of_a_folder_that_is_no_crossval_run_is_one_line_before_any_work(trained_tiny, tmp_path):
    import json
    from pathlib import Path

    training_run = Path(trained_tiny["best"]).parents[1]  # a training run's folder, not a crossval's
    row = tmp_path / "earlier" / "srcnn"
    (row / "fold0").mkdir(parents=True)
    (row / "fold0" / "fold_result.json").write_text(json.dumps({"splits": {}, "overrides": []}))
    results = run_cli_batch([("octsr.crossval", f"data_root={tmp_path}", "bm3d.enabled=false",
                              f"reuse=[{folder}]", f"hydra.run.dir={tmp_path / 'new'}")
                             for folder in (training_run, row)])
    for result, expected in ((results[0], f"reuse: {training_run} is not an octsr.crossval output folder"),
                             (results[1], f"reuse: {row} is one row's folder of a crossval run")):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
        assert lines[0].startswith(f"octsr: error: {expected}") and "<row>/fold<k>/fold_result.json" in lines[0]
    assert not (tmp_path / "new" / "srcnn").exists()


@needs_duke
def test_a_fold_run_that_fails_ends_crossval_in_one_line_naming_the_row(tmp_path):
    """The fold runs go through a Hydra sweep: a run that fails records why in its folder,
    and crossval ends with that reason, not with a table missing a row."""
    result = run_cli("octsr.crossval", "subjects=[01,02,03,04]", "folds=2", "val_subjects=1", f"data_root={DUKE_ROOT}",
                     "~rows", f'+rows={{broken:"model=srcnn init_from={tmp_path}/absent.pt"}}',
                     'train_overrides="debug=tiny trainer=cpu data.protocol.crop_size=48"', "bm3d.enabled=false",
                     f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip().splitlines()[-1] == (
        f"octsr: error: row 'broken' failed on test subjects ['01', '03'] ({tmp_path}/run/broken/fold0/FAILED.txt): "
        f"{tmp_path}/absent.pt: no such checkpoint file")
    assert not (tmp_path / "run" / "crossval.md").exists()


def test_the_sweep_on_a_slurm_cluster_composes_with_its_settings(tmp_path):
    """No cluster here: the sweep crossval would start with launcher=slurm is composed (Hydra's
    --cfg), and its launcher carries the runs at a time and the user's SLURM settings."""
    import subprocess

    import yaml

    from octsr.crossval import sweep_command, sweep_environment

    plan = Plan(subjects=[], data_root="", rows={}, folds=[], sigmas=None, shipped=[], tta=False, reuse=[],
                launcher="slurm", launcher_overrides=["hydra.launcher.partition=gpu"], jobs=12, threads=1,
                out=tmp_path)
    command = sweep_command(plan, tmp_path / "plan.json")
    command[command.index("-m", 2)] = "--cfg=hydra"  # shown instead of run (Hydra takes one of the two)
    shown = subprocess.run(command, capture_output=True, text=True, env=sweep_environment(), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr[-2000:]
    hydra = yaml.safe_load(shown.stdout)["hydra"]
    assert hydra["launcher"]["_target_"].endswith("SlurmLauncher")
    assert (hydra["launcher"]["array_parallelism"], hydra["launcher"]["partition"]) == (12, "gpu")
    assert hydra["sweeper"]["plan"] == str(tmp_path / "plan.json") and "fold_result" in hydra["callbacks"]


@needs_duke
def test_crossval_stopped_by_kill_leaves_no_fold_run_behind(tmp_path):
    """`kill` (SIGTERM) ends crossval as Ctrl-C does, in one line, and takes the sweep's
    workers with it: a worker left training would write into a fold folder that the next
    crossval in that place empties and starts again."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import uuid

    mark = f"crossval-test-{uuid.uuid4()}"  # in the environment of every process crossval starts

    def marked() -> list[int]:
        found = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if mark.encode() in environ.read_bytes():
                    found.append(int(environ.parent.name))
            except OSError:
                pass
        return found

    command = [sys.executable, "-m", "octsr.crossval", "subjects=[01,02,03,04]", "folds=2", "val_subjects=1",
               f"data_root={DUKE_ROOT}", "~rows", '+rows={srcnn:"model=srcnn"}', "bm3d.enabled=false",
               'train_overrides="debug=tiny trainer=cpu data.protocol.crop_size=48 trainer.max_epochs=10000"',
               f"hydra.run.dir={tmp_path}"]
    crossval = subprocess.Popen(command, env={**os.environ, "OCTSR_TEST_MARK": mark}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while not (tmp_path / "srcnn" / "fold0" / "train.log").is_file():  # a worker has started its run
        assert crossval.poll() is None and time.monotonic() < deadline, crossval.communicate()[1][-2000:]
        time.sleep(0.5)
    crossval.send_signal(signal.SIGTERM)
    _, stderr = crossval.communicate(timeout=60)
    assert crossval.returncode == 130 and stderr.strip().splitlines()[-1] == "octsr: interrupted", stderr[-2000:]
    assert marked() == []
