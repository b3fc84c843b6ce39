"""What a measurement ran on, for the tables that record timings."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    """CPU model, cores, GPU where there is one, torch version and threads, python version:
    one line."""
    import torch  # only when a table is written, not when the module that writes it loads

    cpu = platform.processor() or platform.machine() or "cpu"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (f"{cpu}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
            f"python {platform.python_version()}")
