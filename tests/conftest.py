from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from tests.cli_server import CliServer

# Under pytest-xdist each worker, and every process it starts, gets its share of the cores:
# two workers each running torch on all of them would spin against each other.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // _WORKERS)))

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
DUKE_ROOT = (REPO / ".." / "shared" / "data" / "duke-bioptigen").resolve()
VENDOR_SAMPLES = (REPO / ".." / "shared" / "data" / "vendor-samples").resolve()
needs_duke = pytest.mark.skipif(
    not (DUKE_ROOT / "01" / "test.tif").is_file(),
    reason=f"Duke scans not found at {DUKE_ROOT} (the shared data folder beside the repo)",
)


def compose_train(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def tiny_train_config(output_dir: Path, *overrides: str, debug: str = "tiny") -> DictConfig:
    """The real train config shrunk to a seconds-long CPU run (`debug=tiny`, or another debug
    option on debug=tiny's data) writing into `output_dir`, with no progress bar; `overrides`
    as on the command line."""
    cfg = compose_train(f"debug={debug}", "trainer=cpu", *overrides)
    with open_dict(cfg):
        if debug != "tiny":
            cfg.data = compose_train("debug=tiny", *overrides).data
        cfg.paths.output_dir = str(output_dir)
        cfg.callbacks.progress_bar = None
        cfg.trainer.enable_progress_bar = False
    return cfg


@pytest.fixture(autouse=True, scope="session")
def use_leak_safe_log_records():
    """Log records stay as logging makes them. napari's pytest plugin (installed with the
    napari extra; tests/test_napari.py uses its viewer fixture) has a fixture of this name
    that turns every record's arguments into text for its leak checks, which would break
    octsr's log formats such as %.2f of a numpy float in every test; this one replaces it."""
    yield


@pytest.fixture
def tiny_cfg(tmp_path) -> DictConfig:
    """`tiny_train_config` writing into tmp_path."""
    return tiny_train_config(tmp_path)


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory) -> dict:
    """One tiny SRCNN run shared by the tests that need a trained checkpoint."""
    from octsr.train import train

    _, objects = train(tiny_train_config(tmp_path_factory.mktemp("trained_tiny"), "optim.lr=0.003"))
    objects["best"] = objects["trainer"].checkpoint_callback.best_model_path
    return objects


@pytest.fixture(scope="session")
def lr_sweep(tmp_path_factory) -> Path:
    """The paper's 2 x 5 learning-rate sweep on the tiny config, through the real CLI: run
    once per test session, shared by every test that reads a sweep (and, under
    pytest-xdist, by every worker: the first to get the lock runs it)."""
    import fcntl

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the folder all workers' temporary folders share
    folder = shared / "lr_sweep"
    with open(shared / "lr_sweep.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "finished").is_file():
            result = run_cli("octsr.train", "-m", "+sweep=lr", "model=cae,srcnn", "debug=tiny",
                             f"hydra.sweep.dir={folder}", timeout=600)
            assert result.returncode == 0, result.stderr[-3000:]
            (folder / "finished").touch()
    return folder


@contextmanager
def tensorboard_server(logdir: Path) -> Iterator[str]:
    """TensorBoard serving `logdir` on a free local port, as `tensorboard --logdir` would;
    yields its URL once it answers, and stops it afterwards."""
    import socket
    import subprocess
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


_cli_server = CliServer()  # started on the first command, once per test process


def run_cli(module: str, *args: str, cwd: Path = REPO, timeout: int = 300, env: dict | None = None):
    """Run `python -m module args` as a user would, in a process of its own; returns the
    CompletedProcess. `env`: variables to set, or with None to remove, on top of this
    process's. On Linux the process is forked from one that has imported torch and Lightning
    already (tests/cli_server.py), unless `env` changes what a Python reads as it starts."""
    env = {k: v for k, v in {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}.items() if v is not None}
    return _cli_server.run(module, list(args), cwd, env, timeout)


def run_cli_batch(commands: list[tuple[str, ...]], cwd: Path = REPO, timeout: int = 600, env: dict | None = None):
    """`run_cli` for each (module, *args), one after another: each command's CompletedProcess."""
    return [run_cli(*command, cwd=cwd, timeout=timeout, env=env) for command in commands]


def results_in(folder: Path) -> list[str]:
    """The names of the results in an output folder, without octsr's record of what made them."""
    from octsr.utils.provenance import RECORD_NAME

    return sorted(p.name for p in folder.iterdir() if p.name != RECORD_NAME)


def random_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return rng.random((h, w), dtype=np.float32)


def untrained_unet(path: Path, **switches) -> Path:
    """A weights file of a small untrained U-Net (width 4); `switches`: RestorationModule's
    residual and match_input_mean."""
    import torch

    from octsr.models.checkpoint import save_weights
    from octsr.models.components.unet import UNet
    from octsr.models.restoration_module import RestorationModule

    torch.manual_seed(0)
    architecture = {"net": {"_target_": "octsr.models.components.unet.UNet", "width": 4},
                    "inferer": None, **switches}
    save_weights(RestorationModule(UNet(width=4), optimizer=None, architecture=architecture, **switches), path)
    return path
