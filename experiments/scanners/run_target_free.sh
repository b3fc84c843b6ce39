#!/usr/bin/env bash
# experiments/scanners, part 1: a fully target-free pipeline on Duke against the shipped
# recipe, on the same 3 subject folds as experiments/unseen_scans. The target-free row reads no
# average.tif: it trains on each subject's five frames as one volume (data=volumes, each
# B-scan towards its neighbour) and picks its checkpoint by the neighbour loss on the val
# subjects' volumes; crossval then scores both rows against the averages of the test subjects.
# Run from anywhere: bash experiments/scanners/run_target_free.sh   (about 45 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
volumes=logs/scanners/duke_volumes
run=logs/crossval/scanners
python experiments/scanners/duke_volumes.py "$volumes"
python -m octsr.crossval hydra.run.dir="$run" bm3d.enabled=false '~rows' \
    '+rows.unet_n2n="experiment=unet_n2n"' "+rows.target_free='experiment=unet_quality data=volumes data.root=$volumes'"
cp "$run"/crossval.md experiments/scanners/target_free.md
cp "$run"/crossval.csv experiments/scanners/target_free.csv
cp "$run"/per_image.csv experiments/scanners/target_free_per_image.csv
for row in target_free unet_n2n; do python experiments/scanners/checkpoint_choice.py "$run" "$row"; done
