#!/usr/bin/env bash
# Towards the single-frame targets: losses that weigh edges, on the teacher's clean targets. With noisy
# Noise2Noise targets an L1-type loss learns the speckle's median (too dark) and a gradient
# term learns the speckle's gradients (experiments/unseen_scans/edges); the teacher's outputs have
# neither, so both are tried again here, on the distilled student of ../run.sh: loss=ssim_l1
# (0.84 (1 - SSIM) + 0.16 L1) and loss=mse_gradient (MSE + MSE of the pixel differences).
# Same 3 folds; BM3D, the shipped recipe and the plain student are reused from ../run.sh's
# folder (reuse=), so only the two new rows train.
#   bash experiments/unseen_scans/teacher/losses/run.sh     (about 45 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../../.."
DUKE=${DUKE:-../shared/data/duke-bioptigen}
targets=logs/teacher/targets
run=logs/crossval/teacher_losses
[ -f "$targets/fold2/.done" ] || { echo "run experiments/unseen_scans/teacher/run.sh first (the teachers' outputs)"; exit 2; }
teacher="data.train_target=teacher data.teacher_dir=$targets/fold{fold}"
python -m octsr.crossval hydra.run.dir="$run" data_root="$DUKE" tta=true reuse="[logs/crossval/teacher]" '~rows' \
    "+rows={unet_n2n_registered: \"experiment=unet_n2n data.train_target=registered_frame\", distilled: \"experiment=unet_registered $teacher\", distilled_ssim_l1: \"experiment=unet_registered $teacher loss=ssim_l1\", distilled_gradient: \"experiment=unet_registered $teacher loss=mse_gradient\"}"
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/unseen_scans/teacher/losses/
