"""Which number format inference computes in: float32, or bfloat16 where the CPU has it.

A CPU with native bfloat16 arithmetic (AVX-512 BF16, AMX) runs some networks' convolutions
faster in it and others slower (experiments/speed): which, depends on the CPU and the
network, so `auto` does not guess from the CPU's name. It times both on one B-scan-sized
input the first time a network runs on a machine and remembers the faster in the user's
cache folder. The outputs differ by far less than the noise: the network's output layer
and everything after it stay in float32 (`RestorationModule.restore_patches`), and the
PSNR change is recorded in the bench.
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import nullcontext
from pathlib import Path
from typing import ContextManager

import torch

from octsr.utils.atomic import write_text_atomic
from octsr.utils.machine import machine
from octsr.utils.timing import warm_ms

log = logging.getLogger(__name__)

PRECISIONS = ("auto", "fp32", "bf16")
TIMING_SHAPE = (450, 900)  # a typical B-scan: what `auto` times on
FASTER_BY = 0.9  # bf16 is chosen only when it takes at most this share of fp32's time


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (else torch emulates it, slowly)."""
    cpu = torch.cpu
    return any(getattr(cpu, check, lambda: False)() for check in ("_is_avx512_bf16_supported",
                                                                  "_is_amx_tile_supported"))


def autocast(precision: str, device: torch.device) -> ContextManager:
    """The context a network runs in for `precision` ('fp32' or 'bf16')."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def cache_file() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "octsr" / "precision.json"


def _network_key(model: torch.nn.Module) -> str:
    return f"{type(model.net).__name__}/{model.parameter_count} weights/{model.input_frames} frame(s)/residual {model.residual}"


def choose_precision(setting: str, model, device: torch.device, tiler=None) -> str:
    """'fp32' or 'bf16' for `setting` ('auto', 'fp32' or 'bf16') on `device`.

    `auto` is fp32 on a GPU (16-bit there is a separate setting) and on a CPU without native
    bfloat16; on one with it, the faster of the two for this network, timed once per
    machine, torch version, thread count and network, then read from the cache."""
    if setting != "auto":
        if setting == "bf16" and device.type == "cpu" and not native_bf16():
            log.warning("precision=bf16 on a CPU without native bfloat16 arithmetic: torch emulates it, "
                        "usually slower than fp32")
        return setting
    if device.type != "cpu" or not native_bf16():
        return "fp32"
    key = f"{machine()} | {_network_key(model)}"
    path = cache_file()
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    if known.get(key) in ("fp32", "bf16"):
        return known[key]
    image = torch.rand(1, model.input_frames, *TIMING_SHAPE, device=device)
    timings = {}
    with torch.no_grad():
        for precision in ("fp32", "bf16"):
            with autocast(precision, device):
                timings[precision] = warm_ms(lambda: model(image, tiler=tiler))
    choice = "bf16" if timings["bf16"] <= FASTER_BY * timings["fp32"] else "fp32"
    log.info("precision=auto: %s on this CPU for this network (per %dx%d B-scan: fp32 %.0f ms, bf16 %.0f ms; "
             "timed once, remembered in %s)", choice, TIMING_SHAPE[1], TIMING_SHAPE[0], timings["fp32"],
             timings["bf16"], path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, json.dumps({**known, key: choice}, indent=1))
    except OSError as err:  # a read-only home: time it again next run, but go on
        log.warning("could not remember the precision choice in %s: %s", path, err)
    return choice
