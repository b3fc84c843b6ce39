#!/usr/bin/env bash
# The weights shipped in octsr/weights/duke_unet.pt (`weights=best`): the U-Net recipe that
# experiments/quality cross-validated (experiment=unet_quality: 274 k weights, 64x64 patches
# of whole scans, MSE, Adam 0.001 cosine-decayed over 4,500 steps, EMA, input-mean matching),
# trained on all 12 Duke subjects; validated on 07 and 08 (also trained on, so that score is
# optimistic; with EMA and a cosine schedule the last validation is kept as the best).
# Run from anywhere: bash experiments/shipped_weights/run_unet.sh   (about 12 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
run=logs/experiments/shipped_unet
python -m octsr.train data=duke experiment=unet_quality \
    "data.splits.train=['01','02','03','04','05','06','07','08','09','10','11','12']" \
    "data.splits.val=['07','08']" "data.splits.test=[]" test=false hydra.run.dir="$run"
python -m octsr.export "ckpt_path=$(ls -t "$run"/checkpoints/epoch*.ckpt | head -1)" \
    format=weights output=octsr/weights/duke_unet.pt
