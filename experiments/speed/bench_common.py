"""What every section of the benchmark shares: the modes, the table, timing a child process
and a training step."""

from __future__ import annotations

import os
import re
import resource
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import octsr  # noqa: F401  (allocator settings, as every entry point gets them)
import pytorch_lightning as pl
import torch
from octsr.utils.atomic import write_text_atomic
from octsr.utils.tables import markdown_table, write_csv
from octsr.utils.timing import warm_ms

REPO = Path(__file__).resolve().parents[2]
DUKE = (REPO / ".." / "shared" / "data" / "duke-bioptigen").resolve()


@dataclass
class Mode:
    name: str
    warmup: int          # training steps before the clock starts
    steps: int           # training steps timed
    data_batches: int    # batches drawn for the data rate
    rss_batches: int     # train batches of the peak-RSS run (0: the whole default run)
    scaling: tuple       # phantom pair counts
    scaling_size: tuple  # their height, width
    sweep_lrs: tuple
    sweep_batches: int
    repeats: int         # inference repeats (best of)
    pages: int           # B-scans through enhance for its marginal time
    volume_frames: int   # B-scans of the long DICOM volume whose peak RSS is measured
    scan: tuple = (450, 900)  # the B-scan cut for inference (tiny mode: a corner of it)
    # Every training run's overrides (the model summary table only clutters the output).
    overrides: list = field(default_factory=lambda: ["callbacks.model_summary=null"])


MODES = {
    "tiny": Mode("tiny", 1, 2, 3, 2, (11, 22), (96, 128), (0.001,), 2, 1, 2, 8, (96, 160),
                 ["debug=tiny"]),
    "quick": Mode("quick", 5, 60, 40, 40, (11, 110, 1100), (160, 200), (0.0002,), 30, 10, 6, 512),
    "full": Mode("full", 10, 120, 200, 0, (11, 110, 1100), (339, 424), (0.0002, 0.0003, 0.0004, 0.0005, 0.0006),
                 150, 20, 11, 512),
}


class Table:
    """Rows of (section, measure, value, reference, ratio, target, met, command)."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, section: str, measure: str, value: str, reference: str = "", ratio: float | None = None,
            target: str = "", met: bool | None = None, command: str = "") -> None:
        row = dict(section=section, measure=measure, value=value, reference=reference,
                   ratio="" if ratio is None else f"{ratio:.3g}", target=target,
                   met="" if met is None else ("yes" if met else "NO"), command=command)
        self.rows.append(row)
        print(" | ".join(str(v) for v in row.values()), flush=True)

    def write(self, out: Path, header: str) -> None:
        out.mkdir(parents=True, exist_ok=True)
        write_csv(out / "results.csv", self.rows)
        table = markdown_table(["section", "measure", "value", "reference (same run)", "ratio", "target", "met",
                                "command"], [list(row.values()) for row in self.rows])
        write_text_atomic(out / "results.md", f"{header}\n\n{table}\n")


def run_child(args: list[str], env: dict | None = None, cwd: Path = REPO) -> tuple[float, int, str]:
    """Run a command; (wall seconds, its own peak RSS in MB, output tail). Raises if it fails.

    The peak is the child's VmHWM, polled: wait4's ru_maxrss would also count the copy of
    this (large) process that the child was forked from before it exec'd.
    """
    start = time.perf_counter()
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen(args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log,
                            stderr=subprocess.STDOUT, text=True)
    peak_kb = 0
    while proc.poll() is None:
        try:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            peak_kb = max(peak_kb, int(re.search(r"VmHWM:\s+(\d+)", status).group(1)))
        except (OSError, AttributeError):
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    log.seek(0)
    output = log.read()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n{output[-3000:]}")
    return seconds, peak_kb // 1024, output[-4000:]


def cpu_times() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def matmul_gflops(repeats: int = 5, n: int = 2048) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / warm_ms(lambda: a @ b, repeats) / 1e6


class StepClock(pl.Callback):
    """Wall and CPU time from the end of warm-up to the end of the last timed step (-1: the
    epoch's last)."""

    def __init__(self, warmup: int, last: int) -> None:
        self.warmup, self.last = warmup, last

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        last = self.last if self.last >= 0 else trainer.num_training_batches - 1
        if batch_idx in (self.warmup - 1, last) and torch.cuda.is_available():
            torch.cuda.synchronize()  # the GPU's queued work belongs to the steps it ends
        if batch_idx == self.warmup - 1:
            self.start, self.cpu_start = time.perf_counter(), cpu_times()
        if batch_idx == last:
            self.steps = last + 1 - self.warmup
            self.seconds, cpu_end = time.perf_counter() - self.start, cpu_times()
            self.user, self.system = (e - s for e, s in zip(cpu_end, self.cpu_start))


def past_first_log(cfg, mode: Mode) -> int:
    """Warm-up steps for a timed training run: past the first logged step, whose write (the
    logger's imports and writer thread, about a second) happens once a run, not every step
    (inside 60 timed steps it added 25 ms to each)."""
    return max(mode.warmup, cfg.trainer.log_every_n_steps + 1) if mode.name != "tiny" else mode.warmup


def compose(*overrides: str, return_hydra_config: bool = False):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=list(overrides),
                             return_hydra_config=return_hydra_config)
