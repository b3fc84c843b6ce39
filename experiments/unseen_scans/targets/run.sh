#!/usr/bin/env bash
# The sharper-targets lever towards the single-frame targets: the shipped recipe (experiment=unet_n2n)
# trained with each frame's Noise2Noise target chosen by similarity (nearest_frame) and also
# registered column by column onto the input (registered_frame), on the same 3 folds as
# experiments/unseen_scans/edges. BM3D's outputs and the unet_n2n fold runs are reused from
# the edges run where that folder exists (the same folds, seeds and code).
# Run from anywhere: bash experiments/unseen_scans/targets/run.sh   (about 70 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../.."
run=logs/crossval/targets
reuse=$(for d in logs/crossval/edges; do [ -d "$d" ] && printf '%s,' "$d"; done)
python -m octsr.crossval hydra.run.dir="$run" reuse="[${reuse%,}]" '~rows' \
    '+rows={unet_n2n: "experiment=unet_n2n", unet_n2n_nearest: "experiment=unet_n2n data.train_target=nearest_frame", unet_n2n_registered: "experiment=unet_n2n data.train_target=registered_frame"}'
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/unseen_scans/targets/
