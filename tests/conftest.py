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


# Variables a process reads while it imports torch and its libraries: a command that sets
# one of them differently runs in a Python of its own, not in a child of the preloaded one.
_READ_AT_START = ("OMP_", "MKL_", "KMP_", "OPENBLAS_", "CUDA_", "TORCH", "PYTHON", "LD_", "HYDRA_")
_server = None
_server_lock = __import__("threading").Lock()  # one command at a time per test process


def _cli_server():
    """tests/cli_server.py, started once per test process: it imports torch and Lightning once
    and forks a child for each command."""
    global _server
    import subprocess

    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen([sys.executable, str(REPO / "tests" / "cli_server.py")], cwd=REPO,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, bufsize=0)
        _server.env, _server.unread = {**os.environ, "PYTHONUNBUFFERED": "1"}, b""
    return _server


def _reply(server, timeout: float | None = None) -> dict | None:
    """The server's next reply line, or None if none came within `timeout` seconds."""
    import json
    import select

    while b"\n" not in server.unread:
        if not select.select([server.stdout], [], [], timeout)[0]:
            return None
        chunk = os.read(server.stdout.fileno(), 4096)
        if not chunk:
            raise RuntimeError("tests/cli_server.py stopped; its errors are in the test output")
        server.unread += chunk
    line, server.unread = server.unread.split(b"\n", 1)
    return json.loads(line)


def _starts_alike(env: dict, server_env: dict) -> bool:
    keys = {k for k in {*env, *server_env} if k.startswith(_READ_AT_START)}
    return all(env.get(k) == server_env.get(k) for k in keys)


def run_cli(module: str, *args: str, cwd: Path = REPO, timeout: int = 300, env: dict | None = None):
    """Run `python -m module args` as a user would, in a process of its own; returns the
    CompletedProcess. `env`: variables to set, or with None to remove, on top of this
    process's. The process is forked from one that has imported torch and Lightning already
    (tests/cli_server.py), unless `env` changes what a Python reads as it starts."""
    import json
    import signal
    import subprocess
    import tempfile

    env = {k: v for k, v in {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}.items() if v is not None}
    command = [sys.executable, "-m", module, *args]
    # Forking a process that has loaded torch is safe on Linux; elsewhere each command starts afresh.
    if not sys.platform.startswith("linux"):
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    with _server_lock:
        server = _cli_server()
    if not _starts_alike(env, server.env):
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    with tempfile.TemporaryDirectory() as folder, _server_lock:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        server.stdin.write((json.dumps({"module": module, "args": list(args), "cwd": str(cwd), "env": env,
                                        "stdout": str(out), "stderr": str(err)}) + "\n").encode())
        pid = _reply(server)["pid"]
        ended = _reply(server, timeout)
        timed_out = ended is None
        if timed_out:
            os.kill(pid, signal.SIGKILL)
            ended = _reply(server)
        output = [path.read_text(errors="replace") if path.exists() else "" for path in (out, err)]
    if timed_out:
        raise subprocess.TimeoutExpired(command, timeout, *output)
    return subprocess.CompletedProcess(command, ended["returncode"], *output)


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
