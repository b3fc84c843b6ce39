"""A seeded synthetic OCT generator: the embedded default data, no download needed.

Each scene is a retina-like cross-section: a dark vitreous, curved layers of different
brightness between the inner limiting membrane and a bright RPE (with a foveal pit), and a
choroid that fades with depth. A *frame* is the scene under multiplicative, spatially
correlated speckle (the squared magnitude of a smoothed complex Gaussian field, as in
fully developed speckle) plus weak detector noise. The noisy input is one frame; the target
is the mean of many other frames of the same scene, as in clinical frame averaging, so it
keeps a little residual speckle just like the real thing.

Everything is a function of (seed, index), so a pair is regenerated identically on demand
and nothing has to be stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from octsr.utils.atomic import atomic_path

# Relative brightness of the retinal layers from the inner limiting membrane down
# (NFL, GCL, IPL, INL, OPL, ONL, ELM/IS, IS/OS, RPE) and their relative thicknesses.
_LAYER_BRIGHTNESS = np.array([0.75, 0.45, 0.6, 0.3, 0.55, 0.22, 0.5, 0.85, 0.95], np.float32)
_LAYER_THICKNESS = np.array([0.12, 0.12, 0.1, 0.1, 0.08, 0.22, 0.06, 0.08, 0.12], np.float32)


def phantom_scene(height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """The noise-free scene, float32 (height, width) in [0, 1]."""
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)
    # Top boundary: a gentle curve plus a foveal pit at a random place.
    tilt = rng.uniform(-0.08, 0.08)
    bow = rng.uniform(0.0, 0.12)
    pit_x, pit_w, pit_d = rng.uniform(0.3, 0.7), rng.uniform(0.05, 0.1), rng.uniform(0.04, 0.1)
    top = (0.25 + tilt * (x - 0.5) + bow * (x - 0.5) ** 2
           + pit_d * np.exp(-((x - pit_x) ** 2) / (2 * pit_w**2)))
    thickness = rng.uniform(0.3, 0.4) * (1 - 0.6 * np.exp(-((x - pit_x) ** 2) / (2 * pit_w**2)))
    # Layer thicknesses wander slowly across the scan.
    wander = 1 + 0.25 * np.sin(2 * np.pi * (rng.uniform(0.5, 2.0) * x[None, :] + rng.uniform(0, 1, (len(_LAYER_THICKNESS), 1))))
    parts = _LAYER_THICKNESS[:, None] * wander
    parts = parts / parts.sum(axis=0, keepdims=True) * thickness[None, :]
    bounds = top[None, :] + np.concatenate([np.zeros((1, width), np.float32), np.cumsum(parts, axis=0)])

    depth = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    scene = np.full((height, width), 0.04, np.float32)  # vitreous
    gain = rng.uniform(0.85, 1.0)
    for k, level in enumerate(_LAYER_BRIGHTNESS):
        inside = (depth >= bounds[k][None, :]) & (depth < bounds[k + 1][None, :])
        scene[inside] = level * gain
    below = depth >= bounds[-1][None, :]
    choroid = 0.55 * gain * np.exp(-(depth - bounds[-1][None, :]) / 0.12)
    scene = np.where(below, np.maximum(choroid, 0.05), scene).astype(np.float32)
    # Soften the edges a little: real layer boundaries are a few pixels wide.
    return cv2.GaussianBlur(scene, (0, 0), 1.0)


def speckle_frame(scene: np.ndarray, rng: np.random.Generator, grain: float = 1.2,
                  detector_noise: float = 0.02) -> np.ndarray:
    """One noisy acquisition of `scene`: correlated unit-mean speckle times the scene."""
    field = [cv2.GaussianBlur(rng.standard_normal(scene.shape, dtype=np.float32), (0, 0), grain)
             for _ in range(2)]
    intensity = field[0] ** 2 + field[1] ** 2
    intensity /= intensity.mean()  # unit mean: speckle only redistributes brightness
    frame = scene * intensity + detector_noise * rng.standard_normal(scene.shape, dtype=np.float32)
    return np.clip(frame, 0.0, 1.0)


@dataclass(frozen=True)
class PhantomPair:
    """Pair `index` of the phantom set with this seed; pixels are made in `load()`. With
    `input_frames` > 1 the input is that many independent noisy frames, (frames, H, W)."""

    name: str
    seed: int
    index: int
    height: int
    width: int
    averaged_frames: int
    input_frames: int = 1

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, self.index])
        # Sizes vary a little between scans, as real acquisitions do.
        h = self.height + int(rng.integers(-self.height // 40, self.height // 40 + 1))
        w = self.width + int(rng.integers(-self.width // 40, self.width // 40 + 1))
        scene = phantom_scene(h, w, rng)
        noisy = speckle_frame(scene, rng)
        # A running sum, not a stack of every frame held at once.
        total = np.zeros(scene.shape, np.float64)
        for _ in range(self.averaged_frames):
            total += speckle_frame(scene, rng)
        target = total / self.averaged_frames
        if self.input_frames > 1:  # drawn after the target, so the single-frame pair is unchanged
            noisy = np.stack([noisy, *(speckle_frame(scene, rng) for _ in range(self.input_frames - 1))])
        return noisy.astype(np.float32), target.astype(np.float32)


class PhantomPairs:
    """`count` synthetic pairs split in order into train, val and test.

    Defaults mirror the paper's data: 11 pairs of about 678 x 847 (6 train, 2 val, 3 test).
    `input_frames`: noisy frames per input (see `PhantomPair`).
    """

    def __init__(self, count: int = 11, height: int = 678, width: int = 847, averaged_frames: int = 32,
                 n_train: int = 6, n_val: int = 2, seed: int = 0, input_frames: int = 1) -> None:
        if n_train + n_val > count or n_train < 1:
            from octsr.errors import ConfigError

            raise ConfigError(
                f"data.phantom: count={count} cannot hold n_train={n_train} + n_val={n_val}"
            )
        self.count, self.height, self.width = count, height, width
        self.averaged_frames = averaged_frames
        self.n_train, self.n_val, self.seed = n_train, n_val, seed
        if int(input_frames) < 1:
            from octsr.errors import ConfigError

            raise ConfigError(f"data.input_frames={input_frames}: must be 1 or more")
        self.input_frames = int(input_frames)

    def splits(self) -> dict[str, list[PhantomPair]]:
        pairs = [PhantomPair(f"phantom_{i:03d}", self.seed, i, self.height, self.width, self.averaged_frames,
                             self.input_frames) for i in range(self.count)]
        a, b = self.n_train, self.n_train + self.n_val
        return {"train": pairs[:a], "val": pairs[a:b], "test": pairs[b:]}


def write_phantom_folder(out: Path, count: int, height: int, width: int, averaged_frames: int, seed: int) -> None:
    """Write pairs as 8-bit PNGs in the `noisy/` + `clean/` layout that `data=folder` reads."""
    for sub in ("noisy", "clean"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        noisy, target = PhantomPair(f"phantom_{i:03d}", seed, i, height, width, averaged_frames).load()
        for sub, image in (("noisy", noisy), ("clean", target)):
            with atomic_path(out / sub / f"phantom_{i:03d}.png") as tmp:
                cv2.imwrite(str(tmp), np.round(image * 255).astype(np.uint8))
