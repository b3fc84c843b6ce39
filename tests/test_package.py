"""octsr as a package: the wheel carries its configs and weights, and works outside the repo."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tifffile

from octsr.utils.cli import missing_option_extra
from tests.conftest import REPO


def listed_packages() -> set[str]:
    return set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])


def test_every_module_folder_and_config_group_is_packaged():
    code = {".".join(p.parent.relative_to(REPO).parts) for top in ("octsr", "hydra_plugins")
            for p in (REPO / top).rglob("__init__.py")}
    groups = {"octsr.conf." + ".".join(d.relative_to(REPO / "conf").parts)
              for d in (REPO / "conf").rglob("*") if d.is_dir() and d.name != "__pycache__"}
    assert listed_packages() == code | groups | {"octsr.conf"}


def test_a_missing_option_extra_extra_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if "optuna" in name else real(name, *a))
    assert missing_option_extra(["-m", "hparams_search=optuna"]) == (
        "hparams_search=optuna needs the 'optuna' extra: pip install 'octsr[optuna]'")
    assert missing_option_extra(["model=cae"]) is None


def run(cmd: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory) -> Path:
    """A fresh venv outside the repo with torch (TORCH_SPEC, as in the Makefile) and the octsr
    wheel built from this checkout, with no extras: what `pip install octsr` gives a user."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy: pip builds in the source folder, and its build/ must not land in the repo.
    source = shutil.copytree(REPO, root / "source", ignore=shutil.ignore_patterns(
        ".git", ".venv", "logs", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(root / "dist"), str(source)], root)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("octsr-*.whl")
    made = run([sys.executable, "-m", "venv", str(root / "venv")], root)
    assert made.returncode == 0, made.stderr
    pip = [str(root / "venv" / "bin" / "python"), "-m", "pip", "install", "-q"]
    torch = run(pip + os.environ.get("TORCH_SPEC", "torch==2.13.0").split(), root)
    assert torch.returncode == 0, torch.stderr[-3000:]
    octsr = run(pip + [str(wheel)], root)
    assert octsr.returncode == 0, octsr.stderr[-3000:]
    return root / "venv" / "bin"


def test_the_wheel_trains_and_enhances_outside_the_repo(installed_wheel, tmp_path):
    """Configs and shipped weights come from the installed package: the run starts in a folder
    that holds no conf/ and no octsr/."""
    trained = run([str(installed_wheel / "octsr-train"), "debug=tiny"], tmp_path)
    assert trained.returncode == 0, trained.stderr[-3000:]
    (ckpt,) = tmp_path.glob("logs/train/runs/*/checkpoints/last.ckpt")

    scan = (np.random.default_rng(0).random((64, 96)) * 65535).astype(np.uint16)
    tifffile.imwrite(tmp_path / "scan.tif", scan)
    for name, extra in (("shipped", []), ("quality", ["weights=quality"]), ("trained", [f"ckpt_path={ckpt}"])):
        enhanced = run([str(installed_wheel / "octsr-enhance"), "input=scan.tif", f"output={name}"] + extra, tmp_path)
        assert enhanced.returncode == 0, enhanced.stderr[-3000:]
        out = tifffile.imread(tmp_path / name / "scan.tif")
        assert out.shape == scan.shape and out.dtype == np.uint16

    # python -m works too, and what needs an extra says which
    typo = run([str(installed_wheel / "python"), "-m", "octsr.train", "debug=tinny"], tmp_path)
    assert typo.returncode == 2 and typo.stderr.strip().splitlines() == [
        "octsr: error: debug=tinny: no such option; debug is one of fdr, overfit, profiler, tiny"]
    onnx = run([str(installed_wheel / "octsr-export"), f"ckpt_path={ckpt}", "output=model", "format=onnx"], tmp_path)
    assert onnx.returncode == 2, onnx.stderr[-2000:]
    assert onnx.stderr.strip().splitlines()[-1] == (
        "octsr: error: format=onnx needs the 'onnx' extra: pip install 'octsr[onnx]' (or format=torchscript)")
    # napari finds the plugin's manifest in the wheel (the napari extra brings napari itself)
    manifest = run([str(installed_wheel / "python"), "-c", "from importlib.metadata import entry_points; "
                    "from importlib.resources import files; (ep,) = entry_points(group='napari.manifest', name='octsr'); "
                    "package, name = ep.value.split(':'); print(files(package).joinpath(name).is_file())"], tmp_path)
    assert manifest.stdout.strip() == "True", manifest.stderr[-2000:]
    # Hydra finds crossval's sweeper in the wheel (it lives under hydra_plugins, where Hydra looks)
    sweepers = run([str(installed_wheel / "python"), "-c", "from hydra.core.plugins import Plugins; "
                    "from hydra.plugins.sweeper import Sweeper; print(*[s.__name__ for s in Plugins.instance().discover(Sweeper)])"],
                   tmp_path)
    assert "CrossvalSweeper" in sweepers.stdout.split(), sweepers.stderr[-2000:]
    assert not (tmp_path / "conf").exists() and not (tmp_path / "octsr").exists()
