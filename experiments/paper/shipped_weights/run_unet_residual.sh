#!/usr/bin/env bash
# The weights shipped in octsr/weights/duke_unet_residual.pt (`weights=quality`, run with
# test-time flips and turns): the recipe of run_unet.sh (experiment=unet_registered) with
# residual learning (model.residual=true), on all 12 Duke subjects; validated on 07 and 08
# (also trained on, so that score is optimistic).
# Run from anywhere: bash experiments/paper/shipped_weights/run_unet_residual.sh   (about 8 min with THREADS=2 on the 2-core CPU)
set -euo pipefail
EXPERIMENT=shipped_unet_residual WEIGHTS_FILE=duke_unet_residual.pt exec bash "$(dirname "$0")/run_unet.sh"
