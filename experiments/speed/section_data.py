"""Section 2, data: peak RSS of the default run and how it scales with the number of pairs."""

from __future__ import annotations

import sys
from pathlib import Path

import octsr  # noqa: F401  (allocator settings, as every entry point gets them)

from bench_common import Mode, Table, run_child


# -- 2. data: peak RSS and scaling -------------------------------------------------------------
def bench_memory(table: Table, mode: Mode, out: Path) -> None:
    args = [sys.executable, "-m", "octsr.train", *mode.overrides, "trainer=cpu",
            f"hydra.run.dir={out / 'runs' / 'default_run'}", "callbacks.progress_bar=null",
            "++trainer.enable_progress_bar=false"]
    if mode.rss_batches:
        args.append(f"++trainer.limit_train_batches={mode.rss_batches}")
    seconds, rss, _ = run_child(args)
    shown = " ".join(a for a in args[1:] if not a.startswith(("hydra.run", "callbacks.prog", "trainer.enable")))
    what = "whole default run" if not mode.rss_batches else f"default run, {mode.rss_batches} train batches (all of setup, val, test)"
    table.add("2 data", f"peak RSS, {what}", f"{rss} MB", f"{seconds:.0f} s wall", None, "<= 1024 MB",
              rss <= 1024, "python " + shown)

    h, w = mode.scaling_size
    crop = min(227, h - 8, w - 8)
    rows = []
    for count in mode.scaling:
        n_train, n_val = max(1, 6 * count // 11), max(1, 2 * count // 11)
        args = [sys.executable, "-m", "octsr.train", *mode.overrides, "trainer=cpu", "test=false",
                f"data.phantom.count={count}", f"data.phantom.n_train={n_train}", f"data.phantom.n_val={n_val}",
                f"data.phantom.height={h}", f"data.phantom.width={w}", f"data.protocol.crop_size={crop}",
                "++trainer.max_steps=20", "trainer.val_check_interval=1.0", "++trainer.limit_val_batches=4",
                "trainer.num_sanity_val_steps=0", f"hydra.run.dir={out / 'runs' / f'scaling_{count}'}",
                "callbacks.progress_bar=null", "++trainer.enable_progress_bar=false"]
        seconds, rss, _ = run_child(args)
        rows.append((count, seconds, rss))
    base_count, base_s, base_rss = rows[0]
    for count, seconds, rss in rows:
        growth = count / base_count
        ok = seconds / base_s <= 1.25 * growth and rss / base_rss <= max(1.25, 1.25 * growth)
        table.add("2 data", f"scaling: {count} phantom pairs of {h}x{w} ({max(1, 6 * count // 11)} train; "
                  "setup, 20 steps, 4 val images)", f"{seconds:.1f} s, {rss} MB",
                  f"{base_count} pairs: {base_s:.1f} s, {base_rss} MB",
                  None if count == base_count else (seconds / base_s) / growth,
                  "time and RSS grow at most linearly (ratio = time growth / pair growth <= 1)",
                  None if count == base_count else ok,
                  f"python -m octsr.train data.phantom.count={count} ... (bench section scaling)")
