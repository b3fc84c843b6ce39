#!/usr/bin/env bash
# experiments/scanners, part 6: does the shipped recipe trained twice as long (9,000 steps
# instead of 4,500) carry to scanners it never saw, and keep Duke?
# 1. Duke cross-validation (the folds of experiments/unseen_scans) of experiment=unet_registered
#    with trainer.max_steps=9000, the three folds at once; each fold model then scores the
#    three constructed scanners on its own test subjects (held out).
# 2. The recipe on all 12 subjects, as the default weights are trained (experiment=shipped_unet,
#    9,000 steps), exported as weights.
# 3. The scanner table: those models beside part 5's rows (the 4,500-step models) and part
#    3's (the weights shipped before, BM3D), read from augmented_per_image.csv.
# Run from anywhere: bash experiments/scanners/run_longer.sh   (about 100 min on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=logs/scanners/longer
mkdir -p "$runs"
python -m octsr.crossval hydra.run.dir="$runs/crossval" bm3d.enabled=false jobs=3 '~rows' \
    '+rows.unet_registered_9000="experiment=unet_registered trainer.max_steps=9000"'
cp "$runs/crossval/crossval.md" experiments/scanners/longer_duke.md
cp "$runs/crossval/per_image.csv" experiments/scanners/longer_duke_per_image.csv
python -m octsr.train experiment=shipped_unet threads=2 hydra.run.dir="$runs/all_subjects"
python -m octsr.export "ckpt_path=$(ls -t "$runs"/all_subjects/checkpoints/epoch*.ckpt | head -1)" \
    format=weights output="$runs/duke_unet_9000.pt" overwrite=true
python experiments/scanners/intensity.py --name longer --reuse experiments/scanners/augmented_per_image.csv \
    --model "9,000 steps, held out=$runs/crossval/unet_registered_9000" \
    --model "9,000 steps, all 12 subjects=$runs/duke_unet_9000.pt"
# 4. experiment=adapt on root_512, the scanner where adapting the weights shipped before fell
#    short, now starting from the 9,000-step weights; the three folds at once.
data=logs/scanners/adapt
[ -d "$data/root_512" ] || python experiments/scanners/adapt.py build "$data"
python -m octsr.crossval hydra.run.dir="$runs/adapt_root_512" data_root="$data/root_512/duke" bm3d.enabled=false \
    jobs=3 '~rows' "+rows.adapted='data=volumes experiment=adapt data.root=$data/root_512/volumes init_from=$runs/duke_unet_9000.pt'"
cp "$runs/adapt_root_512/crossval.md" experiments/scanners/longer_adapt_root_512.md
cp "$runs/adapt_root_512/per_image.csv" experiments/scanners/longer_adapt_root_512_per_image.csv
