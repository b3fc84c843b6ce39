#!/usr/bin/env bash
# The GPU probes of experiments/unseen_scans, on the same three folds as the CPU table,
# with no BM3D row (the CPU table's, same folds, same scans); one NVIDIA H200:
# 1. does 16x the compute lift the Noise2Noise U-Net towards the targets? The shipped recipe
#    (unet_n2n) and a 4x wider one at twice the batch, six runs at once, each cut at 3.5 min
#    (about 4 min);
# 2. the model and loss options not cross-validated on the CPU, each on the shipped recipe:
#    DnCNN (at the recipe's width 12), residual learning, Charbonnier and SSIM+L1 losses;
#    twelve runs at once (about 4 min).
#   bash experiments/unseen_scans/gpu_probe/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
run=logs/crossval/gpu_probe
python -m octsr.crossval hydra.run.dir="$run" bm3d.enabled=false jobs=6 \
    'train_overrides="++trainer.max_time=00:00:03:30"' '~rows' \
    '+rows={unet_n2n: "experiment=unet_n2n", unet_n2n_w24: "experiment=unet_n2n model.net.width=24 data.batch_size=32 trainer.max_steps=12000"}'
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/unseen_scans/gpu_probe/
options=logs/crossval/gpu_probe_options
python -m octsr.crossval hydra.run.dir="$options" bm3d.enabled=false jobs=12 \
    'train_overrides="++trainer.max_time=00:00:03:20"' '~rows' \
    '+rows={dncnn_n2n: "experiment=unet_n2n model=dncnn", unet_n2n_residual: "experiment=unet_n2n model.residual=true", unet_n2n_charbonnier: "experiment=unet_n2n loss=charbonnier", unet_n2n_ssim_l1: "experiment=unet_n2n loss=ssim_l1"}'
for f in crossval.md crossval.csv per_image.csv; do cp "$options/$f" "experiments/unseen_scans/gpu_probe/options_$f"; done
