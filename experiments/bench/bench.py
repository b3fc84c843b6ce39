"""Speed and memory of octsr on this machine, each row against a reference measured in the
same run (timings on shared machines drift; the ratios are the claims).

    python experiments/bench/bench.py            # quick mode (make bench): about 5 minutes
    python experiments/bench/bench.py --full     # the committed table: longer runs, 1,100 pairs
    python experiments/bench/bench.py --tiny     # seconds; what the test suite runs

Writes results.md and results.csv to --out (default: this folder in --full mode, else
logs/bench/). Sections: train (the project's training step vs a bare PyTorch loop), data
(patches per second, worker settings, peak RSS of the default run, scaling with the number
of pairs), sweep (1 worker x 2 threads vs 2 workers x 1 thread), inference (ms and GFLOP/s
per 450x900 B-scan, enhance vs BM3D), record (the output record's cost per output in a
100,000-output run), gpu (where there is one: the paper-protocol epoch and B-scans per
second in each precision).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import itertools
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import hydra  # noqa: E402
import numpy as np  # noqa: E402
import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import octsr  # noqa: E402  (allocator settings, as every entry point gets them)
from octsr.utils.timing import warm_ms  # noqa: E402
from octsr.utils.atomic import write_text_atomic  # noqa: E402
from octsr.utils.machine import machine  # noqa: E402
from octsr.utils.tables import markdown_table, write_csv  # noqa: E402

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


# -- 1. training step ------------------------------------------------------------------------
def past_first_log(cfg, mode: Mode) -> int:
    """Warm-up steps for a timed training run: past the first logged step, whose write (the
    logger's imports and writer thread, about a second) happens once a run, not every step
    (inside 60 timed steps it added 25 ms to each)."""
    return max(mode.warmup, cfg.trainer.log_every_n_steps + 1) if mode.name != "tiny" else mode.warmup


def compose(*overrides: str, return_hydra_config: bool = False):
    from hydra import compose as hydra_compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return hydra_compose(config_name="train", overrides=list(overrides),
                             return_hydra_config=return_hydra_config)


def bench_train(table: Table, mode: Mode, out: Path) -> float:
    """Returns the model's consumption in patches per second (the bare loop's rate)."""
    from omegaconf import open_dict

    from octsr.train import train

    results, bare, precut = {}, [], []
    for workers in (0, 1):
        cfg = compose(*mode.overrides, "trainer=cpu", f"data.num_workers={workers}", "test=false")
        warmup = past_first_log(cfg, mode)
        total = warmup + mode.steps
        if workers == 0:
            # The bare loops run just before and just after the project's steps, and their
            # mean is the reference: a machine that drifts during the pair moves both sides.
            # The reference draws its batches from the DataModule's loader as it goes, as any
            # loop must; the same loop on batches cut beforehand is shown beside it.
            datamodule = hydra.utils.instantiate(cfg.data)
            datamodule.setup("fit")
            bare.append(bare_loop(cfg, datamodule, mode, torch.device("cpu"), cut=True))
            precut.append(bare_loop(cfg, datamodule, mode, torch.device("cpu")))
        with open_dict(cfg):
            cfg.paths.output_dir = str(out / "runs" / f"train_workers{workers}")
            cfg.trainer.limit_train_batches = total
            cfg.trainer.val_check_interval = 1.0
            cfg.trainer.limit_val_batches = 1
            cfg.trainer.num_sanity_val_steps = 0
            # The clock rides in the run's own callbacks config (this script is __main__).
            cfg.callbacks.step_clock = {"_target_": "__main__.StepClock", "warmup": warmup, "last": total - 1}
        _, objects = train(cfg)
        results[workers] = next(c for c in objects["callbacks"] if isinstance(c, StepClock))
        if workers == 0:
            precut.append(bare_loop(cfg, datamodule, mode, torch.device("cpu")))
            bare.append(bare_loop(cfg, datamodule, mode, torch.device("cpu"), cut=True))
    project = results[0]
    step_ms = 1000 * project.seconds / mode.steps
    kernel_share = project.system / (project.user + project.system)
    bare_ms = sum(ms for ms, _ in bare) / len(bare)
    precut_ms, bare_kernel = (sum(values) / len(values) for values in zip(*precut))
    batch_size = cfg.data.batch_size
    command = "python experiments/bench/bench.py (section train)"
    table.add("1 train", f"project training step ({cfg.model.net._target_.rsplit('.', 1)[-1]}, "
              f"batch {batch_size}, {cfg.data.protocol.patch_size}px; DataModule, callbacks, logger, progress bar)",
              f"{step_ms:.1f} ms", f"bare loop over the same loader {bare_ms:.1f} ms ({bare[0][0]:.1f}, "
              f"{bare[1][0]:.1f}); on batches cut beforehand {precut_ms:.1f} ms ({step_ms / precut_ms:.2f}x)",
              step_ms / bare_ms, "<= 1.05", step_ms / bare_ms <= 1.05, command)
    table.add("1 train", "kernel share of CPU time during training steps", f"{100 * kernel_share:.1f}%",
              f"bare loop {100 * bare_kernel:.1f}%", None, "< 5%", kernel_share < 0.05, command)
    worker_ms = 1000 * results[1].seconds / mode.steps
    table.add("2 data", "training step with data.num_workers=1 (vs 0, the default)", f"{worker_ms:.1f} ms",
              f"num_workers=0 {step_ms:.1f} ms", worker_ms / step_ms, "default = the faster", step_ms <= worker_ms,
              command + " data.num_workers=0|1")
    consumed = batch_size / (precut_ms / 1000)

    # What the DataModule delivers with no model to feed.
    start = time.perf_counter()
    for _ in draw(datamodule, mode.data_batches):
        pass
    delivered = mode.data_batches * batch_size / (time.perf_counter() - start)
    table.add("2 data", "patches per second the DataModule delivers (num_workers=0)", f"{delivered:,.0f}/s",
              f"model consumes {consumed:,.0f}/s", delivered / consumed, ">= 5", delivered / consumed >= 5, command)

    # The same bare loop as plain PyTorch writes it: default layout, glibc's default allocator.
    seconds, _, tail = run_child([sys.executable, __file__, "--plain-loop", str(mode.warmup), str(mode.steps),
                                  str(batch_size)], env={"OCTSR_KEEP_FREED_MEMORY": "0"})
    plain_ms = float(re.search(r"plain_ms=([\d.]+)", tail).group(1))
    plain_kernel = float(re.search(r"kernel=([\d.]+)", tail).group(1))
    table.add("1 train", "plain PyTorch loop on random patches: contiguous layout, glibc defaults "
              f"(kernel {100 * plain_kernel:.0f}% of CPU)", f"{plain_ms:.1f} ms",
              f"project step {step_ms:.1f} ms", plain_ms / step_ms, "(speed-up of this work)", None,
              "OCTSR_KEEP_FREED_MEMORY=0 python experiments/bench/bench.py --plain-loop")
    return consumed


def bare_loop(cfg, datamodule, mode: Mode, device: torch.device, cut: bool = False,
              steps: int | None = None) -> tuple[float, float]:
    """The project's training step without the project: the same network (fresh weights),
    optimizer, batch size and patches, no Lightning, no logging. Batches already cut (and
    on `device`), or with `cut`, drawn from the DataModule's loader as the loop goes, as
    any loop must. Returns (ms per step, the kernel's share of CPU time)."""
    torch.manual_seed(0)
    steps = steps or mode.steps
    net = hydra.utils.instantiate(cfg.model.net)
    net = net.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.optim.lr)
    batches = ({k: v.to(device) for k, v in b.items()} for b in draw(datamodule, mode.warmup + steps))
    if not cut:
        batches = iter(list(batches))
    mean, std = datamodule.noisy_mean, datamodule.noisy_std

    def step(batch):
        optimizer.zero_grad()
        x = ((batch["noisy"] - mean) / std).contiguous(memory_format=torch.channels_last)
        F.mse_loss(torch.sigmoid(net(x)), batch["target"]).backward()
        optimizer.step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(mode.warmup):
        step(next(batches))
    sync()
    start, cpu0 = time.perf_counter(), cpu_times()
    for batch in batches:
        step(batch)
    sync()
    ms, cpu1 = 1000 * (time.perf_counter() - start) / steps, cpu_times()
    if cut:  # the CPU time per step beside the wall time: what the overhead rows compare
        return ms, 1000 * (sum(cpu1) - sum(cpu0)) / steps
    return ms, (cpu1[1] - cpu0[1]) / max(1e-9, sum(cpu1) - sum(cpu0))


def bench_train_precision(table: Table, mode: Mode, out: Path) -> None:
    """The shipped recipe's training step in bf16-mixed against fp32, alternating runs (the
    quality side is a cross-validated fold: experiments/bench/bf16_training)."""
    from octsr.inference.precision import native_bf16

    # unet_quality: the shipped network, batch and patch (its Noise2Noise pairing needs Duke
    # frames; a step costs the same), for exactly one epoch of the timed steps.
    recipe = ("experiment=unet_quality", "trainer.max_epochs=1", "trainer.max_steps=-1",
              "trainer.check_val_every_n_epoch=1") if mode.name != "tiny" else ()
    warmup = past_first_log(compose(*mode.overrides, "trainer=cpu", *recipe), mode)
    measured: dict[str, list[float]] = {"32-true": [], "bf16-mixed": []}
    for run in range(2 if mode.name != "tiny" else 1):
        for precision in measured:
            clock = timed_project_steps((*recipe, f"trainer.precision={precision}"), mode, mode.steps,
                                        out / f"precision{run}_{precision}", warmup)
            measured[precision].append(1000 * clock.seconds / clock.steps)
    fp32, bf16 = (sum(v) / len(v) for v in measured.values())
    table.add("1 train", f"training step of the shipped recipe (the U-Net of experiment=unet_registered, batch 16, 64px) in bf16-mixed "
              f"({'native' if native_bf16() else 'emulated'} bf16 on this CPU; runs "
              f"{', '.join(f'{v:.1f}' for v in measured['bf16-mixed'])} ms)", f"{bf16:.1f} ms",
              f"32-true {fp32:.1f} ms ({', '.join(f'{v:.1f}' for v in measured['32-true'])})", bf16 / fp32,
              "faster, and PSNR within 0.05 dB on a fold (bf16_training: -0.10 dB, not kept)", None,
              "python experiments/bench/bench.py (section train) trainer.precision=32-true|bf16-mixed")


# The network with almost no arithmetic: what a step costs beyond it is the loop's own.
NEAR_ZERO_NET = ("model.net.width=2", "model.net.kernel_sizes=[1,1,1]")
# Each row switches one more part of the project's loop off (ablation), down to Lightning alone.
OVERHEAD_ROWS = {
    "the project's defaults: every default callback, TensorBoard logger, progress bar": (),
    "without the progress bar": ("callbacks.progress_bar=null", "++trainer.enable_progress_bar=false"),
    "without the progress bar and the logger": ("callbacks.progress_bar=null", "++trainer.enable_progress_bar=false",
                                                "~logger"),
    "Lightning alone: no callbacks, no logger, no progress bar": (
        "~callbacks", "~logger", "++trainer.enable_progress_bar=false",
        "++trainer.enable_checkpointing=false", "++trainer.enable_model_summary=false"),
}


class ReplayedBatches:
    """Train batches cut before the run, replayed in order: a loader that costs nothing per
    step, so that what a step costs beyond the network is the training loop's alone."""

    def __init__(self, batches: list) -> None:
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def precut_datamodule(layout: str, precut_batches: int, **kwargs):
    """The run's own DataModule (`layout` is its class), its train loader replaced by
    `precut_batches` batches it cut before the run: what the bare loop on pre-cut batches
    gets, through Lightning's fetcher and hooks."""
    datamodule = hydra.utils.get_class(layout)(**kwargs)
    loader = datamodule.train_dataloader  # the layout's own, bound before it is replaced

    def replayed() -> ReplayedBatches:
        batches: list = []
        while len(batches) < precut_batches:
            batches.extend(itertools.islice(loader(), precut_batches - len(batches)))
        return ReplayedBatches(batches)

    datamodule.train_dataloader = replayed
    return datamodule


def timed_project_steps(overrides: tuple, mode: Mode, steps: int, out: Path, warmup: int,
                        precut: bool = False) -> StepClock:
    """`octsr.train` with `overrides` for `warmup` + `steps` training steps (no validation
    between them, one val batch after), and the clock of its timed steps. `precut`: its
    train batches cut before the run (`precut_datamodule`)."""
    from omegaconf import open_dict

    from octsr.train import train

    total = warmup + steps
    ours = [o for o in mode.overrides if not ("~callbacks" in overrides and o.startswith("callbacks."))]
    cfg = compose(*ours, "trainer=cpu", "test=false", *overrides)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.trainer.limit_train_batches = total
        cfg.trainer.val_check_interval = 1.0
        cfg.trainer.limit_val_batches = 1
        cfg.trainer.num_sanity_val_steps = 0
        if cfg.get("callbacks") is None:
            cfg.callbacks = {}
        if precut:
            cfg.data.layout = cfg.data.pop("_target_")
            cfg.data._target_ = "__main__.precut_datamodule"
            cfg.data.precut_batches = total
        cfg.callbacks.step_clock = {"_target_": "__main__.StepClock", "warmup": warmup, "last": total - 1}
    _, objects = train(cfg)
    return next(c for c in objects["callbacks"] if isinstance(c, StepClock))


def bench_overhead(table: Table, mode: Mode, out: Path) -> None:
    """The project's fixed cost per training step: its step on a network with almost no
    arithmetic against a bare loop over the same DataModule's batches, and each part of the
    loop switched off in turn. Twice: with the batches cut as they come, as in any loop,
    and with both loops fed batches cut before the run, where the patch cutting (most of
    such a step, and most of its run-to-run noise) drops out of both sides.

    Every project run lies between two bare runs and is compared with their mean, so a
    machine that drifts moves both sides; the defaults row is run `rounds` times and its
    median kept (on a shared 2-core VM one run of 300 short steps wanders by +-1.5 ms)."""
    steps = 5 * mode.steps if mode.name != "tiny" else mode.steps  # tiny: the phantom's few batches
    rounds = 3 if mode.name != "tiny" else 1
    cfg = compose(*mode.overrides, "trainer=cpu", *NEAR_ZERO_NET)
    warmup = past_first_log(cfg, mode)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("fit")
    names = list(OVERHEAD_ROWS)
    for precut in (False, True):
        # Pre-cut: the defaults and Lightning alone, the two ends of the ablation.
        rows = names if not precut else [names[0], names[-1]]
        runs = [rows[0]] * rounds + rows[1:]
        bare = [bare_loop(cfg, datamodule, mode, torch.device("cpu"), cut=not precut, steps=steps)]
        measured: dict[str, list[tuple[float, float, float]]] = {name: [] for name in rows}
        for k, name in enumerate(runs):
            clock = timed_project_steps((*NEAR_ZERO_NET, *OVERHEAD_ROWS[name]), mode, steps,
                                        out / f"overhead{'_precut' if precut else ''}{k}", warmup, precut=precut)
            bare.append(bare_loop(cfg, datamodule, mode, torch.device("cpu"), cut=not precut, steps=steps))
            ms = 1000 * clock.seconds / clock.steps
            measured[name].append((ms, 1000 * (clock.user + clock.system) / clock.steps,
                                   ms - (bare[-2][0] + bare[-1][0]) / 2))
        add_overhead_rows(table, measured, bare, steps, precut)


def add_overhead_rows(table: Table, measured: dict, bare: list, steps: int, precut: bool) -> None:
    command = "python experiments/bench/bench.py --sections overhead"
    bare_ms = sum(ms for ms, _ in bare) / len(bare)
    spread = f"{min(ms for ms, _ in bare):.2f}-{max(ms for ms, _ in bare):.2f}"
    fed = "batches cut before the run, in both loops" if precut else "the same loader"
    for k, name in enumerate(measured):
        ms, cpu_ms, fixed = sorted(measured[name], key=lambda run: run[2])[len(measured[name]) // 2]
        each = f"; runs {', '.join(f'{run[2]:+.2f}' for run in measured[name])} ms" if len(measured[name]) > 1 else ""
        table.add("1 train", f"fixed cost per step (SRCNN of width 2, 1x1 kernels; {steps} steps"
                  f"{'; pre-cut batches' if precut else ''}): {name}",
                  f"{ms:.2f} ms ({cpu_ms:.2f} ms CPU): {fixed:+.2f} ms{' (median)' if each else ''}{each}",
                  f"the bare loops over {fed}, before and after it ({len(bare)} runs {spread} ms, "
                  f"mean {bare_ms:.2f})", ms / (ms - fixed), "<= +1 ms" if k == 0 else "(ablation)",
                  fixed <= 1.0 if k == 0 else None,
                  command + (" (" + " ".join(OVERHEAD_ROWS[name]) + ")" if OVERHEAD_ROWS[name] else ""))


def draw(datamodule, count: int):
    """`count` training batches, going round the loader as often as it takes."""
    while count > 0:
        for batch in datamodule.train_dataloader():
            yield batch
            count -= 1
            if count == 0:
                return


def plain_loop(warmup: int, steps: int, batch_size: int) -> None:
    from octsr.models.components.srcnn import SRCNN

    torch.manual_seed(0)
    net = SRCNN()
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-4)
    x, y = torch.randn(batch_size, 1, 41, 41), torch.rand(batch_size, 1, 41, 41)

    def step():
        optimizer.zero_grad()
        F.mse_loss(torch.sigmoid(net(x)), y).backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    start, cpu0 = time.perf_counter(), cpu_times()
    for _ in range(steps):
        step()
    seconds, cpu1 = time.perf_counter() - start, cpu_times()
    kernel = (cpu1[1] - cpu0[1]) / (sum(cpu1) - sum(cpu0))
    print(f"plain_ms={1000 * seconds / steps:.2f} kernel={kernel:.4f}")


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


# -- 4. inference ----------------------------------------------------------------------------------
def bscan(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, str]:
    """The top-left `shape` of a real Duke B-scan (450x900) and its target where available,
    else of a phantom one."""
    h, w = shape
    if (DUKE / "01" / "test.tif").is_file():
        from octsr.formats.images import read_grayscale

        noisy, target = (read_grayscale(DUKE / "01" / name) for name in ("test.tif", "average.tif"))
        return noisy[:h, :w].copy(), target[:h, :w].copy(), "Duke 01"
    from octsr.data.phantom import PhantomPair

    noisy, target = PhantomPair("bench", 0, 0, h + 20, w + 20, 8).load()
    return noisy[:h, :w].copy(), target[:h, :w].copy(), "phantom"


def psnr_db(output: np.ndarray, target: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((output.astype(np.float64) - target) ** 2)))


def bench_inference(table: Table, mode: Mode, out: Path) -> None:
    from torch.utils.flop_counter import FlopCounterMode

    from octsr.models.checkpoint import load_model
    from octsr.models.components.image_conv import ImageConv2d
    from octsr.models.components.unet import UNet
    from octsr.models.restoration_module import RestorationModule
    from octsr.weights import shipped_weights

    noisy, target, name = bscan(mode.scan)
    size = f"{noisy.shape[0]}x{noisy.shape[1]}"
    x = torch.from_numpy(noisy)[None, None]
    reference_gflops = matmul_gflops(mode.repeats)
    shipped = load_model(shipped_weights("fast"))
    unet = RestorationModule(UNet(width=16), optimizer=None, log_images=False).eval()
    command = "python experiments/bench/bench.py (section inference)"
    for label, model in (("SRCNN (shipped weights)", shipped), ("U-Net width 16 (random weights)", unet)):
        with FlopCounterMode(display=False) as counter:
            with torch.inference_mode():
                model.restore_patches(x)
        gflop = counter.get_total_flops() / 1e9
        with torch.inference_mode():
            ms = warm_ms(lambda: model(x), mode.repeats)
            fast = model(x)[0, 0].numpy()
            net_plain = copy.deepcopy(model.net).to(memory_format=torch.contiguous_format)
            for layer in net_plain.modules():  # the last layer as nn.Conv2d computes it
                if isinstance(layer, ImageConv2d):
                    layer.__class__ = torch.nn.Conv2d
            plain = lambda: torch.sigmoid(net_plain((x - model.input_mean) / model.input_std))  # noqa: E731
            plain_ms = warm_ms(plain, mode.repeats)
            plain_out = plain()[0, 0].numpy()
        achieved = gflop / (ms / 1000)
        target_ratio = 0.5 if "SRCNN" in label else None
        ratio = achieved / reference_gflops
        table.add("4 inference", f"{label}: one {size} B-scan ({name}), {gflop:.2f} GFLOP, "
                  "RestorationModule.forward (channels_last"
                  f"{', last layer as taps' if any(isinstance(m, ImageConv2d) for m in model.modules()) else ''})",
                  f"{ms:.1f} ms = {achieved:.1f} GFLOP/s",
                  f"fp32 matmul {reference_gflops:.0f} GFLOP/s", ratio,
                  ">= 0.5 of matmul" if target_ratio else "", ratio >= target_ratio if target_ratio else None, command)
        table.add("4 inference", f"{label}: same net in plain PyTorch (contiguous layout, nn.Conv2d); "
                  f"max |diff| to the above {np.abs(plain_out - fast).max():.1e}",
                  f"{plain_ms:.1f} ms", f"forward {ms:.1f} ms", plain_ms / ms,
                  "(speed-up)", None, command)
        if "SRCNN" not in label:
            continue
        # What else was tried, kept only if within 0.05 dB of fp32.
        base_db = psnr_db(fast, target)
        with torch.inference_mode():
            bf16 = copy.deepcopy(model).to(torch.bfloat16)
            xb = x.to(torch.bfloat16)
            bf16_ms = warm_ms(lambda: bf16(xb), mode.repeats)
            bf16_db = psnr_db(bf16(xb)[0, 0].float().numpy(), target)
        table.add("4 inference", "SRCNN in bfloat16 (avx512_bf16 CPU); PSNR vs fp32 "
                  f"{bf16_db - base_db:+.3f} dB", f"{bf16_ms:.1f} ms", f"fp32 {ms:.1f} ms", bf16_ms / ms,
                  "faster and within 0.05 dB to keep", bf16_ms < ms and abs(bf16_db - base_db) <= 0.05, command)
        try:
            import onnxruntime as ort

            onnx_path = out / "runs" / "srcnn.onnx"
            onnx_path.parent.mkdir(parents=True, exist_ok=True)
            torch.onnx.export(_Wrapped(model), (x,), str(onnx_path), input_names=["noisy"],
                              dynamic_axes={"noisy": {2: "h", 3: "w"}}, dynamo=False)
            session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            feed = {"noisy": noisy[None, None]}
            ort_ms = warm_ms(lambda: session.run(None, feed), mode.repeats)
            ort_db = psnr_db(session.run(None, feed)[0][0, 0], target)
            table.add("4 inference", f"SRCNN in ONNX Runtime, whole image; PSNR vs fp32 {ort_db - base_db:+.3f} dB",
                      f"{ort_ms:.1f} ms", f"forward {ms:.1f} ms", ort_ms / ms, "faster to keep", ort_ms < ms, command)
        except Exception as err:  # noqa: BLE001  (a missing optional runtime is a row, not a crash)
            table.add("4 inference", "SRCNN in ONNX Runtime", f"not measured: {err}"[:120])
    bench_precision(table, mode, out, x, target, name)
    bench_enhance(table, mode, out, noisy, name)


def bench_precision(table: Table, mode: Mode, out: Path, x: torch.Tensor, target: np.ndarray, name: str) -> None:
    """Each shipped model in float32 and in bfloat16 (`precision=bf16`: autocast, the output
    step in float32) on one B-scan, through the path enhance takes; and the U-Net in ONNX
    Runtime."""
    from octsr.inference import load_restorer
    from octsr.inference.precision import native_bf16

    command = "python experiments/bench/bench.py --sections inference"
    size = f"{x.shape[-2]}x{x.shape[-1]}"
    noisy = x[0, 0].numpy()
    for weights in ("best", "fast"):
        restorer = load_restorer({"weights": weights, "precision": "fp32"})
        label = f"weights={weights} ({type(restorer.model.net).__name__})"
        fp32_ms = warm_ms(lambda: restorer(noisy), mode.repeats)
        fp32_db = psnr_db(restorer(noisy), target)
        restorer.precision = "bf16"
        bf16_ms = warm_ms(lambda: restorer(noisy), mode.repeats)
        bf16_db = psnr_db(restorer(noisy), target)
        table.add("4 inference", f"{label} in bfloat16 ({'native' if native_bf16() else 'emulated'} on this CPU), "
                  f"one {size} B-scan ({name}); PSNR vs fp32 {bf16_db - fp32_db:+.3f} dB", f"{bf16_ms:.1f} ms",
                  f"fp32 {fp32_ms:.1f} ms", bf16_ms / fp32_ms, "faster and within 0.05 dB: precision=auto takes it",
                  bf16_ms < fp32_ms and abs(bf16_db - fp32_db) <= 0.05, command)
        if weights != "best":
            continue
        try:
            import onnxruntime as ort

            onnx_path = out / "runs" / "unet.onnx"
            onnx_path.parent.mkdir(parents=True, exist_ok=True)
            torch.onnx.export(restorer.model, (x,), str(onnx_path), input_names=["noisy"],
                              dynamic_axes={"noisy": {2: "h", 3: "w"}}, dynamo=False)
            session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
            feed = {"noisy": x.numpy()}
            ort_ms = warm_ms(lambda: session.run(None, feed), mode.repeats)
            ort_db = psnr_db(session.run(None, feed)[0][0, 0], target)
            table.add("4 inference", f"{label} in ONNX Runtime, whole image; PSNR vs fp32 {ort_db - fp32_db:+.3f} dB",
                      f"{ort_ms:.1f} ms", f"fp32 {fp32_ms:.1f} ms", ort_ms / fp32_ms, "faster to keep",
                      ort_ms < fp32_ms, command)
        except Exception as err:  # noqa: BLE001  (a missing optional runtime is a row, not a crash)
            table.add("4 inference", f"{label} in ONNX Runtime", f"not measured: {err}"[:120])


class _Wrapped(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.restore_patches(x)


def enhance_marginal_s(noisy: np.ndarray, pages: int, *overrides: str) -> float:
    """octsr.enhance's seconds per B-scan: a volume of `pages` copies of `noisy` minus one
    of a single page (so startup and model loading drop out)."""
    from octsr.formats.images import write_pages

    folder = Path(tempfile.mkdtemp(prefix="octsr-bench-"))
    scan8 = np.round(noisy * 255).astype(np.uint8)
    (folder / "in").mkdir()
    times = {}
    for count in (1, pages):
        write_pages(folder / "in" / f"volume{count}.tif", [scan8] * count)
        args = [sys.executable, "-m", "octsr.enhance", f"input={folder / 'in' / f'volume{count}.tif'}",
                f"output={folder / 'out'}", *overrides]
        _, _, tail = run_child(args)
        times[count] = float(re.search(r"in ([\d.]+) s", tail).group(1))
    shutil.rmtree(folder, ignore_errors=True)
    return (times[pages] - times[1]) / (pages - 1)


def bench_enhance(table: Table, mode: Mode, out: Path, noisy: np.ndarray, name: str) -> None:
    """octsr.enhance's marginal seconds per B-scan (a volume of N pages minus one of 1 page)
    against BM3D on the same scan."""
    import bm3d

    start = time.perf_counter()
    bm3d.bm3d(noisy, 0.4 * noisy.std())
    bm3d_s = time.perf_counter() - start
    size = f"{noisy.shape[0]}x{noisy.shape[1]}"
    for precision in ("fp32", "auto"):
        marginal = enhance_marginal_s(noisy, mode.pages, f"precision={precision}")
        if precision == "auto":
            from octsr.inference import load_restorer

            chosen = load_restorer({"weights": "best", "precision": "auto"}).precision  # what enhance chose
            setting = f"precision=auto, the default: {chosen} on this CPU"
        else:
            setting = "precision=fp32"
        what = (f"octsr.enhance, shipped default weights, {setting}: marginal time per {size} B-scan ({name}; "
                f"{mode.pages}-page volume vs 1 page, startup excluded)")
        command = f"python -m octsr.enhance input=<volume.tif> output=<dir> precision={precision}"
        if marginal <= 0:  # a tiny scan: below enhance's 10 ms log resolution
            table.add("4 inference", what, "< 10 ms (below the log's resolution)", f"BM3D {bm3d_s:.1f} s",
                      None, ">= 100x faster than BM3D", None, command)
            continue
        table.add("4 inference", what, f"{1000 * marginal:.0f} ms", f"BM3D {bm3d_s:.1f} s", bm3d_s / marginal,
                  ">= 100x faster than BM3D" if precision == "auto" else "(reference)",
                  bm3d_s / marginal >= 100 if precision == "auto" else None, command)
    # The optional slower mode: its speed is stated, not held to the default's target.
    marginal = enhance_marginal_s(noisy, mode.pages, "weights=quality")
    table.add("4 inference", f"octsr.enhance weights=quality (residual U-Net, tta: 8 passes), precision=auto: "
              f"marginal time per {size} B-scan ({name}; {mode.pages}-page volume vs 1 page, startup excluded)",
              f"{1000 * marginal:.0f} ms" if marginal > 0 else "< 10 ms (below the log's resolution)",
              f"BM3D {bm3d_s:.1f} s", bm3d_s / marginal if marginal > 0 else None, "(the slower mode: its speed)",
              None, "python -m octsr.enhance input=<volume.tif> output=<dir> weights=quality")


def bench_volume(table: Table, mode: Mode, out: Path) -> None:
    """octsr.enhance on a long 16-bit DICOM volume (pydicom builds it, as a scanner would):
    the whole run's peak RSS against the volume's own pixels, and B-scans per second."""
    sys.path.insert(0, str(REPO))
    from tests.opt_objects import opt_dataset, write

    frames, (height, width) = mode.volume_frames, mode.scan
    rng = np.random.default_rng(0)
    scan = opt_dataset(rng.integers(0, 65536, (frames, height, width), dtype=np.uint16), complete=True)
    path = write(scan, out / "volume.dcm")
    del scan
    pixels_mb = frames * height * width * 2 / 2**20
    command = "python -m octsr.enhance input=<volume.dcm> output=<dir>"
    seconds, rss, _ = run_child([sys.executable, "-m", "octsr.enhance", f"input={path}",
                                 f"output={out / 'volume_out'}"])
    table.add("4 inference", f"octsr.enhance, shipped default weights, a {frames}-frame 16-bit DICOM volume of "
              f"{height}x{width} B-scans ({pixels_mb:.0f} MB of pixels): peak RSS of the whole run",
              f"{rss} MB", f"{frames / seconds:.1f} B-scans/s, {seconds:.0f} s wall with startup", None,
              "<= 1536 MB", rss <= 1536, command)

    # Streaming: a volume's time per B-scan in enhance (reading, converting, writing
    # included) against the network's own time on the same B-scan, in the precision
    # enhance chose.
    from octsr.inference import load_restorer

    noisy, _, name = bscan(mode.scan)
    pages = frames // 4
    restorer = load_restorer({"weights": "best", "precision": "auto"})
    network_ms = warm_ms(lambda: restorer(noisy), mode.repeats)
    per_bscan_ms = 1000 * enhance_marginal_s(noisy, pages)
    table.add("4 inference", f"octsr.enhance, a {pages}-page 8-bit TIFF volume of {name}: time per B-scan "
              f"(read, restore, write; marginal over a 1-page file), precision=auto ({restorer.precision})",
              f"{per_bscan_ms:.0f} ms" if per_bscan_ms > 0 else "below the log's resolution",
              f"the network alone {network_ms:.0f} ms", per_bscan_ms / network_ms if per_bscan_ms > 0 else None,
              "<= 1.10", per_bscan_ms / network_ms <= 1.10 if per_bscan_ms > 0 else None,
              "python -m octsr.enhance input=<volume.tif> output=<dir>")


def record_outputs(folder: Path, count: int) -> tuple[float, int, int]:
    """`count` small outputs, each of its own input, added to an output folder's record as
    enhance adds them, and the journal folded once: (seconds, journal bytes, record bytes).
    The files exist before the clock starts: the record's cost, not the file system's, is
    measured."""
    from octsr.utils.provenance import OutputRecord

    (folder / "in").mkdir(parents=True)
    (folder / "out").mkdir()
    pairs = [(folder / "in" / f"bscan{i:06d}.tif", folder / "out" / f"bscan{i:06d}.tif") for i in range(count)]
    for pair in pairs:
        for path in pair:
            path.write_bytes(b"\0" * 100)
    start = time.perf_counter()
    with OutputRecord(folder / "out") as record:
        for source, output in pairs:
            record.add(source, output, "0123456789abcdef")
        journal = record.journal_path.stat().st_size
    seconds = time.perf_counter() - start
    size = record.path.stat().st_size
    shutil.rmtree(folder)
    return seconds, journal, size


def bench_output_record(table: Table, mode: Mode, out: Path) -> None:
    """The output record's cost per output (one journal line each, one fold at the end) for
    a run of 100,000 outputs against a run of 1,000: the same per output is the claim."""
    count, reference = (2_000, 200) if mode.name == "tiny" else (100_000, 1_000)
    seconds, journal, size = record_outputs(out / "record_many", count)
    small = min(record_outputs(out / f"record_few{i}", reference)[0] for i in range(3))
    ratio = (seconds / count) / (small / reference)
    table.add("4 inference", f"the output record of a {count:,}-output run (`.octsr-outputs.json`): every output "
              f"added through the journal, then folded once; wall time and bytes written",
              f"{seconds:.2f} s ({1e6 * seconds / count:.0f} µs per output), {(journal + size) / 1e6:.1f} MB "
              f"written (journal {journal / 1e6:.1f} MB, record {size / 1e6:.1f} MB)",
              f"{reference:,} outputs: {1e6 * small / reference:.0f} µs per output (best of 3)", ratio,
              "<= 2 (the same cost per output)", ratio <= 2, "python -m octsr.enhance input=<folder> output=<dir>")


# -- 5. GPU ------------------------------------------------------------------------------------------
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
AUTOCAST = {"32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def cuda_ms(fn, repeats: int) -> float:
    """Best wall time of `fn` with the GPU's queue drained before and after."""
    def synced():
        fn()
        torch.cuda.synchronize()
    return warm_ms(synced, repeats)


GPU_TARGETS = {"fast": 2000, "best": 1000}  # B-scans/s at batch >= 16 (the GPU throughput targets)


def graphed(model: torch.nn.Module, x: torch.Tensor):
    """`model` on `x` captured as one CUDA graph: a call replays every kernel in one launch
    and returns the same output tensor, overwritten."""
    static_in = x.clone()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):  # warm-up outside the graph: cuDNN picks its kernels here
        for _ in range(3):
            model(static_in)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = model(static_in)

    def replay() -> torch.Tensor:
        graph.replay()
        return static_out
    return replay


def add_graphed_rows(table: Table, model: torch.nn.Module, x1: torch.Tensor, target: np.ndarray,
                     base_db: float, weights: str, gpu: str, name: str, command: str) -> None:
    """The shipped weights at their fastest on the GPU: fp16 weights and activations (no
    autocast casts), channels-last layout, the whole forward one CUDA graph; per batch size."""
    size = f"{x1.shape[-2]}x{x1.shape[-1]}"
    half = copy.deepcopy(model).half().to(memory_format=torch.channels_last)
    for batch in (16, 64):
        xb = x1.expand(batch, -1, -1, -1).half().contiguous(memory_format=torch.channels_last)
        try:
            with torch.inference_mode():
                replay = graphed(half, xb)
                db = psnr_db(replay()[0, 0].float().cpu().numpy(), target)
                ms = cuda_ms(replay, 20)
        except Exception as err:  # a model the graph cannot hold is a finding, not a crash
            table.add("5 gpu", f"{gpu}: shipped weights={weights}, {batch} x {size}, fp16 channels-last CUDA graph",
                      f"failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}")
            continue
        rate = 1000 * batch / ms
        table.add("5 gpu", f"{gpu}: shipped weights={weights}, {batch} x {size} B-scans ({name}), fp16 weights, "
                  f"channels-last, one CUDA graph; PSNR vs fp32 {db - base_db:+.3f} dB",
                  f"{rate:,.0f} B-scans/s", "", None, f">= {GPU_TARGETS[weights]:,} B-scans/s, within 0.05 dB",
                  rate >= GPU_TARGETS[weights] and abs(db - base_db) <= 0.05, command)


def bench_gpu(table: Table, mode: Mode, out: Path) -> None:
    """The paper-protocol epoch through the project's Trainer in each precision, against a
    bare loop on the same GPU; B-scans per second of the shipped weights, per precision."""
    if not torch.cuda.is_available():
        table.add("5 gpu", "paper-protocol epoch and B-scans per second with mixed precision",
                  "not measured: no GPU on this machine")
        return
    from omegaconf import open_dict

    from octsr.train import train

    device = torch.device("cuda")
    gpu = torch.cuda.get_device_name()
    command = "python experiments/bench/bench.py --sections gpu"
    step_ms = {}
    for precision in PRECISIONS:
        cfg = compose(*mode.overrides, "trainer=gpu", f"trainer.precision={precision}", "test=false")
        with open_dict(cfg):
            cfg.paths.output_dir = str(out / "runs" / f"gpu_{precision}")
            cfg.trainer.val_check_interval = 1.0   # validate after the clock stops
            cfg.trainer.limit_val_batches = 1
            cfg.trainer.num_sanity_val_steps = 0
            cfg.callbacks.step_clock = {"_target_": "__main__.StepClock", "warmup": mode.warmup, "last": -1}
        start = time.perf_counter()
        _, objects = train(cfg)
        fit_s = time.perf_counter() - start
        clock = next(c for c in objects["callbacks"] if isinstance(c, StepClock))
        step_ms[precision] = 1000 * clock.seconds / clock.steps
        steps = clock.steps + mode.warmup
        if precision == "32-true":
            datamodule, model = objects["datamodule"], objects["model"]
            table.add("5 gpu", f"{gpu}: paper-protocol epoch ({steps} steps of {cfg.data.batch_size} "
                      f"{cfg.data.protocol.patch_size}px patches, SRCNN, the project's Trainer), {precision}",
                      f"{steps * step_ms[precision] / 1000:.1f} s ({step_ms[precision]:.2f} ms/step)",
                      f"whole fit incl. setup and one val image {fit_s:.0f} s", None, "(measured)", None,
                      command + " trainer=gpu")
        else:
            ratio = step_ms[precision] / step_ms["32-true"]
            table.add("5 gpu", f"{gpu}: the same epoch, trainer.precision={precision}",
                      f"{steps * step_ms[precision] / 1000:.1f} s ({step_ms[precision]:.2f} ms/step)",
                      f"32-true {step_ms['32-true']:.2f} ms/step", ratio, "(speed-up of mixed precision)", None,
                      command + f" trainer=gpu trainer.precision={precision}")

    bare_ms, _ = bare_loop(cfg, datamodule, mode, device)
    ratio = step_ms["32-true"] / bare_ms
    table.add("5 gpu", f"{gpu}: project training step (32-true, paper-protocol SRCNN) vs a bare PyTorch loop "
              f"on the GPU", f"{step_ms['32-true']:.2f} ms", f"bare loop {bare_ms:.2f} ms", ratio,
              "<= 1.25", ratio <= 1.25, command)

    # Inference: the shipped weights on one B-scan, per precision and batch size.
    from octsr.models.checkpoint import load_model
    from octsr.weights import shipped_weights

    noisy, target, name = bscan(mode.scan)
    size = f"{noisy.shape[0]}x{noisy.shape[1]}"
    x1 = torch.from_numpy(noisy)[None, None].to(device)
    for weights in ("fast", "best"):
        model = load_model(shipped_weights(weights)).eval()
        with torch.inference_mode():
            cpu_ms = warm_ms(lambda: model(x1.cpu()), mode.repeats)
            model.to(device)
            base_db = None
            for precision in PRECISIONS:
                dtype = AUTOCAST[precision]

                def run(x):
                    with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
                        return model(x)

                db = psnr_db(run(x1)[0, 0].float().cpu().numpy(), target)
                base_db = db if base_db is None else base_db
                for batch in (1, 16):
                    xb = x1.expand(batch, -1, -1, -1).contiguous()
                    ms = cuda_ms(lambda: run(xb), mode.repeats)
                    table.add("5 gpu", f"{gpu}: shipped weights={weights}, {batch} x {size} B-scan(s) ({name}) "
                              f"on the GPU, {precision}; PSNR vs fp32 {db - base_db:+.3f} dB",
                              f"{1000 * batch / ms:,.0f} B-scans/s", f"CPU (this machine, {torch.get_num_threads()} "
                              f"threads) {1000 / cpu_ms:.1f} B-scans/s", (batch / ms) / (1 / cpu_ms),
                              "within 0.05 dB of fp32 to use", abs(db - base_db) <= 0.05, command)
        add_graphed_rows(table, model, x1, target, base_db, weights, gpu, name, command)
    gpu_s, cpu_s = (enhance_marginal_s(noisy, mode.pages, f"device={d}") for d in ("cuda", "cpu"))
    # enhance logs whole seconds to 10 ms, so a GPU's few ms per page can come out as 0 or less.
    table.add("5 gpu", f"{gpu}: octsr.enhance device=cuda, shipped default weights: marginal time per {size} "
              f"B-scan ({mode.pages}-page volume vs 1 page)",
              f"{1000 * gpu_s:.0f} ms" if gpu_s > 0 else "< 10 ms (below the log's resolution)",
              f"device=cpu on this machine {1000 * cpu_s:.0f} ms", cpu_s / gpu_s if gpu_s > 0 else None,
              "(speed-up)", None, "python -m octsr.enhance input=<volume.tif> output=<dir> device=cuda")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--full", action="store_true", help="the committed table (about 30 minutes)")
    group.add_argument("--tiny", action="store_true", help="seconds; for the test suite")
    group.add_argument("--plain-loop", nargs=3, type=int, metavar=("WARMUP", "STEPS", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--sections", default="train,overhead,memory,sweep,inference,volume,record,gpu",
                        help="comma-separated: train, overhead, memory, sweep, inference, volume, record, gpu")
    parser.add_argument("--out", type=Path, help="where results.md/.csv go (default: experiments/bench "
                        "with --full, else logs/bench)")
    args = parser.parse_args()
    if args.plain_loop:
        return plain_loop(*args.plain_loop)
    mode = MODES["full" if args.full else "tiny" if args.tiny else "quick"]
    out = args.out or (REPO / "experiments" / "bench" if args.full else REPO / "logs" / "bench")
    # The runs themselves are throwaway: only the table is kept.
    work = Path(tempfile.mkdtemp(prefix="octsr-bench-runs-"))
    table = Table()
    start = time.perf_counter()
    sections = args.sections.split(",")
    print(f"octsr bench, {mode.name} mode, on {machine()}", flush=True)
    if "train" in sections:
        bench_train(table, mode, work)
        bench_train_precision(table, mode, work)
    if "overhead" in sections:
        bench_overhead(table, mode, work)
    if "memory" in sections:
        bench_memory(table, mode, work)
    if "sweep" in sections:
        bench_sweep(table, mode, work)
    if "inference" in sections:
        bench_inference(table, mode, work)
    if "volume" in sections:
        bench_volume(table, mode, work)
    if "record" in sections:
        bench_output_record(table, mode, work)
    if "gpu" in sections:
        bench_gpu(table, mode, work)
    header = (f"# octsr bench ({mode.name} mode)\n\nMachine: {machine()}.  \n"
              f"Date: {datetime.date.today()}; total {time.perf_counter() - start:.0f} s.  \n"
              f"Command: `python experiments/bench/bench.py{' --full' if args.full else ' --tiny' if args.tiny else ''}"
              f"{'' if args.sections == parser.get_default('sections') else ' --sections ' + args.sections}`")
    table.write(out, header)
    shutil.rmtree(work, ignore_errors=True)
    print("\n" + (out / "results.md").read_text() + f"\n-> {out / 'results.md'}")


if __name__ == "__main__":
    main()
