"""Using a trained model: enhance users' scans, evaluate against baselines, export."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
import torch

from octsr.formats.images import read_grayscale
from octsr.models.checkpoint import load_model
from octsr.utils.provenance import RECORD_NAME
from octsr.weights import SHIPPED
from tests.bad_scans import write_bad_scans
from tests.conftest import DUKE_ROOT, needs_duke, results_in, run_cli, run_cli_batch, untrained_unet


@pytest.fixture
def scans(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "scans"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), rng.integers(0, 256, (70, 90), dtype=np.uint8))
    tifffile.imwrite(folder / "b16.tif", rng.integers(0, 65536, (60, 80), dtype=np.uint16),
                     compression="zlib")
    tifffile.imwrite(folder / "volume.tif", rng.integers(0, 256, (3, 50, 64), dtype=np.uint8),
                     photometric="minisblack")  # a volume of 3 B-scans, not an RGB image
    return folder


def test_enhance_keeps_names_sizes_and_bit_depth(trained_tiny, scans, tmp_path):
    out = tmp_path / "out"
    result = run_cli("octsr.enhance", f"input={scans}", f"output={out}", f"ckpt_path={trained_tiny['best']}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert results_in(out) == ["a.png", "b16.tif", "volume.tif"]
    a = cv2.imread(str(out / "a.png"), cv2.IMREAD_UNCHANGED)
    assert a.shape == (70, 90) and a.dtype == np.uint8
    b = tifffile.imread(out / "b16.tif")
    assert b.shape == (60, 80) and b.dtype == np.uint16 and b.max() > 255
    volume = tifffile.imread(out / "volume.tif")
    assert volume.shape == (3, 50, 64) and volume.dtype == np.uint8
    # Each page restored on its own, like a single scan.
    single = tmp_path / "single"
    tifffile.imwrite(scans.parent / "page1.tif", tifffile.imread(scans / "volume.tif")[1])
    run_cli("octsr.enhance", f"input={scans.parent / 'page1.tif'}", f"output={single}",
            f"ckpt_path={trained_tiny['best']}")
    np.testing.assert_array_equal(tifffile.imread(single / "page1.tif"), volume[1])


def test_enhance_refuses_to_write_into_the_input_folder(trained_tiny, scans):
    before = {p.name: p.read_bytes() for p in scans.iterdir()}
    result = run_cli("octsr.enhance", f"input={scans}", f"output={scans}", f"ckpt_path={trained_tiny['best']}")
    assert result.returncode == 2
    assert "is the input folder; choose another folder" in result.stderr
    assert "Traceback" not in result.stderr
    assert {p.name: p.read_bytes() for p in scans.iterdir()} == before
    single = run_cli("octsr.enhance", f"input={scans / 'a.png'}", f"output={scans}/",
                     f"ckpt_path={trained_tiny['best']}")
    assert single.returncode == 2 and "is an input" in single.stderr


def test_enhance_keeps_every_file_and_page_of_a_folder_tree(trained_tiny, tmp_path):
    rng = np.random.default_rng(3)
    scans = tmp_path / "scans"
    for sub in ("left", "right"):  # the same file name twice: two outputs
        (scans / sub).mkdir(parents=True)
        cv2.imwrite(str(scans / sub / "bscan.png"), rng.integers(0, 256, (40, 60), dtype=np.uint8))
    with tifffile.TiffWriter(scans / "mixed.tif") as tif:  # pages of three sizes
        for shape in ((40, 60), (52, 30), (40, 60), (33, 71)):
            tif.write(rng.integers(0, 65536, shape, dtype=np.uint16), photometric="minisblack")
    tifffile.imwrite(scans / "signed.tif", rng.integers(0, 32768, (40, 60), dtype=np.int16))
    out = scans / "enhanced"  # inside the input: a second run must not enhance the outputs
    (out / "left").mkdir(parents=True)
    cv2.imwrite(str(out / "left" / "bscan.png"), np.zeros((5, 5), np.uint8))  # a stale result
    # octsr did not make the stale file: replacing it takes overwrite=true; the rerun with the
    # same inputs and settings may then rewrite what the first run made.
    for overwrite in ("true", "false"):
        result = run_cli("octsr.enhance", f"input={scans}", f"output={out}", f"ckpt_path={trained_tiny['best']}",
                         f"overwrite={overwrite}")
        assert result.returncode == 0, result.stderr[-3000:]
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != RECORD_NAME)
    assert written == ["left/bscan.png", "mixed.tif", "right/bscan.png", "signed.tif"]
    assert cv2.imread(str(out / "left" / "bscan.png"), cv2.IMREAD_UNCHANGED).shape == (40, 60)
    with tifffile.TiffFile(out / "mixed.tif") as tif:
        assert [p.shape for p in tif.pages] == [(40, 60), (52, 30), (40, 60), (33, 71)]
        assert {p.dtype for p in tif.pages} == {np.dtype(np.uint16)}
    signed = tifffile.imread(out / "signed.tif")
    assert signed.dtype == np.int16 and signed.min() >= 0 and signed.max() > 255
    assert not [p for p in out.rglob(".*") if p.name != RECORD_NAME], "temporary files left behind"


def test_enhance_skips_bad_files_on_request_and_says_so(trained_tiny, tmp_path):
    scans = write_bad_scans(tmp_path / "scans", np.random.default_rng(4))
    args = [f"input={scans}", f"ckpt_path={trained_tiny['best']}"]
    stopped = run_cli("octsr.enhance", *args, f"output={tmp_path / 'stop'}")
    assert stopped.returncode == 2 and "broken.png: not a readable image" in stopped.stderr
    skipped = run_cli("octsr.enhance", *args, f"output={tmp_path / 'skip'}", "on_error=skip")
    errors = [line for line in skipped.stderr.splitlines() if line.startswith("octsr: error:")]
    assert skipped.returncode == 2 and len(errors) == 1, skipped.stderr[-3000:]
    assert "3 of 4 input file(s) skipped" in errors[0] and "1 written" in errors[0]
    assert "signed int16 pixels with negative values" in skipped.stdout
    assert "uint32 pixels" in skipped.stdout
    assert results_in(tmp_path / "skip") == ["good.png"]


def test_enhance_never_writes_through_a_symbolic_link(trained_tiny, tmp_path):
    scan = tmp_path / "scan.png"
    cv2.imwrite(str(scan), np.full((40, 60), 100, np.uint8))
    precious = tmp_path / "precious.png"
    precious.write_bytes(b"keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "scan.png").symlink_to(precious)
    result = run_cli("octsr.enhance", f"input={scan}", f"output={out}", f"ckpt_path={trained_tiny['best']}")
    assert result.returncode == 2 and "is a symbolic link" in result.stderr
    assert precious.read_bytes() == b"keep me" and (out / "scan.png").is_symlink()


def test_enhance_bad_input_is_one_line(trained_tiny, tmp_path):
    result = run_cli("octsr.enhance", f"input={tmp_path}/nothing.tif", f"output={tmp_path}/out",
                     f"ckpt_path={trained_tiny['best']}")
    assert result.returncode == 2 and f"input={tmp_path}/nothing.tif: no such file" in result.stderr


def test_an_image_smaller_than_the_networks_reach_is_refused(tmp_path):
    """A 1x1 'scan' (or any image narrower than the reach) would be mostly padding: refused,
    with its size, in one line, and nothing written."""
    tifffile.imwrite(tmp_path / "dot.tif", np.full((1, 1), 128, np.uint8))
    tifffile.imwrite(tmp_path / "strip.tif", np.full((40, 900), 128, np.uint8))
    results = run_cli_batch([("octsr.enhance", f"input={tmp_path / name}", f"output={tmp_path / 'out'}", *weights)
                             for name, weights in (("dot.tif", ["weights=fast"]), ("strip.tif", []))])
    for result, size, needs in zip(results, ("1x1", "900x40"), (7, 59)):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
        assert f"a B-scan of {size} pixels; this model needs at least {needs} in each direction" in lines[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_earlier_result_is_never_replaced_without_a_word(tmp_path):
    """Subject B's test.tif into the folder that holds subject A's test.tif result: A's is
    kept and the run stops in one line; the same input and settings again may rewrite it;
    overwrite=true replaces. The same rule in export, which also never writes over the
    checkpoint it reads."""
    rng = np.random.default_rng(0)
    for subject in ("a", "b"):
        (tmp_path / subject).mkdir()
        tifffile.imwrite(tmp_path / subject / "test.tif", rng.integers(0, 255, (64, 96), dtype=np.uint8))
    out = tmp_path / "out"
    enhance = lambda subject, *more: ("octsr.enhance", f"input={tmp_path / subject / 'test.tif'}", f"output={out}",
                                      "weights=fast", *more)
    first, again, other, forced = run_cli_batch([enhance("a"), enhance("a"), enhance("b"), enhance("b", "overwrite=true")])
    assert first.returncode == 0 and again.returncode == 0, again.stderr[-2000:]
    lines = [line for line in other.stderr.splitlines() if line.strip()]
    assert other.returncode == 2 and len(lines) == 1, other.stderr[-2000:]
    assert f"{out / 'test.tif'} already exists" in lines[0] and "overwrite=true" in lines[0]
    assert forced.returncode == 0
    from octsr.weights import SHIPPED

    model = tmp_path / "model.pt"
    model.write_bytes(SHIPPED["fast"].read_bytes())
    before = model.read_bytes()
    over_itself, weights, other_model = run_cli_batch([
        ("octsr.export", f"ckpt_path={model}", "format=weights", f"output={model}"),
        ("octsr.export", f"ckpt_path={model}", "format=weights", f"output={tmp_path / 'w.pt'}"),
        ("octsr.export", "weights=best", "format=weights", f"output={tmp_path / 'w.pt'}")])
    assert over_itself.returncode == 2 and "the model this export reads" in over_itself.stderr
    assert model.read_bytes() == before
    assert weights.returncode == 0 and other_model.returncode == 2 and "already exists" in other_model.stderr


def test_evaluate_rows_for_model_noisy_and_bm3d(trained_tiny, tmp_path):
    result = run_cli("octsr.evaluate", "data=phantom", "debug=tiny", f"ckpt_path={trained_tiny['best']}",
                     "bm3d.sigmas=[0.1,0.3]", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    table = (tmp_path / "results.md").read_text()
    for row in ("| model (", "| noisy input |", "| BM3D (sigma "):
        assert row in table
    assert "chosen on val images phantom_002" in table  # the val pair, not a test image
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert rows[0] == "method,image,psnr,ssim,gmsd,epi,psnr_matched,seconds"
    assert sum(",mean," in r for r in rows) == 3 and len(rows) == 1 + 3 * 2 + 3


@pytest.fixture
def unet_weights(tmp_path):
    """An untrained U-Net weights file: the downsampling network kind, unlike SRCNN."""
    return untrained_unet(tmp_path / "unet.pt")


@pytest.fixture
def residual_matched_unet_weights(tmp_path):
    """The same, predicting the noise and matching each image's mean brightness."""
    return untrained_unet(tmp_path / "unet_rm.pt", residual=True, match_input_mean=True)


@pytest.mark.parametrize("network", ["srcnn", "unet", "residual_matched_unet"])
def test_export_matches_the_eager_model_on_a_real_size_bscan(network, request, tmp_path):
    import onnxruntime

    ckpt = request.getfixturevalue("trained_tiny")["best"] if network == "srcnn" else \
        request.getfixturevalue(f"{network}_weights")
    result = run_cli("octsr.export", f"ckpt_path={ckpt}", f"output={tmp_path}/model")
    assert result.returncode == 0, result.stderr[-3000:]
    model = load_model(ckpt)
    session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    scripted = torch.jit.load(str(tmp_path / "model.pt"))
    # Traced on another size: height and width must stay free, odd ones included.
    for shape in [(450, 900), (401, 900)]:
        image = torch.rand(1, 1, *shape)
        with torch.no_grad():
            eager = model(image).numpy()
            assert np.abs(scripted(image).numpy() - eager).max() < 1e-5
        assert np.abs(session.run(None, {"noisy": image.numpy()})[0] - eager).max() < 1e-5


@pytest.mark.parametrize("weights", ["residual_matched_unet_weights"])
def test_enhance_tiles_a_unet_without_seams(weights, request, tmp_path):
    """enhance's tile= and halo= settings reach the tiler (what tiles give is the property
    test's: tests/test_properties.py)."""
    unet_weights = request.getfixturevalue(weights)
    scan = tmp_path / "scan.tif"
    tifffile.imwrite(scan, np.random.default_rng(1).integers(0, 65536, (401, 900), dtype=np.uint16))
    for tile in (128, 1024):
        result = run_cli("octsr.enhance", f"input={scan}", f"output={tmp_path}/tile{tile}",
                         f"ckpt_path={unet_weights}", f"tile={tile}", "halo=8")
        assert result.returncode == 0, result.stderr[-3000:]
    tiled = tifffile.imread(tmp_path / "tile128" / "scan.tif").astype(int)
    whole = tifffile.imread(tmp_path / "tile1024" / "scan.tif").astype(int)
    assert np.abs(tiled - whole).max() <= 1  # one 16-bit grey level of rounding


@needs_duke
@pytest.mark.parametrize("weights", ["best", "fast", "quality"])
def test_shipped_weights_enhance_a_duke_scan(tmp_path, weights):
    """Right after install, no checkpoint: a real scan comes out the same size and depth and
    far cleaner. (The quality targets themselves are tracked in experiments/unseen_scans.)"""
    if not SHIPPED[weights].is_file():
        pytest.skip(f"no {SHIPPED[weights].name} in this checkout")
    scan = DUKE_ROOT / "09" / "test.tif"
    args = [f"input={scan}", f"output={tmp_path}"] + ([] if weights == "best" else [f"weights={weights}"])
    result = run_cli("octsr.enhance", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert SHIPPED[weights].name in log  # the log names the model used
    # weights=quality was chosen with test-time flips and turns, and says their cost.
    assert ("test-time flips and turns" in log) == (weights == "quality")
    output = tifffile.imread(tmp_path / "test.tif")
    assert output.dtype == np.uint8 and output.shape == (401, 900)
    target = read_grayscale(DUKE_ROOT / "09" / "average.tif")

    def psnr(image):
        return 10 * np.log10(1 / np.mean((image - target) ** 2))

    assert psnr(output / 255.0) >= psnr(read_grayscale(scan)) + 6


@pytest.mark.parametrize("settings, expected", [
    ({}, False), ({"weights": "fast"}, False), ({"weights": "quality"}, True),
    ({"weights": "quality", "tta": False}, False), ({"weights": "best", "tta": True}, True),
    ({"weights": "quality", "ckpt_path": "own.ckpt"}, False),  # a user's own model: as asked only
])
def test_tta_left_empty_is_on_only_for_the_shipped_weights_chosen_with_it(settings, expected):
    from octsr.weights import uses_tta

    assert uses_tta(settings) is expected


def test_unknown_shipped_weights_is_one_line(tmp_path):
    scan = tmp_path / "scan.png"
    cv2.imwrite(str(scan), np.zeros((16, 16), np.uint8))
    result = run_cli("octsr.enhance", f"input={scan}", f"output={tmp_path / 'out'}", "weights=fastest")
    assert result.returncode == 2 and "octsr: error: weights=fastest: expected one of best, fast" in result.stderr


def test_a_full_disk_in_enhance_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """tifffile words a full disk as "405000 requested and 204592 written": the user gets
    the file, the free space and what to do, and no truncated file under the real name."""
    from hydra import compose, initialize_config_dir

    import octsr.formats.images as image_io
    from octsr.enhance import enhance
    from octsr.errors import WriteError
    from octsr.utils.failures import user_error_message
    from tests.conftest import CONF

    tifffile.imwrite(tmp_path / "scan.tif", np.random.default_rng(0).integers(0, 255, (64, 96), dtype=np.uint8))

    def disk_full(path, pages, compression):
        Path(path).write_bytes(b"\0" * 4096)  # what a half-written file looks like
        raise OSError("405000 requested and 204592 written")

    monkeypatch.setattr(image_io, "_write_tiff", disk_full)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="enhance", overrides=[f"input={tmp_path / 'scan.tif'}", f"output={tmp_path / 'out'}",
                                                        "weights=fast", "device=cpu"])
    with pytest.raises(WriteError) as err:
        enhance(cfg)
    message = user_error_message(err.value)
    assert message.startswith(f"{tmp_path / 'out' / 'scan.tif'}: could not be written (405000 requested")
    assert "MB free in" in message and "\n" not in message
    assert [p.name for p in (tmp_path / "out").iterdir()] == []


def test_enhance_tta_is_the_mean_of_the_eight_flips_and_turns(unet_weights, tmp_path):
    """tta=true: each output pixel is the mean of the model's outputs on the 8 flipped and
    turned copies, turned back (a non-square scan, so the turns change its shape)."""
    rng = np.random.default_rng(3)
    image = rng.random((70, 96), dtype=np.float32)
    tifffile.imwrite(tmp_path / "scan.tif", image)
    result = run_cli("octsr.enhance", f"input={tmp_path / 'scan.tif'}", f"output={tmp_path}/tta",
                     f"ckpt_path={unet_weights}", "tta=true", "precision=fp32")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test-time flips and turns" in result.stdout + result.stderr
    model = load_model(unet_weights)
    with torch.no_grad():
        x = torch.from_numpy(image)[None, None]
        views = [torch.rot90(model(torch.rot90(x.flip(-1) if flip else x, k, (-2, -1))), -k, (-2, -1))
                 for k in range(4) for flip in (False, True)]
        views = [v if not flip else v.flip(-1) for v, flip in zip(views, [False, True] * 4)]
        expected = torch.stack(views).mean(0)[0, 0].numpy()
    plain = model(x)[0, 0].detach().numpy()
    got = tifffile.imread(tmp_path / "tta" / "scan.tif")
    assert np.abs(got - expected).max() < 1e-5
    assert np.abs(got - plain).max() > 1e-3  # the untrained U-Net is not symmetric: tta changes it


def test_links_that_lead_nowhere_are_left_out_and_the_rest_restored(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    cv2.imwrite(str(scans / "good.png"), np.random.default_rng(1).integers(0, 256, (40, 60), dtype=np.uint8))
    (scans / "loop.png").symlink_to("loop.png")
    (scans / "b.tif").symlink_to("a")
    (scans / "a").symlink_to("b.tif")
    (scans / "gone.png").symlink_to(tmp_path / "moved.png")
    result = run_cli("octsr.enhance", f"input={scans}", f"output={tmp_path / 'out'}", "weights=fast")
    errors = [line for line in result.stderr.splitlines() if line.startswith("octsr: error:")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "4 symbolic link(s) in the input lead nowhere" in errors[0] and "1 written" in errors[0]
    assert results_in(tmp_path / "out") == ["good.png"]


def test_settings_that_cannot_apply_are_refused_before_work(tmp_path):
    """DICOM output for a TIFF that states no spacing, anonymize for inputs none of which
    becomes DICOM: one line each, nothing written. A TIFF volume that states its spacing
    (as octsr writes one) does become DICOM."""
    from octsr.formats import read_volume
    from octsr.formats.tiff import write_tiff_volume
    from octsr.formats.volume import Spacing

    rng = np.random.default_rng(2)
    tifffile.imwrite(tmp_path / "plain.tif", rng.integers(0, 256, (3, 40, 60), dtype=np.uint8),
                     photometric="minisblack")
    cv2.imwrite(str(tmp_path / "scan.png"), rng.integers(0, 256, (40, 60), dtype=np.uint8))
    placed = tmp_path / "placed"
    placed.mkdir()
    write_tiff_volume(placed / "volume.tif", list(rng.integers(0, 256, (3, 40, 60), dtype=np.uint8)),
                      Spacing(0.006, 0.004, 0.12))
    results = run_cli_batch([
        ("octsr.enhance", f"input={tmp_path / 'plain.tif'}", f"output={tmp_path / 'out1'}", "weights=fast",
         "output_format=dicom"),
        ("octsr.enhance", f"input={tmp_path / 'scan.png'}", f"output={tmp_path / 'out2'}", "weights=fast",
         "anonymize=true"),
        ("octsr.enhance", f"input={placed}", f"output={tmp_path / 'out3'}", "weights=fast", "output_format=dicom"),
    ])
    for result, said in zip(results[:2], ("states no spacing", "anonymize=true applies to DICOM output")):
        errors = [line for line in result.stderr.splitlines() if line.startswith("octsr: error:")]
        assert result.returncode == 2 and len(errors) == 1 and said in errors[0], result.stderr[-3000:]
    assert not (tmp_path / "out1").exists() and not (tmp_path / "out2").exists()
    assert results[2].returncode == 0, results[2].stderr[-3000:]
    derived = read_volume(tmp_path / "out3" / "volume.dcm")
    assert derived.format == "dicom" and derived.spacing == Spacing(0.006, 0.004, 0.12)


def test_ctrl_c_says_what_was_finished_and_leaves_nothing_half_written(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    scans = tmp_path / "scans"
    scans.mkdir()
    rng = np.random.default_rng(3)
    # Enough scans that a loaded machine's scheduling delays cannot let the run finish
    # between its first output and the interrupt (the fast model takes ~30 ms a scan).
    for k in range(200):
        cv2.imwrite(str(scans / f"scan{k:03d}.png"), rng.integers(0, 256, (400, 600), dtype=np.uint8))
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "octsr.enhance", f"input={scans}", f"output={out}",
                            "weights=fast"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env={**os.environ, "PYTHONUNBUFFERED": "1"},
                           # As from a terminal: a suite started in the background (`make test &`)
                           # passes SIGINT on ignored, and Python then installs no handler for it.
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list(out.glob("scan*.png")) and time.monotonic() < deadline and run.poll() is None:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=60)
    finished = sorted(out.glob("scan*.png"))
    assert run.returncode == 130 and "Traceback" not in stderr, (run.returncode, len(finished), stderr[-3000:])
    lines = [line for line in stderr.splitlines() if line.startswith("octsr:")]
    assert lines == [f"octsr: interrupted: {len(finished)} of 200 output(s) finished in {out}, each complete; "
                     f"rerun the same command to finish"], stderr[-2000:]
    assert 0 < len(finished) < 200 and not list(out.glob(".*.tmp*"))
    assert all(cv2.imread(str(p), cv2.IMREAD_UNCHANGED).shape == (400, 600) for p in finished)


def test_an_output_renamed_into_place_as_ctrl_c_lands_is_still_vouched_for(tmp_path, monkeypatch):
    """The interrupt can land between an output's rename and its record: the run still counts
    and records it, so the rerun takes it as its own instead of refusing to replace it."""
    from hydra import compose, initialize_config_dir

    import octsr.enhance as enhance_module
    from tests.conftest import CONF

    scans = tmp_path / "scans"
    scans.mkdir()
    for name in ("a", "b"):
        cv2.imwrite(str(scans / f"{name}.png"), np.full((64, 96), 90, np.uint8))
    written_whole = enhance_module.enhance_file

    def interrupted_after_the_rename(path, target, kind, restorer, cfg):
        written_whole(path, target, kind, restorer, cfg)
        raise KeyboardInterrupt  # the output is complete under its name, not yet recorded

    monkeypatch.setattr(enhance_module, "enhance_file", interrupted_after_the_rename)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="enhance", overrides=[f"input={scans}", f"output={tmp_path / 'out'}",
                                                        "weights=fast", "device=cpu"])
    with pytest.raises(KeyboardInterrupt):
        enhance_module.enhance(cfg)
    assert [p.name for p in (tmp_path / "out").glob("*.png")] == ["a.png"]
    monkeypatch.setattr(enhance_module, "enhance_file", written_whole)
    assert sorted(p.name for p in enhance_module.enhance(cfg)) == ["a.png", "b.png"]  # the rerun finishes it
