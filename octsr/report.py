"""Tabulate finished runs from what they wrote: `python -m octsr.report RUN_OR_SWEEP_DIR... [--out DIR]`.

A run directory is one holding `.hydra/config.yaml`; every such directory below the given
paths is a row: model, learning rate, epochs, seconds per training epoch, best val PSNR and
the val SSIM at that validation, and the test PSNR/SSIM of the output and of the noisy input
(from the TensorBoard events and `test_metrics.csv`).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from statistics import fmean

from omegaconf import OmegaConf

COLUMNS = ("run", "model", "data", "lr", "epochs", "steps", "train_s_per_epoch", "val_psnr_best",
           "val_ssim", "test_psnr", "test_ssim", "noisy_psnr", "noisy_ssim", "status")


def find_runs(paths: list[Path]) -> list[Path]:
    runs: list[Path] = []
    for path in paths:
        if (path / ".hydra" / "config.yaml").is_file():
            runs.append(path)
        else:
            runs.extend(sorted(p.parent.parent for p in path.glob("**/.hydra/config.yaml")))
    return runs


def _scalars(run: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"scalars": 0})
    events.Reload()
    return {t: [(e.step, e.value) for e in events.Scalars(t)] for t in events.Tags()["scalars"]}


def summarize_run(run: Path) -> dict:
    cfg = OmegaConf.load(run / ".hydra" / "config.yaml")
    overrides = OmegaConf.load(run / ".hydra" / "hydra.yaml").hydra.runtime.choices
    row: dict = {"run": run.name, "model": overrides.get("model"), "data": overrides.get("data"),
                 "lr": cfg.optim.lr}
    scalars = _scalars(run) if (run / "tensorboard").is_dir() else {}
    val_psnr, val_ssim = scalars.get("val/psnr", []), dict(scalars.get("val/ssim", []))
    if val_psnr:
        step, best = max(val_psnr, key=lambda sv: sv[1])
        row.update(val_psnr_best=best, val_ssim=val_ssim.get(step))
    epochs = scalars.get("time/train_epoch_s", [])
    if epochs:
        row.update(epochs=len(epochs), train_s_per_epoch=fmean(v for _, v in epochs))
    losses = scalars.get("train/loss_step", [])
    row["steps"] = losses[-1][0] + 1 if losses else None
    metrics_csv = run / "test_metrics.csv"
    if metrics_csv.is_file():
        with metrics_csv.open() as f:
            mean = [r for r in csv.DictReader(f) if r["image"] == "mean"][0]
        row.update(test_psnr=float(mean["psnr"]), test_ssim=float(mean["ssim"]),
                   noisy_psnr=float(mean["psnr_noisy"]), noisy_ssim=float(mean["ssim_noisy"]))
        row["status"] = "done"
    else:
        row["status"] = "no test results"
    return row


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1.5 else f"{value:.2f}"
    return str(value)


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(_fmt(row.get(c)) for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="run or sweep directories")
    parser.add_argument("--out", type=Path, help="also write results.md and results.csv here")
    args = parser.parse_args(argv)
    for path in args.paths:
        if not path.is_dir():
            sys.exit(f"octsr: error: {path}: no such directory")
    runs = find_runs(args.paths)
    if not runs:
        sys.exit(f"octsr: error: no run directories (with .hydra/config.yaml) under {args.paths}")
    rows = sorted((summarize_run(r) for r in runs), key=lambda r: (str(r["model"]), r["lr"]))
    table = markdown_table(rows)
    print(table)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.md").write_text(table)
        with (args.out / "results.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows({c: row.get(c) for c in COLUMNS} for row in rows)


if __name__ == "__main__":
    main()
