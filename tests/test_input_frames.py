"""Models of several noisy frames of one place (`data.input_frames`), end to end."""

import numpy as np
import pytest
import tifffile
import torch
from torch import nn

from octsr.errors import ConfigError
from octsr.export import example_input
from octsr.formats.images import read_pages
from octsr.inference import load_restorer
from octsr.models.checkpoint import load_model
from octsr.models.restoration_module import RestorationModule
from tests.conftest import run_cli, tiny_train_config


@pytest.fixture(scope="module")
def three_frame_checkpoint(tmp_path_factory):
    """A tiny residual U-Net trained on 3 stacked phantom frames."""
    from octsr.train import train

    cfg = tiny_train_config(tmp_path_factory.mktemp("three_frames"), "model=unet", "model.residual=true",
                            "data.input_frames=3")
    metrics, objects = train(cfg)
    assert np.isfinite(metrics["test/psnr"])
    return objects["trainer"].checkpoint_callback.best_model_path


def test_the_checkpoint_rebuilds_a_three_frame_network(three_frame_checkpoint):
    model = load_model(three_frame_checkpoint)
    assert model.input_frames == 3
    restorer = load_restorer({"ckpt_path": three_frame_checkpoint})
    frames = np.random.default_rng(0).random((3, 50, 70), dtype=np.float32)
    assert restorer(frames).shape == (50, 70)
    with pytest.raises(ConfigError, match="takes 3 noisy frames .*data.input_frames=3.*got one frame"):
        restorer(frames[0])


def test_residual_output_is_the_primary_frame_minus_the_noise():
    class Constant(nn.Module):
        def forward(self, x):
            return torch.full_like(x[:, :1], 0.5)

    model = RestorationModule(Constant(), None, residual=True).eval()
    model.input_std.fill_(0.2)
    noisy = torch.rand(2, 3, 8, 8)
    assert torch.allclose(model.restore_patches(noisy), noisy[:, :1] - 0.1)


def test_export_takes_the_frames_as_channels(three_frame_checkpoint):
    model = load_model(three_frame_checkpoint)
    example, any_size = example_input(model)
    assert example.shape[1] == 3 and any_size
    traced = model.to_torchscript(method="trace", example_inputs=example)
    image = torch.rand(1, 3, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(traced(image), model(image))


def test_enhance_restores_a_tiff_of_frames_into_one_bscan(three_frame_checkpoint, tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    rng = np.random.default_rng(1)
    tifffile.imwrite(scans / "place.tif", rng.integers(0, 65536, (3, 60, 80), dtype=np.uint16),
                     photometric="minisblack")
    tifffile.imwrite(scans / "two.tif", rng.integers(0, 65536, (2, 60, 80), dtype=np.uint16),
                     photometric="minisblack")
    result = run_cli("octsr.enhance", f"input={scans}", f"output={tmp_path / 'out'}",
                     f"ckpt_path={three_frame_checkpoint}", "on_error=skip")
    assert result.returncode != 0
    assert "two.tif: this model takes 3 noisy frames of one place per file, as a 3-page TIFF" in result.stdout + result.stderr
    (page,) = read_pages(tmp_path / "out" / "place.tif")
    assert page.shape == (60, 80) and page.dtype == np.uint16
    assert not (tmp_path / "out" / "two.tif").exists()


@pytest.mark.slow  # three evaluate runs (30 s); the crossval test scores a 5-frame model too
def test_evaluate_scores_the_model_on_frames_and_the_rest_on_the_primary_one(three_frame_checkpoint, tmp_path):
    args = ["data=phantom", "debug=tiny", f"ckpt_path={three_frame_checkpoint}", "bm3d.sigmas=[0.2]"]
    refused = run_cli("octsr.evaluate", *args, f"hydra.run.dir={tmp_path / 'one'}")
    assert refused.returncode == 2 and "(trained with data.input_frames=3); got one frame" in refused.stderr
    single = run_cli("octsr.evaluate", *args, "data.input_frames=1", "ckpt_path=null", "weights=fast",
                     f"hydra.run.dir={tmp_path / 'single'}")
    result = run_cli("octsr.evaluate", *args, "data.input_frames=3", f"hydra.run.dir={tmp_path / 'three'}")
    assert single.returncode == 0 and result.returncode == 0, result.stderr[-3000:]
    rows = {}
    for name in ("single", "three"):
        for line in (tmp_path / name / "results.csv").read_text().splitlines()[1:]:
            method, image, psnr = line.split(",")[:3]
            rows[(name, method.split(" (")[0], image)] = float(psnr)
    # The noisy row and BM3D score the same primary frames as a single-frame evaluation.
    for method in ("noisy input", "BM3D"):
        assert rows[("three", method, "mean")] == pytest.approx(rows[("single", method, "mean")], abs=1e-6)
    assert np.isfinite(rows[("three", "model", "mean")])
