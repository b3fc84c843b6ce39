"""Training on raw volumes, no averages anywhere (`data=volumes`), and fine-tuning the shipped
model on them (`experiment=adapt`): pairs, splits, the one-line refusals, and the whole path
from a folder of volumes to a checkpoint that enhances."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import tifffile

from octsr.data.volume_pairs import VolumePairs, neighbour, scored_indices, train_partners
from octsr.errors import DataError
from tests.conftest import VENDOR_SAMPLES, results_in, run_cli, run_cli_batch
from tests.opt_objects import opt_dataset, speckled_volume, write


@pytest.fixture
def volume_folder(tmp_path):
    """Four TIFF volumes, one 16-bit DICOM OPT object pydicom builds, one single-B-scan TIFF."""
    rng = np.random.default_rng(0)
    root = tmp_path / "volumes"
    root.mkdir()
    for k in range(4):
        tifffile.imwrite(root / f"eye{k}.tif", speckled_volume(rng, 4 + k), photometric="minisblack")
    write(opt_dataset(speckled_volume(rng, 3, dtype=np.uint16)), root / "clinic.dcm")
    tifffile.imwrite(root / "single.tif", speckled_volume(rng, 1)[0], photometric="minisblack")
    return root


def test_each_bscan_pairs_with_its_neighbour():
    assert [neighbour(i, 4) for i in range(4)] == [1, 2, 3, 2]
    assert scored_indices(5, 8) == [0, 1, 2, 3, 4]
    assert scored_indices(128, 8) == [0, 18, 36, 54, 73, 91, 109, 127]
    assert scored_indices(128, 1) == [64]
    assert [train_partners(i, 4, "next") for i in range(4)] == [[1], [2], [3], [2]]
    assert [train_partners(i, 4, "both") for i in range(4)] == [[1], [0, 2], [1, 3], [2]]


def test_volumes_split_by_volume_and_pair_neighbouring_bscans(volume_folder, caplog):
    source = VolumePairs(volume_folder, train=["eye0", "eye1", "clinic", "single"], val=["eye2"], test=["eye3"],
                         scored_bscans=3, intensity="stored")
    with caplog.at_level(logging.WARNING):
        splits = source.splits()
    assert "single.tif" in caplog.text  # left out, with a word: it has no neighbour
    volume_of = {split: {pair.name.rsplit("_", 1)[0] for pair in pairs} for split, pairs in splits.items()}
    assert volume_of == {"train": {"eye0", "eye1", "clinic"}, "val": {"eye2"}, "test": {"eye3"}}
    assert len(splits["train"]) == 4 + 5 + 3  # every B-scan of a train volume is an input once
    assert [(p.index, p.partner) for p in splits["val"]] == [(0, 1), (2, 3), (5, 4)]  # 3 of 6, first to last
    tiff = tifffile.imread(volume_folder / "eye1.tif")
    noisy, target = next(p for p in splits["train"] if p.name == "eye1_004").load()
    assert noisy.dtype == np.float32 and np.allclose(noisy * 255, tiff[4]) and np.allclose(target * 255, tiff[3])
    dicom_noisy, _ = next(p for p in splits["train"] if p.name == "clinic_000").load()
    assert dicom_noisy.shape == (80, 96) and 0 < dicom_noisy.max() <= 1  # 16-bit, to the unit range


def test_each_volume_is_trained_on_through_the_transform_of_its_law(volume_folder):
    """intensity=auto: every B-scan of a volume through one transform, fitted on the volume,
    so a pair's two B-scans stay in one domain; the volume's stated law wins over an estimate."""
    from octsr.data.intensity import file_transform
    from octsr.formats import read_volume

    stored = read_volume(volume_folder / "eye1.tif").to_unit_range()
    transform = file_transform(stored, "linear")
    pairs = VolumePairs(volume_folder, train=["eye1"], val=["eye2"], test=["eye3"], intensity="linear").splits()
    noisy, target = next(p for p in pairs["train"] if p.name == "eye1_004").load()
    assert np.allclose(noisy, transform.forward(stored[4])) and np.allclose(target, transform.forward(stored[3]))
    assert not np.allclose(noisy, stored[4])  # a power law's log: not the stored values
    auto = VolumePairs(volume_folder, train=["eye1"], val=["eye2"], test=["eye3"]).splits()["train"][4].load()[0]
    assert np.allclose(auto, file_transform(stored, "auto").forward(stored[4]))


def test_both_neighbours_pair_each_train_bscan_with_each_side(volume_folder):
    splits = VolumePairs(volume_folder, train=["eye1"], val=["eye2"], test=["eye3"], neighbours="both",
                         intensity="stored").splits()
    assert [(p.index, p.partner) for p in splits["train"]] == [(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2),
                                                               (3, 4), (4, 3)]
    assert len({p.name for p in splits["train"]}) == 8  # each names its own patches' seed
    assert [(p.index, p.partner) for p in splits["val"]] == [(i, i + 1) for i in range(5)] + [(5, 4)]


def test_registered_neighbours_are_shifted_onto_their_bscan(tmp_path):
    """register=True: a neighbour whose tissue lies 4 rows lower is shifted back onto the
    B-scan, column by column, before it becomes the target; without it, the target is as stored."""
    rng = np.random.default_rng(2)
    rows = np.arange(96)[:, None]
    tissue = np.exp(-((rows - 40.0) / 8) ** 2) * np.ones((1, 128))
    volume = np.stack([tissue, np.roll(tissue, 4, axis=0)])
    volume = np.clip(volume * 0.8 + 0.1 + rng.normal(0, 0.02, volume.shape), 0, 1)
    for name in ("a", "b", "c"):
        tifffile.imwrite(tmp_path / f"{name}.tif", (volume * 255).astype(np.uint8), photometric="minisblack")
    scan, target = (VolumePairs(tmp_path, train=["a"], val=["b"], test=["c"], intensity="stored", register=True)
                    .splits()["train"][0].load())
    _, stored = VolumePairs(tmp_path, train=["a"], val=["b"], test=["c"], intensity="stored").splits()["train"][0].load()
    assert np.allclose(target[10:90], np.roll(stored, -4, axis=0)[10:90])
    assert np.abs(target - scan).mean() < 0.5 * np.abs(stored - scan).mean()


def test_a_random_split_is_seeded_and_never_shares_a_volume(volume_folder):
    names = lambda seed: {split: sorted({p.name.rsplit("_", 1)[0] for p in pairs}) for split, pairs in
                          VolumePairs(volume_folder, val_fraction=0.2, test_fraction=0.2, seed=seed).splits().items()}
    first = names(3)
    assert first == names(3)
    assert sum(len(v) for v in first.values()) == 5 and not set(first["train"]) & set(first["val"] + first["test"])


@pytest.mark.skipif(not (VENDOR_SAMPLES / "heyex_vol").is_dir(), reason=f"no vendor samples at {VENDOR_SAMPLES}")
def test_heidelberg_files_and_exports_are_volumes_too(tmp_path):
    pytest.importorskip("eyepy", reason="the scanners extra is not installed")
    (tmp_path / "scan.vol").symlink_to(VENDOR_SAMPLES / "heyex_vol" / "test_volume.vol")
    (tmp_path / "export").symlink_to(VENDOR_SAMPLES / "heyex_xml" / "test_volume", target_is_directory=True)
    files = VolumePairs(tmp_path).volume_files()
    assert sorted(files) == ["export", "scan"] and files["export"].suffix == ".xml"
    splits = VolumePairs(tmp_path, train=["scan"], val=["export"]).splits()
    assert len(splits["train"]) == 10 and splits["train"][0].load()[0].shape == (40, 50)


def test_volumes_of_one_bscan_end_in_one_line(tmp_path):
    rng = np.random.default_rng(1)
    for k in range(3):
        tifffile.imwrite(tmp_path / f"b{k}.tif", speckled_volume(rng, 1)[0], photometric="minisblack")
    with pytest.raises(DataError, match="single B-scan"):
        VolumePairs(tmp_path, train=["b0"], val=["b1"]).splits()
    result = run_cli("octsr.train", "data=volumes", f"data.root={tmp_path}", "debug=tiny",
                     f"hydra.run.dir={tmp_path}/run")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "needs volumes of 2 or more" in result.stderr.strip().splitlines()[-1]


def test_adapt_trains_on_raw_volumes_and_its_checkpoint_enhances(volume_folder, tmp_path):
    """The walk-through of docs/own_scans.md: a folder of volumes -> experiment=adapt -> ckpt_path= in enhance."""
    run = tmp_path / "adapt"
    result = run_cli("octsr.train", "data=volumes", f"data.root={volume_folder}", "experiment=adapt",
                     "data.splits.train=[eye0,eye1,clinic]", "data.splits.val=[eye2]", "data.splits.test=[eye3]",
                     "data.protocol.patch_size=32", "data.protocol.patch_stride=32", "trainer.max_steps=6",
                     "trainer.val_check_interval=3", "callbacks.progress_bar=null", "logger=csv",
                     f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Starting from the weights of init_from=best" in result.stderr + result.stdout
    best = [p for p in (run / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt"]
    assert len(best) == 1
    # trained through each volume's intensity transform: enhance and evaluate apply it too
    from octsr.inference import load_restorer

    assert load_restorer({"ckpt_path": str(best[0])}).intensity == "auto"
    assert load_restorer({"ckpt_path": str(best[0]), "intensity": "stored"}).intensity == "stored"
    out = tmp_path / "out"
    enhanced, evaluated = run_cli_batch([
        ("octsr.enhance", f"input={volume_folder / 'clinic.dcm'}", f"output={out}", f"ckpt_path={best[0]}"),
        ("octsr.evaluate", "data=volumes", f"data.root={volume_folder}", "data.splits.train=[eye0]",
         "data.splits.val=[eye2]", "data.splits.test=[eye3,clinic]", f"ckpt_path={best[0]}", "bm3d.sigmas=[0.3]",
         f"hydra.run.dir={tmp_path / 'evaluate'}")])
    assert enhanced.returncode == 0, enhanced.stderr[-3000:]
    assert results_in(out) == ["clinic.dcm"]
    # evaluate without averages: the same neighbour pairs, and the table says so
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    table = (tmp_path / "evaluate" / "results.md").read_text()
    assert "neighbouring B-scan" in table and "BM3D (sigma 0.3)" in table and "clinic_002" in table


def test_init_from_another_network_is_one_line(tmp_path):
    result = run_cli("octsr.train", "debug=tiny", "init_from=fast", "model=unet", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "init_from=fast" in result.stderr and "holds a SRCNN, but the config builds a UNet" in result.stderr


def write_with_localizer(path, rng, bscans: int) -> None:
    """A TIFF volume as many scanners export it: a 96x96 localizer first, then 64x128 B-scans."""
    with tifffile.TiffWriter(path) as tif:
        tif.write(rng.integers(0, 256, (96, 96), dtype=np.uint8), photometric="minisblack", metadata=None)
        for scan in speckled_volume(rng, bscans, shape=(64, 128)):
            tif.write(scan, photometric="minisblack", metadata=None)


def test_a_localizer_page_is_left_out_of_training_and_pages_of_no_common_size_are_refused(tmp_path):
    rng = np.random.default_rng(2)
    scans, mixed = tmp_path / "scans", tmp_path / "mixed"
    for folder in (scans, mixed):
        folder.mkdir()
        for k in range(3):
            write_with_localizer(folder / f"eye{k}.tif", rng, 4)
    with tifffile.TiffWriter(mixed / "odd.tif") as tif:
        for shape in ((64, 128), (96, 96), (64, 96)):
            tif.write(np.zeros(shape, np.uint8), photometric="minisblack", metadata=None)
    splits = VolumePairs(scans, train=["eye0"], val=["eye1"], test=["eye2"]).splits()
    assert [(p.index, p.partner) for p in splits["train"]] == [(0, 1), (1, 2), (2, 3), (3, 2)]
    assert all(scan.shape == (64, 128) for pair in splits["train"] for scan in pair.load())
    trained, refused = run_cli_batch([
        ("octsr.train", "data=volumes", f"data.root={folder}", "debug=tiny", f"data.splits.train={train}",
         "data.splits.val=[eye1]", "data.splits.test=[eye2]", "callbacks.progress_bar=null", "logger=csv",
         f"hydra.run.dir={tmp_path / folder.name}_run")
        for folder, train in ((scans, "[eye0]"), (mixed, "[eye0,odd]"))])
    assert trained.returncode == 0, trained.stderr[-3000:]
    said = trained.stdout + trained.stderr
    assert f"{scans / 'eye0.tif'}: left out 1 of its 5 pages as not B-scans of this volume (its 4 B-scans are " \
           f"64x128): page 1 (96x96)" in said
    assert "train 1 (4 pairs), val 1 (4 B-scans), test 1 (4 B-scans)" in said  # pairs between B-scans only
    errors = [line for line in refused.stderr.splitlines() if line.startswith("octsr: error:")]
    assert refused.returncode == 2 and "Traceback" not in refused.stderr and len(errors) == 1
    assert f"{mixed / 'odd.tif'}: its pages are 1 of 64x128, 1 of 96x96, 1 of 64x96" in errors[0]
