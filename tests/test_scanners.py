"""Simulated other scanners for training (`data.scanner_copies`): each copy of a train pair is
stored as another device would store it and shown to the network as inference shows such a
file; the pairs as they are stay exactly as before."""

from __future__ import annotations

import numpy as np
import pytest

from octsr.data.datamodule import PairedOCTDataModule
from octsr.data.phantom import PhantomPairs
from octsr.data.protocol import PaperProtocol
from octsr.data.scanners import LATERAL_RANGE, Scanner, scanner_copy
from tests.test_intensity import log_display


def test_a_scanner_that_stores_as_the_training_scans_changes_nothing():
    grey = log_display(np.random.default_rng(0))
    same = Scanner("log", slope=1.0, exponent=0.5, gain=1.0, black=0.0, lateral=1.0, area=True, bits=None)
    assert np.allclose(same.store(grey), grey, atol=1e-6)


def test_each_law_is_stored_as_its_devices_store_it():
    grey = log_display(np.random.default_rng(1))
    common = dict(slope=1.0, exponent=0.25, gain=1.0, black=0.0, lateral=1.0, area=True)
    linear = Scanner("linear", bits=None, **common).store(grey)
    root = Scanner("root", bits=16, **common).store(grey)
    assert np.allclose(linear, 10.0 ** (4 * (grey - 1.0)), rtol=1e-4)  # 40 dB of linear intensity
    assert np.allclose(root, linear ** 0.25, atol=2 / 65535)  # its fourth root, in 16 bits
    eight_bit = Scanner("log", bits=8, **common).store(grey)
    assert np.allclose(eight_bit * 255, np.round(eight_bit * 255), atol=1e-4)
    narrow = Scanner("log", bits=None, **{**common, "lateral": 0.55}).store(grey)
    assert narrow.shape == (grey.shape[0], round(grey.shape[1] * 0.55))


@pytest.mark.parametrize("seed", range(12))
def test_a_copy_keeps_its_pair_aligned_and_reaches_the_network_in_the_training_domain(seed):
    """Whatever scanner is drawn, input and target take the same one, and after the transform
    inference would apply the copy looks like the original (same tissue, same place)."""
    rng = np.random.default_rng(seed)
    grey = log_display(np.random.default_rng(100 + seed), shape=(120, 240))
    target = np.clip(grey + 0.01, 0, 1)
    noisy, shown_target, scanner = scanner_copy(grey, target, rng)
    assert noisy.shape == shown_target.shape == (120, round(240 * scanner.lateral))
    assert LATERAL_RANGE[0] <= scanner.lateral <= LATERAL_RANGE[1]
    # the same tissue: the original resampled like the copy correlates with it
    import cv2

    resampled = cv2.resize(grey, (noisy.shape[1], 120), interpolation=cv2.INTER_AREA)
    assert np.corrcoef(resampled.ravel(), noisy.ravel())[0, 1] > 0.8, scanner
    assert np.abs(np.median(noisy) - np.median(grey)) < 0.1, scanner  # where the training scans lie


def test_scanner_copies_add_train_images_and_leave_the_pairs_as_they_were():
    def train_set(copies: int) -> PairedOCTDataModule:
        source = PhantomPairs(count=4, height=96, width=160, averaged_frames=4, n_train=2, n_val=1, seed=0)
        module = PairedOCTDataModule(source, PaperProtocol(crop_size=64, crops_per_image=2, patch_size=32,
                                                           patch_stride=16), seed=5, scanner_copies=copies)
        module.setup("fit")
        return module

    plain, copied = train_set(0), train_set(2)
    per_pair = 2 * 5  # crops x affine variants
    assert len(copied.train_set.views) == 3 * len(plain.train_set.views) == 3 * 2 * per_pair
    for pair in range(2):
        for view in range(per_pair):
            # the pair as loaded keeps its crops and pixels: a run without copies is unchanged
            before = plain.train_set.image(pair * per_pair + view)
            after = copied.train_set.image(pair * 3 * per_pair + view)
            assert all(np.array_equal(a, b) for a, b in zip(before, after))
            # each copy is another image of the same pair
            copy = copied.train_set.image(pair * 3 * per_pair + per_pair + view)
            assert not np.array_equal(copy[0], before[0])


def test_a_run_with_scanner_copies_records_that_it_expects_the_transform(tmp_path):
    """`python -m octsr.train data.scanner_copies=1`: the copies are trained on, and the
    checkpoint tells enhance to show every file through the intensity transform."""
    from octsr.inference import load_restorer
    from tests.conftest import run_cli

    result = run_cli("octsr.train", "debug=tiny", "data.scanner_copies=1", "callbacks.progress_bar=null",
                     "logger=csv", f"hydra.run.dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "each also as 1 simulated scanner(s)" in result.stderr + result.stdout
    assert load_restorer({"ckpt_path": str(tmp_path / "checkpoints" / "last.ckpt")}).intensity == "auto"
    refused = run_cli("octsr.train", "debug=tiny", "data.scanner_copies=-1", f"hydra.run.dir={tmp_path}/no")
    assert refused.returncode == 2 and "data.scanner_copies" in refused.stderr.strip().splitlines()[-1]
