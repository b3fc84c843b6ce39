import cv2
import numpy as np
import pytest

from octsr.data.pairs import DukePairs, FilePair, FolderPairs
from octsr.data.phantom import PhantomPairs
from octsr.errors import DataError
from tests.conftest import DUKE_ROOT, needs_duke

DUKE_SPLITS = dict(train=["01", "02", "03", "04", "05", "06"], val=["07", "08"],
                   test=["09", "10", "11", "12"])


@needs_duke
def test_duke_subjects_split_and_load():
    splits = DukePairs(DUKE_ROOT, **DUKE_SPLITS).splits()
    assert [len(splits[s]) for s in ("train", "val", "test")] == [6, 2, 4]
    noisy, target = splits["test"][0].load()  # subject 09 is the odd size
    assert noisy.shape == target.shape == (401, 900)
    assert noisy.dtype == np.float32 and 0 <= noisy.min() and noisy.max() <= 1


def test_duke_errors_name_the_path(tmp_path):
    with pytest.raises(DataError, match="data.root=.*nowhere: no such folder"):
        DukePairs(tmp_path / "nowhere", ["01"], [], []).splits()
    (tmp_path / "01").mkdir()
    cv2.imwrite(str(tmp_path / "01" / "test.tif"), np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match=r"01/average.tif: missing \(averaged target of subject 01\)"):
        DukePairs(tmp_path, ["01"], [], []).splits()
    with pytest.raises(DataError, match="names subject 02, but .*02 does not exist"):
        DukePairs(tmp_path, ["02"], [], []).splits()
    cv2.imwrite(str(tmp_path / "01" / "average.tif"), np.zeros((8, 8), np.uint8))
    with pytest.raises(DataError, match="01 in both data.splits.train and data.splits.test"):
        DukePairs(tmp_path, ["01"], [], ["01"]).splits()
    assert len(DukePairs(tmp_path, ["01"], ["01"], []).splits()["val"]) == 1  # allowed, warned


def write_folder(root, names, missing_clean=()):
    for sub in ("noisy", "clean"):
        (root / sub).mkdir(parents=True)
    for name in names:
        cv2.imwrite(str(root / "noisy" / f"{name}.png"), np.full((16, 20), 10, np.uint8))
        if name not in missing_clean:
            cv2.imwrite(str(root / "clean" / f"{name}.tif"), np.full((16, 20), 20, np.uint8))


def test_folder_layout_pairs_by_name_and_splits(tmp_path):
    names = [f"scan{i}" for i in range(10)]
    write_folder(tmp_path, names)
    splits = FolderPairs(tmp_path, val_fraction=0.2, test_fraction=0.1).splits()
    assert [len(splits[s]) for s in ("train", "val", "test")] == [7, 2, 1]
    assert sorted(p.name for s in splits.values() for p in s) == names
    noisy, clean = splits["train"][0].load()
    assert noisy[0, 0] == pytest.approx(10 / 255) and clean[0, 0] == pytest.approx(20 / 255)
    named = FolderPairs(tmp_path, train=["scan1", "scan2"], val=["scan3"], test=["scan4"]).splits()
    assert [p.name for p in named["train"]] == ["scan1", "scan2"]
    with pytest.raises(DataError, match="data.splits.val names 'scan99'"):
        FolderPairs(tmp_path, train=["scan1"], val=["scan99"]).splits()


def test_folder_layout_missing_partner_names_the_file(tmp_path):
    write_folder(tmp_path, ["a", "b"], missing_clean=["b"])
    with pytest.raises(DataError, match=r"noisy/b.png: no partner named b\.\* in .*clean"):
        FolderPairs(tmp_path).splits()


def test_folder_pair_of_different_sizes_names_both_files(tmp_path):
    write_folder(tmp_path, ["a"])
    cv2.imwrite(str(tmp_path / "clean" / "a.tif"), np.zeros((5, 5), np.uint8))
    pair = FolderPairs(tmp_path, train=["a"]).splits()["train"][0]
    with pytest.raises(DataError, match=r"noisy/a.png is 16x20 but its target .*clean/a.tif is 5x5"):
        pair.load()


def test_phantom_is_deterministic_and_shaped_like_oct():
    first = PhantomPairs(count=3, height=120, width=160, averaged_frames=8, n_train=1, n_val=1, seed=3).splits()
    again = PhantomPairs(count=3, height=120, width=160, averaged_frames=8, n_train=1, n_val=1, seed=3).splits()
    other = PhantomPairs(count=3, height=120, width=160, averaged_frames=8, n_train=1, n_val=1, seed=4).splits()
    noisy, target = first["test"][0].load()
    np.testing.assert_array_equal(noisy, again["test"][0].load()[0])
    assert not np.array_equal(noisy, other["test"][0].load()[0])
    assert noisy.shape == target.shape and abs(noisy.shape[0] - 120) <= 3
    # Averaging many frames removes most speckle: far less pixel-to-pixel variation.
    assert cv2.Laplacian(target, cv2.CV_32F).var() < 0.2 * cv2.Laplacian(noisy, cv2.CV_32F).var()
    assert abs(noisy.mean() - target.mean()) < 0.05 * target.mean()  # speckle keeps brightness


@needs_duke
def test_duke_all_frames_train_on_every_noisy_frame_and_score_on_test_tif():
    splits = DukePairs(DUKE_ROOT, ["01", "02"], ["07"], ["09"], frames="all").splits()
    assert [p.name for p in splits["train"]] == ["01", "01_1", "01_2", "01_3", "01_4",
                                                 "02", "02_1", "02_2", "02_3", "02_4"]
    assert {p.target_path.name for p in splits["train"]} == {"average.tif"}
    assert [p.noisy_path.name for p in splits["val"] + splits["test"]] == ["test.tif", "test.tif"]
    frame, target = splits["train"][1].load()
    first, _ = splits["train"][0].load()
    assert frame.shape == target.shape and not np.array_equal(frame, first)


@needs_duke
def test_duke_noise2noise_pairs_each_frame_with_the_next_and_never_the_average():
    splits = DukePairs(DUKE_ROOT, ["03"], ["07"], ["09"], train_target="next_frame").splits()
    inputs = [p.noisy_path.name for p in splits["train"]]
    targets = [p.target_path.name for p in splits["train"]]
    assert inputs == ["test.tif", "1.tif", "2.tif", "3.tif", "4.tif"]
    assert targets == ["1.tif", "2.tif", "3.tif", "4.tif", "test.tif"]
    assert splits["val"][0].target_path.name == "average.tif"  # scored against the average


def test_single_frames_refuse_noise2noise(tmp_path):
    write_folder(tmp_path, ["a", "b"])
    with pytest.raises(DataError, match="a: data.train_target=next_frame needs at least two noisy frames"):
        FolderPairs(tmp_path, train=["a"], val=["b"], train_target="next_frame").splits()


def test_folder_extra_frames_are_named_after_their_clean_partner(tmp_path):
    write_folder(tmp_path, ["scan1", "scan2", "v1.5"])  # "v1.5" has its own clean partner
    for extra in ("scan1.1", "scan1.2", "scan2.7"):
        cv2.imwrite(str(tmp_path / "noisy" / f"{extra}.png"), np.full((16, 20), 30, np.uint8))
    split = dict(train=["scan1", "v1.5"], val=["scan2"], test=[])
    one = FolderPairs(tmp_path, **split).splits()
    assert [p.name for p in one["train"]] == ["scan1", "v1.5"]
    every = FolderPairs(tmp_path, frames="all", **split).splits()
    assert [(p.name, p.noisy_path.name, p.target_path.name) for p in every["train"]] == [
        ("scan1", "scan1.png", "scan1.tif"), ("scan1_scan1.1", "scan1.1.png", "scan1.tif"),
        ("scan1_scan1.2", "scan1.2.png", "scan1.tif"), ("v1.5", "v1.5.png", "v1.5.tif")]
    assert [p.noisy_path.name for p in every["val"]] == ["scan2.png"]  # extra frames never scored
    cv2.imwrite(str(tmp_path / "noisy" / "orphan.3.png"), np.zeros((16, 20), np.uint8))
    with pytest.raises(DataError, match="orphan.3.png: no partner named orphan.3.* .*NAME.K"):
        FolderPairs(tmp_path, **split).splits()


@needs_duke
def test_duke_input_frames_stack_test_tif_then_the_numbered_frames_in_every_split():
    splits = DukePairs(DUKE_ROOT, ["01"], ["07"], ["09"], input_frames=5).splits()
    for split in ("train", "val", "test"):
        (pair,) = splits[split]
        assert [p.name for p in (pair.noisy_path, *pair.more_frames)] == ["test.tif", "1.tif", "2.tif", "3.tif", "4.tif"]
    noisy, target = splits["test"][0].load()
    assert noisy.shape == (5, *target.shape) == (5, 401, 900)
    np.testing.assert_array_equal(noisy[0], FilePair("09", splits["test"][0].noisy_path, splits["test"][0].target_path).load()[0])
    with pytest.raises(DataError, match="09: data.input_frames=6 needs 6 noisy frames of this scan, found 5"):
        DukePairs(DUKE_ROOT, [], [], ["09"], input_frames=6).splits()


def test_folder_input_frames_take_name_then_its_frames_in_number_order(tmp_path):
    write_folder(tmp_path, ["scan1", "scan2"])
    for extra in ("scan1.2", "scan1.10", "scan2.1", "scan2.2"):
        cv2.imwrite(str(tmp_path / "noisy" / f"{extra}.png"), np.full((16, 20), 30, np.uint8))
    splits = FolderPairs(tmp_path, train=["scan1"], val=["scan2"], test=[], input_frames=3).splits()
    assert [p.name for p in (splits["train"][0].noisy_path, *splits["train"][0].more_frames)] == [
        "scan1.png", "scan1.2.png", "scan1.10.png"]
    assert splits["val"][0].load()[0].shape == (3, 16, 20)
    with pytest.raises(DataError, match="scan1: data.input_frames=4 needs 4 noisy frames of this scan, found 3"):
        FolderPairs(tmp_path, train=["scan1"], val=["scan2"], test=[], input_frames=4).splits()


def test_phantom_input_frames_add_independent_frames_and_keep_the_single_frame_pair():
    one = PhantomPairs(count=3, height=60, width=80, averaged_frames=4, n_train=1, n_val=1).splits()["test"][0].load()
    three = PhantomPairs(count=3, height=60, width=80, averaged_frames=4, n_train=1, n_val=1,
                         input_frames=3).splits()["test"][0].load()
    assert three[0].shape == (3, *one[0].shape)
    np.testing.assert_array_equal(three[0][0], one[0])
    np.testing.assert_array_equal(three[1], one[1])
    assert not np.array_equal(three[0][1], three[0][2])
