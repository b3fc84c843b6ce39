"""Wrong values a user types end in one `octsr: error:` line naming the key, with exit
status 2, before any data is loaded (octsr/settings.py), for every entry point."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from octsr.errors import ConfigError
from octsr.settings import EnhanceSettings, TrainSettings, check_settings
from tests.conftest import REPO, run_cli_batch


def run_many(commands: list[tuple[str, ...]], cwd) -> list[subprocess.CompletedProcess]:
    """Run `python -m ...` commands, one after another."""
    return run_cli_batch(commands, cwd=cwd, timeout=300)


def assert_one_line(done: subprocess.CompletedProcess, *expected: str) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.args, done.stderr[-2000:])
    assert len(lines) == 1 and lines[0].startswith("octsr: error: "), (done.args, done.stderr[-2000:])
    for text in expected:
        assert text in lines[0], (text, lines[0])


TRAIN_CASES = {
    "optim.lr=abc": "optim.lr=abc",
    "optim.lr=-0.001": "optim.lr=-0.001",
    "optim.lr=inf": "optim.lr=inf",
    "seed=abc": "seed=abc",
    "data.batch_size=0": "data.batch_size=0",
    "data.num_workers=-1": "data.num_workers=-1",
    "threads=0": "threads=0",
    "data.protocol.patch_size=2.5": "data.protocol.patch_size=2.5",
    "data=duke data.frames=three": "data.frames=three",
}


def test_bad_train_values_are_one_line_naming_the_key(tmp_path):
    commands = [("octsr.train", *case.split(), f"paths.log_dir={tmp_path}") for case in TRAIN_CASES]
    for done, key in zip(run_many(commands, tmp_path), TRAIN_CASES.values()):
        assert_one_line(done, key, "expected")


def test_bad_inference_values_are_one_line_naming_the_key(tmp_path):
    scan = tmp_path / "scan.png"
    scan.write_bytes((REPO / "tests" / "__init__.py").read_bytes())  # never read: refused first
    file_as_parent = tmp_path / "a_file"
    file_as_parent.write_text("x")
    enhance = ("octsr.enhance", f"input={scan}")
    cases = {
        (*enhance, f"output={tmp_path / 'o'}", "tile=0"): "tile=0",
        (*enhance, f"output={tmp_path / 'o'}", "tile=abc"): "tile=abc",
        (*enhance, f"output={tmp_path / 'o'}", "batch_size=0"): "batch_size=0",
        (*enhance, f"output={tmp_path / 'o'}", "device=tpu"): "device=tpu",
        (*enhance, f"output={tmp_path / 'o'}", "halo=-1"): "halo=-1",
        (*enhance, f"output={tmp_path / 'o'}", "on_error=ignore"): "on_error=ignore",
        (*enhance, "output="): "output=",
        (*enhance,): "output is required",
        ("octsr.enhance", f"input=[{scan},{scan}]", f"output={tmp_path / 'o'}"): "input=",
        (*enhance, f"output={file_as_parent / 'out'}"): "output=",
        ("octsr.evaluate", "bm3d.sigmas=[]", f"paths.log_dir={tmp_path}"): "bm3d.sigmas=[]",
        ("octsr.evaluate", "bm3d.sigmas=[0.1,-1]", f"paths.log_dir={tmp_path}"): "bm3d.sigmas[1]=-1",
        ("octsr.export", f"output={tmp_path}"): "is a folder",
        ("octsr.export", f"output={tmp_path / 'm'}", "format=tflite"): "format=tflite",
        ("octsr.crossval", "jobs=0", f"paths.log_dir={tmp_path}"): "jobs=0",
        ("octsr.train", "debug=tinny", f"paths.log_dir={tmp_path}"): "debug=tinny: no such option; debug is one of fdr, overfit, profiler, tiny",
        ("octsr.evaluate", "data=dukee", f"paths.log_dir={tmp_path}"): "data=dukee: no such option",
    }
    for done, expected in zip(run_many(list(cases), tmp_path), cases.values()):
        assert_one_line(done, expected)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc, where nobody (root included) may create folders")
def test_unwritable_output_folder_is_one_line(trained_tiny, tmp_path):
    import cv2
    import numpy as np

    scan = tmp_path / "scan.png"
    cv2.imwrite(str(scan), np.zeros((40, 40), np.uint8))
    (done,) = run_many([("octsr.enhance", f"input={scan}", "output=/proc/octsr-output",
                         f"ckpt_path={trained_tiny['best']}")], tmp_path)
    assert_one_line(done, "output=/proc/octsr-output: cannot write there")


@pytest.mark.parametrize("overrides, message", [
    ("data=duke data.frames=every", "data.frames=every: expected one of one, all"),
    ("data=folder data.train_target=noisy", "data.train_target=noisy: expected one of average, next_frame"),
    ("data=duke data.frames=all data.input_frames=3",
     "data.input_frames=3 stacks a scan's frames into one input; it goes with data.frames=one and "
     "data.train_target=average"),
    ("data=folder data.input_frames=0", "data.input_frames=0: expected a whole number ≥ 1"),
    ("data=duke data.train_target=teacher", "data.train_target=teacher trains towards a teacher's outputs: give "
                                            "their folder as data.teacher_dir"),
    ("data=duke data.teacher_dir=t", "data.teacher_dir=t is only read with data.train_target=teacher"),
    ("data.protocol.train_variants=[rot45]", "data.protocol.train_variants[0]=rot45: expected one of identity, hflip"),
    ("data.protocol.val_variants=[]", "data.protocol.val_variants=[]: expected a list of at least 1 item(s)"),
    ("data.protocol.crop_size=32 data.protocol.patch_size=64",
     "data.protocol.patch_size=64 is larger than crop_size=32"),
])
def test_data_settings_that_only_go_together_are_checked_with_the_others(overrides, message):
    """Checked once, with the typed settings, before any data loads: the data classes take
    what passed and do not check again."""
    from tests.conftest import compose_train

    with pytest.raises(ConfigError, match=re.escape(message)):
        check_settings(compose_train(*overrides.split()), TrainSettings)


def test_the_settings_know_every_affine_variant_the_protocol_has():
    from typing import get_args

    from octsr.data.protocol import VARIANTS
    from octsr.settings import Variant

    assert get_args(Variant) == tuple(VARIANTS)


def test_schema_accepts_the_shipped_configs_and_finds_nested_keys():
    from tests.conftest import compose_train

    for model in ("srcnn", "cae", "unet", "dncnn"):
        for loss in ("mse", "l1", "charbonnier", "ssim_l1", "mse_gradient"):
            check_settings(compose_train(f"model={model}", f"loss={loss}", "scheduler=cosine"), TrainSettings)
    check_settings(compose_train("experiment=unet_n2n", "data=duke"), TrainSettings)
    check_settings(compose_train("callbacks.model_checkpoint=null"), TrainSettings)
    bad = compose_train("data.protocol.crops_per_image=-2")
    with pytest.raises(ConfigError, match=r"^data\.protocol\.crops_per_image=-2: expected a whole number ≥ 0$"):
        check_settings(bad, TrainSettings)
    for override, message in (("model.net.width=0", "model.net.width=0: expected a whole number ≥ 1"),
                              ("optim.betas=[2,0.9]", "optim.betas[0]=2: expected a finite number in [0, 1)"),
                              ("optim.betas=[0.9]", "optim.betas=[0.9]: expected a list of 2 item(s)"),
                              ("loss=ssim_l1 loss.alpha=2", "loss.alpha=2: expected a finite number in [0, 1]"),
                              ("loss=mse_gradient loss.weight=-1", "loss.weight=-1: expected a finite number ≥ 0"),
                              ("model.residual=maybe", "model.residual=maybe: expected true or false")):
        with pytest.raises(ConfigError, match=re.escape(message)):
            check_settings(compose_train(*override.split()), TrainSettings)
    ok = OmegaConf.create({"input": "a.tif", "output": "out", "tile": None, "device": "cuda:1"})
    check_settings(ok, EnhanceSettings)
    with pytest.raises(ConfigError, match="input is required"):
        check_settings(OmegaConf.create({"input": "???", "output": "out"}), EnhanceSettings)


def test_config_group_typos_are_caught_before_hydra_runs():
    from octsr.utils.cli import unknown_group_option

    assert unknown_group_option(["debug=tinny"]) == "debug=tinny: no such option; debug is one of fdr, overfit, profiler, tiny"
    assert unknown_group_option(["-m", "model=cae,srcnx"]).startswith("model=srcnx: no such option")
    assert unknown_group_option(["+sweep=lrr"]).startswith("sweep=lrr")
    for fine in (["debug=tiny", "model=cae,srcnn", "+sweep=lr", "scheduler=null", "experiment=unet_n2n"],
                 ["data.root=/x", "hydra/launcher=basic", "~debug", "optim.lr=0.1", "--help"],
                 ["model=glob(*)", "hydra.run.dir=x"]):
        assert unknown_group_option(fine) is None, fine
