"""Say where a run or sweep writes, when it starts, and what to do with a finished sweep."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig


class AnnounceFolders(Callback):
    """A Hydra callback (conf/hydra/default.yaml): the run or sweep folder is printed first,
    and a finished sweep ends with the command that tables and plots its runs."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        # The run folder's name is resolved only once the job starts (it names the choices).
        if config.hydra.mode == RunMode.RUN:
            print(f"octsr: run folder {config.hydra.runtime.output_dir}", flush=True)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        print(f"octsr: sweep folder {config.hydra.sweep.dir}", flush=True)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print(f"octsr: sweep finished; compare its runs with: python -m octsr.report {config.hydra.sweep.dir}",
              flush=True)
