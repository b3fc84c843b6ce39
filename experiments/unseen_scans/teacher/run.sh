#!/usr/bin/env bash
# Knowledge distillation on the CPU, towards the single-frame targets: the teacher is the weights=quality
# recipe (residual U-Net, experiment=unet_registered model.residual=true) run with test-time
# flips and turns, 8 passes per B-scan; a student of the shipped size and speed (one pass)
# learns each noisy frame's teacher output instead of another noisy frame
# (data.train_target=teacher). Same 3 folds as experiments/unseen_scans/targets: each fold's teacher
# is that fold's run in experiments/unseen_scans/targets_combined (logs/crossval/combined, whose
# BM3D and shipped-recipe folds this reuses: reuse=), so no test subject is ever taught.
#   bash experiments/unseen_scans/teacher/run.sh     (about 50 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../../.."
DUKE=${DUKE:-../shared/data/duke-bioptigen}
combined=logs/crossval/combined
targets=logs/teacher/targets   # relative: octsr.train runs from here too
run=logs/crossval/teacher
[ -d "$combined/unet_registered_residual" ] || { echo "run experiments/unseen_scans/targets_combined/run.sh first (the teachers)"; exit 2; }
mkdir -p "$targets"
for k in 0 1 2; do
    out="$targets/fold$k"
    [ -f "$out/.done" ] && continue
    result="$combined/unet_registered_residual/fold$k/fold_result.json"
    ckpt=$(python -c "import json; print(json.load(open('$result'))['checkpoint'])")
    for subject in $(python -c "import json; print(' '.join(json.load(open('$result'))['splits']['train']))"); do
        python -m octsr.enhance input="$DUKE/$subject" output="$out/$subject" ckpt_path="$ckpt" tta=true precision=fp32 \
            >"$out.log" 2>&1
        rm -f "$out/$subject/average.tif"   # a target, not an input the student trains on
    done
    touch "$out/.done"
    rm -f "$out.log"
    echo "fold $k: teacher outputs in $out"
done
python -m octsr.crossval hydra.run.dir="$run" data_root="$DUKE" tta=true reuse="[$combined]" '~rows' \
    "+rows={unet_n2n_registered: \"experiment=unet_n2n data.train_target=registered_frame\", unet_registered_residual: \"experiment=unet_registered model.residual=true\", distilled: \"experiment=unet_registered data.train_target=teacher data.teacher_dir=$targets/fold{fold}\", distilled_residual: \"experiment=unet_registered model.residual=true data.train_target=teacher data.teacher_dir=$targets/fold{fold}\"}"
cp "$run"/crossval.md "$run"/crossval.csv "$run"/per_image.csv experiments/unseen_scans/teacher/
