#!/usr/bin/env bash
# experiments/scanners, part 5: do weights trained on simulated scanners (data.scanner_copies,
# octsr/data/scanners.py) beat BM3D on scanners they never saw, and keep Duke?
# 1. Duke cross-validation (the folds of experiments/unseen_scans) of the shipped recipe
#    (experiment=unet_registered) without simulated scanners, and with 1 and 3 copies of each
#    train pair; each fold model then scores the three constructed scanners on its own test
#    subjects (held out).
# 2. The shipped recipe with 1 copy on all 12 subjects, as the default weights would be trained.
# 3. The scanner table: those models beside the rows of part 3 (shipped weights, BM3D),
#    which it reads from intensity_per_image.csv rather than computing BM3D again.
# Run from anywhere: bash experiments/scanners/run_augmented.sh   (about 75 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=logs/scanners/augmented
mkdir -p "$runs"
declare -A rows=([unet_registered]="experiment=unet_registered"
                 [unet_scanners]="experiment=unet_registered data.scanner_copies=1"
                 [unet_scanners3]="experiment=unet_registered data.scanner_copies=3")
for row in unet_registered unet_scanners unet_scanners3; do
    python -m octsr.crossval hydra.run.dir="$runs/$row" bm3d.enabled=false '~rows' "+rows.$row='${rows[$row]}'" \
        > "$runs/$row.log" 2>&1
done
# One Duke table of the three rows, from the runs above (nothing trained again).
python -m octsr.crossval hydra.run.dir="$runs/duke" bm3d.enabled=false '~rows' \
    "reuse=[$runs/unet_registered,$runs/unet_scanners,$runs/unet_scanners3]" \
    "+rows={unet_registered: '${rows[unet_registered]}', unet_scanners: '${rows[unet_scanners]}', unet_scanners3: '${rows[unet_scanners3]}'}"
cp "$runs/duke/crossval.md" experiments/scanners/augmented_duke.md
cp "$runs/duke/per_image.csv" experiments/scanners/augmented_duke_per_image.csv
python -m octsr.train experiment=shipped_unet data.scanner_copies=1 threads=2 hydra.run.dir="$runs/all_subjects"
python -m octsr.export "ckpt_path=$(ls -t "$runs"/all_subjects/checkpoints/epoch*.ckpt | head -1)" \
    format=weights output="$runs/duke_unet_scanners.pt" overwrite=true
python experiments/scanners/intensity.py --name augmented --reuse experiments/scanners/intensity_per_image.csv \
    --model "no simulated scanners, held out=$runs/unet_registered/unet_registered" \
    --model "1 simulated scanner per pair, held out=$runs/unet_scanners/unet_scanners" \
    --model "3 simulated scanners per pair, held out=$runs/unet_scanners3/unet_scanners3" \
    --model "1 simulated scanner per pair, all 12 subjects=$runs/duke_unet_scanners.pt"
