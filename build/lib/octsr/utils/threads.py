"""CPU threads per run, so parallel runs of a sweep share the cores instead of fighting."""

from __future__ import annotations

import logging
import os

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

log = logging.getLogger(__name__)


def runs_in_parallel() -> int:
    """How many runs the Hydra launcher runs at once on this machine (1 if not a joblib sweep)."""
    if not HydraConfig.initialized() or HydraConfig.get().get("mode") != RunMode.MULTIRUN:
        return 1  # a single run: the launcher (joblib by default) only matters for sweeps
    n_jobs = HydraConfig.get().launcher.get("n_jobs")
    if not n_jobs:
        return 1
    if n_jobs < 0:  # joblib: -1 means one job per CPU
        return os.cpu_count() or 1
    return int(n_jobs)


def configure_threads(threads: int | None) -> None:
    """Use `threads` torch threads, or, when unset, cpu_count // runs in parallel."""
    if threads is None:
        parallel = runs_in_parallel()
        if parallel <= 1:
            return
        threads = max(1, (os.cpu_count() or 1) // parallel)
    torch.set_num_threads(int(threads))
    log.info("torch uses %d CPU threads", threads)
