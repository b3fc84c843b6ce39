#!/usr/bin/env bash
# SRCNN and CAE at learning rate 0.0002 on the Duke subjects with the paper's protocol
# (6 train / 2 val / 4 test subjects, 600 train crops, 117,600 patches), one epoch each,
# then the table in results.md / results.csv, read back from what the runs wrote.
# Run from anywhere: bash experiments/paper/duke_lr0.0002/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=logs/experiments/duke_lr0.0002
python -m octsr.train experiment=paper_sweep optim.lr=0.0002 hydra.sweep.dir="$out"   # runs cae_lr0.0002, srcnn_lr0.0002
python -m octsr.report "$out" out=experiments/paper/duke_lr0.0002
