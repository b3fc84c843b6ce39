"""precision=auto|fp32|bf16 (octsr.inference.precision): what auto chooses, that it remembers
the choice, and that bfloat16 changes the restored image by little."""

import json

import numpy as np
import pytest
import torch

from octsr.inference import load_restorer, precision
from tests.conftest import untrained_unet


@pytest.fixture
def weights(tmp_path):
    return untrained_unet(tmp_path / "unet.pt")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "octsr" / "precision.json"


def test_auto_is_fp32_without_native_bfloat16_and_times_nothing(weights, cache, monkeypatch):
    monkeypatch.setattr(precision, "native_bf16", lambda: False)
    monkeypatch.setattr(precision, "warm_ms", lambda run: pytest.fail("timed on a CPU without bfloat16"))
    assert load_restorer({"ckpt_path": str(weights), "precision": "auto"}).precision == "fp32"
    assert not cache.exists()


@pytest.mark.parametrize("bf16_ms, chosen", [(50.0, "bf16"), (95.0, "fp32")])
def test_auto_takes_the_faster_once_and_remembers_it(weights, cache, monkeypatch, bf16_ms, chosen):
    monkeypatch.setattr(precision, "native_bf16", lambda: True)
    timed = []

    def fake_warm_ms(run):
        timed.append(torch.is_autocast_enabled("cpu"))
        run()  # the real network runs in the precision being timed
        return bf16_ms if timed[-1] else 100.0

    monkeypatch.setattr(precision, "warm_ms", fake_warm_ms)
    assert load_restorer({"ckpt_path": str(weights), "precision": "auto"}).precision == chosen
    assert timed == [False, True]
    assert list(json.loads(cache.read_text()).values()) == [chosen]
    # Remembered: the next load times nothing.
    monkeypatch.setattr(precision, "warm_ms", lambda run: pytest.fail("timed twice"))
    assert load_restorer({"ckpt_path": str(weights), "precision": "auto"}).precision == chosen


def test_explicit_precisions_are_kept_and_bf16_changes_the_output_by_little(weights, cache):
    image = np.random.default_rng(0).random((96, 128), dtype=np.float32)
    fp32 = load_restorer({"ckpt_path": str(weights), "precision": "fp32"})
    bf16 = load_restorer({"ckpt_path": str(weights), "precision": "bf16"})
    assert (fp32.precision, bf16.precision) == ("fp32", "bf16")
    a, b = fp32(image), bf16(image)
    assert a.dtype == b.dtype == np.float32
    assert 0 < np.abs(a - b).max() < 0.02
    assert load_restorer({"ckpt_path": str(weights)}).precision == "fp32"  # the default for scoring
    assert not cache.exists()
