#!/usr/bin/env bash
# Edge fidelity, towards the single-frame targets, on the same 3 folds as experiments/unseen_scans. Every row
# scored by PSNR, SSIM, GMSD and the edge preservation index, and again with test-time flips
# and turns (tta); one row per lever. The unet_n2n row (the shipped recipe) reuses the fold
# runs of experiments/scanners (run_target_free.sh) where that folder exists.
# Run from anywhere: bash experiments/unseen_scans/edges/run.sh   (about 80 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../.."
run=logs/crossval/edges
mkdir -p "$run"
if [ -d logs/crossval/scanners/unet_n2n ] && [ ! -e "$run/unet_n2n" ]; then
    ln -s "$PWD/logs/crossval/scanners/unet_n2n" "$run/unet_n2n"
fi
python -m octsr.crossval hydra.run.dir="$run" tta=true '~rows' \
    '+rows={srcnn: "model=srcnn optim.lr=0.0006", unet_n2n: "experiment=unet_n2n", unet_n2n_residual: "experiment=unet_n2n model.residual=true", unet_n2n_gradient: "experiment=unet_n2n loss=mse_gradient"}'
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/unseen_scans/edges/
