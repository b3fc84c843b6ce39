"""What a researcher sees after a sweep: TensorBoard's HPARAMS page, rendered in a real browser."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from tests.conftest import tensorboard_server

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
RUNS = sorted(f"{m}_lr{lr}" for m in ("cae", "srcnn") for lr in ("0.0002", "0.0003", "0.0004", "0.0005", "0.0006"))


@pytest.fixture(scope="module")
def sweep(lr_sweep) -> Path:
    return lr_sweep


def test_sweep_runs_are_named_by_the_swept_values(sweep):
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == RUNS


def test_no_placeholder_points_among_the_scalars(sweep):
    """Every scalar point is a real value; the HPARAMS metrics appear once, at the end."""
    events = EventAccumulator(str(sweep / "srcnn_lr0.0002"))
    events.Reload()
    for tag in events.Tags()["scalars"]:
        values = [e.value for e in events.Scalars(tag)]
        assert all(math.isfinite(v) for v in values), (tag, values)
    assert len(events.Scalars("hp/test_psnr")) == 1


@pytest.fixture(scope="module")
def tensorboard(sweep):
    with tensorboard_server(sweep) as url:
        yield url


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium)")
def test_hparams_page_shows_the_swept_settings_without_ticking(tensorboard, tmp_path):
    """Without any clicks, the table's first columns are what the sweep varied, its rows are
    named by the run folders, and the final metrics sit beside them."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    screenshot = Path(os.environ.get("OCTSR_HPARAMS_SCREENSHOT", tmp_path / "hparams.png"))
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 2300, "height": 400})
            page.goto(f"{tensorboard}/#hparams")
            table = page.locator("vaadin-grid-cell-content")  # CSS locators pierce shadow roots
            page.get_by_text("srcnn_lr0.0004").first.wait_for(timeout=60_000)
            cells = [text.strip() for text in table.all_inner_texts() if text.strip()]
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot))
        finally:
            browser.close()
    headers = cells[:cells.index(RUNS[0])]
    assert headers[:2] == ["Trial ID", "Show Metrics"], headers
    hyperparameters = headers[2:headers.index("epoch")]
    assert {"model", "optim/lr"} <= set(hyperparameters[:4]), headers
    assert {"hp/test_psnr", "hp/test_ssim", "hp/val_psnr_best", "hp/val_ssim"} <= set(headers), headers
    assert [c for c in cells if c in RUNS] == RUNS
    row = cells[cells.index("srcnn_lr0.0004"):][:len(headers) - 1]
    assert row[hyperparameters.index("model") + 1] == "SRCNN"
    assert float(row[hyperparameters.index("optim/lr") + 1]) == pytest.approx(0.0004)
