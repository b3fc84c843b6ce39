#!/usr/bin/env bash
# Towards the single-frame targets: the shipped recipe (experiment=unet_registered) combined with the two
# levers still open on it, on the same 3 folds as experiments/unseen_scans/targets: residual
# learning (model.residual=true; +0.14 dB on unet_n2n in experiments/unseen_scans/edges) and a
# wider network (model.net.width=16, 1.8x the arithmetic of width 12). Every row is also
# scored with test-time flips and turns (tta). BM3D's outputs and the unet_n2n_registered
# fold runs are reused from the targets run where that folder exists (same folds, seeds, code).
# Run from anywhere: bash experiments/unseen_scans/targets_combined/run.sh   (about 50 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../.."
run=logs/crossval/combined
reuse=$(for d in logs/crossval/targets; do [ -d "$d" ] && printf '%s,' "$d"; done)
python -m octsr.crossval hydra.run.dir="$run" tta=true reuse="[${reuse%,}]" '~rows' \
    '+rows={unet_n2n_registered: "experiment=unet_n2n data.train_target=registered_frame", unet_registered_residual: "experiment=unet_registered model.residual=true", unet_registered_width16: "experiment=unet_registered model.net.width=16"}'
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/unseen_scans/targets_combined/
