"""The record of what made each output (`.octsr-outputs.json` and its journal): an output
changed since octsr wrote it is kept, a killed run still vouches for what it finished, and a
record that is not what octsr writes vouches for nothing, without a traceback."""

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from octsr.utils.provenance import JOURNAL_NAME, RECORD_NAME, OutputRecord
from tests.conftest import REPO, run_cli, run_cli_batch


def enhance(scan, out, *more):
    return ("octsr.enhance", f"input={scan}", f"output={out}", "weights=fast", *more)


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("octsr: error:") and "Traceback" not in result.stderr
    return lines[0]


@pytest.fixture
def scans(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "scans"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(folder / name), rng.integers(0, 256, (64, 96), dtype=np.uint8))
    return folder


def test_an_output_edited_since_is_kept_until_overwrite(scans, tmp_path):
    """Enhance, rerun (allowed: the output is as octsr wrote it), edit the output in another
    program, rerun: the edit is kept and the run stops in one line; overwrite=true replaces."""
    out = tmp_path / "out"
    first, again = run_cli_batch([enhance(scans / "a.png", out), enhance(scans / "a.png", out)])
    assert first.returncode == 0 and again.returncode == 0, again.stderr[-2000:]
    made = (out / "a.png").read_bytes()
    edited = cv2.imread(str(out / "a.png"), cv2.IMREAD_UNCHANGED)
    edited[10:20, 10:20] = 255
    cv2.imwrite(str(out / "a.png"), edited)
    stat = (out / "a.png").stat()
    os.utime(out / "a.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # saved a second later
    edited_bytes = (out / "a.png").read_bytes()

    kept, forced, rerun = run_cli_batch([enhance(scans / "a.png", out), enhance(scans / "a.png", out, "overwrite=true"),
                                         enhance(scans / "a.png", out)])
    line = one_error_line(kept)
    assert f"{out / 'a.png'} already exists" in line and "overwrite=true" in line
    assert forced.returncode == 0 and rerun.returncode == 0, forced.stderr[-2000:] + rerun.stderr[-2000:]
    assert (out / "a.png").read_bytes() == made != edited_bytes


def test_an_output_changed_only_in_size_or_time_is_kept(scans, tmp_path):
    out = tmp_path / "out"
    assert run_cli("octsr.enhance", *enhance(scans, out)[1:]).returncode == 0
    stat = (out / "a.png").stat()
    os.utime(out / "a.png", ns=(stat.st_atime_ns, stat.st_mtime_ns - 1))  # touched back: same size
    stat = (out / "b.png").stat()
    with (out / "b.png").open("ab") as file:  # grown, its time put back
        file.write(b"\0")
    os.utime(out / "b.png", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    line = one_error_line(run_cli("octsr.enhance", *enhance(scans, out)[1:]))
    assert "already exist" in line and "and 1 more" in line


NOT_OCTSRS = {"list": "[]", "string": '"x"', "number": "3", "null": "null", "entry not an object": '{"a.png": 3}',
              "not JSON": "not json", "cut short": '{"a.png": {"inp'}


def test_a_record_that_is_not_octsrs_vouches_for_nothing(scans, tmp_path):
    """A record that is not JSON, not an object, or holds an entry that is not one; an entry
    of the older format, without the output's own size and time (it cannot tell an edited
    output from octsr's); a journal of junk lines: each vouches for nothing, so the output
    is kept and the run stops in one line; overwrite=true writes a record octsr can read."""
    folders = {name: tmp_path / name.replace(" ", "_") for name in [*NOT_OCTSRS, "older format", "junk journal"]}
    made = run_cli_batch([enhance(scans / "a.png", out) for out in folders.values()])
    assert all(result.returncode == 0 for result in made), made[0].stderr[-2000:]
    for name, record in NOT_OCTSRS.items():
        (folders[name] / RECORD_NAME).write_text(record)
    older = folders["older format"] / RECORD_NAME
    older.write_text(json.dumps({name: {k: v for k, v in entry.items() if not k.startswith("output_")}
                                 for name, entry in json.loads(older.read_text()).items()}))
    junk = folders["junk journal"]
    (junk / RECORD_NAME).unlink()
    (junk / JOURNAL_NAME).write_text('[]\n3\n{"output": "a.png", "entry": 3}\n{"output": 1, "entry": {}}\n\0\xff\n{')
    results = run_cli_batch([enhance(scans / "a.png", out) for out in folders.values()]
                            + [enhance(scans / "a.png", out, "overwrite=true") for out in folders.values()])
    for (name, out), kept, forced in zip(folders.items(), results[:len(folders)], results[len(folders):]):
        assert "a.png already exists" in one_error_line(kept), name
        assert forced.returncode == 0, forced.stderr[-2000:]
        entries = json.loads((out / RECORD_NAME).read_text())
        assert set(entries) == {"a.png"} and entries["a.png"]["output_size"] == (out / "a.png").stat().st_size, name


def test_a_killed_run_still_vouches_for_what_it_finished(scans, tmp_path):
    """A run killed after recording a.png and while recording b.png (the journal's last line
    cut short): a.png may be rewritten, b.png is kept; a run that finishes folds the journal
    into the record and removes it."""
    out = tmp_path / "out"
    assert run_cli("octsr.enhance", *enhance(scans, out)[1:]).returncode == 0
    digest = json.loads((out / RECORD_NAME).read_text())["a.png"]["settings"]
    (out / RECORD_NAME).unlink()
    killed = subprocess.run([sys.executable, "-c", f"""
import os, signal
from pathlib import Path
from octsr.utils.provenance import OutputRecord
record = OutputRecord(Path({str(out)!r}))
for name in ("a.png", "b.png"):
    record.add(Path({str(scans)!r}) / name, Path({str(out)!r}) / name, {digest!r})
os.kill(os.getpid(), signal.SIGKILL)
"""], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr[-2000:]
    journal = (out / JOURNAL_NAME).read_bytes()
    assert journal.count(b"\n") == 2 and not (out / RECORD_NAME).exists()
    (out / JOURNAL_NAME).write_bytes(journal[:-25])  # killed while writing b.png's line

    line = one_error_line(run_cli("octsr.enhance", *enhance(scans, out)[1:]))
    assert f"{out / 'b.png'} already exists" in line and "more" not in line
    (out / "b.png").unlink()  # the user's choice: b.png is made again
    again = run_cli("octsr.enhance", *enhance(scans, out)[1:])
    assert again.returncode == 0, again.stderr[-2000:]
    assert not (out / JOURNAL_NAME).exists()
    entries = json.loads((out / RECORD_NAME).read_text())
    assert set(entries) == {"a.png", "b.png"}
    for name, entry in entries.items():
        assert entry["output_size"] == (out / name).stat().st_size
        assert entry["output_mtime_ns"] == (out / name).stat().st_mtime_ns


def test_the_journal_is_appended_once_per_output_and_folded_once(tmp_path):
    """In one process: each add is one journal line, readable by another reader at once; a
    line cut short stays its own line when more are appended; save folds and removes it."""
    source = tmp_path / "scan.png"
    source.write_bytes(b"scan")
    outputs = [tmp_path / f"{i}.png" for i in range(5)]
    for output in outputs:
        output.write_bytes(b"out")
    (tmp_path / JOURNAL_NAME).write_text('{"output": "0.png", "entry": {"in')  # a killed run's last line
    with OutputRecord(tmp_path) as record:
        for output in outputs:
            record.add(source, output, "digest")
            assert OutputRecord(tmp_path).made_from(output, source, "digest")  # no save needed
        assert not (tmp_path / RECORD_NAME).exists()
        lines = (tmp_path / JOURNAL_NAME).read_text().splitlines()
        assert len(lines) == 6 and all(json.loads(line)["output"] == f"{i}.png" for i, line in enumerate(lines[1:]))
    assert not (tmp_path / JOURNAL_NAME).exists()
    assert set(json.loads((tmp_path / RECORD_NAME).read_text())) == {f"{i}.png" for i in range(5)}
    reread = OutputRecord(tmp_path)
    assert all(reread.made_from(output, source, "digest") for output in outputs)
    assert not reread.made_from(outputs[0], source, "other settings")
