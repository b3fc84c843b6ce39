"""What an image layer keeps of the volume it shows, so that denoising and saving it treat
the pixels as the file did."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from octsr.formats.volume import UNKNOWN_SPACING, Spacing, Volume

METADATA_KEY = "octsr"  # the key of a layer's metadata that holds its VolumeRecord


@dataclass(frozen=True)
class VolumeRecord:
    """A layer's volume: the file it was read from (None for pixels from elsewhere), the
    format's name, its spacing, the brightest value the file stores (None: its pixel type's
    maximum), its intensity law where the format states one, and for a denoised layer the
    model file that restored it."""

    source: Path | None
    format: str | None = None
    spacing: Spacing = UNKNOWN_SPACING
    max_value: int | None = None
    intensity: str | None = None
    restored_by: Path | None = None

    @classmethod
    def of(cls, volume: Volume) -> "VolumeRecord":
        return cls(volume.source, volume.format, volume.spacing, volume.max_value, volume.intensity)

    def restored(self, model: Path) -> "VolumeRecord":
        """The record of this volume restored by `model`: same file, spacing and range."""
        return replace(self, restored_by=model)

    def scale(self) -> tuple[float, float, float]:
        """napari's scale of a (B-scans, rows, columns) layer in millimetres; 1 on an axis
        the file does not state (so a missing spacing never hides behind a guessed one: see
        `units`)."""
        s = self.spacing
        return tuple(value or 1.0 for value in (s.between_mm, s.down_mm, s.across_mm))

    def units(self) -> tuple[str, str, str]:
        """Each axis's unit: millimetres where the file states its spacing, pixels where not."""
        s = self.spacing
        return tuple("mm" if value else "pixel" for value in (s.between_mm, s.down_mm, s.across_mm))


def record_of(metadata: dict | None) -> VolumeRecord | None:
    """The VolumeRecord in a layer's metadata, or None for a layer octsr did not read."""
    record = (metadata or {}).get(METADATA_KEY)
    return record if isinstance(record, VolumeRecord) else None
