"""Speed and memory of octsr on this machine, each row against a reference measured in the
same run (timings on shared machines drift; the ratios are the claims).

    python experiments/speed/bench.py            # quick mode (make bench): about 5 minutes
    python experiments/speed/bench.py --full     # the committed table: longer runs, 1,100 pairs
    python experiments/speed/bench.py --tiny     # seconds; what the test suite runs

Writes results.md and results.csv to --out (default: this folder in --full mode, else
logs/bench/). One file per section, each measuring against its own reference:
section_train.py (the project's training step vs a bare PyTorch loop, its precision, and
the fixed cost per step, part by part), section_data.py (peak RSS of the default run,
scaling with the number of pairs), section_sweep.py (1 worker x 2 threads vs 2 workers x 1
thread), section_inference.py (ms and GFLOP/s per 450x900 B-scan in each precision, enhance
vs BM3D, a long volume, the output record's cost per output), section_gpu.py (where there
is one: the paper-protocol epoch and B-scans per second in each precision);
bench_common.py holds the modes, the table and the clocks they share.
"""

from __future__ import annotations

import argparse
import datetime
import shutil
import tempfile
import time
from pathlib import Path

from octsr.utils.machine import machine

from bench_common import MODES, REPO, StepClock, Table  # noqa: F401  (StepClock: see below)
from section_data import bench_memory
from section_gpu import bench_gpu
from section_inference import bench_inference, bench_output_record, bench_volume
from section_sweep import bench_sweep
from section_train import bench_overhead, bench_train, bench_train_precision, plain_loop, precut_datamodule  # noqa: F401

# Each section's name on the command line -> what it measures, in order.
SECTIONS = {"train": (bench_train, bench_train_precision), "overhead": (bench_overhead,), "memory": (bench_memory,),
            "sweep": (bench_sweep,), "inference": (bench_inference,), "volume": (bench_volume,),
            "record": (bench_output_record,), "gpu": (bench_gpu,)}

# The timed runs name their clock and pre-cut DataModule as this script's (`__main__.StepClock`),
# so that profile_overhead.py, run as the main script, puts its profiling clock in their place.


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--full", action="store_true", help="the committed table (about 30 minutes)")
    group.add_argument("--tiny", action="store_true", help="seconds; for the test suite")
    group.add_argument("--plain-loop", nargs=3, type=int, metavar=("WARMUP", "STEPS", "BATCH"), help=argparse.SUPPRESS)
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated: {', '.join(SECTIONS)}")
    parser.add_argument("--out", type=Path, help="where results.md/.csv go (default: experiments/speed "
                        "with --full, else logs/bench)")
    args = parser.parse_args()
    if args.plain_loop:
        return plain_loop(*args.plain_loop)
    mode = MODES["full" if args.full else "tiny" if args.tiny else "quick"]
    out = args.out or (REPO / "experiments" / "speed" if args.full else REPO / "logs" / "bench")
    # The runs themselves are throwaway: only the table is kept.
    work = Path(tempfile.mkdtemp(prefix="octsr-bench-runs-"))
    table = Table()
    start = time.perf_counter()
    sections = args.sections.split(",")
    print(f"octsr bench, {mode.name} mode, on {machine()}", flush=True)
    for name, measures in SECTIONS.items():
        if name in sections:
            for measure in measures:
                measure(table, mode, work)
    header = (f"# octsr bench ({mode.name} mode)\n\nMachine: {machine()}.  \n"
              f"Date: {datetime.date.today()}; total {time.perf_counter() - start:.0f} s.  \n"
              f"Command: `python experiments/speed/bench.py{' --full' if args.full else ' --tiny' if args.tiny else ''}"
              f"{'' if args.sections == parser.get_default('sections') else ' --sections ' + args.sections}`")
    table.write(out, header)
    shutil.rmtree(work, ignore_errors=True)
    print("\n" + (out / "results.md").read_text() + f"\n-> {out / 'results.md'}")


if __name__ == "__main__":
    main()
