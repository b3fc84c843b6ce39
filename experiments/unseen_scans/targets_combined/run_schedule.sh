#!/usr/bin/env bash
# Towards the single-frame targets: the residual recipe behind weights=quality trained twice as long
# (trainer.max_steps=9000; 9,000 steps gave the plain registered recipe +0.08 dB in
# ../schedule), on the same 3 folds, every row also scored with test-time flips and turns.
# The 4,500-step rows and the plain 9,000-step row are reused from the combined and
# schedule runs where those folders exist (same folds, seeds and code).
# Run from anywhere: bash experiments/unseen_scans/targets_combined/run_schedule.sh   (about 60 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../.."
run=logs/crossval/combined_schedule
reuse=$(for d in logs/crossval/edges logs/crossval/schedule logs/crossval/combined; do [ -d "$d" ] && printf '%s,' "$d"; done)
python -m octsr.crossval hydra.run.dir="$run" tta=true reuse="[${reuse%,}]" '~rows' \
    '+rows={unet_registered: "experiment=unet_n2n data.train_target=registered_frame", unet_registered_9k: "experiment=unet_registered trainer.max_steps=9000", unet_registered_residual: "experiment=unet_registered model.residual=true", unet_registered_residual_9k: "experiment=unet_registered model.residual=true trainer.max_steps=9000"}'
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/unseen_scans/targets_combined/schedule/
