"""Section 3, sweep: 1 worker x 2 threads against 2 workers x 1 thread."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import octsr  # noqa: F401  (allocator settings, as every entry point gets them)

from bench_common import Mode, Table, compose, run_child


# -- 3. sweeps on one machine -------------------------------------------------------------------
def bench_sweep(table: Table, mode: Mode, out: Path) -> None:
    lrs = ",".join(str(lr) for lr in mode.sweep_lrs)
    base = [sys.executable, "-m", "octsr.train", "-m", *mode.overrides, "trainer=cpu", "model=cae,srcnn",
            f"optim.lr={lrs}", f"++trainer.limit_train_batches={mode.sweep_batches}", "trainer.val_check_interval=1.0",
            "callbacks.progress_bar=null", "++trainer.enable_progress_bar=false"]
    runs = 2 * len(mode.sweep_lrs)
    results = {}
    for label, extra in (("1 worker x 2 threads", ["hydra/launcher=basic"]),
                         ("2 workers x 1 thread", ["hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2"])):
        sweep_dir = out / "runs" / f"sweep_{label.split()[0]}workers"
        shutil.rmtree(sweep_dir, ignore_errors=True)
        seconds, _, _ = run_child([*base, *extra, f"hydra.sweep.dir={sweep_dir}"])
        results[label] = seconds
    serial, parallel = results["1 worker x 2 threads"], results["2 workers x 1 thread"]
    launcher = compose(*mode.overrides, return_hydra_config=True).hydra.launcher._target_
    default_parallel = launcher.endswith("JoblibLauncher")
    table.add("3 sweep", f"{runs}-run sweep (cae, srcnn x {len(mode.sweep_lrs)} lr, {mode.sweep_batches} "
              "train batches each): 2 workers x 1 thread", f"{parallel:.0f} s", f"1 worker x 2 threads {serial:.0f} s",
              parallel / serial, f"default ({launcher.rsplit('.', 1)[-1]}) = the faster",
              default_parallel == (parallel < serial),
              "python -m octsr.train -m model=cae,srcnn optim.lr=... hydra/launcher=basic|local_parallel")
