"""Section 5, gpu (where there is one): the paper-protocol epoch and B-scans per second in
each precision."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import numpy as np
import octsr  # noqa: F401  (allocator settings, as every entry point gets them)
import torch
from octsr.utils.timing import warm_ms

from bench_common import Mode, StepClock, Table, compose
from section_inference import bscan, enhance_marginal_s, psnr_db
from section_train import bare_loop

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
    from octsr.train import train
    from omegaconf import open_dict

    device = torch.device("cuda")
    gpu = torch.cuda.get_device_name()
    command = "python experiments/speed/bench.py --sections gpu"
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
