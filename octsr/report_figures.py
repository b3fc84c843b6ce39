"""Figures for `octsr.report`: metrics against learning rate, and a side-by-side test panel."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from octsr.utils.atomic import atomic_path  # noqa: E402


def plot_metrics_vs_lr(rows: list[dict], path: Path) -> None:
    """PSNR and SSIM (test solid, best val dashed) against learning rate, a line per model."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    plotted = [r for r in rows if r.get("test_psnr") is not None and r.get("lr") is not None]
    models = sorted({str(r.get("model")) for r in plotted})
    for ax, metric, label in ((axes[0], "psnr", "PSNR (dB)"), (axes[1], "ssim", "SSIM")):
        for i, model in enumerate(models):
            done = sorted((r for r in plotted if str(r.get("model")) == model), key=lambda r: r["lr"])
            lrs = [r["lr"] for r in done]
            color = f"C{i}"
            ax.plot(lrs, [r[f"test_{metric}"] for r in done], "o-", color=color, label=f"{model} test")
            val_key = "val_psnr_best" if metric == "psnr" else "val_ssim"
            ax.plot(lrs, [r.get(val_key) or np.nan for r in done], "s--", color=color, alpha=0.6,
                    label=f"{model} val")
        noisy = [r[f"test_{metric}_noisy"] for r in rows if r.get(f"test_{metric}_noisy") is not None]
        if noisy:
            ax.axhline(float(np.mean(noisy)), color="gray", lw=1, ls=":", label="noisy input (test)")
        ax.set_xlabel("learning rate")
        ax.set_ylabel(label)
        # Ticks at the learning rates tried, not matplotlib's: one rate alone would get a
        # range of 1e-8 around it whose labels run into each other.
        tried = sorted({r["lr"] for r in plotted})
        if tried:
            ax.set_xticks(tried, [f"{lr:g}" for lr in tried])
            if len(tried) == 1:
                ax.set_xlim(tried[0] * 0.5, tried[0] * 1.5)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Metrics against learning rate")
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def _zoom_window(target: np.ndarray) -> tuple[int, int, int, int]:
    """A detail window (y0, y1, x0, x1) around the brightest rows (the retina), mid-scan."""
    h, w = target.shape
    zh, zw = max(h // 4, 8), max(w // 6, 8)
    row = int(np.argmax(target.mean(axis=1)))
    y0 = int(np.clip(row - zh // 2, 0, h - zh))
    x0 = (w - zw) // 2
    return y0, y0 + zh, x0, x0 + zw


def panel(images: dict[str, np.ndarray], path: Path, title: str) -> None:
    """Images side by side (e.g. noisy | CAE | SRCNN | target), each with a zoomed inset."""
    first = next(iter(images.values()))
    y0, y1, x0, x1 = _zoom_window(images.get("target", first))
    aspect = first.shape[0] / first.shape[1]
    fig, axes = plt.subplots(1, len(images), figsize=(4.2 * len(images), 4.2 * aspect + 0.6),
                             constrained_layout=True)
    for ax, (name, image) in zip(np.atleast_1d(axes), images.items()):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(name, fontsize=10)
        ax.set_axis_off()
        inset = ax.inset_axes([0.52, 0.02, 0.46, 0.46])
        inset.imshow(image, cmap="gray", vmin=0, vmax=1)
        inset.set_xlim(x0, x1)
        inset.set_ylim(y1, y0)
        inset.set_xticks([])
        inset.set_yticks([])
        for spine in inset.spines.values():
            spine.set_edgecolor("yellow")
        ax.indicate_inset_zoom(inset, edgecolor="yellow")
    fig.suptitle(title, fontsize=11)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def restore_with_run(run: Path, noisy: torch.Tensor) -> np.ndarray:
    """Apply a run's best checkpoint to one (1, 1, H, W) image in [0, 1]."""
    from omegaconf import OmegaConf

    from octsr.inference import load_restorer
    from octsr.models.architecture import architecture_record
    from octsr.models.checkpoint import best_checkpoint

    # The run's own config rebuilds checkpoints written before they carried their record.
    architecture = architecture_record(OmegaConf.load(run / ".hydra" / "config.yaml").model)
    restorer = load_restorer({"ckpt_path": best_checkpoint(run), "architecture": architecture})
    return restorer(noisy[0].numpy())


def first_test_image(run: Path) -> tuple[str, torch.Tensor, torch.Tensor]:
    import hydra
    from omegaconf import OmegaConf

    datamodule = hydra.utils.instantiate(OmegaConf.load(run / ".hydra" / "config.yaml").data)
    datamodule.setup("test")
    item = datamodule.test_set[0]
    return item["name"], item["noisy"][None], item["target"][None]
