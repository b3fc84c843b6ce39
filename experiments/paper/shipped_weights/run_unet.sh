#!/usr/bin/env bash
# The weights shipped in octsr/weights/duke_unet.pt (`weights=best`): the recipe that won the
# cross-validation of experiments/unseen_scans/targets, experiment=unet_registered (U-Net, 274 k
# weights, 64x64 patches of whole scans, MSE, Adam 0.001, EMA, input-mean matching, each noisy
# frame trained towards the most alike other frame shifted column by column onto it:
# Noise2Noise), on all 12 Duke subjects, for 9,000 steps with the learning rate cosine-decayed
# over them (experiment=shipped_unet; experiments/scanners part 6).
# Validated on 07 and 08 against their averages (also trained on, so that score is
# optimistic); the best of those validations is stored, as in the cross-validation.
# Run from anywhere: bash experiments/paper/shipped_weights/run_unet.sh   (about 15 min with THREADS=2 on the 2-core CPU)
set -euo pipefail
cd "$(dirname "$0")/../../.."
# Other shipped U-Nets run this with their own recipe and file (run_unet_residual.sh).
experiment=${EXPERIMENT:-shipped_unet}   # conf/experiment/<experiment>.yaml
run=logs/experiments/$experiment
python -m octsr.train experiment="$experiment" threads="${THREADS:-1}" hydra.run.dir="$run"
python -m octsr.export "ckpt_path=$(ls -t "$run"/checkpoints/epoch*.ckpt | head -1)" \
    format=weights output="octsr/weights/${WEIGHTS_FILE:-duke_unet.pt}" overwrite=true
