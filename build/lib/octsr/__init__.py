"""octsr: turn one noisy retinal OCT B-scan into an image that looks frame-averaged."""

import os

from octsr.utils.allocator import keep_freed_memory
from octsr.utils.run_dirs import register_resolvers

# albumentations otherwise checks PyPI for a newer release at import, which stalls offline.
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
# Before any tensor exists: every entry point and DataLoader worker imports octsr first.
ALLOCATOR_TUNED = keep_freed_memory()
# `${fresh_dir:...}` in conf/hydra: run folders unique even for runs started together.
register_resolvers()

__version__ = "0.1.0"
