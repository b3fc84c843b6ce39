"""Subject-wise cross-validation on the Duke set: `python -m octsr.crossval`.

The subjects are dealt into `folds` test groups (subject i goes to fold i mod folds); each
fold validates on `val_subjects` drawn at random from the rest and trains on the others.
Every row of `rows` (a name and the `octsr.train` overrides that make it) is trained once
per fold in its own process; BM3D (its noise level chosen on each fold's val scans) and the
noisy input are scored on the same test scans. One table comes out, `crossval.md` and
`crossval.csv`: per row the weights, train minutes, milliseconds per B-scan, PSNR and SSIM
mean ± std over all test scans, the brightness-matched PSNR diagnostic, and one PSNR column
per subject.

A fold already finished (its `fold_result.json` exists) is not run again, so the same
command with `hydra.run.dir=<that folder>` picks up where a killed run stopped.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from statistics import fmean, pstdev
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

import octsr  # noqa: F401
from octsr.data.pairs import DukePairs
from octsr.errors import ConfigError
from octsr.evaluate import bm3d_method, choose_bm3d_sigma
from octsr.inference import TiledInferer, input_frames, restorer
from octsr.metrics import psnr, ssim
from octsr.models.checkpoint import load_model
from octsr.settings import CrossvalSettings, check_settings
from octsr.utils.atomic import write_text_atomic
from octsr.utils.cli import check_command_line
from octsr.utils.extras import require
from octsr.utils.failures import exit_on_user_error
from octsr.utils.machine import machine
from octsr.utils.tables import markdown_table, write_csv

log = logging.getLogger(__name__)

BSCAN_SHAPE = (450, 900)  # the Duke B-scan, for the milliseconds-per-scan column


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


def train_fold(row: str, overrides: list[str], splits: dict[str, list[str]], data_root: str,
               run_dir: Path, threads: int) -> dict[str, Any]:
    """Train and test one row on one fold in its own process; the run's summary."""
    result_path = run_dir / "fold_result.json"
    if result_path.is_file():
        result = json.loads(result_path.read_text())
        if result.get("overrides", overrides) != overrides:
            raise ConfigError(f"row {row!r} was trained in {run_dir} with other settings "
                              f"({' '.join(result['overrides'])}); give the new settings another row "
                              f"name, or the run another hydra.run.dir")
        return result
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "octsr.train", "data=duke", f"data.root={data_root}",
               f"data.splits.train={_list(splits['train'])}", f"data.splits.val={_list(splits['val'])}",
               f"data.splits.test={_list(splits['test'])}", f"threads={threads}",
               f"hydra.run.dir={run_dir}", *overrides]
    start = time.perf_counter()
    with (run_dir / "train.log").open("w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        tail = (run_dir / "train.log").read_text().strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"row {row!r} failed on test subjects {splits['test']} "
                           f"(exit {done.returncode}; {run_dir / 'train.log'}): {tail[0]}")
    best = [p for p in (run_dir / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt"]
    result = {"row": row, "overrides": overrides, "splits": splits, "train_seconds": seconds, "threads": threads,
              "checkpoint": str(max(best, key=lambda p: p.stat().st_mtime) if best
                                else run_dir / "checkpoints" / "last.ckpt"),
              "command": " ".join(command)}
    write_text_atomic(result_path, json.dumps(result, indent=1))
    return result


def bm3d_fold(splits: dict[str, list[str]], data_root: str, sigmas: list[float],
              out: Path) -> dict[str, Any]:
    """BM3D's sigma chosen on the fold's val scans, then its outputs on the test scans."""
    result_path = out / "fold_result.json"
    if result_path.is_file():
        return json.loads(result_path.read_text())
    out.mkdir(parents=True, exist_ok=True)
    pairs = DukePairs(data_root, [], splits["val"], splits["test"]).splits()
    sigma, tried = choose_bm3d_sigma(sigmas, [(p.name, *p.load()) for p in pairs["val"]])
    restore, seconds = bm3d_method(sigma), []
    for pair in pairs["test"]:
        noisy, _ = pair.load()
        start = time.perf_counter()
        output = np.clip(restore(noisy), 0, 1).astype(np.float32)
        seconds.append(time.perf_counter() - start)
        np.save(out / f"{pair.name}.npy", output)
    result = {"sigma": sigma, "val_psnr": tried, "seconds_per_scan": fmean(seconds), "splits": splits}
    write_text_atomic(result_path, json.dumps(result, indent=1))
    return result


def scores(output: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """PSNR, SSIM, and PSNR after shifting the output's mean to the target's (a diagnostic:
    what is left once overall brightness, which one frame cannot predict, is set right)."""
    o, t = (torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None] for a in (output, target))
    matched = o + (t.mean() - o.mean())
    return {"psnr": psnr(o, t).item(), "ssim": ssim(o, t).item(), "psnr_matched": psnr(matched, t).item()}


def ms_per_bscan(model, repeats: int = 3) -> float:
    """Median milliseconds to restore one 450 x 900 B-scan (from its frames, for a model of
    several input frames) on the CPU (warm, startup excluded)."""
    method = restorer(model, TiledInferer.for_model(model))
    frames = input_frames(model)
    scan = np.random.default_rng(0).random((frames, *BSCAN_SHAPE) if frames > 1 else BSCAN_SHAPE,
                                           dtype=np.float32)
    method(scan)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        method(scan)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def _mean_std(values: list[float]) -> tuple[float, float]:
    return fmean(values), pstdev(values) if len(values) > 1 else 0.0


def summarize(name: str, per_subject: dict[str, dict[str, float]], **extra: Any) -> dict[str, Any]:
    row = {"row": name, **extra}
    for metric in ("psnr", "ssim", "psnr_matched"):
        row[metric], row[f"{metric}_std"] = _mean_std([s[metric] for s in per_subject.values()])
    row.update({f"psnr_{subject}": s["psnr"] for subject, s in sorted(per_subject.items())})
    return row


def markdown(rows: list[dict[str, Any]], subjects: list[str], notes: list[str]) -> str:
    head = ["row", "weights", "train min / fold", "ms / B-scan", "PSNR (dB)", "SSIM",
            "PSNR, brightness matched", *subjects]
    cells = [[r["row"], f"{r['params']:,}" if r.get("params") else "–",
              f"{r['train_minutes']:.1f}" if r.get("train_minutes") else "–",
              f"{r['ms_per_bscan']:.0f}" if r.get("ms_per_bscan") else "–",
              f"{r['psnr']:.2f} ± {r['psnr_std']:.2f}", f"{r['ssim']:.3f} ± {r['ssim_std']:.3f}",
              f"{r['psnr_matched']:.2f}", *(f"{r.get(f'psnr_{s}', float('nan')):.2f}" for s in subjects)]
             for r in rows]
    return "\n".join([markdown_table(head, cells), "", *notes]) + "\n"


def crossval(cfg: DictConfig) -> list[dict[str, Any]]:
    check_settings(cfg, CrossvalSettings)
    if cfg.bm3d.enabled:
        require("bm3d", "baselines", "the BM3D row", instead="bm3d.enabled=false")
    subjects = [str(s) for s in cfg.subjects]
    data_root = str(Path(cfg.data_root).expanduser().resolve())
    if not Path(data_root).is_dir():
        raise ConfigError(f"data_root={cfg.data_root}: no such folder ({data_root})")
    rows = {str(name): str(overrides or "").split() + str(cfg.train_overrides or "").split()
            for name, overrides in (cfg.get("rows") or {}).items()}
    if not rows:
        raise ConfigError("rows is empty: give at least one, e.g. '+rows.srcnn=\"model=srcnn\"'")
    bad = [name for name in rows if not name.replace("_", "").replace("-", "").isalnum()]
    if bad:
        raise ConfigError(f"rows: name(s) {bad} must be letters, digits, - and _ (they name folders)")
    out = Path(cfg.paths.output_dir)
    folds = [fold_splits(subjects, cfg.folds, k, cfg.val_subjects, cfg.seed) for k in range(cfg.folds)]
    jobs = max(1, int(cfg.jobs))
    threads = max(1, (os.cpu_count() or 1) // jobs)
    log.info("%d folds x %d rows (+ BM3D) on %s, %d at a time with %d thread(s) each; results in %s",
             len(folds), len(rows), data_root, jobs, threads, out)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        trained = {(row, k): pool.submit(train_fold, row, overrides, splits, data_root,
                                         out / row / f"fold{k}", threads)
                   for row, overrides in rows.items() for k, splits in enumerate(folds)}
        bm3d = {k: pool.submit(bm3d_fold, splits, data_root, list(cfg.bm3d.sigmas), out / "bm3d" / f"fold{k}")
                for k, splits in enumerate(folds)} if cfg.bm3d.enabled else {}
        # Report each run as it ends: a full cross-validation takes an hour or more.
        names = {future: f"{row} fold {k}" for (row, k), future in trained.items()}
        names.update({future: f"BM3D fold {k}" for k, future in bm3d.items()})
        start = time.perf_counter()
        for done, future in enumerate(as_completed(names), 1):
            future.result()  # a failed run stops here, naming its log
            log.info("%s done (%d of %d runs, %.1f min so far)", names[future], done, len(names),
                     (time.perf_counter() - start) / 60)
        results = {key: future.result() for key, future in trained.items()}
        bm3d_results = {k: future.result() for k, future in bm3d.items()}

    torch.set_num_threads(os.cpu_count() or 1)
    # Every test scan, read once: (noisy, target) by subject.
    test_images = {p.name: p.load() for p in DukePairs(data_root, [], [], subjects).splits()["test"]}
    table: list[dict[str, Any]] = []
    per_image: list[dict[str, Any]] = []
    noisy = {s: scores(*test_images[s]) for s in subjects}
    table.append(summarize("noisy input", noisy))
    per_image += [{"row": "noisy input", "subject": s, **v} for s, v in noisy.items()]
    if bm3d_results:
        bm3d_scores = {}
        for k, result in bm3d_results.items():
            for s in result["splits"]["test"]:
                bm3d_scores[s] = scores(np.load(out / "bm3d" / f"fold{k}" / f"{s}.npy"), test_images[s][1])
        sigmas = ", ".join(f"{r['sigma']:g}" for r in bm3d_results.values())
        table.append(summarize(f"BM3D (sigma {sigmas} by fold)", bm3d_scores,
                               ms_per_bscan=1000 * fmean(r["seconds_per_scan"] for r in bm3d_results.values())))
        per_image += [{"row": "BM3D", "subject": s, **v} for s, v in bm3d_scores.items()]
    stacked: dict[int, dict[str, np.ndarray]] = {}  # each scan's input frames, by frame count
    for row in rows:
        variants: dict[str, dict[str, dict[str, float]]] = {row: {}}
        params, ms = None, None
        for k, splits in enumerate(folds):
            model = load_model(results[(row, k)]["checkpoint"])
            params = sum(p.numel() for p in model.net.parameters())
            frames = input_frames(model)
            if frames > 1 and frames not in stacked:
                stacked[frames] = {p.name: p.load()[0] for p in
                                   DukePairs(data_root, [], [], subjects, input_frames=frames).splits()["test"]}
            if k == 0:
                ms = ms_per_bscan(model)
            # A model that matches its input's brightness is also scored without it: what the
            # matching itself is worth, from the same weights.
            settings = {row: model.match_input_mean}
            if model.match_input_mean:
                settings[f"{row} (no mean matching)"] = False
            for name, match in settings.items():
                model.match_input_mean = match
                restore = restorer(model, TiledInferer.for_model(model))
                for s in splits["test"]:
                    noisy_image, target = test_images[s]
                    model_input = stacked[frames][s] if frames > 1 else noisy_image
                    variants.setdefault(name, {})[s] = scores(np.clip(restore(model_input), 0, 1), target)
        minutes = fmean(results[(row, k)]["train_seconds"] for k in range(len(folds))) / 60
        for name, row_scores in variants.items():
            table.append(summarize(name, row_scores, params=params, train_minutes=minutes, ms_per_bscan=ms))
            per_image += [{"row": name, "subject": s, **v} for s, v in row_scores.items()]

    notes = [
        "Folds (test | val | train): " + "; ".join(
            f"{' '.join(f['test'])} | {' '.join(f['val'])} | {' '.join(f['train'])}" for f in folds) + ".",
        "Each row: " + "; ".join(f"`{name}`: `{' '.join(o) or '(defaults)'}`" for name, o in rows.items()) + ".",
        f"PSNR (MAX 1) and SSIM (11x11 Gaussian, K1 0.01, K2 0.03) against average.tif, mean ± std "
        f"over the {len(subjects)} test scans; per-subject columns are PSNR. Train minutes: wall "
        f"clock of each fold's run (setup, validation and test included), {jobs} run(s) at a time "
        f"with {threads} thread(s) each. ms / B-scan: one 450x900 scan, warm, {os.cpu_count()} threads.",
        f"Machine: {machine()}.",
    ]
    if bm3d_results:
        notes.append("BM3D sigma per fold, chosen on that fold's val scans from "
                     f"{list(cfg.bm3d.sigmas)}: " + "; ".join(
                         f"fold {k}: {r['sigma']:g}" for k, r in bm3d_results.items()) + ".")
    text = markdown(table, subjects, notes)
    write_text_atomic(out / "crossval.md", text)
    write_csv(out / "crossval.csv", table)
    write_csv(out / "per_image.csv", per_image)
    print(text)
    print(f"wrote {out / 'crossval.md'}, {out / 'crossval.csv'} and {out / 'per_image.csv'}")
    return table


@hydra.main(version_base="1.3", config_path="pkg://octsr.conf", config_name="crossval")
def main(cfg: DictConfig) -> None:
    try:
        crossval(cfg)
    except Exception as err:
        exit_on_user_error(err)


def cli() -> None:
    """`python -m octsr.crossval` and the `octsr-crossval` command."""
    check_command_line("crossval")
    main()


if __name__ == "__main__":
    cli()
