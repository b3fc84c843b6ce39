#!/usr/bin/env bash
# The cross-validation table of experiments/unseen_scans: subject-wise 3-fold CV over
# the 12 Duke subjects, 2 runs at a time with 1 thread each, then the figure.
# Run from anywhere: bash experiments/unseen_scans/run.sh   (about 60 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
run=logs/crossval/quality
python -m octsr.crossval hydra.run.dir="$run"
python -m octsr.crossval hydra.run.dir="$run" '+rows.unet_frames="experiment=unet_quality data.frames=all"' \
    '+rows.unet_stack5="experiment=unet_quality data.input_frames=5"'
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/unseen_scans/
python experiments/unseen_scans/figure.py "$run" --subject 10 --rows srcnn unet unet_n2n --out experiments/unseen_scans/figure.png
