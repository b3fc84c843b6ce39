"""The docs stay true: every command in the README and docs/ runs (in tiny settings, with
its placeholders filled in), docs/configuration.md matches conf/, the README picture is
made by its script."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from tests.conftest import DUKE_ROOT, REPO, needs_duke, run_cli

# The README and every page under docs/ (the generated settings table has no commands).
DOCS = [REPO / "README.md", *sorted(p for p in (REPO / "docs").glob("*.md") if p.name != "configuration.md")]

# Commands another test runs in full, and where.
RUN_ELSEWHERE = {
    "make test": "this suite itself (.ci/run)",
    "make test-all": "this suite plus the slow tests",
    "make bench": "tests/test_bench.py runs the benchmark scripts on tiny inputs",
    "make tensorboard": "tests/test_tensorboard_page.py serves a sweep with tensorboard --logdir",
    "tensorboard --logdir": "tests/test_tensorboard_page.py serves a sweep with tensorboard --logdir",
    "napari": "tests/test_napari.py opens a volume in napari's viewer as `napari FILE` does (napari choosing octsr's "
              "reader by itself) and drives the widget",
    "pip install": "tests/test_package.py installs torch and the built wheel into a fresh venv",
    "octsr-train": "tests/test_package.py runs the console scripts from the installed wheel",
    "octsr-enhance": "tests/test_package.py runs the console scripts from the installed wheel",
    "python -m octsr.train -m +sweep=lr model=cae,srcnn": "tests/test_sweep.py (lr_sweep, with debug=tiny)",
    "python -m octsr.train -m model=srcnn optim.lr=0.0002,0.0004":
        "tests/test_sweep.py::test_plain_override_lists_still_sweep (with debug=tiny)",
}
# Settings appended to each entry point's command so that it runs in seconds.
TINY = {
    "octsr.train": ["debug=tiny", "callbacks.progress_bar=null", "threads=1"],
    "octsr.evaluate": ["bm3d.sigmas=[0.4]", "bm3d.val_images=1"],
    "octsr.crossval": ["subjects=[01,02,03,04]", "folds=2", "val_subjects=1", "bm3d.enabled=false",
                       'train_overrides="debug=tiny trainer=cpu data.protocol.crop_size=64 callbacks.progress_bar=null"'],
}


def doc_commands() -> list[tuple[str, str]]:
    """(doc, command) for every line of every ```bash block, continuation lines joined; a
    command on several pages is listed once, with the first page that has it."""
    found: dict[str, str] = {}
    for doc in DOCS:
        for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), re.S):
            for command in block.replace("\\\n", " ").splitlines():
                words = shlex.split(command, comments=True)
                if words:
                    found.setdefault(shlex.join(words), doc.relative_to(REPO).as_posix())
    return [(doc, command) for command, doc in found.items()]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, trained_tiny, lr_sweep) -> dict[str, str]:
    """A folder to run the commands in, and what their placeholders stand for."""
    root = tmp_path_factory.mktemp("docs")
    made = run_cli("octsr.phantom", str(root / "png_pairs"), "data.phantom.count=6", "data.phantom.height=96",
                   "data.phantom.width=128", "data.phantom.averaged_frames=4")
    assert made.returncode == 0, made.stderr
    # "Your own scans": 16-bit TIFFs, as most scanners export them
    from octsr.formats.images import read_grayscale

    for side in ("noisy", "clean"):
        (root / "pairs" / side).mkdir(parents=True)
        for png in (root / "png_pairs" / side).glob("*.png"):
            scan = np.rint(read_grayscale(png) * 65535).astype(np.uint16)
            tifffile.imwrite(root / "pairs" / side / f"{png.stem}.tif", scan)
    scans = root / "new_scans" / "eye01"
    scans.mkdir(parents=True)
    for png in sorted((root / "png_pairs" / "noisy").glob("*.png"))[:2]:
        tifffile.imwrite(scans / f"{png.stem}.tif", tifffile.imread(root / "pairs" / "noisy" / f"{png.stem}.tif"))
    tifffile.imwrite(root / "scan.tif", tifffile.imread(next((root / "pairs" / "noisy").glob("*.tif"))))
    from tests.opt_objects import opt_dataset  # a DICOM OCT object, as pydicom builds one

    opt_dataset(np.random.default_rng(0).integers(0, 256, (2, 48, 64), dtype=np.uint8), complete=True).save_as(
        root / "scan.dcm", enforce_file_format=True)
    # "Straight from the scanner": a folder of raw volumes, TIFF and DICOM, no averages
    from tests.opt_objects import speckled_volume

    rng = np.random.default_rng(1)
    (root / "volumes").mkdir()
    from octsr.formats.tiff import write_tiff_volume
    from octsr.formats.volume import Spacing

    for k in range(3):  # with their spacing, so that output_format=dicom can place their B-scans
        write_tiff_volume(root / "volumes" / f"eye0{k}.tif", list(speckled_volume(rng, 3, (72, 96))),
                          Spacing(0.006, 0.004, 0.12))
    opt_dataset(speckled_volume(rng, 3, (72, 96)), complete=True).save_as(root / "volumes" / "eye03.dcm",
                                                                            enforce_file_format=True)
    (root / "scans").mkdir()
    tifffile.imwrite(root / "scans" / "a.tif", tifffile.imread(root / "scan.tif"))
    # A teacher's outputs (docs/data.md), as octsr.enhance would lay them out: here the
    # noisy frames themselves, linked, for the train subjects of data=duke.
    for subject in ("01", "02", "03", "04", "05", "06"):
        (root / "teachers" / "quality" / subject).mkdir(parents=True)
        for frame in (DUKE_ROOT / subject).glob("[0-9t]*.tif"):
            (root / "teachers" / "quality" / subject / frame.name).symlink_to(frame)
    # What `reuse=[...]` reads (docs/crossval.md): an earlier crossval run's folder, here with
    # one finished fold of a row this table does not have, so nothing is taken from it.
    earlier = root / "logs" / "crossval" / "resumed" / "an_earlier_row" / "fold0"
    earlier.mkdir(parents=True)
    (earlier / "fold_result.json").write_text('{"splits": {}, "overrides": []}')
    sweep = root / "a_sweep"  # a copy: the report writes into the sweep's folder
    shutil.copytree(lr_sweep, sweep)
    checkpoint = trained_tiny["best"]
    last = str(Path(checkpoint).parent / "last.ckpt")
    return {
        "cwd": str(root),
        "/path/to/duke-bioptigen": str(DUKE_ROOT),
        "/path/to/pairs": str(root / "pairs"),
        "/path/to/new_scans": str(root / "new_scans"),
        "/path/to/cleaned": str(root / "cleaned"),
        "/path/to/scan.dcm": str(root / "scan.dcm"),
        "/path/to/volumes": str(root / "volumes"),
        "logs/train/runs/<run>/checkpoints/last.ckpt": last,
        "<run>/checkpoints/last.ckpt": last,
        "<checkpoint>": checkpoint,
        "logs/train/multiruns/<sweep>": str(sweep),
        "logs/crossval/<run>": str(root / "logs" / "crossval" / "resumed"),
    }


def runnable(command: str, places: dict[str, str]) -> list[str]:
    """The command with placeholders filled and tiny settings added; Duke scans are read
    from the shared data folder wherever the command runs."""
    for placeholder in sorted(places, key=len, reverse=True):
        if placeholder != "cwd":
            command = command.replace(placeholder, places[placeholder])
    words = shlex.split(command)
    if words[0] == "make":
        logs = Path(places["cwd"]) / "logs"  # make runs in the repository; its runs go here
        return words + [f"PYTHON={sys.executable}", f"ARGS=debug=tiny paths.log_dir={logs}", "-C", str(REPO)]
    assert words[:2] == ["python", "-m"], command
    module = words[2]
    extra = [] if {"--help", "-h", "--cfg"} & set(words) else list(TINY.get(module, []))
    if "data=duke" in words and not any(w.startswith("data.root=") for w in words):
        extra.append(f"data.root={DUKE_ROOT}")
    if module == "octsr.evaluate" and "data=duke" in words:
        extra += ["data.splits.val=[07]", "data.splits.test=[09]"]
    if module == "octsr.crossval":
        extra.append(f"data_root={DUKE_ROOT}")
    return [sys.executable, "-m", module, *words[3:], *extra]


COMMANDS = doc_commands()


def slow(command: str) -> bool:
    """Commands whose tiny version still takes 30 s or more (BM3D on whole Duke scans; a
    cross-validation trains 2 folds x its rows): `make test-all` runs them. The default
    suite covers their entry points in tests/test_crossval.py and tests/test_enhance.py."""
    return command.startswith("python -m octsr.crossval") or (
        command.startswith("python -m octsr.evaluate") and "data=duke" in command)


def elsewhere(command: str) -> str | None:
    return next((why for prefix, why in RUN_ELSEWHERE.items() if command.startswith(prefix)), None)


def test_every_doc_command_is_run_by_some_test():
    unknown = [f"{doc}: {command}" for doc, command in COMMANDS
               if not elsewhere(command) and not command.startswith(("python -m octsr.", "make "))]
    assert len(COMMANDS) >= 20 and not unknown, f"teach tests/test_docs.py to run: {unknown}"


def run_all(commands: list[tuple[str, str]], workspace: dict[str, str]) -> None:
    """Run the commands and report every failure: `make` ones as they are, the `python -m` ones
    through `run_cli`."""
    failures = []
    for doc, command in commands:
        args = runnable(command, workspace)
        done = (subprocess.run(args, cwd=workspace["cwd"], capture_output=True, text=True, timeout=600)
                if args[0] == "make" else run_cli(*args[2:], cwd=Path(workspace["cwd"]), timeout=600))
        if done.returncode != 0:
            failures.append(f"{doc}: {shlex.join(args)}\n{done.stdout[-1500:]}\n{done.stderr[-2500:]}")
    assert not failures, "\n\n".join(failures)


def runnable_here(select) -> list[tuple[str, str]]:
    duke = (DUKE_ROOT / "01" / "test.tif").is_file()
    return [(d, c) for d, c in COMMANDS if not elsewhere(c) and select(c) and (duke or "duke" not in c)]


def test_doc_commands_run(workspace):
    commands = runnable_here(lambda c: not slow(c))
    assert len(commands) >= 15
    run_all(commands, workspace)


@pytest.mark.slow
def test_slow_doc_commands_run(workspace):
    run_all(runnable_here(slow), workspace)


def test_configuration_page_is_current():
    result = subprocess.run([sys.executable, str(REPO / "docs" / "make_configuration.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


@needs_duke
def test_readme_picture_is_made_by_its_script(tmp_path):
    committed = REPO / "docs" / "img" / "readme_figure.png"
    assert "docs/img/readme_figure.png" in (REPO / "README.md").read_text()
    assert committed.stat().st_size < 300_000
    result = subprocess.run([sys.executable, str(REPO / "docs" / "readme_figure.py"), "--out", str(tmp_path / "f.png")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    import cv2

    made, shipped = cv2.imread(str(tmp_path / "f.png"), cv2.IMREAD_UNCHANGED), cv2.imread(str(committed), cv2.IMREAD_UNCHANGED)
    assert made.shape == shipped.shape and made.ndim == 2
    assert np.abs(made.astype(int) - shipped.astype(int)).mean() < 2  # the same picture


def test_every_link_in_the_docs_resolves():
    """Relative links (and their #anchors) in the README, docs/ and the experiments' READMEs."""
    def anchors(page: Path) -> set[str]:
        return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
                for h in re.findall(r"^#+ (.*)$", page.read_text(), re.M)}

    broken = []
    for doc in [*DOCS, *sorted((REPO / "experiments").rglob("README.md"))]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if target.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = target.partition("#")
            page = (doc.parent / path).resolve() if path else doc
            if not page.exists() or (anchor and page.suffix == ".md" and anchor not in anchors(page)):
                broken.append(f"{doc.relative_to(REPO)}: {target}")
    assert not broken, broken
