#!/usr/bin/env bash
# The U-Net under the paper's split (train 01-06, val 07-08, test 09-12: test subjects never
# seen), trained as the shipped weights are: 128x128 patches at stride 99 (4 per 227 crop),
# batch 16, Adam lr 0.001 decayed to 0 by a cosine schedule, 12 epochs; the best-val checkpoint
# is tested. Then the table.
# Run from anywhere: bash experiments/unseen_scans/unet_heldout/run.sh   (about 15 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=logs/experiments/unet_heldout
python -m octsr.train experiment=unet_heldout hydra.run.dir="$out/unet"   # conf/experiment/unet_heldout.yaml
python -m octsr.report "$out" out=experiments/unseen_scans/unet_heldout panel=false
