"""The real training entry point, on tiny configs (debug=tiny: a few patches, one epoch)."""

import csv
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf, open_dict
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from octsr.report import summarize_run
from octsr.train import train
from octsr.utils.hparams import run_hparams
from tests.conftest import DUKE_ROOT, needs_duke, run_cli, tiny_train_config


def scalars(run_dir: Path) -> dict[str, list[float]]:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def read_csv(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("model", ["srcnn", "cae"])
def test_cli_trains_tests_and_logs(tmp_path, model):
    result = run_cli("octsr.train", f"model={model}", "debug=tiny", "optim.lr=0.001",
                     f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    logged = scalars(tmp_path)
    for tag in ("val/psnr", "val/ssim", "train/loss_step", "test/psnr", "test/ssim", "hp/test_psnr"):
        assert tag in logged, f"{tag} missing from {sorted(logged)}"
    assert 0 < logged["val/psnr"][-1] < 100 and 0 < logged["val/ssim"][-1] <= 1
    rows = read_csv(tmp_path / "test_metrics.csv")
    assert [r["image"] for r in rows] == ["phantom_003", "phantom_004", "mean"]
    assert float(rows[-1]["psnr"]) == pytest.approx(logged["test/psnr"][-1], abs=1e-3)
    checkpoints = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert "last.ckpt" in checkpoints and any(n.startswith("epoch000") for n in checkpoints)
    assert "test/psnr" in result.stdout  # the printed test table
    hparams = OmegaConf.load(tmp_path / "hparams.yaml")
    assert hparams.optim.lr == 0.001 and "width" in hparams.net

    row = summarize_run(tmp_path)  # the report reads the same numbers back
    assert (row["model"], row["lr"], row["epochs"], row["status"]) == (model, 0.001, 1, "done")
    assert row["test_psnr"] == pytest.approx(float(rows[-1]["psnr"]), abs=1e-4)
    assert row["val_psnr_best"] == pytest.approx(max(logged["val/psnr"]))


def test_unet_with_a_cosine_schedule_ends_training_at_eta_min(tmp_path):
    result = run_cli("octsr.train", "model=unet", "scheduler=cosine", "debug=tiny", "optim.lr=0.001",
                     "test=false", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    last = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    steps = last["global_step"]
    assert steps > 1
    (schedule,) = last["lr_schedulers"]
    assert schedule["T_max"] == steps and schedule["last_epoch"] == steps  # stepped per batch
    assert schedule["_last_lr"] == [pytest.approx(0.0, abs=1e-12)]
    assert "scheduler: CosineAnnealingLR" in (tmp_path / "hparams.yaml").read_text()


def test_same_seed_repeats_metrics_and_resume_continues(tiny_cfg, tmp_path):
    first, objects = train(tiny_cfg)
    second, _ = train(tiny_cfg)
    assert first["test/psnr"] == second["test/psnr"]
    assert first["val/psnr"] == second["val/psnr"]

    last = Path(objects["cfg"].paths.output_dir) / "checkpoints" / "last.ckpt"
    resumed_cfg = tiny_cfg.copy()
    with open_dict(resumed_cfg):
        resumed_cfg.ckpt_path = str(last)
        resumed_cfg.trainer.max_epochs = 2
        resumed_cfg.paths.output_dir = str(tmp_path / "resumed")
    _, resumed = train(resumed_cfg)
    steps_per_epoch = objects["trainer"].global_step
    assert resumed["trainer"].global_step == 2 * steps_per_epoch
    assert resumed["trainer"].current_epoch == 2


def test_test_only_from_a_checkpoint_reproduces_the_test_metrics(tiny_cfg, tmp_path):
    trained, objects = train(tiny_cfg)
    best = objects["trainer"].checkpoint_callback.best_model_path
    test_cfg = tiny_cfg.copy()
    with open_dict(test_cfg):
        test_cfg.train = False
        test_cfg.ckpt_path = best
        test_cfg.paths.output_dir = str(tmp_path / "test_only")
    # The checkpoint alone must carry the input standardization: a fresh model has mean 0 / std 1.
    tested, _ = train(test_cfg)
    assert tested["test/psnr"] == pytest.approx(trained["test/psnr"], abs=1e-5)
    assert tested["test/ssim"] == pytest.approx(trained["test/ssim"], abs=1e-6)


def one_line_error(result) -> str:
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("octsr: error:")]
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def test_bad_data_root_is_one_clear_line(tmp_path):
    result = run_cli("octsr.train", "data=duke", f"data.root={tmp_path}/missing", "debug=tiny",
                     f"hydra.run.dir={tmp_path}/run")
    assert f"data.root={tmp_path}/missing: no such folder" in one_line_error(result)


def test_missing_partner_image_is_one_clear_line(tmp_path):
    from tests.test_pairs import write_folder

    write_folder(tmp_path / "pairs", ["a", "b", "c"], missing_clean=["b"])
    result = run_cli("octsr.train", "data=folder", f"data.root={tmp_path}/pairs", "debug=tiny",
                     f"hydra.run.dir={tmp_path}/run")
    assert "noisy/b.png: no partner named b.*" in one_line_error(result)


@pytest.mark.slow
@needs_duke
def test_srcnn_on_duke_beats_the_noisy_input_by_8_db(tmp_path):
    """The documented command, one epoch of the paper's protocol on the Duke subjects (~7 min)."""
    result = run_cli("octsr.train", "data=duke", f"data.root={DUKE_ROOT}", "model=srcnn",
                     "optim.lr=0.0002", f"hydra.run.dir={tmp_path}", timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    mean = read_csv(tmp_path / "test_metrics.csv")[-1]
    assert float(mean["psnr"]) >= float(mean["psnr_noisy"]) + 8


def test_missing_checkpoint_is_one_clear_line(tmp_path):
    result = run_cli("octsr.train", "debug=tiny", f"ckpt_path={tmp_path}/nope.ckpt",
                     f"hydra.run.dir={tmp_path}/run")
    assert f"{tmp_path}/nope.ckpt: no such checkpoint file" in one_line_error(result)


def test_folder_layout_trains_through_the_cli(tmp_path):
    written = run_cli("octsr.phantom", str(tmp_path / "pairs"), "data.phantom.count=5", "data.phantom.height=96",
                      "data.phantom.width=128", "data.phantom.averaged_frames=4")
    assert written.returncode == 0, written.stderr
    assert len(list((tmp_path / "pairs" / "clean").glob("*.png"))) == 5
    result = run_cli("octsr.train", "data=folder", f"data.root={tmp_path}/pairs", "debug=tiny",
                     f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_csv(tmp_path / "run" / "test_metrics.csv")
    assert len(rows) == 2 and rows[-1]["image"] == "mean"  # 1 test pair (20%) + the mean


def test_ema_run_validates_saves_and_tests_the_averaged_weights(tmp_path):
    """A residual DnCNN with an L1 loss and EMA: the checkpoint holds the average, and the
    run's test scores are those of the average, as `octsr.enhance` would load it."""
    from octsr.scoring import image_scores as scores
    from octsr.models.checkpoint import load_model

    cfg = tiny_train_config(tmp_path, "model=dncnn", "model.net.depth=4", "loss=l1", "callbacks=ema",
                            "callbacks.ema.update_starting_at_step=0", "callbacks.ema.decay=0.5", "optim.lr=0.01")
    metrics, objects = train(cfg)
    best = objects["trainer"].checkpoint_callback.best_model_path
    checkpoint = torch.load(best, weights_only=True)
    averaged, raw = checkpoint["state_dict"], checkpoint["current_model_state"]
    assert not torch.equal(averaged["net.body.0.weight"], raw["net.body.0.weight"])
    model = load_model(best)
    assert model.residual and torch.equal(model.net.body[0].weight, averaged["net.body.0.weight"])
    test_set = objects["datamodule"].test_set
    with torch.no_grad():
        psnrs = [scores(model(item["noisy"][None]).numpy()[0, 0], item["target"][0].numpy())["psnr"]
                 for item in test_set]
    assert metrics["test/psnr"] == pytest.approx(sum(psnrs) / len(psnrs), abs=1e-4)
    hparams = run_hparams(cfg, objects["model"])
    assert hparams["loss"]["name"] == "L1Loss" and hparams["residual"] is True
