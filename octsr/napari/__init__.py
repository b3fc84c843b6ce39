"""octsr in napari (the `napari` extra): a reader for every volume format octsr reads
(`reader`), a "Denoise with octsr" widget (`widget`) and a writer through octsr's own
writers (`writer`), declared to napari in napari.yaml (npe2) and found through the
`napari.manifest` entry point in pyproject.toml.

A volume opened by this reader carries `VolumeRecord` in its layer's metadata under "octsr":
where it came from, its brightest stored value and its intensity law, which the widget
restores with and the writer writes a derived DICOM from."""

from octsr.napari.record import VolumeRecord

__all__ = ["VolumeRecord"]
