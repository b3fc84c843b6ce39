#!/usr/bin/env bash
# The paper's experiment on the Duke subjects: CAE and SRCNN at learning rates
# 0.0002 ... 0.0006 (10 runs), each one epoch of the paper's protocol (6 train subjects ->
# 600 crops -> 117,600 patches of 41x41, batch 128, 919 steps), validated on 2 subjects
# (10 images), tested on 4; then the report (table, plots, panel) from what the runs wrote.
# Run from anywhere: bash experiments/paper/lr_sweep/run.sh   (about an hour on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../.."
sweep=logs/experiments/lr_sweep
python -m octsr.train experiment=paper_sweep hydra.sweep.dir="$sweep"   # = -m +sweep=lr model=cae,srcnn data=duke
python -m octsr.report "$sweep" out=experiments/paper/lr_sweep
