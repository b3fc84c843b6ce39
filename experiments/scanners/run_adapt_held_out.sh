#!/usr/bin/env bash
# experiments/scanners, part 6c: adapting a model that never saw the test subjects. The weights
# shipped now were trained on all 12 Duke subjects, the test subjects included (as Bioptigen
# stored them); a clinic's own scans are never among them. Here each fold starts from part 6's
# fold model (the same recipe, trained without that fold's val and test subjects) and adapts
# on that fold's raw volumes of each scanner (experiment=adapt, no averages read).
# Needs run_longer.sh's cross-validation (FOLDS= names another) and run_adapt.sh's scanner folders.
# Run from anywhere: bash experiments/scanners/run_adapt_held_out.sh   (about 20 min per scanner on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=logs/scanners/adapt
folds=${FOLDS:-logs/scanners/longer/crossval/unet_registered_9000}
runs=logs/scanners/adapt_held_out
mkdir -p "$runs"
[ -d "$data/root_512" ] || python experiments/scanners/adapt.py build "$data"
for k in 0 1 2; do  # each fold model's best checkpoint, at a name a row can give per fold
    best=$(python -c "import json, sys; print(json.load(open(sys.argv[1]))['checkpoint'])" "$folds/fold$k/fold_result.json")
    ln -sfn "$(realpath "$best")" "$runs/fold$k.ckpt"
done
for scanner in root_512 log_1024 linear_768; do
    [ -f "$runs/$scanner/crossval.md" ] || python -m octsr.crossval hydra.run.dir="$runs/$scanner" \
        data_root="$data/$scanner/duke" bm3d.enabled=false jobs=3 '~rows' \
        "+rows.adapted_held_out='data=volumes experiment=adapt data.root=$data/$scanner/volumes init_from=$PWD/$runs/fold{fold}.ckpt'" \
        > "$runs/$scanner.log" 2>&1
    cp "$runs/$scanner/crossval.md" "experiments/scanners/adapt_held_out_$scanner.md"
    cp "$runs/$scanner/per_image.csv" "experiments/scanners/adapt_held_out_${scanner}_per_image.csv"
done
