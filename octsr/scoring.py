"""Scoring restored B-scans against their targets, and the table of the scores: the one path
that `octsr.evaluate` and `octsr.crossval` share."""

from __future__ import annotations

import time
from statistics import fmean, pstdev
from typing import Any, Callable, Iterable

import numpy as np
import torch
from tqdm import tqdm

from octsr.metrics import METRIC_NAMES, METRICS, score_batch
from octsr.utils.tables import markdown_table

Method = Callable[[np.ndarray], np.ndarray]  # a noisy B-scan (or its frames) in [0, 1] -> restored (H, W)


def image_scores(output: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Every metric of `octsr.metrics.METRICS` of one output in [0, 1] (clipped to it)
    against its target."""
    o, t = (torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))[None, None]
            for a in (np.clip(output, 0.0, 1.0), target))
    return {name: score.item() for name, score in score_batch(o, t).items()}


def score_method(method: Method, images: Iterable[tuple[str, Any, np.ndarray]], label: str,
                 progress: tqdm | None = None) -> list[dict[str, Any]]:
    """One row per (name, noisy, target) image: `label`, the image's name, its scores and the
    seconds `method` took on it. `progress`: a bar over a whole run to advance (else this
    call shows its own)."""
    images = list(images)
    rows = []
    for name, noisy, target in images if progress is not None else tqdm(images, desc=label, unit="image", leave=False):
        if progress is not None:
            progress.set_postfix_str(f"{label}: {name}")
        start = time.perf_counter()
        output = method(noisy)
        seconds = time.perf_counter() - start
        rows.append({"method": label, "image": name, **image_scores(output, target), "seconds": seconds})
        if progress is not None:
            progress.update()
    return rows


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per method, in order of appearance: mean and standard deviation of each score over its
    images, mean seconds, the image count, and each image's PSNR (`psnr_<image>`)."""
    summaries = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        summary: dict[str, Any] = {"method": method}
        for metric in METRIC_NAMES:
            values = [r[metric] for r in mine]
            summary[metric], summary[f"{metric}_std"] = fmean(values), pstdev(values) if len(values) > 1 else 0.0
        if all("seconds" in r for r in mine):
            summary["seconds"] = fmean(r["seconds"] for r in mine)
        summary["images"] = len(mine)
        summary.update({f"psnr_{r['image']}": r["psnr"] for r in mine})
        summaries.append(summary)
    return summaries


Column = tuple[str, Callable[[dict[str, Any]], str]]  # a header, and the cell of one summary


def summary_table(summaries: list[dict[str, Any]], before: list[Column] = (), after: list[Column] = (),
                  per_image: list[str] = ()) -> str:
    """A Markdown table, one line per method: `before` columns, each metric's mean ± std,
    `after` columns, then one PSNR column per `per_image` name."""
    columns: list[Column] = [
        ("method", lambda s: s["method"]), *before,
        *((m.header, lambda s, m=m: f"{m.format(s[m.name])} ± {m.format(s[f'{m.name}_std'])}") for m in METRICS),
        *after,
        *((name, lambda s, name=name: f"{s.get(f'psnr_{name}', float('nan')):.2f}") for name in per_image),
    ]
    return markdown_table([header for header, _ in columns], [[cell(s) for _, cell in columns] for s in summaries])


def per_image_table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of every image's scores, one line per method and image."""
    return markdown_table(["method", "image", *(m.header for m in METRICS), "s"],
                          [[r["method"], r["image"], *(m.format(r[m.name]) for m in METRICS),
                            f"{r['seconds']:.3f}" if "seconds" in r else "–"] for r in rows])
