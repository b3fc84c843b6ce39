"""Report on finished runs from what they wrote: `python -m octsr.report SWEEP_OR_RUN_DIR... [out=DIR]`.

A run directory is one holding `.hydra/config.yaml`; every such directory below the given
paths is a row of the table (model x learning rate): epochs, steps, seconds per training
epoch, best val PSNR and the val SSIM at that validation, every test metric of the output
and of the noisy input (octsr.metrics.METRICS), wall time, and whether the run finished or
failed (with the reason).
Numbers come from the runs' TensorBoard events, `test_metrics.csv` and `FAILED.txt`.

Writes to `out` (default: `report/` inside the first path):
  results.md, results.csv   the table
  metrics_vs_lr.png         PSNR and SSIM against learning rate, a line per model
  panel.png                 noisy | best CAE | best SRCNN | target on the first test image,
                            each with a zoomed inset (one column per model found)
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from statistics import fmean

from omegaconf import DictConfig, OmegaConf

from octsr.errors import DataError
from octsr.metrics import METRIC_NAMES, METRICS, NOISY_SUFFIX
from octsr.settings import ReportSettings, check_settings
from octsr.utils.atomic import write_text_atomic
from octsr.utils.cli import command
from octsr.utils.failures import FAILURE_FILE
from octsr.utils.provenance import OutputRecord, settings_digest
from octsr.utils.tables import markdown_table, write_csv

log = logging.getLogger(__name__)

# The test step's mean of each metric (octsr.metrics.METRICS), then the noisy input's.
TEST_COLUMNS = {f"test_{name}{suffix}": f"{name}{suffix}" for suffix in ("", NOISY_SUFFIX) for name in METRIC_NAMES}
COLUMNS = ("model", "lr", "epochs", "steps", "train_s_per_epoch", "wall_s", "val_psnr_best", "val_ssim",
           *TEST_COLUMNS, "status", "run")
DIGITS = {column: metric.digits for metric in METRICS
          for column in (f"test_{metric.name}", f"test_{metric.name}{NOISY_SUFFIX}")}


def find_runs(paths: list[Path]) -> list[Path]:
    """Every training run at or below each path: a folder whose Hydra config is octsr.train's.
    Runs below a run are found too (a cross-validation's fold runs sit below its own folder,
    whose config is the cross-validation's, not a training run's)."""
    runs: list[Path] = []
    for path in paths:
        for config in sorted(path.glob("**/.hydra/config.yaml")):
            if _is_training_run(config) and config.parent.parent not in runs:
                runs.append(config.parent.parent)
    return runs


def _is_training_run(config: Path) -> bool:
    try:
        task = OmegaConf.load(config).get("task_name", "train")
    except Exception:  # an unreadable config: listed, and its row says why
        return True
    return task == "train"


def _scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 1})
    events.Reload()
    return {t: [(e.step, e.value) for e in events.Scalars(t)] for t in events.Tags()["scalars"]}


def summarize_run(run: Path) -> dict:
    """The run's row; a run whose files are missing, half-written or damaged still gets one,
    with what could be read and the reason in `status`."""
    try:
        cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    except Exception as err:
        return {"run": run.name, "status": f"unreadable .hydra/config.yaml ({_one_line(err)})"}
    return {**_settings(run, cfg), **_training(run), "wall_s": _wall_seconds(run), **_test_results(run)}


def _settings(run: Path, cfg) -> dict:
    """Model, data and learning rate, as the run's config chose them."""
    choices = _group_choices(run)
    net = OmegaConf.select(cfg, "model.net._target_", default=None)
    lr = OmegaConf.select(cfg, "optim.lr", default=None)
    return {"run": run.name,
            "model": choices.get("model") or (net.rsplit(".", 1)[-1].lower() if net else None),
            "data": choices.get("data") or OmegaConf.select(cfg, "data.name", default=None),
            "lr": float(lr) if isinstance(lr, (int, float)) else None}


def _training(run: Path) -> dict:
    """Best val PSNR and its SSIM, epochs, steps and seconds per epoch, from the events."""
    try:
        scalars = _scalars(run) if any(run.glob("events.out.tfevents.*")) else {}
    except Exception:  # a damaged events file: the table goes on without its numbers
        scalars = {}
    row: dict = {}
    val_psnr, val_ssim = scalars.get("val/psnr", []), dict(scalars.get("val/ssim", []))
    if val_psnr:
        step, best = max(val_psnr, key=lambda sv: sv[1])
        row.update(val_psnr_best=best, val_ssim=val_ssim.get(step))
    epochs = scalars.get("time/train_epoch_s", [])
    if epochs:
        # Logged once per epoch at the trainer's step, so the last one counts the steps.
        row.update(epochs=len(epochs), steps=epochs[-1][0] + 1,
                   train_s_per_epoch=fmean(v for _, v in epochs))
    return row


def _test_results(run: Path) -> dict:
    """Test PSNR and SSIM of the output and the noisy input, and the run's status."""
    failure = run / FAILURE_FILE
    if failure.is_file():
        reason = (failure.read_text(errors="replace").strip().splitlines() or ["(no reason written)"])[0]
        return {"status": "failed: " + reason}
    metrics_csv = run / "test_metrics.csv"
    if not metrics_csv.is_file():
        return {"status": "unfinished (no test results)"}
    try:
        with metrics_csv.open() as f:
            mean = next(r for r in csv.DictReader(f) if r.get("image") == "mean")
        # A run from before a metric existed has no column for it: that cell stays empty.
        return {**{column: float(mean[key]) for column, key in TEST_COLUMNS.items() if mean.get(key)},
                "status": "done"}
    except (StopIteration, KeyError, ValueError, TypeError, csv.Error):
        return {"status": "unfinished (test_metrics.csv is incomplete)"}


def _group_choices(run: Path) -> dict:
    """Which config group options the run used (model=..., data=...): from Hydra's record,
    else from the command line's overrides, else nothing."""
    try:
        return dict(OmegaConf.load(run / ".hydra" / "hydra.yaml").hydra.runtime.choices)
    except Exception:
        pass
    try:
        overrides = OmegaConf.load(run / ".hydra" / "overrides.yaml")
        return dict(o.split("=", 1) for o in overrides if isinstance(o, str) and "=" in o)
    except Exception:
        return {}


def _one_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {' '.join(str(err).split())}"[:200]


def _wall_seconds(run: Path) -> float | None:
    """From the run's start (Hydra writes its config first) to its last written file."""
    start = (run / ".hydra" / "config.yaml").stat().st_mtime
    files = [p for p in run.rglob("*") if p.is_file() and not p.is_symlink() and ".hydra" not in p.parts]
    return max(p.stat().st_mtime for p in files) - start if files else None


def _fmt(column: str, value) -> str:
    if value is None:
        return "–"
    if column == "lr":
        return f"{value:g}"
    if isinstance(value, float):
        return f"{value:.{DIGITS.get(column, 4 if 'ssim' in column else 2)}f}"
    return str(value)


def results_table(rows: list[dict]) -> str:
    return markdown_table(list(COLUMNS), [[_fmt(c, row.get(c)) for c in COLUMNS] for row in rows]) + "\n"


def write_panel(rows: list[dict], runs: dict[str, Path], path: Path) -> bool:
    """noisy | best run of each model | target, on the first test image. False if no model run finished."""
    from octsr.report_figures import first_test_image, panel, restore_with_run

    best: dict[str, dict] = {}
    for row in rows:
        if row["status"] == "done" and row.get("val_psnr_best") is not None:
            if row["model"] not in best or row["val_psnr_best"] > best[row["model"]]["val_psnr_best"]:
                best[row["model"]] = row
    if not best:
        return False
    order = sorted(best, key=lambda m: (m != "cae", m))  # the paper's order: CAE, then SRCNN
    name, noisy, target = first_test_image(runs[best[order[0]]["run"]])
    images = {"noisy input": noisy[0, 0].numpy()}
    for model in order:
        row = best[model]
        images[f"{model.upper()} (lr {row['lr']:g})"] = restore_with_run(runs[row["run"]], noisy)
    images["target"] = target[0, 0].numpy()
    panel(images, path, f"test image {name}: best run of each model by val PSNR")
    return True


def report(cfg: DictConfig) -> None:
    """The job of `python -m octsr.report`: the table of every run below `cfg.runs`, its
    plot and panel, written to `cfg.out`."""
    check_settings(cfg, ReportSettings)
    paths = [Path(str(path)).expanduser() for path in cfg.runs]
    for path in paths:
        if not path.is_dir():
            raise DataError(f"{path}: no such directory")
    runs = find_runs(paths)
    if not runs:
        raise DataError(f"no run directories (with .hydra/config.yaml) under {', '.join(map(str, paths))}")
    by_name = {}
    for run in runs:
        by_name[str(run.relative_to(paths[0]) if run.is_relative_to(paths[0]) else run)] = run
    rows = []
    for name, run in by_name.items():
        row = summarize_run(run)
        row["run"] = name
        rows.append(row)
    rows.sort(key=lambda r: (str(r.get("model")), r.get("lr") is None, r.get("lr") or 0.0, r["run"]))
    table = results_table(rows)
    print(table)

    out = Path(str(cfg.out)).expanduser() if cfg.out else paths[0] / "report"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"out={out}: cannot create it ({err.strerror or err})") from err
    # A report of the same folders may be made again as runs finish; one of other folders
    # (or files octsr did not make) is kept.
    record, source = OutputRecord(out), paths[0]
    digest = settings_digest({"paths": sorted(str(p.resolve()) for p in paths)})
    names = ["results.md", "results.csv", "metrics_vs_lr.png", *(["panel.png"] if cfg.panel else [])]
    record.check([(source, out / name) for name in names], digest, cfg.overwrite, "out")
    write_text_atomic(out / "results.md", table)
    write_csv(out / "results.csv", [{c: row.get(c) for c in COLUMNS} for row in rows])
    from octsr.report_figures import plot_metrics_vs_lr

    plot_metrics_vs_lr(rows, out / "metrics_vs_lr.png")
    written = ["results.md", "results.csv", "metrics_vs_lr.png"]
    if cfg.panel:
        try:
            if write_panel(rows, by_name, out / "panel.png"):
                written.append("panel.png")
        except Exception as err:  # the table and plots stand without it
            log.warning("panel.png skipped: %s: %s", type(err).__name__, " ".join(str(err).split()))
    record.added(source, [out / name for name in written], digest)
    print(f"wrote {', '.join(written)} to {out}")


# `python -m octsr.report DIR...` and the `octsr-report` command: bare words are the runs.
cli = command("report", report, positional="runs")


if __name__ == "__main__":
    cli()
