"""Loading trained models: safe, rebuilt from the file alone, clear errors for bad files."""

import pickle

import pytest
import torch

from octsr.errors import DataError
from octsr.models.architecture import ARCHITECTURE_KEY
from octsr.models.checkpoint import load_model, read_checkpoint, save_weights
from octsr.models.components.srcnn import SRCNN
from tests.conftest import compose_train, run_cli, run_cli_batch


def test_checkpoint_rebuilds_the_trained_model(trained_tiny, tmp_path):
    best = trained_tiny["best"]
    model = load_model(best)
    assert isinstance(model.net, SRCNN) and not model.training
    assert model.input_mean.item() == pytest.approx(trained_tiny["datamodule"].noisy_mean, rel=1e-6)
    assert model.input_std.item() == pytest.approx(trained_tiny["datamodule"].noisy_std, rel=1e-6)
    image = torch.rand(1, 1, 60, 70)
    reference = trained_tiny["model"].eval()
    reference.load_state_dict(torch.load(best, weights_only=True)["state_dict"])
    with torch.no_grad():
        torch.testing.assert_close(model(image), reference(image))

    assert model.architecture == read_checkpoint(best)[ARCHITECTURE_KEY]
    # trained on stored values (the phantom's): inference gives it stored values too
    from octsr.inference import load_restorer

    assert model.architecture["intensity"] == "stored" and load_restorer({"ckpt_path": str(best)}).intensity == "stored"
    save_weights(model, tmp_path / "w.pt", note="t")
    compact = load_model(tmp_path / "w.pt")
    assert (tmp_path / "w.pt").stat().st_size < (1 << 20)
    with torch.no_grad():
        torch.testing.assert_close(compact(image), model(image))


def test_bad_files_give_clear_errors(trained_tiny, tmp_path):
    best = trained_tiny["best"]
    data = open(best, "rb").read()
    (tmp_path / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated.ckpt: not a readable checkpoint"):
        load_model(tmp_path / "truncated.ckpt")
    (tmp_path / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\nnot a checkpoint")
    with pytest.raises(DataError, match=r"scan.png: not a checkpoint \(a file of another format"):
        load_model(tmp_path / "scan.png")
    torch.save({"state_dict": {"w": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(DataError, match="other.pt: not an octsr checkpoint"):
        load_model(tmp_path / "other.pt")
    with pytest.raises(DataError, match="missing.ckpt: no such checkpoint file"):
        load_model(tmp_path / "missing.ckpt")


class Payload:
    def __reduce__(self):
        return (print, ("code ran from a checkpoint",))


def test_code_in_a_file_is_never_run(tmp_path, capsys):
    with open(tmp_path / "evil.ckpt", "wb") as f:
        pickle.dump({"state_dict": Payload()}, f)
    with pytest.raises(DataError, match="evil.ckpt: not a readable checkpoint"):
        load_model(tmp_path / "evil.ckpt")
    assert "code ran" not in capsys.readouterr().out


def test_checkpoint_of_another_architecture_is_one_line(trained_tiny, tmp_path):
    best = trained_tiny["best"]
    result = run_cli("octsr.train", "model=cae", "debug=tiny", f"ckpt_path={best}",
                     f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 2
    assert "holds a SRCNN, but the config builds a ConvAutoencoder" in result.stderr
    assert "Traceback" not in result.stderr


def test_checkpoint_of_another_input_frame_count_is_one_line(trained_tiny, tmp_path):
    """The same network class with other settings would end in PyTorch's size mismatch."""
    result = run_cli("octsr.train", "debug=tiny", "data.input_frames=3", "train=false",
                     f"ckpt_path={trained_tiny['best']}", f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "holds a SRCNN with 1 input frame(s) here, 3 in the config" in result.stderr


@pytest.mark.parametrize("old_path", ["octsr.models.inference.SlidingWindowInferer",
                                      "octsr.inference.SlidingWindowInferer",
                                      "octsr.inference.tiling.SlidingWindowInferer"])
def test_records_that_name_moved_classes_still_load(old_path, tmp_path):
    """A CAE file written before the sliding window moved to octsr.tiling names its old path."""
    from octsr.models.components.cae import ConvAutoencoder
    from octsr.models.restoration_module import RestorationModule
    from octsr.tiling import SlidingWindowInferer

    torch.manual_seed(0)
    record = {"net": {"_target_": "octsr.models.components.cae.ConvAutoencoder", "width": 4},
              "inferer": {"_target_": old_path, "window": 41, "stride": 14}}
    written = RestorationModule(ConvAutoencoder(width=4), None, inferer=SlidingWindowInferer(41, 14),
                                architecture=record).eval()
    save_weights(written, tmp_path / "old.pt")
    loaded = load_model(tmp_path / "old.pt")
    assert isinstance(loaded.inferer, SlidingWindowInferer) and loaded.input_frames == 1
    image = torch.rand(1, 1, 60, 70)
    with torch.no_grad():
        torch.testing.assert_close(loaded(image), written(image))


def test_best_checkpoint_is_the_one_the_run_recorded_even_after_a_move(trained_tiny, tmp_path):
    import shutil
    from pathlib import Path

    from octsr.models.checkpoint import best_checkpoint

    best = Path(trained_tiny["best"])
    run = best.parent.parent
    assert best_checkpoint(run) == best and best.name != "last.ckpt"
    moved = tmp_path / "moved"
    shutil.copytree(run / "checkpoints", moved / "checkpoints")
    assert best_checkpoint(moved) == moved / "checkpoints" / best.name
    (moved / "checkpoints" / best.name).unlink()  # pruned: the latest state is what is left
    assert best_checkpoint(moved) == moved / "checkpoints" / "last.ckpt"
    with pytest.raises(DataError, match="no checkpoints/last.ckpt"):
        best_checkpoint(tmp_path / "empty")


def test_a_config_or_image_given_as_a_checkpoint_is_one_line_in_every_entry_point(tmp_path):
    """A run's .hydra/config.yaml as init_from= (torch.load raised an IndexError on it), and
    such files as ckpt_path= of each entry point that takes one."""
    import cv2
    import numpy as np
    from omegaconf import OmegaConf

    config = tmp_path / "run" / ".hydra" / "config.yaml"
    config.parent.mkdir(parents=True)
    OmegaConf.save(compose_train("debug=tiny"), config)
    image = tmp_path / "scan.png"
    cv2.imwrite(str(image), np.zeros((40, 60), np.uint8))
    commands = {
        ("octsr.train", "debug=tiny", f"init_from={config}", f"hydra.run.dir={tmp_path / 'a'}"): config,
        ("octsr.train", "debug=tiny", "train=false", f"ckpt_path={config}", f"hydra.run.dir={tmp_path / 'b'}"): config,
        ("octsr.enhance", f"input={image}", f"output={tmp_path / 'out'}", f"ckpt_path={image}"): image,
        ("octsr.evaluate", f"ckpt_path={config}", f"hydra.run.dir={tmp_path / 'c'}"): config,
        ("octsr.export", f"ckpt_path={image}", f"output={tmp_path / 'exported' / 'model'}"): image,
    }
    for (command, given), result in zip(commands.items(), run_cli_batch(list(commands))):
        errors = [line for line in result.stderr.splitlines() if line.startswith("octsr: error:")]
        assert result.returncode == 2 and "Traceback" not in result.stderr and len(errors) == 1, command
        kind = "a text file" if given == config else "a file of another format"
        assert errors[0] == (f"octsr: error: {given}: not a checkpoint ({kind}, not one torch.save writes); give a "
                             f"training run's checkpoints/*.ckpt or a weights file (octsr.export format=weights)")
