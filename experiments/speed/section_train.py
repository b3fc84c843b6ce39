"""Section 1, train: the project's training step against a bare PyTorch loop, its precision,
and what each part of the loop costs (ablation down to Lightning alone)."""

from __future__ import annotations

import itertools
import re
import sys
import time
from pathlib import Path

import hydra
import octsr  # noqa: F401  (allocator settings, as every entry point gets them)
import torch
import torch.nn.functional as F

from bench_common import (
    Mode,
    StepClock,
    Table,
    compose,
    cpu_times,
    past_first_log,
    run_child,
)


# -- 1. training step ------------------------------------------------------------------------
def bench_train(table: Table, mode: Mode, out: Path) -> float:
    """Returns the model's consumption in patches per second (the bare loop's rate)."""
    from octsr.train import train
    from omegaconf import open_dict

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
    command = "python experiments/speed/bench.py (section train)"
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
    seconds, _, tail = run_child([sys.executable, str(Path(__file__).with_name("bench.py")), "--plain-loop", str(mode.warmup), str(mode.steps),
                                  str(batch_size)], env={"OCTSR_KEEP_FREED_MEMORY": "0"})
    plain_ms = float(re.search(r"plain_ms=([\d.]+)", tail).group(1))
    plain_kernel = float(re.search(r"kernel=([\d.]+)", tail).group(1))
    table.add("1 train", "plain PyTorch loop on random patches: contiguous layout, glibc defaults "
              f"(kernel {100 * plain_kernel:.0f}% of CPU)", f"{plain_ms:.1f} ms",
              f"project step {step_ms:.1f} ms", plain_ms / step_ms, "(speed-up of this work)", None,
              "OCTSR_KEEP_FREED_MEMORY=0 python experiments/speed/bench.py --plain-loop")
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
    quality side is a cross-validated fold: experiments/speed/bf16_training)."""
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
              "python experiments/speed/bench.py (section train) trainer.precision=32-true|bf16-mixed")


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
    from octsr.train import train
    from omegaconf import open_dict

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
    command = "python experiments/speed/bench.py --sections overhead"
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
