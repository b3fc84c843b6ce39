"""Where the fixed cost per training step goes: the overhead section's near-zero network
(SRCNN of width 2, 1x1 kernels), its timed steps under cProfile, for the project's defaults
and for Lightning alone, beside the bare loop over the same loader. Writes
profile_overhead.md: per step, the time inside each part of the loop (cumulative, so parts
nest) and the functions that take the most time themselves.

cProfile slows every Python call, so its milliseconds are larger than the bench's; compare
the parts with one another, and the timed rows in results.md for the real size.

    python experiments/speed/profile_overhead.py [--steps 600] [--out logs/bench] [--tiny]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch

import bench_common
from bench_common import MODES, compose, past_first_log
from section_train import NEAR_ZERO_NET, OVERHEAD_ROWS, bare_loop, timed_project_steps

from octsr.utils.machine import machine

# The loop's parts, as (label, function name, file name fragment) in pstats' terms.
PARTS = [
    ("one whole step (the epoch loop's advance)", "advance", "training_epoch_loop"),
    ("drawing the batch (Lightning's fetcher, around the loader)", "__next__", "loops/fetchers"),
    ("the DataLoader's next batch (torch)", "__next__", "utils/data/dataloader"),
    ("the batch cut itself (the DataModule)", "__getitems__", "octsr"),
    ("collate (torch's default)", "default_collate", "utils/data/_utils/collate"),
    ("the batch moved to the device (Lightning)", "_apply_batch_transfer_handler", "trainer/call"),
    ("Lightning's optimizer_step hook: Adam's step, which runs the closure (forward, backward)",
     "optimizer_step", "core/module"),
    ("forward + loss (training_step)", "training_step", "restoration_module"),
    ("backward", "backward", "torch/_tensor"),
    ("callback hooks (all callbacks, every hook)", "_call_callback_hooks", "trainer/call"),
    ("logger connector after each step", "update_train_step_metrics", "logger_connector"),
    ("progress bar: batch end", "on_train_batch_end", "progress/tqdm_progress"),
    ("checkpoint: batch end", "on_train_batch_end", "octsr/callbacks"),
]


class StepClock(bench_common.StepClock):
    """The bench's clock (timed_project_steps puts `__main__.StepClock` in the run), with
    cProfile on over the same steps it times."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        last = self.last if self.last >= 0 else trainer.num_training_batches - 1
        if batch_idx == last:
            PROFILE.disable()
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        if batch_idx == self.warmup - 1:
            PROFILE.enable()


PROFILE = cProfile.Profile()


def per_step(stats: pstats.Stats, steps: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(cumulative ms per step of each PART found, the 12 functions with most own ms per step)."""
    parts = []
    for label, name, where in PARTS:
        found = {key: row for key, row in stats.stats.items() if key[2] == name and where in key[0]}
        # A match called by another match (a wrapper's same-named method) is inside it already.
        total = sum(row[3] for row in found.values() if not any(caller in found for caller in row[4]))
        if total:
            parts.append((label, 1000 * total / steps))
    hooks = [key for key in stats.stats if key[2] == "_call_callback_hooks" and "trainer/call" in key[0]]
    called = sorted(((f"{Path(file).parent.name}/{Path(file).name}:{line} {func}", row[4][hook][3])
                     for hook in hooks for (file, line, func), row in stats.stats.items() if hook in row[4]),
                    key=lambda r: -r[1])[:8]
    parts += [(f"&nbsp;&nbsp;in the callback hooks: `{name}`", 1000 * seconds / steps) for name, seconds in called]
    own = sorted(((f"{Path(file).parent.name}/{Path(file).name}:{line} {func}", row[2])
                  for (file, line, func), row in stats.stats.items()), key=lambda r: -r[1])[:12]
    return parts, [(name, 1000 * seconds / steps) for name, seconds in own]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--out", type=Path, default=bench_common.REPO / "logs" / "bench",
                        help="where profile_overhead.md goes (default: logs/bench, as the bench's quick mode)")
    parser.add_argument("--tiny", action="store_true", help="the bench's tiny mode: seconds, what the tests run")
    args = parser.parse_args()
    mode = MODES["tiny" if args.tiny else "quick"]
    if args.tiny:
        args.steps = mode.steps  # the tiny phantom has only a few batches
    cfg = compose(*mode.overrides, "trainer=cpu", *NEAR_ZERO_NET)
    warmup = past_first_log(cfg, mode)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("fit")
    bare_ms, _ = bare_loop(cfg, datamodule, mode, torch.device("cpu"), cut=True, steps=args.steps)
    lines = [f"# Where the fixed cost per step goes (cProfile, {args.steps} steps)", "",
             f"Machine: {machine()}, pytorch-lightning {pl.__version__}; {time.strftime('%Y-%m-%d %H:%M')}.  ",
             f"Command: `python experiments/speed/profile_overhead.py --steps {args.steps} --out "
             f"{args.out.resolve().relative_to(bench_common.REPO) if args.out.resolve().is_relative_to(bench_common.REPO) else args.out}`.  ",
             f"The bare loop over the same loader, not profiled: {bare_ms:.2f} ms per step.", ""]
    for name in (names := list(OVERHEAD_ROWS))[0], names[-1]:
        PROFILE.clear()
        clock = timed_project_steps((*NEAR_ZERO_NET, *OVERHEAD_ROWS[name]), mode, args.steps,
                                    Path("/tmp") / f"profile_overhead_{names.index(name)}", warmup)
        stats = pstats.Stats(PROFILE, stream=io.StringIO())
        parts, own = per_step(stats, args.steps)
        lines += [f"## {name}", "", f"{1000 * clock.seconds / clock.steps:.2f} ms per step under the profiler.", "",
                  "| part of the step (cumulative: parts nest) | ms per step |", "| --- | --- |",
                  *(f"| {label} | {ms:.3f} |" for label, ms in parts), "",
                  "| function (own time only) | ms per step |", "| --- | --- |",
                  *(f"| `{label}` | {ms:.3f} |" for label, ms in own), ""]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "profile_overhead.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
