"""Old home of the inferers, kept because CAE checkpoints written before octsr.inference
existed name `octsr.models.inference.SlidingWindowInferer` in their architecture record."""

from octsr.inference.tiling import SlidingWindowInferer, TiledInferer  # noqa: F401
