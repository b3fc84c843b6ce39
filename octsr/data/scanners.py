"""Other scanners, simulated from the training scans: how a train pair would look had another
OCT device stored it, and then been shown to the network as `octsr.enhance` shows that
device's files (`octsr.data.intensity`).

The training scans are log-compressed display grey (Bioptigen's, as Duke's scans are). What
differs between devices after the optics, and what each simulated scanner draws:

- **Compression law.** Bioptigen, Cirrus and Topcon export log-like grey; Heidelberg's .vol
  files hold linear intensity and Spectralis displays its fourth root; other displays use a
  square root. A simulated scanner stores the same echoes as a log display, a root of
  intensity (exponent 1/2 to 1/5), or linear intensity. Speckle is additive with one spread
  only in the log domain; under a root or linear law its spread grows with brightness.
- **Dynamic range and gain.** Devices map a different span of decibels onto their grey
  range, and set their gain differently: a log display's slope (0.7 to 1.2 of the training
  scans') and a power law's gain (0.6 to 1.6), with bright speckle clipped at the top as a
  saturated display clips it.
- **Black level (noise floor).** Where a device puts its noise floor: a log display lifted
  by up to 0.12 of its range or lowered by 0.05 (its darkest speckle clipped to black).
- **Lateral sampling.** 512 to 1,024 A-scans over a B-scan's width where the training scans
  have about 900 (Spectralis 512, 768 or 1,024; Cirrus 200 to 1,024): the columns resampled
  by 0.55 to 1.5, averaged over each new column's span (a beam wider than the A-scan
  spacing integrates its echoes) or interpolated (a narrow beam samples them), which changes
  the speckle's grain against the pixel grid.
- **Bit depth.** 8- or 16-bit grey, or floats (linear intensity in .vol files).

The noisy input and its target take the same scanner (same law, range, resampling), so the
target stays the reference of the same tissue. Then both go through the intensity transform
that the input alone would get at inference (`file_transform`, the law estimated from the
scan), so the network learns the domain it will be shown, not the scanner's own values.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from octsr.data.intensity import file_transform

DYNAMIC_RANGE_DB = 40.0  # the decibels a training scan's grey range spans (Bioptigen's display)
LAWS = ("log", "root", "linear")
LATERAL_RANGE = (0.55, 1.5)  # A-scans per width against the training scans': 512 to 1,350 of ~900


@dataclass(frozen=True)
class Scanner:
    """One simulated device: how it stores what the training scans show as log grey."""

    law: str  # "log", "root" or "linear"
    slope: float  # log display: its slope against the training scans' (another dynamic range)
    exponent: float  # root law: the root taken of linear intensity (0.5: square root)
    gain: float  # power laws: the display's gain
    black: float  # log display: where its noise floor sits, in units of its range
    lateral: float  # columns per training-scan column
    area: bool  # columns averaged over their span (True) or interpolated
    bits: int | None  # 8 or 16 bits per stored value; None: floats

    @classmethod
    def draw(cls, rng: np.random.Generator) -> "Scanner":
        law = LAWS[int(rng.integers(len(LAWS)))]
        bits = {"log": (8, 16), "root": (8, 16), "linear": (16, None)}[law]
        return cls(law=law, slope=float(rng.uniform(0.7, 1.2)), exponent=float(rng.choice((0.5, 1 / 3, 0.25, 0.2))),
                   gain=float(rng.uniform(0.6, 1.6)), black=float(rng.uniform(-0.05, 0.12)),
                   lateral=float(rng.uniform(*LATERAL_RANGE)), area=bool(rng.integers(2)),
                   bits=bits[int(rng.integers(len(bits)))])

    def store(self, grey: np.ndarray) -> np.ndarray:
        """Log grey in [0, 1] (H, W) -> this device's stored values, scaled to [0, 1]."""
        grey = np.asarray(grey, np.float64)
        if self.law == "log":
            stored = self.slope * grey + self.black
        else:
            intensity = 10.0 ** (DYNAMIC_RANGE_DB / 10.0 * (grey - 1.0))
            stored = self.gain * (intensity ** self.exponent if self.law == "root" else intensity)
        height, width = stored.shape
        columns = max(1, int(round(width * self.lateral)))
        interpolation = cv2.INTER_AREA if self.area and columns < width else cv2.INTER_LINEAR
        stored = np.clip(cv2.resize(stored, (columns, height), interpolation=interpolation), 0.0, 1.0)
        if self.bits:
            peak = 2**self.bits - 1
            stored = np.round(stored * peak) / peak
        return stored.astype(np.float32)


def scanner_copy(noisy: np.ndarray, target: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, Scanner]:
    """A train pair (log grey in [0, 1]; `noisy` (H, W) or (frames, H, W)) as a scanner drawn
    from `rng` stores it, both shown in the network's domain by the transform fitted on the
    stored input, as inference would show it. Returns the pair and the scanner."""
    scanner = Scanner.draw(rng)
    frames = [scanner.store(frame) for frame in (noisy if noisy.ndim == 3 else [noisy])]
    stored_target = scanner.store(target)
    transform = file_transform(frames, "auto")
    shown = [transform.forward(frame) for frame in frames]
    return (np.stack(shown) if noisy.ndim == 3 else shown[0]), transform.forward(stored_target), scanner
