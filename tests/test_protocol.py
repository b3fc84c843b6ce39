"""The paper's data protocol: counts, and that input and target stay aligned."""

import numpy as np
import pytest

from octsr.data.datamodule import PairedOCTDataModule
from octsr.data.pairs import ArrayPair
from octsr.data.protocol import VARIANTS, PaperProtocol, affine_variants, random_crops
from octsr.errors import DataError


class ListSource:
    def __init__(self, train, val, test):
        self._splits = {"train": train, "val": val, "test": test}

    def splits(self):
        return self._splits


def target_of(noisy):
    """A known, non-symmetric pixel-wise function: any misaligned crop or variant breaks it."""
    return (noisy**2 + 0.25 * noisy).astype(np.float32)


def array_pairs(prefix, count, shape, seed):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        noisy = rng.random(shape, dtype=np.float32)
        pairs.append(ArrayPair(f"{prefix}{i}", noisy, target_of(noisy)))
    return pairs


@pytest.fixture(scope="module")
def paper_datamodule():
    # Source images a little larger than the 227 crop, of different shapes, like real scans.
    source = ListSource(array_pairs("train", 6, (260, 300), 1), array_pairs("val", 2, (240, 330), 2),
                        array_pairs("test", 3, (250, 310), 3))
    dm = PairedOCTDataModule(source, PaperProtocol(), batch_size=128, seed=7)
    dm.setup("fit")
    dm.setup("test")
    return dm


def test_paper_counts(paper_datamodule):
    dm = paper_datamodule
    assert len(dm.train_set.views) == 600  # 6 pairs x 20 crops x 5 variants
    assert all(view.shape == (227, 227) for _, view in dm.train_set.views)
    assert dm.train_set.grids[0] == (14, 14)  # 196 patches of 41x41 at stride 14 per crop
    assert len(dm.train_set) == 600 * 196 == 117_600
    assert len(dm.val_set) == 10  # 2 pairs x 5 uncropped variants
    assert len(dm.test_set) == 3
    assert [dm.test_set[i]["noisy"].shape[1:] for i in range(3)] == [(250, 310)] * 3


def test_train_crops_patches_and_val_variants_stay_paired(paper_datamodule):
    dm = paper_datamodule
    for k in range(len(dm.train_set.views)):
        noisy, target = dm.train_set.image(k)
        assert noisy.shape == (227, 227)
        np.testing.assert_array_equal(target, target_of(noisy))
    for index in [0, 1, 195, 196, 50_000, len(dm.train_set) - 1]:
        item = dm.train_set[index]
        assert item["noisy"].shape == (1, 41, 41)
        np.testing.assert_array_equal(item["target"].numpy(), target_of(item["noisy"].numpy()))
    for i in range(len(dm.val_set)):
        item = dm.val_set[i]
        np.testing.assert_array_equal(item["target"].numpy(), target_of(item["noisy"].numpy()))
    shapes = {dm.val_set[i]["name"]: dm.val_set[i]["noisy"].shape[1:] for i in range(5)}
    assert shapes == {"val0_identity": (240, 330), "val0_hflip": (240, 330), "val0_vflip": (240, 330),
                      "val0_rot90_left": (330, 240), "val0_rot90_right": (330, 240)}


def test_train_patches_come_from_the_top_left_grid(paper_datamodule):
    dm = paper_datamodule
    for image in range(5):  # one crop's five variants
        item = dm.train_set[image * 196 + 14 + 2]  # patch row 1, column 2
        np.testing.assert_array_equal(item["noisy"][0].numpy(), dm.train_set.image(image)[0][14:55, 28:69])


def test_a_batch_is_its_patches_stacked(paper_datamodule):
    train = paper_datamodule.train_set
    indices = [5, 196 * 3 + 7, 117_599, 42, 5]
    batch = train.__getitems__(indices)
    for k, index in enumerate(indices):
        item = train[index]
        for key in ("noisy", "target"):
            np.testing.assert_array_equal(batch[key][k].numpy(), item[key].numpy())
    with pytest.raises(IndexError):
        train.__getitems__([len(train)])


def test_train_views_are_the_albumentations_crops_and_variants():
    """Views cut through index maps must give exactly what albumentations makes of the pair."""
    rng = np.random.default_rng(3)
    noisy = rng.random((250, 280), dtype=np.float32)
    protocol = PaperProtocol(crops_per_image=3)
    views = protocol.train_views(noisy.shape, seed=11, name="x")
    crops = list(random_crops(noisy, noisy, 227, 3, seed=11))
    import albumentations as A
    crop = A.Compose([A.RandomCrop(227, 227)], seed=11)
    expected = [crop(image=noisy)["image"] for _ in range(3)]
    for (got, _), want in zip(crops, expected):
        np.testing.assert_array_equal(got, want)
    for k, view in enumerate(views):
        want = next(affine_variants(expected[k // 5], expected[k // 5], [view.variant]))[1]
        np.testing.assert_array_equal(view.pixels(noisy), want)


@pytest.mark.parametrize("budget_mb", [0, 1024])
def test_train_set_memory_mapped_past_the_budget_gives_the_same_patches(budget_mb):
    source = ListSource(array_pairs("train", 2, (240, 250), 4), array_pairs("val", 1, (100, 120), 5), [])
    dm = PairedOCTDataModule(source, PaperProtocol(crops_per_image=2), seed=1, memory_budget_mb=budget_mb)
    dm.setup("fit")
    assert dm.train_set.store.spilled == (budget_mb == 0)
    reference = PairedOCTDataModule(source, PaperProtocol(crops_per_image=2), seed=1)
    reference.setup("fit")
    indices = list(range(0, len(dm.train_set), 97))
    for key in ("noisy", "target"):
        np.testing.assert_array_equal(dm.train_set.__getitems__(indices)[key],
                                      reference.train_set.__getitems__(indices)[key])
    assert dm.noisy_mean == pytest.approx(reference.noisy_mean)


def test_variants_are_the_named_flips_and_rotations():
    rng = np.random.default_rng(0)
    noisy = rng.random((5, 7), dtype=np.float32)
    expected = {"identity": noisy, "hflip": noisy[:, ::-1], "vflip": noisy[::-1],
                "rot90_left": np.rot90(noisy, 1), "rot90_right": np.rot90(noisy, -1)}
    out = {name: n for name, n, _ in affine_variants(noisy, noisy, list(VARIANTS))}
    for name, image in expected.items():
        np.testing.assert_array_equal(out[name], image, err_msg=name)


def test_crops_repeat_with_a_seed_and_differ_without():
    rng = np.random.default_rng(0)
    noisy = rng.random((300, 300), dtype=np.float32)
    first = [c for c, _ in random_crops(noisy, noisy, 227, 3, seed=5)]
    again = [c for c, _ in random_crops(noisy, noisy, 227, 3, seed=5)]
    other = [c for c, _ in random_crops(noisy, noisy, 227, 3, seed=6)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_an_image_smaller_than_the_crops_names_the_setting():
    small = array_pairs("small", 1, (100, 120), 0)
    with pytest.raises(DataError, match="small0 is 100x120, smaller than data.protocol.crop_size=227"):
        list(PaperProtocol().train_images(*small[0].load(), seed=0, name="small0"))


def frame_pairs(prefix, count, shape, frames, seed):
    """Pairs whose input is `frames` stacked frames; the target is `target_of` the first and
    each further frame is the first plus k, so any frame cut from the wrong place or order shows."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(count):
        first = rng.random(shape, dtype=np.float32)
        pairs.append(ArrayPair(f"{prefix}{i}", np.stack([first + k for k in range(frames)]), target_of(first)))
    return pairs


@pytest.mark.parametrize("budget_mb", [0, 1024])
def test_stacked_frames_are_cut_and_turned_together(budget_mb):
    source = ListSource(frame_pairs("train", 2, (120, 150), 3, 8), frame_pairs("val", 1, (90, 110), 3, 9), [])
    protocol = PaperProtocol(crop_size=64, crops_per_image=2)
    dm = PairedOCTDataModule(source, protocol, seed=2, memory_budget_mb=budget_mb)
    dm.setup("fit")
    batch = dm.train_set.__getitems__(list(range(0, len(dm.train_set), 7)))
    assert batch["noisy"].shape[1:] == (3, 41, 41) and batch["target"].shape[1:] == (1, 41, 41)
    first = batch["noisy"][:, :1].numpy()
    np.testing.assert_array_equal(batch["target"].numpy(), target_of(first))
    for k in range(3):
        np.testing.assert_allclose(batch["noisy"][:, k : k + 1].numpy(), first + k, atol=1e-6)
    noisy, target = dm.train_set.image(5)
    assert noisy.shape == (3, 64, 64)
    np.testing.assert_array_equal(target, target_of(noisy[0]))
    item = dm.val_set[3]  # a rotated val image
    assert item["noisy"].shape == (3, 110, 90)
    np.testing.assert_array_equal(item["target"].numpy(), target_of(item["noisy"][:1].numpy()))
    np.testing.assert_allclose(item["noisy"][2].numpy(), item["noisy"][0].numpy() + 2, atol=1e-6)
    # Standardized over every frame's pixels of every train image.
    whole = PairedOCTDataModule(source, PaperProtocol(crops_per_image=0), seed=2)
    whole.setup("fit")
    pixels = np.concatenate([p.noisy.ravel() for p in source.splits()["train"]]).astype(np.float64)
    assert whole.noisy_mean == pytest.approx(pixels.mean())
    assert whole.noisy_std == pytest.approx(pixels.std(), rel=1e-5)
