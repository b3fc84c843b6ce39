"""Score a model on a paired set next to baselines: `python -m octsr.evaluate data=duke ckpt_path=...`.

Rows: the model, the noisy input itself, and BM3D (its noise level chosen on the val
images, never on test; `octsr.baselines`); per test image and their mean: PSNR, SSIM (the
training definitions), brightness-matched PSNR and seconds per image (`octsr.scoring`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

import octsr  # noqa: F401
from octsr.settings import EvaluateSettings, check_settings
from octsr.utils.atomic import write_text_atomic
from octsr.utils.cli import command
from octsr.utils.extras import require
from octsr.utils.provenance import OutputRecord, settings_digest
from octsr.utils.tables import write_csv
from octsr.weights import model_file, uses_tta

# torch and Lightning are imported where the work starts, after the settings are checked,
# so `--help` and a mistyped setting answer at once instead of after seconds of imports.

log = logging.getLogger(__name__)


def evaluate(cfg: DictConfig) -> list[dict]:
    check_settings(cfg, EvaluateSettings)
    if cfg.bm3d.enabled:
        require("bm3d", "baselines", "the BM3D row", instead="bm3d.enabled=false")
    from octsr.baselines import bm3d_method, choose_bm3d_sigma, noisy_input
    from octsr.inference import load_restorer
    from octsr.scoring import METRIC_NAMES, per_image_table, score_method, summarize, summary_table

    # A rerun with the same model, data and settings may rewrite its tables; anything else in
    # the run folder is kept (hydra.run.dir can name an existing folder).
    out = Path(cfg.paths.output_dir)
    source = model_file(cfg)
    settings = {key: OmegaConf.to_container(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key]) else cfg[key]
                for key in ("data", "bm3d", "tile", "halo", "precision", "seed")}
    digest = settings_digest({**settings, "tta": uses_tta(cfg)})  # tta as run, not as written
    record = OutputRecord(out)
    record.check([(source, out / name) for name in ("results.csv", "results.md")], digest, cfg.overwrite,
                 "hydra.run.dir")
    restorer = load_restorer(cfg)
    datamodule = hydra.utils.instantiate(cfg.data)
    datamodule.setup("test")
    # A model of several input frames gets them all; the noisy row and BM3D the primary one.
    test = [(item["name"], item["noisy"].numpy(), item["target"][0].numpy()) for item in datamodule.test_set]
    test = [(name, noisy[0] if len(noisy) == 1 else noisy, target) for name, noisy, target in test]
    val_pairs = datamodule.splits()["val"][: cfg.bm3d.val_images] if cfg.bm3d.enabled else []
    if cfg.bm3d.enabled and not val_pairs:
        log.warning("no val images to choose the BM3D noise level on: BM3D skipped")
    # One bar over every image each method restores, BM3D's tuning included: its ETA is the
    # whole evaluation's (BM3D takes seconds per B-scan, the model a fraction of one).
    calls = 2 * len(test) + (len(cfg.bm3d.sigmas) * len(val_pairs) + len(test) if val_pairs else 0)
    reference = getattr(datamodule.source, "reference", "the averaged scan of each")
    notes = [f"Model: `{restorer.source}`. Data: `{cfg.data.name}`, {len(test)} test image{'s' * (len(test) != 1)}, "
             f"scored against {reference}."]
    with logging_redirect_tqdm(), tqdm(total=calls, desc="evaluate", unit="image") as progress:
        rows = score_method(restorer, test, f"model ({restorer.source.name})", progress)
        rows += score_method(noisy_input, test, "noisy input", progress)
        if val_pairs:
            val = [(p.name, *p.load()) for p in val_pairs]
            sigma, tried = choose_bm3d_sigma(list(cfg.bm3d.sigmas), val, progress)
            rows += score_method(bm3d_method(sigma), test, f"BM3D (sigma {sigma:g})", progress)
            notes.append("BM3D noise level chosen on val images "
                         f"{', '.join(p.name for p in val_pairs)}: mean val PSNR "
                         + ", ".join(f"{s:g} → {v:.2f} dB" for s, v in tried.items()) + ".")
    means = summarize(rows)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "results.csv", rows + [{"method": m["method"], "image": "mean",
                                            **{k: m[k] for k in (*METRIC_NAMES, "seconds")}} for m in means])
    overall = summary_table(means, after=[("s / image", lambda m: f"{m['seconds']:.3f}"),
                                          ("images", lambda m: str(m["images"]))])
    table = "\n".join([overall, "", per_image_table(rows), "", *notes]) + "\n"
    write_text_atomic(out / "results.md", table)
    record.added(source, [out / "results.csv", out / "results.md"], digest)
    print(table)
    print(f"wrote {out / 'results.csv'} and {out / 'results.md'}")
    return rows


cli = command("evaluate", evaluate)  # `python -m octsr.evaluate` and the `octsr-evaluate` command


if __name__ == "__main__":
    cli()
