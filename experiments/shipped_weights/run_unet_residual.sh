#!/usr/bin/env bash
# The weights shipped in octsr/weights/duke_unet_residual.pt (`weights=quality`, run with
# test-time flips and turns): the recipe of run_unet.sh (experiment=unet_registered) with
# residual learning (model.residual=true), on all 12 Duke subjects; validated on 07 and 08
# (also trained on, so that score is optimistic).
# Run from anywhere: bash experiments/shipped_weights/run_unet_residual.sh   (about 8 min with THREADS=2 on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../.."
run=logs/experiments/shipped_unet_residual
python -m octsr.train experiment=shipped_unet_residual threads="${THREADS:-1}" hydra.run.dir="$run"   # conf/experiment/shipped_unet_residual.yaml
python -m octsr.export "ckpt_path=$(ls -t "$run"/checkpoints/epoch*.ckpt | head -1)" \
    format=weights output=octsr/weights/duke_unet_residual.pt overwrite=true
