"""The one rule by which octsr times what it reports or chooses by: warm, the median of a few."""

from __future__ import annotations

import time
from statistics import median
from typing import Any, Callable


def warm_ms(run: Callable[[], Any], repeats: int = 3) -> float:
    """Median milliseconds of `repeats` calls of `run`, after one untimed call: the first call
    builds oneDNN's primitives (and cuDNN's plans) for its shapes, which later calls reuse,
    and the median is not moved by one call that another process slowed."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * median(times)
