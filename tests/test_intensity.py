"""Each scan's intensity law, and the transform that shows the shipped network every scan in
the log domain it learned: the law told apart from the scan itself, the transform's exact
inverse, and enhance on a scanner that stores linear intensity."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from octsr.data.intensity import IntensityTransform, estimate_law
from tests.conftest import DUKE_ROOT, needs_duke, run_cli


def log_display(rng: np.random.Generator, shape=(120, 200)) -> np.ndarray:
    """A log-compressed B-scan: layered tissue with additive speckle of one spread."""
    rows = np.linspace(0, 4 * np.pi, shape[0])[:, None]
    tissue = 0.35 + 0.25 * np.sin(rows) * (rows > 3)
    return np.clip(tissue + rng.normal(0, 0.08, shape), 0, 1).astype(np.float32)


def as_linear(log_grey: np.ndarray, decades: float = 4.0) -> np.ndarray:
    """The same scan as linear intensity over `decades` decades (40 dB), as .vol files hold it."""
    return (10.0 ** (decades * (log_grey - 1.0))).astype(np.float32)


def test_the_law_is_told_apart_from_the_scan_itself():
    rng = np.random.default_rng(0)
    grey = log_display(rng)
    assert estimate_law([grey]) == "log"
    assert estimate_law([np.clip(0.7 * grey + 0.2, 0, 1)]) == "log"  # another range and gain
    assert estimate_law([as_linear(grey)]) == "root"
    assert estimate_law([as_linear(grey) ** 0.25]) == "root"  # a fourth-root display
    assert estimate_law([np.full((64, 64), 0.5, np.float32)]) == "log"  # nothing to tell: as stored


@pytest.mark.parametrize("law", ["log", "linear", "root", "auto"])
def test_the_inverse_undoes_the_forward_transform(law):
    rng = np.random.default_rng(1)
    grey = log_display(rng)
    image = grey if law == "log" else as_linear(grey)
    transform = IntensityTransform.fit([image], law)
    back = transform.inverse(transform.forward(image))
    kept = image >= transform.floor  # below the floor a power law's log is the floor's
    assert np.allclose(back[kept], image[kept], rtol=1e-4, atol=1e-6)


def test_every_law_lands_where_the_training_scans_lie():
    """The same tissue stored under three laws reaches the network as nearly the same image."""
    rng = np.random.default_rng(2)
    grey = log_display(rng)
    seen = [IntensityTransform.fit([image]).forward(image)
            for image in (grey, np.clip(0.7 * grey + 0.2, 0, 1), as_linear(grey))]
    for other in seen[1:]:
        assert np.abs(np.median(other - seen[0])) < 0.02
        assert np.corrcoef(other.ravel(), seen[0].ravel())[0, 1] > 0.98


@needs_duke
def test_enhance_on_a_scanner_that_stores_linear_intensity(tmp_path):
    """A Duke scan stored as linear intensity (32-bit floats, as a .vol holds it): the shipped
    weights with the transform come closer to the average than without it, and write the
    file's own law and type back."""
    from octsr.formats.images import read_raw
    from octsr.scoring import image_scores

    grey, average = (read_raw(DUKE_ROOT / "05" / name).astype(np.float32) / 255 for name in ("test.tif", "average.tif"))
    tifffile.imwrite(tmp_path / "linear.tif", as_linear(grey))
    results = {}
    for intensity in ("stored", "auto"):
        done = run_cli("octsr.enhance", f"input={tmp_path / 'linear.tif'}", f"output={tmp_path / intensity}",
                       "weights=fast", f"intensity={intensity}")
        assert done.returncode == 0, done.stderr[-2000:]
        restored = tifffile.imread(tmp_path / intensity / "linear.tif")
        assert restored.dtype == np.float32 and restored.shape == grey.shape
        results[intensity] = image_scores(restored, as_linear(average))
    assert results["auto"]["psnr"] > results["stored"]["psnr"] + 1.0, results
