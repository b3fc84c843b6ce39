"""octsr's Hydra sweeper for cross-validation (`hydra/sweeper=crossval`). Hydra finds sweepers
only under the `hydra_plugins` package, so it lives here, apart from octsr itself."""
