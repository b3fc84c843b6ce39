#!/usr/bin/env bash
# The U-Net under the paper's split (train 01-06, val 07-08, test 09-12: test subjects never
# seen), trained as the shipped weights are: 128x128 patches at stride 99 (4 per 227 crop),
# batch 16, Adam lr 0.001 decayed to 0 by a cosine schedule, 12 epochs; the best-val checkpoint
# is tested. Then the table.
# Run from anywhere: bash experiments/unet_heldout/run.sh   (about 15 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=logs/experiments/unet_heldout
python -m octsr.train data=duke model=unet model.net.width=16 optim.lr=0.001 scheduler=cosine trainer.max_epochs=12 \
    data.protocol.patch_size=128 data.protocol.patch_stride=99 data.batch_size=16 \
    hydra.run.dir="$out/unet"
python -m octsr.report "$out" --out experiments/unet_heldout --no-panel
