"""What a scanner's grey levels are, and the transform that shows a network every scan in the
domain it learned.

OCT speckle is multiplicative in linear intensity. After a log it is additive, with one
spread wherever the tissue is: that is how Bioptigen (Duke's scanner) stores B-scans, as
log-compressed display grey, and it is the domain the shipped weights learned. Other devices
store other laws: Heidelberg's .vol files hold linear intensity, and Spectralis shows its
fourth root; Cirrus and Topcon exports are log-like, with their own range and gain. A
network that learned one of these sees a different noise law in each of the others.

The transform, per file: values of a power law (linear intensity, or any root of it) are
taken to their log, which makes their speckle additive (the root's exponent only scales the
log); log-like values stay as they are. Then one affine map puts the file's median and its
99.5th percentile where the training scans have theirs, which absorbs a device's dynamic
range (the log's scale) and gain (its offset). The network restores in that domain and the
exact inverse takes its output back to the file's own law and range. The network's output
is the mean it learned in the log domain; it is taken back as it is (the geometric mean in
linear terms): matching its brightness to the input's afterwards was measured to cost more
than it gained (experiments/scanners).

`auto` tells the two kinds of law apart from the scan itself: in a log display the local
spread of the speckle hardly grows with the local mean; under a power law it grows in
proportion (a slope near 1 between the logs of the two; measured on Duke's scans and on
their transforms in experiments/scanners).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

LAWS = ("log", "linear", "root")  # what a file's values are; "linear" and "root" are power laws
SETTINGS = ("auto", "stored", *LAWS)  # `intensity=`: estimate the law, take values as stored, or name it
# The training scans' (Duke's noisy test.tif, 12 subjects) median and 99.5th percentile of
# grey in [0, 1], the median over subjects: where every file's own are put.
REFERENCE_PERCENTILES = (50.0, 99.5)
REFERENCE_LEVELS = (0.3333, 0.8922)
# Slope of log(local spread) against log(local mean): log displays measured 0.05-0.54,
# power laws 1.02-1.53 (experiments/scanners/intensity.md).
POWER_LAW_SLOPE = 0.75
WINDOW = 7  # pixels: the local neighbourhood of the spread-versus-mean estimate
SAMPLE_PIXELS = 50_000  # enough for stable percentiles (250 values above the 99.5th), in a millisecond


def estimate_law(images: list[np.ndarray]) -> str:
    """'log' or 'root' for B-scans in [0, 1] (float), from how the speckle's local spread
    grows with the local mean; a scan too flat to tell is taken as log-like."""
    import cv2

    slopes = []
    for image in images[:: max(1, len(images) // 8)][:8]:  # a few B-scans speak for the volume
        image = np.asarray(image, np.float32)
        # Neighbourhoods a window apart: enough of them, and nearly independent.
        mean = cv2.blur(image, (WINDOW, WINDOW))[::WINDOW, ::WINDOW]
        square = cv2.blur(image * image, (WINDOW, WINDOW))[::WINDOW, ::WINDOW]
        spread = np.sqrt(np.maximum(square - mean * mean, 0))
        # Mid to bright tissue: the darkest pixels sit on the noise floor or at zero.
        low, high = np.percentile(mean, (30, 99))
        usable = (mean > max(low, 1e-6)) & (mean < high) & (spread > 0)
        if usable.sum() > 100:
            slopes.append(np.polyfit(np.log(mean[usable]), np.log(spread[usable]), 1)[0])
    return "root" if slopes and float(np.median(slopes)) > POWER_LAW_SLOPE else "log"


@dataclass(frozen=True)
class IntensityTransform:
    """Values in [0, 1] of one file -> the network's domain (`forward`) and back (`inverse`)."""

    law: str  # "log", "linear" or "root"
    scale: float
    offset: float
    floor: float  # the smallest value a power law's log is taken of (zero has none)

    @classmethod
    def fit(cls, images: list[np.ndarray], law: str = "auto") -> IntensityTransform:
        """The transform for one file's B-scans (in [0, 1]) under `law` (or `auto`)."""
        law = estimate_law(images) if law == "auto" else law
        if law not in LAWS:
            raise ValueError(f"intensity law {law!r}; one of {', '.join(LAWS)} or auto")
        sample = _sample(images)
        positive = sample[sample > 0]
        floor = float(np.percentile(positive, 0.1)) if positive.size else 1e-6
        compressed = np.log(np.maximum(sample, floor)) if law != "log" else sample
        low, high = np.percentile(compressed, REFERENCE_PERCENTILES)
        if not high - low > 1e-6:  # a flat image: nothing to match, keep the level
            return cls(law, 1.0, 0.0 if law == "log" else REFERENCE_LEVELS[1] - float(high), floor)
        scale = (REFERENCE_LEVELS[1] - REFERENCE_LEVELS[0]) / float(high - low)
        return cls(law, scale, REFERENCE_LEVELS[1] - scale * float(high), floor)

    def forward(self, image: np.ndarray) -> np.ndarray:
        image = np.asarray(image, np.float32)
        values = np.log(np.maximum(image, np.float32(self.floor))) if self.law != "log" else image
        return values * np.float32(self.scale) + np.float32(self.offset)

    def inverse(self, output: np.ndarray) -> np.ndarray:
        values = (np.asarray(output, np.float32) - np.float32(self.offset)) / np.float32(self.scale)
        if self.law != "log":
            values = np.exp(values)
        return np.clip(values, 0, 1, out=values)

    @property
    def is_identity(self) -> bool:
        return self.law == "log" and self.scale == 1.0 and self.offset == 0.0


def file_transform(pages: list[np.ndarray], setting: str, stated_law: str | None = None) -> IntensityTransform | None:
    """The one transform for all of a file's B-scans (in [0, 1]; a volume's B-scans share it,
    so the network sees one law across the volume), fitted on up to 16 spread through it.
    `setting`: `stored` (None: the values go in as they are), a law, or `auto`: the law the
    file states (`stated_law`, e.g. a .vol's linear floats) or, where it states none, the
    one estimated from its B-scans."""
    if setting not in SETTINGS:
        raise ValueError(f"intensity={setting!r}; one of {', '.join(SETTINGS)}")
    if setting == "stored":
        return None
    sample = pages[:: max(1, len(pages) // 16)][:16]
    return IntensityTransform.fit(sample, stated_law if stated_law and setting == "auto" else setting)


def training_domain(data: Any) -> str:
    """The domain a model's train data were in (a `data` config), which its architecture
    record keeps and inference shows every file in: the layout's `intensity` (raw volumes);
    `auto` where simulated scanners were shown through the transform (`scanner_copies`,
    `octsr.data.scanners`); else `stored`."""
    return str(data.get("intensity") or ("auto" if data.get("scanner_copies") else "stored"))


def _sample(images: list[np.ndarray]) -> np.ndarray:
    """Up to SAMPLE_PIXELS values spread evenly over all the images."""
    total = sum(int(np.asarray(image).size) for image in images)
    step = max(1, total // SAMPLE_PIXELS)
    return np.concatenate([np.asarray(image, np.float32).ravel()[::step] for image in images])
