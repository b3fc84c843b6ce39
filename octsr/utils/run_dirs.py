"""Run folders that never collide, even for runs started in the same second, and sweep runs
named by what was swept."""

from __future__ import annotations

import itertools
import os
import re
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from octsr.conf import CONF_DIR

# The keys a sweep varies, handed from the launching process to its runs (which may be
# worker processes or cluster jobs: they inherit the environment, not the command line).
SWEPT_KEYS = "OCTSR_SWEPT_KEYS"


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


def swept_keys(overrides: list[str]) -> list[str]:
    """The keys of the command line's sweep overrides (`model=cae,srcnn`, `x=range(1,3)`)."""
    return [o.get_key_element().lstrip("+~") for o in OverridesParser.create().parse_overrides(overrides)
            if o.is_sweep_override()]


class RecordSweptKeys(Callback):
    """A Hydra callback (conf/hydra/default.yaml): before a sweep launches its runs, note which
    keys the command line sweeps, so each run can be named by its values of them."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ[SWEPT_KEYS] = ",".join(swept_keys(list(config.hydra.overrides.task)))


def sweep_run_name(overrides: list[str], sweeper: DictConfig | None, job_num: int) -> str:
    """A sweep run's folder name from its values of the swept keys, readable and safe in a path
    and in a `ckpt_path=` override: `model=cae optim.lr=0.0002` -> `cae_lr0.0002`. Config
    groups give their option, first; other keys their last part and value. Keys come from the
    command line (RecordSweptKeys) and from the sweeper's `params` (`+sweep=lr`, Optuna);
    a run with none of them is `run<job number>`."""
    keys = set(filter(None, os.environ.get(SWEPT_KEYS, "").split(",")))
    keys |= set(OmegaConf.select(sweeper, "params", default=None) or {}) if sweeper is not None else set()
    options, values = [], []
    for override in overrides:
        key, _, value = override.partition("=")
        key = key.lstrip("+~")
        if key in keys:
            is_group = (CONF_DIR / key).is_dir()
            label = value if is_group else key.rsplit(".", 1)[-1] + value
            (options if is_group else values).append(re.sub(r"[^A-Za-z0-9.+-]+", "-", label).strip("-"))
    return "_".join(options + values) or f"run{job_num}"


def register_resolvers() -> None:
    # Cached: Hydra resolves a run folder more than once (and copies the cache into each job
    # of a sweep); every read must give the folder created by the first.
    if not OmegaConf.has_resolver("fresh_dir"):
        OmegaConf.register_new_resolver("fresh_dir", fresh_dir, use_cache=True)
    if not OmegaConf.has_resolver("sweep_run_name"):
        OmegaConf.register_new_resolver("sweep_run_name", sweep_run_name)
