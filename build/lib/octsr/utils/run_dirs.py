"""Run folders that never collide, even for runs started in the same second."""

from __future__ import annotations

import itertools
import os

from omegaconf import OmegaConf


def fresh_dir(path: str) -> str:
    """`path`, or `path_2`, `path_3`, ...: the first that did not exist, created here.

    `os.mkdir` either creates the folder or fails, atomically, so two runs (two processes,
    two sweep launchers, two machines on one file system) never get the same folder."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    for n in itertools.count(1):
        candidate = path if n == 1 else f"{path}_{n}"
        try:
            os.mkdir(candidate)
            return candidate
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def register_resolvers() -> None:
    # Cached: Hydra resolves a run folder more than once (and copies the cache into each job
    # of a sweep); every read must give the folder created by the first.
    if not OmegaConf.has_resolver("fresh_dir"):
        OmegaConf.register_new_resolver("fresh_dir", fresh_dir, use_cache=True)
