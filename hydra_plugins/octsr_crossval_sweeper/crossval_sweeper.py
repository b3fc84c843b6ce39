"""The runs of a cross-validation plan as one Hydra sweep.

A sweeper turns a command line into the override lists of its runs and hands them to the
launcher; Hydra's own sweeper takes a product of values, where a cross-validation needs
each row's overrides on each fold's subjects. This one reads them from the plan that
`octsr.crossval` writes (a JSON file: `{"jobs": [{"overrides": [...]}, ...]}`), so the fold
runs go through whichever launcher the sweep names, as every other sweep's runs do:
joblib on this machine (`hydra/launcher=local_parallel`), SLURM on a cluster (`slurm`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf


class CrossvalSweeper(Sweeper):
    def __init__(self, plan: str) -> None:
        self.plan = Path(plan)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config)

    def sweep(self, arguments: list[str]) -> list[JobReturn]:
        """Every job of the plan, each with the command line's overrides and then its own;
        a run's failure is its own (recorded in its folder), so the others still run."""
        jobs: list[dict[str, Any]] = json.loads(self.plan.read_text())["jobs"]
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        return list(self.launcher.launch([[*arguments, *job["overrides"]] for job in jobs], initial_job_idx=0))
