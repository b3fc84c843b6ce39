"""Subject-wise cross-validation on the Duke set: `python -m octsr.crossval`.

The subjects are dealt into `folds` test groups (subject i goes to fold i mod folds); each
fold validates on `val_subjects` drawn at random from the rest and trains on the others.
Every row of `rows` (a name and the `octsr.train` overrides that make it) is trained once
per fold. The work goes plan -> run -> score -> tables: the plan checks every row on every
fold before anything trains; the fold runs go as one `octsr.train` sweep through Hydra's
launcher (`hydra/sweeper=crossval` reads the plan's jobs; joblib on this machine, SLURM on a
cluster), while BM3D (its noise level chosen on each fold's val scans) runs beside them;
each fold's model, BM3D and the noisy input are then scored on the same test scans by
`octsr.scoring`. One table comes out, `crossval.md` and
`crossval.csv`: per row the weights, train minutes, milliseconds per B-scan, PSNR, SSIM and
GMSD mean ± std and the edge preservation index over all test scans, the brightness-matched
PSNR diagnostic, and one PSNR column per subject; with `tta=true` each row is also scored
with test-time flips and turns.

A fold already finished (its `fold_result.json` exists) is not run again, so the same
command with `hydra.run.dir=<that folder>` picks up where a killed run stopped; and with
`reuse=[<earlier run folders>]` a new table takes the folds those runs finished with the
same settings (linked, not copied), training only what is new.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import fmean
from typing import Any

from typing import TYPE_CHECKING

import numpy as np
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

import octsr  # noqa: F401
from octsr.data.pairs import DukePairs
from octsr.errors import ConfigError, RunFailed
from octsr.settings import CrossvalSettings, check_settings
from octsr.utils.atomic import write_text_atomic
from octsr.utils.cli import command, quoted
from octsr.utils.extras import require
from octsr.utils.failures import FAILURE_FILE, user_error_message
from octsr.utils.machine import machine
from octsr.utils.tables import write_csv
from octsr.utils.timing import warm_ms

# torch and Lightning are imported where the work starts, after the settings are checked,
# so `--help` and a mistyped setting answer at once instead of after seconds of imports.
if TYPE_CHECKING:
    from octsr.inference import Restorer

log = logging.getLogger(__name__)

BSCAN_SHAPE = (450, 900)  # the Duke B-scan, for the milliseconds-per-scan column
FOLD_RESULT = "fold_result.json"  # in each finished fold's folder, <row>/fold<k>/
# The launcher setting that bounds how many runs go at once: joblib's (local_parallel) and
# submitit's (slurm); Hydra's basic launcher runs one at a time.
LAUNCHER_JOBS = {"local_parallel": "n_jobs", "slurm": "array_parallelism"}
POLL_SECONDS = 2  # how often the folds' results are looked for while the sweep runs


def fold_splits(subjects: list[str], folds: int, fold: int, val_subjects: int,
                seed: int) -> dict[str, list[str]]:
    """Test: every `folds`-th subject from `fold`; val: `val_subjects` of the rest, drawn
    with `seed` + `fold`; train: the others."""
    if not 0 <= fold < folds:
        raise ConfigError(f"fold {fold} does not exist with folds={folds}")
    test = subjects[fold::folds]
    rest = [s for s in subjects if s not in test]
    if not 0 < val_subjects < len(rest):
        raise ConfigError(f"val_subjects={val_subjects}: choose 1 to {len(rest) - 1} "
                          f"({len(rest)} subjects are left after {len(test)} test ones)")
    val = sorted(random.Random(seed + fold).sample(rest, val_subjects))
    return {"train": [s for s in rest if s not in val], "val": val, "test": test}


def _list(names: list[str]) -> str:
    return "[" + ",".join(f"'{n}'" for n in names) + "]"


def fold_overrides(overrides: list[str], splits: dict[str, list[str]], data_root: str, fold: int) -> list[str]:
    """The octsr.train overrides of a row on fold number `fold`: the Duke layout at
    `data_root` split as the fold says, then the row's own, each `{fold}` in them replaced by
    the fold's number (what differs by fold, e.g. a teacher's outputs:
    data.teacher_dir=<dir>/fold{fold}). A row may train on another layout of the same subjects
    (data=volumes data.root=<the subjects as volumes>, experiments/scanners): its own data
    and data.root then stand."""
    overrides = [o.replace("{fold}", str(fold)) for o in overrides]
    data = [setting for setting in ("data=duke", f"data.root={quoted(data_root)}")
            if not any(o.startswith(setting.split("=")[0] + "=") for o in overrides)]
    return [*data, f"data.splits.train={_list(splits['train'])}", f"data.splits.val={_list(splits['val'])}",
            f"data.splits.test={_list(splits['test'])}", *overrides]


def check_rows(rows: dict[str, list[str]], folds: list[dict[str, list[str]]], data_root: str) -> None:
    """Every row composed and checked as octsr.train will, on every fold, before any fold
    trains: a mistyped override, an impossible setting or a subject the row's data lacks
    ends here in one line naming the row, not after an hour of training."""
    import hydra

    from octsr.settings import TrainSettings

    for row, overrides in rows.items():
        for k, splits in enumerate(folds):
            try:
                cfg = hydra.compose(config_name="train", overrides=fold_overrides(overrides, splits, data_root, k))
                check_settings(cfg, TrainSettings)
                hydra.utils.instantiate(cfg.data).splits()  # lists the files; reads no pixels
            except Exception as err:
                reason = user_error_message(err) or " ".join(str(err).split())
                raise ConfigError(f"rows.{row} ({' '.join(overrides) or 'defaults'}), fold {k}: {reason}") from err


def finished_fold(row: str, overrides: list[str], run_dir: Path) -> dict[str, Any] | None:
    """The result of a row's fold that `run_dir` already holds, or None; ConfigError if it was
    trained with other settings (a changed row must not be scored from the old runs)."""
    result_path = run_dir / FOLD_RESULT
    if not result_path.is_file():
        return None
    result = json.loads(result_path.read_text())
    if result.get("overrides", overrides) != overrides:
        raise ConfigError(f"row {row!r} was trained in {run_dir} with other settings "
                          f"({' '.join(result['overrides'])}); give the new settings another row "
                          f"name, or the run another hydra.run.dir")
    return result


class FoldResult(Callback):
    """A Hydra callback of the crossval sweeper (conf/hydra/sweeper/crossval.yaml), run where
    each fold run runs (a worker process, a cluster node): a run that ended well writes what
    crossval scores, `fold_result.json` (the plan's job, its wall time and best checkpoint),
    in its folder. A failed run has its reason in FAILED.txt there instead."""

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.start = time.perf_counter()

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        import torch

        from octsr.models.checkpoint import best_checkpoint

        out = Path(config.hydra.runtime.output_dir)
        if job_return.status != JobStatus.COMPLETED or (out / FAILURE_FILE).exists():
            return
        job = json.loads(Path(config.hydra.sweeper.plan).read_text())["jobs"][config.hydra.job.num]
        result = {"row": job["row"], "overrides": job["row_overrides"], "splits": job["splits"],
                  "train_seconds": time.perf_counter() - self.start, "threads": torch.get_num_threads(),
                  "checkpoint": str(best_checkpoint(out)), "command": job["command"]}
        write_text_atomic(out / FOLD_RESULT, json.dumps(result, indent=1))


def bm3d_fold(splits: dict[str, list[str]], data_root: str, sigmas: list[float],
              out: Path) -> dict[str, Any]:
    """BM3D's sigma chosen on the fold's val scans, then its outputs on the test scans."""
    result_path = out / FOLD_RESULT
    if result_path.is_file():
        return json.loads(result_path.read_text())
    from octsr.baselines import bm3d_method, choose_bm3d_sigma

    out.mkdir(parents=True, exist_ok=True)
    pairs = DukePairs(data_root, [], splits["val"], splits["test"]).splits()
    sigma, tried = choose_bm3d_sigma(sigmas, [(p.name, *p.load()) for p in pairs["val"]])
    denoise, seconds = bm3d_method(sigma), []
    for pair in pairs["test"]:
        noisy, _ = pair.load()
        start = time.perf_counter()
        output = denoise(noisy)
        seconds.append(time.perf_counter() - start)
        np.save(out / f"{pair.name}.npy", output)
    result = {"sigma": sigma, "val_psnr": tried, "seconds_per_scan": fmean(seconds), "splits": splits}
    write_text_atomic(result_path, json.dumps(result, indent=1))
    return result


def ms_per_bscan(method: Restorer) -> float:
    """Milliseconds to restore one 450 x 900 B-scan (from its frames, for a model of several
    input frames), warm (`octsr.utils.timing.warm_ms`)."""
    frames = method.input_frames
    scan = np.random.default_rng(0).random((frames, *BSCAN_SHAPE) if frames > 1 else BSCAN_SHAPE,
                                           dtype=np.float32)
    return warm_ms(lambda: method(scan))


@dataclass
class Plan:
    """What a cross-validation runs: checked settings, before any work starts."""

    subjects: list[str]
    data_root: str
    rows: dict[str, list[str]]  # row name -> its octsr.train overrides
    folds: list[dict[str, list[str]]]
    sigmas: list[float] | None  # BM3D's noise levels to choose from; None: no BM3D row
    shipped: list[str]  # shipped models scored untrained (`weights=` names)
    tta: bool  # each row also scored with test-time flips and turns
    reuse: list[Path]  # earlier crossval folders whose finished folds are taken as they are
    launcher: str  # the Hydra launcher of the fold runs (conf/hydra/launcher, or basic)
    launcher_overrides: list[str]  # its settings (hydra.launcher.partition=..., on a cluster)
    jobs: int  # fold runs at a time
    threads: int  # torch threads of each, on one machine
    out: Path

    def fold_dir(self, row: str, fold: int) -> Path:
        """Where a row's (or BM3D's, row "bm3d") run on fold number `fold` writes."""
        return self.out / row / f"fold{fold}"


def plan_crossval(cfg: DictConfig) -> Plan:
    check_settings(cfg, CrossvalSettings)
    if cfg.bm3d.enabled:
        require("bm3d", "baselines", "the BM3D row", instead="bm3d.enabled=false")
    if cfg.launcher == "slurm":
        require("hydra_plugins.hydra_submitit_launcher", "slurm", "launcher=slurm")
    data_root = str(Path(cfg.data_root).expanduser().resolve())
    if not Path(data_root).is_dir():
        raise ConfigError(f"data_root={cfg.data_root}: no such folder ({data_root})")
    rows = row_overrides(cfg)
    subjects = [str(s) for s in cfg.subjects]
    jobs = max(1, int(cfg.jobs))
    folds = [fold_splits(subjects, cfg.folds, k, cfg.val_subjects, cfg.seed) for k in range(cfg.folds)]
    reuse = [reuse_folder(folder) for folder in cfg.get("reuse") or []]
    DukePairs(data_root, [], [], subjects).splits()  # every subject's scan and average, to score on
    check_rows(rows, folds, data_root)
    return Plan(subjects, data_root, rows, folds,
                list(cfg.bm3d.sigmas) if cfg.bm3d.enabled else None, [str(n) for n in cfg.shipped],
                bool(cfg.tta), reuse, str(cfg.launcher), str(cfg.launcher_overrides or "").split(), jobs,
                max(1, (os.cpu_count() or 1) // jobs), Path(cfg.paths.output_dir))


def row_overrides(cfg: DictConfig) -> dict[str, list[str]]:
    """Each row's octsr.train overrides (its own, then `train_overrides`); ConfigError for no
    row, or a name that cannot name a folder."""
    rows = {str(name): str(overrides or "").split() + str(cfg.train_overrides or "").split()
            for name, overrides in (cfg.get("rows") or {}).items()}
    if not rows:
        raise ConfigError("rows is empty: give at least one, e.g. '+rows.srcnn=\"model=srcnn\"'")
    bad = [name for name in rows if not name.replace("_", "").replace("-", "").isalnum()]
    if bad:
        raise ConfigError(f"rows: name(s) {bad} must be letters, digits, - and _ (they name folders)")
    return rows


def reuse_folder(folder: str) -> Path:
    """A `reuse` entry, checked to be an octsr.crossval output folder: one holding fold runs
    as crossval writes them. Any other folder (a training run's) matches no fold, so every
    fold would train again without a word."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise ConfigError(f"reuse: {folder} is not a folder (an earlier octsr.crossval run's)")
    if any(path.glob(f"*/fold[0-9]*/{FOLD_RESULT}")):
        return path
    layout = (f"an earlier octsr.crossval run's output folder, with the folds it finished as "
              f"<row>/fold<k>/{FOLD_RESULT}")
    if any(path.glob(f"fold[0-9]*/{FOLD_RESULT}")):
        raise ConfigError(f"reuse: {folder} is one row's folder of a crossval run; each reuse folder must be "
                          f"{layout} (here {path.parent})")
    raise ConfigError(f"reuse: {folder} is not an octsr.crossval output folder (it holds no finished fold); each "
                      f"reuse folder must be {layout}")


def link_reused(plan: Plan) -> None:
    """Each fold of each row (and BM3D's) that one of `plan.reuse` finished with the same
    overrides and subjects, linked into this run where it has none yet: the first folder
    that has it wins. BM3D's sigmas are not compared (its result records the one chosen)."""
    wanted = {(row, k): (overrides, splits) for row, overrides in plan.rows.items()
              for k, splits in enumerate(plan.folds)}
    if plan.sigmas:
        wanted.update({("bm3d", k): (None, splits) for k, splits in enumerate(plan.folds)})
    for (row, k), (overrides, splits) in wanted.items():
        here = plan.fold_dir(row, k)
        if here.exists():
            continue
        for folder in plan.reuse:
            result_path = folder / row / f"fold{k}" / FOLD_RESULT
            if not result_path.is_file():
                continue
            result = json.loads(result_path.read_text())
            if result.get("splits") == splits and (overrides is None or result.get("overrides") == overrides):
                here.parent.mkdir(parents=True, exist_ok=True)
                here.symlink_to(result_path.parent.resolve(), target_is_directory=True)
                log.info("%s fold %d: reused from %s", row, k, result_path.parent)
                break


def fold_jobs(plan: Plan) -> list[dict[str, Any]]:
    """The fold runs still to train, as the crossval sweeper's plan lists them: each row on
    each fold that has no result yet (a fold left half-done by a killed run starts again)."""
    jobs = []
    for row, overrides in plan.rows.items():
        for k, splits in enumerate(plan.folds):
            run_dir = plan.fold_dir(row, k)
            if finished_fold(row, overrides, run_dir) is not None:
                continue
            shutil.rmtree(run_dir, ignore_errors=True)
            train_overrides = fold_overrides(overrides, splits, plan.data_root, k)
            jobs.append({"row": row, "fold": k, "row_overrides": overrides, "splits": splits,
                         "overrides": [*train_overrides, f"hydra.sweep.subdir={row}/fold{k}"],
                         "command": shlex.join(["python", "-m", "octsr.train", *train_overrides,
                                                f"hydra.run.dir={quoted(str(run_dir))}"])})
    return jobs


def sweep_command(plan: Plan, plan_path: Path) -> list[str]:
    """The `octsr.train` sweep that runs the jobs of `plan_path` through the plan's launcher."""
    parallel = LAUNCHER_JOBS.get(plan.launcher)
    return [sys.executable, "-m", "octsr.train", "-m", "hydra/sweeper=crossval",
            f"hydra.sweeper.plan={quoted(str(plan_path))}", f"hydra/launcher={plan.launcher}",
            *([f"hydra.launcher.{parallel}={plan.jobs}"] if parallel else []),
            *plan.launcher_overrides, f"hydra.sweep.dir={quoted(str(plan.out))}"]


def sweep_environment() -> dict[str, str]:
    """The sweep's environment. Hydra finds a sweeper by listing the hydra_plugins folders on
    sys.path, which an editable install's import hook does not list: the sweep gets the
    folder that holds octsr's sweeper on its path."""
    import hydra_plugins.octsr_crossval_sweeper as sweeper

    plugins_root = str(Path(sweeper.__file__).resolve().parents[2])
    python_path = os.pathsep.join(filter(None, [plugins_root, os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": python_path}


def launch_sweep(plan: Plan, jobs: list[dict[str, Any]]) -> subprocess.Popen:
    """The fold runs as one sweep (`sweep_command`), started; its output goes to sweep.log."""
    plan_path = plan.out / "plan.json"
    write_text_atomic(plan_path, json.dumps({"jobs": jobs}, indent=1))
    with (plan.out / "sweep.log").open("w") as log_file:
        # A session of its own: the launcher's workers are its children, and `stop_sweep` ends
        # them all (a Ctrl-C at the terminal reaches only crossval's own group).
        return subprocess.Popen(sweep_command(plan, plan_path), stdout=log_file, stderr=subprocess.STDOUT,
                                env=sweep_environment(), start_new_session=True)


def stop_sweep(sweep: subprocess.Popen) -> None:
    """End the sweep and every worker it started. Left running, a worker would train on into
    a folder that the next crossval in the same place empties and starts again."""
    # joblib's workers may outlive SIGTERM for a while; what they were doing is started again anyway.
    for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):
        try:
            os.killpg(sweep.pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            sweep.poll()  # reaped once ended, or the group never looks empty
            try:
                os.killpg(sweep.pid, 0)  # anyone of the group left?
            except ProcessLookupError:
                return
            time.sleep(0.2)


def failure_of(plan: Plan, job: dict[str, Any], sweep_status: int | None) -> RunFailed:
    """Why a planned fold run left no result: its FAILED.txt, else the sweep's own last word."""
    run_dir = plan.fold_dir(job["row"], job["fold"])
    failed = run_dir / FAILURE_FILE
    if failed.is_file():
        where, said = str(failed), failed.read_text().splitlines()[0]
    else:
        # The sweep's one-line error if it gave one (progress bars redraw with \r, so the
        # log's last line is often a bar's).
        log_path = plan.out / "sweep.log"
        lines = [line for line in log_path.read_text().replace("\r", "\n").splitlines() if line.strip()]
        said = ([line for line in lines if line.startswith("octsr: error:")] or lines[-1:] or ["(no output)"])[-1]
        where = f"the sweep ended with exit status {sweep_status}; {log_path}"
    return RunFailed(f"row {job['row']!r} failed on test subjects {job['splits']['test']} ({where}): {said}")


def run_folds(plan: Plan) -> tuple[dict[tuple[str, int], dict[str, Any]], dict[int, dict[str, Any]]]:
    """Every row trained on every fold (one sweep through Hydra's launcher), and BM3D on every
    fold beside it: the trained runs' results by (row, fold), BM3D's by fold."""
    jobs = fold_jobs(plan)
    log.info("%d folds x %d rows%s on %s: %d run(s) to train through hydra/launcher=%s, %d at a time; "
             "results in %s", len(plan.folds), len(plan.rows), " (+ BM3D)" if plan.sigmas else "",
             plan.data_root, len(jobs), plan.launcher, plan.jobs, plan.out)
    sweep = launch_sweep(plan, jobs) if jobs else None
    try:
        bm3d_results = wait_for_folds(plan, jobs, sweep)
    except BaseException:  # Ctrl-C, SIGTERM, a BM3D failure: no worker may train on unwatched
        if sweep is not None:
            stop_sweep(sweep)
        raise
    for job in jobs:
        if not (plan.fold_dir(job["row"], job["fold"]) / FOLD_RESULT).is_file():
            raise failure_of(plan, job, sweep.returncode if sweep else None)
    trained = {(row, k): finished_fold(row, overrides, plan.fold_dir(row, k))
               for row, overrides in plan.rows.items() for k in range(len(plan.folds))}
    return trained, bm3d_results


def wait_for_folds(plan: Plan, jobs: list[dict[str, Any]], sweep: subprocess.Popen | None) -> dict[int, dict[str, Any]]:
    """BM3D on every fold while the sweep runs, each run reported as it ends; BM3D's results."""
    bm3d: dict[int, Any] = {}  # fold -> its result, or the error that stopped it

    def run_bm3d() -> None:
        for k, splits in enumerate(plan.folds):
            try:
                bm3d[k] = bm3d_fold(splits, plan.data_root, plan.sigmas, plan.fold_dir("bm3d", k))
            except Exception as err:
                bm3d[k] = err
                return

    # A daemon thread: a Ctrl-C need not wait for the BM3D scan in hand.
    beside = threading.Thread(target=run_bm3d, daemon=True) if plan.sigmas else None
    if beside is not None:
        beside.start()
    is_done = {f"{job['row']} fold {job['fold']}": (plan.fold_dir(job["row"], job["fold"]) / FOLD_RESULT).is_file
               for job in jobs}
    is_done.update({f"BM3D fold {k}": (lambda k=k: k in bm3d) for k in range(len(plan.folds)) if plan.sigmas})
    # Report each run as it ends: a full cross-validation takes an hour or more.
    start, reported = time.perf_counter(), set()
    while True:
        ended = (sweep is None or sweep.poll() is not None) and (beside is None or not beside.is_alive())
        failed = [err for err in bm3d.values() if isinstance(err, Exception)]
        if failed:
            raise failed[0]
        for name in [n for n, done in is_done.items() if n not in reported and done()]:
            reported.add(name)
            log.info("%s done (%d of %d runs, %.1f min so far)", name, len(reported), len(is_done),
                     (time.perf_counter() - start) / 60)
        if ended:
            return bm3d
        time.sleep(POLL_SECONDS)


def score_folds(plan: Plan, trained: dict[tuple[str, int], dict[str, Any]],
                bm3d: dict[int, dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Every test scan's scores (`octsr.scoring` rows, the image named by its subject) for the
    noisy input, BM3D, the shipped models and each row on the fold that held the scan out;
    and per method, what the table says of its model (weights, train minutes, ms per B-scan)."""
    import torch

    from octsr.baselines import noisy_input
    from octsr.scoring import score_method

    torch.set_num_threads(os.cpu_count() or 1)
    test_pairs = DukePairs(plan.data_root, [], [], plan.subjects).splits()["test"]
    test_images = {p.name: p.load() for p in test_pairs}  # subject -> (noisy, target), read once
    rows = score_method(noisy_input, [(s, *test_images[s]) for s in plan.subjects], "noisy input")
    models: dict[str, dict[str, Any]] = {}
    if bm3d:
        rows += score_bm3d(plan, bm3d, test_images, models)
    for name in plan.shipped:
        rows += score_shipped(plan, name, test_images, models)
    for row in plan.rows:
        rows += score_row(plan, row, trained, test_images, models)
    return rows, models


def score_bm3d(plan: Plan, bm3d: dict[int, dict[str, Any]], test_images: dict[str, tuple],
               models: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """BM3D's saved outputs on each fold's test scans, scored; its time per B-scan into `models`."""
    from octsr.scoring import image_scores

    sigmas = ", ".join(f"{r['sigma']:g}" for r in bm3d.values())
    label = f"BM3D (sigma {sigmas} by fold)"
    models[label] = {"ms_per_bscan": 1000 * fmean(r["seconds_per_scan"] for r in bm3d.values())}
    return [{"method": label, "image": s, **image_scores(np.load(plan.fold_dir("bm3d", k) / f"{s}.npy"),
                                                           test_images[s][1])}
            for k, result in bm3d.items() for s in result["splits"]["test"]]


def score_shipped(plan: Plan, name: str, test_images: dict[str, tuple],
                  models: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A shipped model (`weights=name`), untrained, on every test scan."""
    from octsr.inference import load_restorer
    from octsr.scoring import score_method

    restorer = load_restorer({"weights": name})
    label = f"shipped weights={name}"
    models[label] = {"params": restorer.model.parameter_count, "ms_per_bscan": ms_per_bscan(restorer)}
    return score_method(restorer, [(s, *test_images[s]) for s in plan.subjects], label)


def score_row(plan: Plan, row: str, trained: dict[tuple[str, int], dict[str, Any]],
              test_images: dict[str, tuple], models: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A trained row: each fold's model on that fold's test scans. A model that matches its
    input's brightness is also scored without it (what the matching itself is worth, from
    the same weights), and with test-time flips and turns where asked."""
    from octsr.inference import load_restorer
    from octsr.scoring import score_method

    described = {"train_minutes": fmean(trained[(row, k)]["train_seconds"] for k in range(len(plan.folds))) / 60}
    rows: list[dict[str, Any]] = []
    for k, splits in enumerate(plan.folds):
        restorer = load_restorer({"ckpt_path": trained[(row, k)]["checkpoint"]})
        model = restorer.model
        described["params"] = model.parameter_count
        inputs = fold_inputs(plan, restorer.input_frames, splits["test"], test_images)
        match = model.match_input_mean
        settings = {row: (match, False), **({f"{row} (no mean matching)": (False, False)} if match else {}),
                    **({f"{row} (tta)": (match, True)} if plan.tta else {})}
        for name, (match, tta) in settings.items():
            model.match_input_mean, restorer.tta = match, tta
            if name not in models:  # timed once per setting that changes the time
                timed = name == row or tta
                models[name] = {**described, "ms_per_bscan": ms_per_bscan(restorer) if timed
                                else models[row]["ms_per_bscan"]}
            rows += score_method(restorer, inputs, name)
    return rows


def fold_inputs(plan: Plan, frames: int, subjects: list[str], test_images: dict[str, tuple]) -> list[tuple]:
    """(subject, model input, target) for a fold's test subjects: the noisy scan, or for a
    model of several input frames, the subject's first `frames` frames stacked."""
    if frames == 1:
        return [(s, *test_images[s]) for s in subjects]
    stacked = {p.name: p.load()[0] for p in
               DukePairs(plan.data_root, [], [], subjects, input_frames=frames).splits()["test"]}
    return [(s, stacked[s], test_images[s][1]) for s in subjects]


def write_tables(plan: Plan, rows: list[dict[str, Any]], models: dict[str, dict[str, Any]],
                 bm3d: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    """crossval.md, crossval.csv (a line per row) and per_image.csv; returns the table's lines."""
    from octsr.scoring import METRIC_NAMES, summarize, summary_table

    table = []
    for summary in summarize(rows):
        name = summary.pop("method")
        summary.pop("seconds", None)  # the time of scoring; ms_per_bscan is the method's own
        summary.pop("images", None)
        table.append({"row": name, **models.get(name, {}), **summary})
    notes = [
        "Folds (test | val | train): " + "; ".join(
            f"{' '.join(f['test'])} | {' '.join(f['val'])} | {' '.join(f['train'])}" for f in plan.folds) + ".",
        "Each row: " + "; ".join(f"`{name}`: `{' '.join(o) or '(defaults)'}`" for name, o in plan.rows.items()) + "."
        + (" `shipped weights=NAME`: the model that ships with octsr, scored as it is (not retrained)."
           if plan.shipped else ""),
        f"PSNR (MAX 1), SSIM (11x11 Gaussian, K1 0.01, K2 0.03), GMSD (Xue et al. 2014, lower is "
        f"better) and EPI (edge preservation index, correlation of the Laplacians, higher is better) "
        f"against average.tif, mean (± std) over the {len(plan.subjects)} test scans; per-subject "
        f"columns are PSNR. Train minutes: wall clock of each fold's run (setup, validation and test "
        f"included), {plan.jobs} run(s) at a time with {plan.threads} thread(s) each. ms / B-scan: one "
        f"450x900 scan, warm, {os.cpu_count()} threads.",
        f"Machine: {machine()}.",
    ]
    if bm3d:
        notes.append(f"BM3D sigma per fold, chosen on that fold's val scans from {plan.sigmas}: "
                     + "; ".join(f"fold {k}: {r['sigma']:g}" for k, r in bm3d.items()) + ".")
    markdown = summary_table(
        [{**line, "method": line["row"]} for line in table],
        before=[("weights", lambda s: f"{s['params']:,}" if s.get("params") else "–"),
                ("train min / fold", lambda s: f"{s['train_minutes']:.1f}" if s.get("train_minutes") else "–"),
                ("ms / B-scan", lambda s: f"{s['ms_per_bscan']:.0f}" if s.get("ms_per_bscan") else "–")],
        per_image=plan.subjects)
    text = "\n".join([markdown, "", *notes]) + "\n"
    out = plan.out
    write_text_atomic(out / "crossval.md", text)
    write_csv(out / "crossval.csv", table)
    write_csv(out / "per_image.csv", [{"row": r["method"], "subject": r["image"],
                                       **{m: r[m] for m in METRIC_NAMES}} for r in rows])
    print(text)
    print(f"wrote {out / 'crossval.md'}, {out / 'crossval.csv'} and {out / 'per_image.csv'}")
    return table


def interrupt_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # `kill` ends crossval as Ctrl-C does: its sweep stopped, one line


def crossval(cfg: DictConfig) -> list[dict[str, Any]]:
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    plan = plan_crossval(cfg)
    link_reused(plan)
    trained, bm3d = run_folds(plan)
    rows, models = score_folds(plan, trained, bm3d)
    return write_tables(plan, rows, models, bm3d)


cli = command("crossval", crossval)  # `python -m octsr.crossval` and the `octsr-crossval` command


if __name__ == "__main__":
    cli()
