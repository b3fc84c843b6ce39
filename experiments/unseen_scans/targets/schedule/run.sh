#!/usr/bin/env bash
# The schedule lever towards the single-frame targets, on the shipped recipe: experiment=unet_registered
# trained twice as long (9,000 steps, the cosine schedule stretched with it) on the same 3 folds.
# BM3D's outputs and the 4,500-step fold runs are reused from experiments/unseen_scans/edges and
# experiments/unseen_scans/targets where those folders exist.
# Run from anywhere: bash experiments/unseen_scans/targets/schedule/run.sh   (about 70 min on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../../.."
run=logs/crossval/schedule
mkdir -p "$run"
[ -d logs/crossval/edges/bm3d ] && [ ! -e "$run/bm3d" ] && ln -s "$(readlink -f logs/crossval/edges/bm3d)" "$run/bm3d"
[ -d logs/crossval/targets/unet_n2n_registered ] && [ ! -e "$run/unet_registered" ] && \
    ln -s "$(readlink -f logs/crossval/targets/unet_n2n_registered)" "$run/unet_registered"
python -m octsr.crossval hydra.run.dir="$run" '~rows' \
    '+rows={unet_registered: "experiment=unet_n2n data.train_target=registered_frame", unet_registered_9k: "experiment=unet_registered trainer.max_steps=9000"}'
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/unseen_scans/targets/schedule/
