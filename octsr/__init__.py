"""octsr: turn one noisy retinal OCT B-scan into an image that looks frame-averaged."""

import os

# albumentations otherwise checks PyPI for a newer release at import, which stalls offline.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

__version__ = "0.1.0"
