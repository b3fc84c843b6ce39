"""The benchmark script runs end to end on tiny inputs (no timing is asserted: timings
belong in experiments/speed/results.md, not in tests)."""

import csv
import sys

from tests.conftest import REPO


def test_bench_tiny_writes_every_section(tmp_path):
    import subprocess

    result = subprocess.run([sys.executable, str(REPO / "experiments" / "speed" / "bench.py"), "--tiny",
                             "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with (tmp_path / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    sections = {row["section"] for row in rows}
    assert sections == {"1 train", "2 data", "3 sweep", "4 inference", "5 gpu"}
    measured = [row for row in rows if row["ratio"]]
    assert len(measured) >= 10 and all(float(row["ratio"]) > 0 for row in measured)
    measures = [row["measure"] for row in rows]
    fixed_cost = [m for m in measures if "fixed cost per step" in m]
    # Fed by the loader: the project's step and 3 ablations; on pre-cut batches: the two ends.
    assert len(fixed_cost) == 6 and sum("pre-cut batches" in m for m in fixed_cost) == 2
    assert any("in bfloat16" in m and "weights=best" in m for m in measures)
    assert any("training step" in m and "bf16-mixed" in m for m in measures)
    assert sum(m.startswith("octsr.enhance, shipped default weights, precision=") for m in measures) == 2
    assert any(m.startswith("octsr.enhance weights=quality") for m in measures)
    assert any("time per B-scan (read, restore, write" in m for m in measures)
    markdown = (tmp_path / "results.md").read_text()
    assert "Machine:" in markdown and "| 1 train |" in markdown


def test_profile_overhead_tiny_writes_both_profiles(tmp_path):
    import subprocess

    result = subprocess.run([sys.executable, str(REPO / "experiments" / "speed" / "profile_overhead.py"), "--tiny",
                             "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = (tmp_path / "profile_overhead.md").read_text()
    assert "Machine:" in text and text.count("ms per step under the profiler") == 2
    steps = [float(line.rsplit("|", 2)[1]) for line in text.splitlines()
             if line.startswith("| one whole step")]
    assert len(steps) == 2 and all(ms > 0 for ms in steps)
    assert "| callback hooks (all callbacks, every hook) |" in text
