import cv2
import numpy as np
import pytest

from octsr.data.frame_targets import blurred, column_shifts, nearest, shift_columns, similarity
from octsr.data.pairs import DukePairs, FolderPairs
from octsr.errors import DataError
from tests.conftest import DUKE_ROOT, needs_duke


def tissue(height=120, width=256, seed=0):
    """Horizontal bands that bend across the scan, plus speckle-like noise."""
    rows = np.arange(height)[:, None] - 8 * np.sin(np.arange(width) / 40)[None, :]
    bands = 0.5 + 0.3 * np.sin(rows / 5)
    return np.clip(bands + 0.1 * np.random.default_rng(seed).standard_normal((height, width)), 0, 1).astype(np.float32)


def test_column_shifts_undo_an_axial_shift_that_varies_across_the_scan():
    fixed = tissue()
    true = np.rint(np.linspace(-4, 3, fixed.shape[1])).astype(int)
    moving = shift_columns(tissue(seed=1), -true)  # same tissue, other speckle, moved
    found = column_shifts(blurred(moving), blurred(fixed))
    assert np.abs(found - true)[32:-32].max() <= 1  # strip centres interpolated towards the edges
    registered = shift_columns(moving, found)
    assert similarity(blurred(registered), blurred(fixed)) > similarity(blurred(moving), blurred(fixed)) + 3


def test_shift_columns_moves_whole_pixels_and_repeats_the_edge_row():
    image = np.arange(12, dtype=np.float32).reshape(4, 3)
    shifted = shift_columns(image, np.array([1, 0, -2]))
    assert shifted[:, 0].tolist() == [0, 0, 3, 6]
    assert shifted[:, 1].tolist() == image[:, 1].tolist()
    assert shifted[:, 2].tolist() == [8, 11, 11, 11]


def test_nearest_is_the_most_alike_other_frame():
    base = blurred(tissue())
    frames = [base, base + 0.2, base + 0.01, base - 0.05]
    assert nearest(0, frames) == 2
    assert nearest(2, frames) == 0


@needs_duke
def test_duke_nearest_and_registered_targets_are_closer_frames_never_the_average():
    closeness = {}
    for train_target in ("next_frame", "nearest_frame", "registered_frame"):
        splits = DukePairs(DUKE_ROOT, ["04"], ["07"], ["09"], train_target=train_target).splits()
        assert [p.name for p in splits["train"]] == ["04", "04_1", "04_2", "04_3", "04_4"]
        loaded = [p.load() for p in splits["train"]]
        for noisy, target in loaded:
            assert noisy.shape == target.shape and not np.array_equal(noisy, target)
        closeness[train_target] = np.mean([similarity(blurred(n), blurred(t)) for n, t in loaded])
        assert splits["val"][0].target_path.name == "average.tif"  # scored against the average
    assert closeness["next_frame"] < closeness["nearest_frame"] < closeness["registered_frame"]


def test_folder_registered_targets_line_up_with_their_input(tmp_path):
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    clean = tissue()
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / "clean" / f"{name}.png"), (clean * 255).astype(np.uint8))
        cv2.imwrite(str(tmp_path / "noisy" / f"{name}.png"), (tissue(seed=2) * 255).astype(np.uint8))
    moved = shift_columns(tissue(seed=3), np.full(clean.shape[1], 5))
    cv2.imwrite(str(tmp_path / "noisy" / "a.1.png"), (moved * 255).astype(np.uint8))
    pairs = FolderPairs(tmp_path, train=["a"], val=["b"], train_target="registered_frame").splits()["train"]
    noisy, target = pairs[0].load()
    assert similarity(blurred(target), blurred(noisy)) > similarity(blurred(moved), blurred(noisy)) + 3


def test_frames_of_different_sizes_are_refused(tmp_path):
    (tmp_path / "noisy").mkdir()
    (tmp_path / "clean").mkdir()
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / "clean" / f"{name}.png"), np.zeros((16, 20), np.uint8))
        cv2.imwrite(str(tmp_path / "noisy" / f"{name}.png"), np.zeros((16, 20), np.uint8))
    cv2.imwrite(str(tmp_path / "noisy" / "a.1.png"), np.zeros((16, 24), np.uint8))
    pair = FolderPairs(tmp_path, train=["a"], val=["b"], train_target="nearest_frame").splits()["train"][0]
    with pytest.raises(DataError, match="a.1.png is 16x24 but .*a.png is 16x20; a scan's frames must match"):
        pair.load()
