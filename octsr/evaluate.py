"""Score a model on a paired set next to baselines: `python -m octsr.evaluate data=duke ckpt_path=...`.

Rows: the model, the noisy input itself, and BM3D (its noise level chosen on the val
images, never on test); per test image and their mean: PSNR, SSIM (the training
definitions) and seconds per image.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from statistics import fmean
from typing import Callable

import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

import octsr  # noqa: F401
from octsr.data.pairs import primary_frame
from octsr.inference import TiledInferer, pick_device, restorer
from octsr.metrics import psnr, ssim
from octsr.models.checkpoint import load_model
from octsr.settings import EvaluateSettings, check_settings
from octsr.utils.atomic import write_text_atomic
from octsr.utils.cli import check_command_line
from octsr.utils.extras import require
from octsr.utils.failures import exit_on_user_error
from octsr.utils.tables import markdown_table, write_csv
from octsr.weights import shipped_weights

log = logging.getLogger(__name__)

Method = Callable[[np.ndarray], np.ndarray]  # (H, W) noisy in [0, 1] -> restored


def score(method: Method, images: list[tuple[str, np.ndarray, np.ndarray]], label: str,
          progress: tqdm | None = None) -> list[dict]:
    """Each image's PSNR, SSIM and seconds; `progress`: a bar over all of a run's calls to
    advance (else this call shows its own)."""
    rows = []
    for name, noisy, target in images if progress is not None else tqdm(images, desc=label, unit="image", leave=False):
        if progress is not None:
            progress.set_postfix_str(f"{label}: {name}")
        start = time.perf_counter()
        output = np.clip(method(noisy), 0.0, 1.0).astype(np.float32)
        seconds = time.perf_counter() - start
        o, t = torch.from_numpy(output)[None, None], torch.from_numpy(target)[None, None]
        rows.append({"method": label, "image": name, "psnr": psnr(o, t).item(),
                     "ssim": ssim(o, t).item(), "seconds": seconds})
        if progress is not None:
            progress.update()
    return rows


def bm3d_method(sigma: float) -> Method:
    import bm3d

    return lambda noisy: bm3d.bm3d(primary_frame(noisy), sigma_psd=sigma)


def choose_bm3d_sigma(sigmas: list[float], val_images, progress: tqdm | None = None
                      ) -> tuple[float, dict[float, float]]:
    """The sigma with the best mean val PSNR, and every sigma's mean val PSNR."""
    tried = {s: fmean(r["psnr"] for r in score(bm3d_method(s), val_images, f"bm3d tune {s}", progress))
             for s in sigmas}
    return max(tried, key=tried.get), tried


def summary(rows: list[dict]) -> list[dict]:
    methods = list(dict.fromkeys(r["method"] for r in rows))
    return [{"method": m, **{k: fmean(r[k] for r in rows if r["method"] == m)
                             for k in ("psnr", "ssim", "seconds")},
             "images": sum(r["method"] == m for r in rows)} for m in methods]


def markdown(rows: list[dict], means: list[dict], notes: list[str]) -> str:
    overall = markdown_table(["method", "PSNR (dB)", "SSIM", "s / image", "images"],
                             [[m["method"], f"{m['psnr']:.2f}", f"{m['ssim']:.4f}", f"{m['seconds']:.3f}",
                               m["images"]] for m in means])
    per_image = markdown_table(["method", "image", "PSNR (dB)", "SSIM", "s"],
                               [[r["method"], r["image"], f"{r['psnr']:.2f}", f"{r['ssim']:.4f}",
                                 f"{r['seconds']:.3f}"] for r in rows])
    return "\n".join([overall, "", per_image, "", *notes]) + "\n"


def evaluate(cfg: DictConfig) -> list[dict]:
    check_settings(cfg, EvaluateSettings)
    if cfg.bm3d.enabled:
        require("bm3d", "baselines", "the BM3D row", instead="bm3d.enabled=false")
    ckpt_path = cfg.ckpt_path or shipped_weights(cfg.get("weights", "best"))
    model = load_model(ckpt_path)
    device = pick_device(cfg.device)
    model.to(device)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("test")
    # A model of several input frames gets them all; the noisy row and BM3D the primary one.
    test = [(item["name"], item["noisy"].numpy(), item["target"][0].numpy()) for item in datamodule.test_set]
    test = [(name, noisy[0] if len(noisy) == 1 else noisy, target) for name, noisy, target in test]
    inferer = TiledInferer.for_model(model, cfg.tile, cfg.halo)
    val_pairs = datamodule.splits()["val"][: cfg.bm3d.val_images] if cfg.bm3d.enabled else []
    if cfg.bm3d.enabled and not val_pairs:
        log.warning("no val images to choose the BM3D noise level on: BM3D skipped")
    # One bar over every image each method restores, BM3D's tuning included: its ETA is the
    # whole evaluation's (BM3D takes seconds per B-scan, the model a fraction of one).
    calls = 2 * len(test) + (len(cfg.bm3d.sigmas) * len(val_pairs) + len(test) if val_pairs else 0)
    notes = [f"Model: `{ckpt_path}`. Data: `{cfg.data.name}`, {len(test)} test image{'s' * (len(test) != 1)}."]
    with logging_redirect_tqdm(), tqdm(total=calls, desc="evaluate", unit="image") as progress:
        rows = score(restorer(model, inferer, device), test, f"model ({Path(ckpt_path).name})", progress)
        rows += score(primary_frame, test, "noisy input", progress)
        if val_pairs:
            val = [(p.name, *p.load()) for p in val_pairs]
            sigma, tried = choose_bm3d_sigma(list(cfg.bm3d.sigmas), val, progress)
            rows += score(bm3d_method(sigma), test, f"BM3D (sigma {sigma:g})", progress)
            notes.append("BM3D noise level chosen on val images "
                         f"{', '.join(p.name for p in val_pairs)}: mean val PSNR "
                         + ", ".join(f"{s:g} → {v:.2f} dB" for s, v in tried.items()) + ".")
    means = summary(rows)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "results.csv", rows + [{"method": m["method"], "image": "mean", "psnr": m["psnr"],
                                            "ssim": m["ssim"], "seconds": m["seconds"]} for m in means])
    table = markdown(rows, means, notes)
    write_text_atomic(out / "results.md", table)
    print(table)
    print(f"wrote {out / 'results.csv'} and {out / 'results.md'}")
    return rows


@hydra.main(version_base="1.3", config_path="pkg://octsr.conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    try:
        evaluate(cfg)
    except Exception as err:
        exit_on_user_error(err)


def cli() -> None:
    """`python -m octsr.evaluate` and the `octsr-evaluate` command."""
    check_command_line("evaluate")
    main()


if __name__ == "__main__":
    cli()
