#!/usr/bin/env bash
# The GPU probe of experiments/quality (issue 8): does 16x the compute lift the Noise2Noise
# U-Net towards the targets? The shipped recipe (unet_n2n) and a 4x wider one at twice the
# batch, both on the same three folds, six runs at once on one GPU, each cut at 3.5 min.
# No BM3D row: it is the CPU table's (same folds, same scans). Ran on one NVIDIA H200 in about 4 min.
#   bash experiments/quality/gpu_probe/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
run=logs/crossval/gpu_probe
python -m octsr.crossval hydra.run.dir="$run" bm3d.enabled=false jobs=6 \
    'train_overrides="++trainer.max_time=00:00:03:30"' '~rows' \
    '+rows={unet_n2n: "experiment=unet_n2n", unet_n2n_w24: "experiment=unet_n2n model.net.width=24 data.batch_size=32 trainer.max_steps=12000"}'
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/quality/gpu_probe/
