#!/usr/bin/env bash
# The weights shipped in octsr/weights/duke_srcnn.pt: SRCNN trained on all 12 Duke subjects
# (the paper's protocol: 20 crops x 5 variants per scan -> 1,200 images, 235,200 patches an
# epoch), lr 0.0006, 1 epoch (1,838 steps), best checkpoint by PSNR on subjects 07 and 08 (which are
# also trained on, so that score is optimistic), then stored without optimizer state.
# Run from anywhere: bash experiments/paper/shipped_weights/run.sh   (about 15 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../.."
run=logs/experiments/shipped_weights
python -m octsr.train experiment=shipped_srcnn hydra.run.dir="$run"   # conf/experiment/shipped_srcnn.yaml
python -m octsr.export "ckpt_path=$(ls "$run"/checkpoints/epoch*.ckpt | tail -1)" \
    format=weights output=octsr/weights/duke_srcnn.pt
