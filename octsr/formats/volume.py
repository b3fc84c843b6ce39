"""A volume of B-scans as any format hands it over: the B-scans, their physical spacing, what
identifies them and what their values are. A spacing the file does not state stays unknown
(None), never a guessed 1.0."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from octsr.formats.images import from_unit_range, to_unit_range

@dataclass(frozen=True)
class Spacing:
    """Millimetres per pixel across a B-scan (between columns), down it (between rows), and
    between neighbouring B-scans; None where the file does not say."""

    across_mm: float | None
    down_mm: float | None
    between_mm: float | None

    def missing(self) -> list[str]:
        return [name for name, value in (("across", self.across_mm), ("down", self.down_mm),
                                         ("between B-scans", self.between_mm)) if value is None]


UNKNOWN_SPACING = Spacing(None, None, None)


@dataclass
class Volume:
    """B-scans of one eye's scan as stored (each (H, W), 8/16-bit unsigned), with their
    spacing and identifying metadata (DICOM keywords -> values)."""

    bscans: list[np.ndarray] | np.ndarray  # (B-scans, H, W) where the file stores one block
    spacing: Spacing
    source: Path
    format: str  # the name of the format it was read from (octsr.formats.FORMATS)
    metadata: dict[str, Any] = field(default_factory=dict)
    # The brightest value the scanner stores: the pixel type's maximum, or for DICOM
    # 2**BitsStored - 1 (a 12-bit scan in 16-bit words is not read as nearly black).
    max_value: int | None = None

    # The DICOM dataset it was read from (header and all), which a derived object copies.
    dataset: Any = None
    # What the values are where the format says ('log': log-compressed display grey,
    # octsr.data.intensity); None where it does not, and the scan itself is asked.
    intensity: str | None = None

    def to_unit_range(self) -> list[np.ndarray]:
        """The B-scans as float32 in [0, 1] (`octsr.formats.images.to_unit_range`)."""
        return [to_unit_range(scan, self.source, self.max_value) for scan in self.bscans]

    def from_unit_range(self, scans: list[np.ndarray]) -> list[np.ndarray]:
        """Restored B-scans in [0, 1] back to this volume's pixel type and range."""
        return [from_unit_range(scan, self.bscans[0].dtype, self.max_value) for scan in scans]



def vendor_metadata(volume) -> dict[str, Any]:
    """What eyepy read of the patient, visit and eye, under DICOM keywords ("OD"/"OS" as the
    file says); only what the file holds."""
    meta = getattr(volume, "meta", None) or {}
    found: dict[str, Any] = {}
    if getattr(volume, "laterality", None):
        found["Laterality"] = str(volume.laterality)
    patient = meta.get("patient") if hasattr(meta, "get") else None
    if isinstance(patient, dict):
        name = "^".join(str(patient.get(k) or "") for k in ("lastname", "firstname")).strip("^")
        found.update({k: v for k, v in (("PatientName", name), ("PatientID", str(patient.get("patient_id") or "")),
                                         ("PatientBirthDate", dicom_date(patient.get("dob")))) if v})
    visit = dicom_date(meta.get("visit_date")) if hasattr(meta, "get") else ""
    if visit:
        found["StudyDate"] = visit
    return found


def dicom_date(value: Any) -> str:
    """An ISO date or datetime ('2000-01-01T00:00:00') as DICOM's YYYYMMDD; '' if not one."""
    text = str(value or "")[:10]
    return text.replace("-", "") if len(text) == 10 and text[4] == text[7] == "-" and text.replace("-", "").isdigit() else ""



def one_line(err: BaseException) -> str:
    """An error's message on one line, for a reader's DataError naming the file."""
    return " ".join(str(err).split())[:200] or type(err).__name__


# Notes already logged: training reads a volume again each time its shuffled pairs return to it.
_noted: set[str] = set()


def note_once(log, message: str) -> None:
    """`message` as a warning on `log`, the first time only."""
    if message not in _noted:
        _noted.add(message)
        log.warning("%s", message)
