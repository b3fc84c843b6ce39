"""Try faults and bad inputs as a new user would, through the CLI, and table what each one
does: `python -m experiments.bad_inputs.probe [--out DIR]`, from the repository's root (it
uses the test suite's builders of bad scans and DICOM objects, `tests.bad_scans` and
`tests.opt_objects`, which `-m` finds there).

A case passes when it ends with exit status 2 and exactly one `octsr: error:` line on
stderr (no traceback), or, where the case is meant to succeed, with status 0 and its check
(e.g. the finite last.ckpt) holding. Writes results.md beside this script (or to --out).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import tifffile
import torch

from tests.bad_scans import write_bad_scans

REPO = Path(__file__).resolve().parents[2]


def octsr(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def one_line(done: subprocess.CompletedProcess) -> tuple[bool, str]:
    errors = [line for line in done.stderr.splitlines() if line.startswith("octsr: error:")]
    ok = done.returncode == 2 and len(errors) == 1 and "Traceback" not in done.stderr
    return ok, errors[0] if errors else (done.stderr.strip().splitlines() or ["(nothing)"])[-1]


def finite(path: Path) -> bool:
    state = torch.load(path, weights_only=True)["state_dict"]
    return all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def leaks(path: Path, secrets: set[str]) -> list[str]:
    """Values of `path` (every element, nested and file meta included) that hold one of
    `secrets`, and any private element."""
    import pydicom

    found: list[str] = []

    def look(dataset, element) -> None:
        if element.VR == "SQ" or element.is_empty:
            return
        for value in (element.value if element.VM > 1 else [element.value]):
            text = str(value)
            if element.tag.is_private or ((text in secrets) if element.VR == "UI" else
                                          any(secret in text for secret in secrets)):
                found.append(f"{element.keyword or element.tag} = {text}")

    derived = pydicom.dcmread(path)
    derived.walk(look)
    derived.file_meta.walk(look)
    return found


def ctrl_c(work: Path, ckpt: Path, rng: np.random.Generator) -> tuple[str, int, bool, str]:
    """Ctrl-C once the first of 200 outputs is written: status 130, one line counting the
    finished outputs, no traceback, no temporary file left. (With 40, a tiny model on a
    quiet machine finished them all within the probe's own reaction time.)"""
    import signal

    scans = work / "many"
    scans.mkdir()
    for k in range(200):
        cv2.imwrite(str(scans / f"scan{k:03d}.png"), rng.integers(0, 256, (400, 600), dtype=np.uint8))
    out = work / "many_out"
    run = subprocess.Popen([sys.executable, "-m", "octsr.enhance", f"ckpt_path={ckpt}", f"input={scans}",
                            f"output={out}"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(out.glob("scan*.png")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    run.send_signal(signal.SIGINT)
    _, stderr = run.communicate(timeout=120)
    lines = [line for line in stderr.splitlines() if line.startswith("octsr:")]
    ok = (run.returncode == 130 and len(lines) == 1 and "Traceback" not in stderr
          and not list(out.glob(".*tmp*")) and 0 < len(list(out.glob("scan*.png"))) < 200)
    return ("Ctrl-C in the middle of a folder", run.returncode, ok, lines[0] if lines else stderr[-200:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="octsr-probe-"))
    rng = np.random.default_rng(0)

    # A trained tiny model, and scans of every kind.
    trained = octsr("octsr.train", "debug=tiny", "trainer.max_epochs=4",
                    "callbacks.model_checkpoint.mode=min", f"hydra.run.dir={work}/trained", cwd=work)
    assert trained.returncode == 0, trained.stderr[-2000:]
    ckpt = work / "trained" / "checkpoints" / "last.ckpt"
    scans = work / "scans"
    for sub in ("a", "b"):
        (scans / sub).mkdir(parents=True)
        cv2.imwrite(str(scans / sub / "same.png"), rng.integers(0, 256, (40, 60), dtype=np.uint8))
    with tifffile.TiffWriter(scans / "mixed.tif") as tif:
        for shape in ((40, 60), (30, 50), (40, 60)):
            tif.write(rng.integers(0, 65536, shape, dtype=np.uint16), photometric="minisblack")
    bad = write_bad_scans(work / "bad", rng)
    scan = scans / "a" / "same.png"
    (work / "a_file").write_text("x")
    (work / "linked").mkdir()
    (work / "precious.png").write_bytes(b"keep")
    (work / "linked" / "same.png").symlink_to(work / "precious.png")
    shutil.copy(ckpt, work / "weights_only.ckpt")
    octsr("octsr.export", f"ckpt_path={ckpt}", "format=weights", f"output={work}/weights.pt", cwd=work)
    report_sweep = work / "sweep"
    sweep = octsr("octsr.train", "-m", "debug=tiny", "optim.lr=1e30,0.001", f"hydra.sweep.dir={report_sweep}",
                  cwd=work)
    runs = sorted(p for p in report_sweep.iterdir() if (p / ".hydra").is_dir())
    half = work / "half"
    shutil.copytree(runs[0], half / "run")
    (half / "run" / "test_metrics.csv").write_text("image,psnr,ssim\nphantom_0")
    nohydra = work / "nohydra"
    shutil.copytree(runs[0], nohydra / "run")
    (nohydra / "run" / ".hydra" / "hydra.yaml").unlink(missing_ok=True)

    # Scanner volumes, inputs read as what they are, earlier results kept.
    from tests.opt_objects import opt_dataset, speckled_volume, write

    gray = rng.integers(0, 256, (40, 60, 2), dtype=np.uint8)
    tifffile.imwrite(work / "alpha.tif", gray, photometric="minisblack", extrasamples=["unassalpha"])
    tifffile.imwrite(work / "extra.tif", gray, photometric="minisblack", extrasamples=["unspecified"])
    cv2.imwrite(str(work / "dot.png"), np.full((1, 1), 128, np.uint8))
    dicom = write(opt_dataset(speckled_volume(rng, 3, (64, 96), np.uint16), complete=True), work / "scan.dcm")
    (work / "cut.dcm").write_bytes(dicom.read_bytes()[: dicom.stat().st_size // 2])
    write(opt_dataset(np.zeros((1, 8, 8), np.uint16), sop_class="1.2.840.10008.5.1.4.1.1.2"), work / "ct.dcm")
    volumes, lonely = work / "volumes", work / "lonely"
    volumes.mkdir(), lonely.mkdir()
    for k in range(4):
        tifffile.imwrite(volumes / f"eye{k}.tif", speckled_volume(rng, 3, (72, 96)), photometric="minisblack")
        tifffile.imwrite(lonely / f"eye{k}.tif", speckled_volume(rng, 1, (72, 96))[0], photometric="minisblack")
    write(opt_dataset(speckled_volume(rng, 3, (72, 96), np.uint16), complete=True), volumes / "clinic.dcm")
    for subject in ("A", "B"):  # two subjects' test.tif, one output folder
        (work / subject).mkdir()
        tifffile.imwrite(work / subject / "test.tif", rng.integers(0, 256, (40, 60), dtype=np.uint8))
    first = octsr("octsr.enhance", f"ckpt_path={ckpt}", f"input={work}/A/test.tif", f"output={work}/AB", cwd=work)
    assert first.returncode == 0, first.stderr[-2000:]
    shutil.copy(ckpt, work / "export_me.ckpt")
    crossval = work / "crossval"
    (crossval / ".hydra").mkdir(parents=True)
    (crossval / ".hydra" / "config.yaml").write_text("task_name: crossval\n")
    for k, run in enumerate(runs):
        shutil.copytree(run, crossval / "row" / f"fold{k}")
    duke = Path(os.environ.get("OCTSR_DUKE", REPO / ".." / "shared" / "data" / "duke-bioptigen")).resolve()
    partial = work / "duke_part"
    partial.mkdir()
    for subject in ("01", "02", "03"):
        (partial / subject).symlink_to(duke / subject, target_is_directory=True)
    cv = ("octsr.crossval", "bm3d.enabled=false", f"hydra.run.dir={work}/cv")

    # Hostile files and mistakes: identities at every depth, localizers, PACS exports, links
    # that lead nowhere, settings that cannot apply, edited outputs, damaged records.
    from tests.opt_objects import identified_opt, identifying_values

    identified = identified_opt(speckled_volume(rng, 3, (64, 96), np.uint8))
    secrets = identifying_values(identified) | identifying_values(identified.file_meta)
    write(identified, work / "identified.dcm")
    localized, unclear = work / "localized", work / "unclear"
    localized.mkdir(), unclear.mkdir()
    for k in range(4):
        with tifffile.TiffWriter(localized / f"eye{k}.tif") as tif:
            tif.write(rng.integers(0, 256, (96, 96), dtype=np.uint8), photometric="minisblack")  # the localizer
            for bscan in speckled_volume(rng, 3, (64, 128)):
                tif.write(bscan, photometric="minisblack")
    with tifffile.TiffWriter(unclear / "eye0.tif") as tif:
        for shape in ((64, 128), (64, 96), (96, 96), (64, 80)):
            tif.write(rng.integers(0, 256, shape, dtype=np.uint8), photometric="minisblack")
    from pydicom.fileset import FileSet

    cd = FileSet()
    for series in (1, 2):
        ds = opt_dataset(speckled_volume(rng, 3, (64, 96)), complete=True)
        ds.SeriesNumber = series
        cd.add(ds)
    photo = opt_dataset(rng.integers(0, 256, (1, 20, 20), dtype=np.uint8), complete=True,
                        sop_class="1.2.840.10008.5.1.4.1.1.77.1.5.1")
    photo.Modality = "OP"
    cd.add(photo)
    cd.write(work / "cd")
    bare = opt_dataset(speckled_volume(rng, 2, (64, 96)), complete=True)
    del bare.file_meta
    bare.save_as(work / "bare.dcm", implicit_vr=True, little_endian=True, enforce_file_format=False)
    (work / "noise.dcm").write_bytes(rng.bytes(3000))
    looped = work / "looped"
    looped.mkdir()
    cv2.imwrite(str(looped / "good.png"), rng.integers(0, 256, (40, 60), dtype=np.uint8))
    (looped / "loop.png").symlink_to("loop.png")
    tifffile.imwrite(work / "no_spacing.tif", speckled_volume(rng, 3, (64, 96)), photometric="minisblack")
    edited = octsr("octsr.enhance", f"ckpt_path={ckpt}", f"input={scan}", f"output={work}/edited", cwd=work)
    assert edited.returncode == 0, edited.stderr[-2000:]
    cv2.imwrite(str(work / "edited" / "same.png"), np.zeros((40, 60), np.uint8))  # the user's own edit
    not_a_dict = octsr("octsr.enhance", f"ckpt_path={ckpt}", f"input={scan}", f"output={work}/odd_record", cwd=work)
    assert not_a_dict.returncode == 0, not_a_dict.stderr[-2000:]
    (work / "odd_record" / ".octsr-outputs.json").write_text("[]")

    train = ("octsr.train", "debug=tiny", f"paths.log_dir={work}/logs")
    enhance = ("octsr.enhance", f"ckpt_path={ckpt}")
    expect_error: dict[str, tuple[str, ...]] = {
        "optim.lr=abc": (*train, "optim.lr=abc"),
        "optim.lr=-0.001": (*train, "optim.lr=-0.001"),
        "optim.lr=inf": (*train, "optim.lr=inf"),
        "optim.lr=1e30 (diverges)": (*train, "optim.lr=1e30"),
        "seed=abc": (*train, "seed=abc"),
        "data.batch_size=0": (*train, "data.batch_size=0"),
        "data.num_workers=-1": (*train, "data.num_workers=-1"),
        "threads=0": (*train, "threads=0"),
        "trainer.max_epochs=abc": (*train, "trainer.max_epochs=abc"),
        "resume from a weights file": (*train, f"ckpt_path={work}/weights.pt"),
        "resume a finished run": (*train, "trainer.max_epochs=4", f"ckpt_path={ckpt}"),
        "enhance tile=0": (*enhance, f"input={scan}", f"output={work}/o", "tile=0"),
        "enhance tile=abc": (*enhance, f"input={scan}", f"output={work}/o", "tile=abc"),
        "enhance batch_size=0": (*enhance, f"input={scan}", f"output={work}/o", "batch_size=0"),
        "enhance device=tpu": (*enhance, f"input={scan}", f"output={work}/o", "device=tpu"),
        "enhance input=[a,b]": (*enhance, f"input=[{scan},{scan}]", f"output={work}/o"),
        "enhance output= (empty)": (*enhance, f"input={scan}", "output="),
        "enhance without output": (*enhance, f"input={scan}"),
        "enhance output under a file": (*enhance, f"input={scan}", f"output={work}/a_file/out"),
        "enhance unwritable output": (*enhance, f"input={scan}", "output=/proc/octsr-out"),
        "enhance output = input folder": (*enhance, f"input={scans}", f"output={scans}"),
        "enhance through a symlink": (*enhance, f"input={scan}", f"output={work}/linked"),
        "enhance signed 16-bit with negatives": (*enhance, f"input={bad}/negative.tif", f"output={work}/o"),
        "enhance 32-bit integers": (*enhance, f"input={bad}/wide.tif", f"output={work}/o"),
        "enhance bad file, on_error=stop": (*enhance, f"input={bad}", f"output={work}/stop"),
        "enhance bad file, on_error=skip": (*enhance, f"input={bad}", f"output={work}/skip", "on_error=skip"),
        "evaluate bm3d.sigmas=[]": ("octsr.evaluate", "bm3d.sigmas=[]", f"paths.log_dir={work}/logs"),
        "export to a folder": ("octsr.export", f"ckpt_path={ckpt}", f"output={work}"),
        "export format=tflite": ("octsr.export", f"ckpt_path={ckpt}", f"output={work}/m", "format=tflite"),
        "report on a missing folder": ("octsr.report", f"{work}/nowhere"),
        "enhance a gray TIFF whose extra sample has no stated meaning": (*enhance, f"input={work}/extra.tif", f"output={work}/o"),
        "enhance a 1x1-pixel image": (*enhance, f"input={work}/dot.png", f"output={work}/o"),
        "enhance B's test.tif into the folder holding A's result": (*enhance, f"input={work}/B/test.tif", f"output={work}/AB"),
        "enhance a truncated DICOM": (*enhance, f"input={work}/cut.dcm", f"output={work}/o"),
        "enhance a DICOM that is not OCT (CT)": (*enhance, f"input={work}/ct.dcm", f"output={work}/o"),
        "test a checkpoint with another data.input_frames": (*train, "train=false", "data.input_frames=3", f"ckpt_path={ckpt}"),
        "init_from a network the config does not build": (*train, "model=unet", "init_from=fast"),
        "data=volumes of one-B-scan volumes": (*train, "data=volumes", f"data.root={lonely}"),
        "export format=weights over the checkpoint it reads": ("octsr.export", f"ckpt_path={work}/export_me.ckpt", "format=weights", f"output={work}/export_me.ckpt"),
        "crossval row with an impossible override": (*cv, f"data_root={duke}", "~rows", '+rows.bad="optim.lr=-1"'),
        "crossval data root lacking subjects the folds need": (*cv, f"data_root={partial}"),
        "train with a mistyped logger (logger=tensorbord)": (*train, "logger=tensorbord"),
        "export format=onnx under a file": ("octsr.export", f"ckpt_path={ckpt}", "format=onnx", f"output={work}/a_file/m"),
        "enhance again after the user edited the output": (*enhance, f"input={scan}", f"output={work}/edited"),
        "enhance into a folder whose record is JSON but not an object": (*enhance, f"input={scan}", f"output={work}/odd_record"),
        "enhance output_format=dicom for a TIFF that states no spacing": (*enhance, f"input={work}/no_spacing.tif", f"output={work}/o", "output_format=dicom"),
        "enhance anonymize=true where nothing is written as DICOM": (*enhance, f"input={scan}", f"output={work}/o", "anonymize=true"),
        "enhance a .dcm that is no DICOM at all": (*enhance, f"input={work}/noise.dcm", f"output={work}/o"),
        "enhance a folder with a symbolic link loop (the good file is restored)": (*enhance, f"input={looped}", f"output={work}/looped_out"),
        "train init_from=<a run's .hydra/config.yaml>": (*train, f"init_from={runs[0]}/.hydra/config.yaml"),
        "crossval reuse=[a training run, not a crossval run]": (*cv, f"data_root={duke}", f"reuse=[{runs[0]}]"),
        "data=volumes, TIFF pages of four sizes (which are B-scans is unclear)": (*train, "data=volumes", f"data.root={unclear}"),
    }
    expect_success: dict[str, tuple[tuple[str, ...], Callable[[], bool]]] = {
        "enhance same names in two subfolders, mixed-size volume": (
            (*enhance, f"input={scans}", f"output={work}/tree"),
            lambda: sorted(str(p.relative_to(work / "tree")) for p in (work / "tree").rglob("*.*")
                           if not p.name.startswith("."))  # not the record of what made each output
            == ["a/same.png", "b/same.png", "mixed.tif"]
            and [p.shape for p in tifffile.TiffFile(work / "tree" / "mixed.tif").pages]
            == [(40, 60), (30, 50), (40, 60)]),
        "report on a sweep with a failed run": (
            ("octsr.report", str(report_sweep), "panel=false"),
            lambda: "failed: training diverged" in (report_sweep / "report" / "results.md").read_text()),
        "report on a half-written test_metrics.csv": (
            ("octsr.report", str(half), "panel=false"),
            lambda: "incomplete" in (half / "report" / "results.md").read_text()),
        "report on a run without .hydra/hydra.yaml": (
            ("octsr.report", str(nohydra), "panel=false"),
            lambda: "| srcnn |" in (nohydra / "report" / "results.md").read_text()),
        "enhance a gray TIFF with an alpha sample: one B-scan out": (
            (*enhance, f"input={work}/alpha.tif", f"output={work}/alpha_out"),
            lambda: len(tifffile.TiffFile(work / "alpha_out" / "alpha.tif").pages) == 1),
        "enhance a DICOM OPT object: a derived DICOM object": (
            (*enhance, f"input={dicom}", f"output={work}/dicom_out"),
            lambda: (work / "dicom_out" / "scan.dcm").stat().st_size > 0),
        "train on a folder of TIFF and DICOM volumes (data=volumes)": (
            (*train, "data=volumes", f"data.root={volumes}", "data.splits.val=[eye3]", "data.splits.test=[clinic]",
             "data.splits.train=[eye0,eye1,eye2]"),
            lambda: any((work / "logs").rglob("*volumes*/test_metrics.csv"))),
        "enhance anonymize=true: no identifier, date, time or UID of the input anywhere in the output": (
            (*enhance, f"input={work}/identified.dcm", f"output={work}/anonymized", "anonymize=true"),
            lambda: not leaks(work / "anonymized" / "identified.dcm", secrets)),
        "enhance a DICOM without its preamble": (
            (*enhance, f"input={work}/bare.dcm", f"output={work}/bare_out"),
            lambda: (work / "bare_out" / "bare.dcm").stat().st_size > 0),
        "enhance a CD export (DICOMDIR, suffix-less files): the OCT objects, not the photo": (
            (*enhance, f"input={work}/cd", f"output={work}/cd_out"),
            lambda: len(list((work / "cd_out").rglob("IM*.dcm"))) == 2),
        "data=volumes, a localizer page first in each TIFF: left out, B-scans paired": (
            ("octsr.train", "debug=tiny", f"paths.log_dir={work}/logs_localized", "data=volumes",
             f"data.root={localized}", "data.splits.train=[eye0,eye1]", "data.splits.val=[eye2]",
             "data.splits.test=[eye3]"),
            lambda: any((work / "logs_localized").rglob("test_metrics.csv"))),
        "report on a crossval folder lists its fold runs": (
            ("octsr.report", str(crossval), "panel=false"),
            lambda: (crossval / "report" / "results.md").read_text().count("row/fold") == len(runs)),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        errors = dict(zip(expect_error, pool.map(lambda a: octsr(*a, cwd=work), expect_error.values())))
        successes = dict(zip(expect_success, pool.map(lambda a: octsr(*a[0], cwd=work), expect_success.values())))

    rows = []
    for case, done in errors.items():
        ok, line = one_line(done)
        rows.append((case, done.returncode, ok, line))
    for case, done in successes.items():
        ok = done.returncode == 0 and expect_success[case][1]()
        rows.append((case, done.returncode, ok, "(succeeded)" if ok else done.stderr.strip()[-200:]))
    last = torch.load(ckpt, weights_only=True)
    rows.append(("4-epoch run: last.ckpt holds epoch 3 (best kept by mode=min is older)", 0,
                 last["epoch"] == 3 and finite(ckpt), f"last.ckpt epoch {last['epoch']}"))
    diverged = sorted((work / "logs").rglob("*.ckpt"))
    rows.append(("optim.lr=1e30: no checkpoint written from NaN weights", 0,
                 all(finite(p) for p in diverged), f"{len(diverged)} checkpoint(s) in the logs, all finite"))
    precious = (work / "precious.png").read_bytes() == b"keep"
    rows.append(("file behind the symlink untouched", 0, precious, "untouched" if precious else "OVERWRITTEN"))
    rows.append(("sweep with a diverging run finished", sweep.returncode, sweep.returncode == 0, ""))
    kept = cv2.imread(str(work / "edited" / "same.png"), cv2.IMREAD_UNCHANGED)
    rows.append(("the user's edited output kept", 0, kept is not None and not kept.any(),
                 "kept" if kept is not None and not kept.any() else "REPLACED"))
    restored = (work / "looped_out" / "good.png").is_file()
    rows.append(("the good file beside a link loop restored", 0, restored, "restored" if restored else "NOT restored"))
    rows.append(ctrl_c(work, ckpt, rng))

    passed = sum(r[2] for r in rows)
    lines = [
        "# Fault probe",
        "",
        f"`python -m experiments.bad_inputs.probe`, {time.strftime('%Y-%m-%d')}, {platform.platform()}, "
        f"torch {torch.__version__}, Python {platform.python_version()}.",
        "",
        f"**{passed} of {len(rows)} cases pass**: exit 2 with one `octsr: error:` line and no traceback, "
        "or success with nothing lost.",
        "",
        "| case | exit | pass | what the user sees |",
        "| --- | --- | --- | --- |",
    ]
    for case, rc, ok, line in rows:
        line = line.replace("|", "\\|").replace(str(work), "<tmp>")
        lines.append(f"| {case} | {rc} | {'yes' if ok else '**no**'} | {line} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
