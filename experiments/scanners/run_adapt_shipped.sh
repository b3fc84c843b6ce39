#!/usr/bin/env bash
# experiments/scanners, part 6b: adapting the weights shipped since 2026-12-07 (9,000 steps):
# experiment=adapt on each scanner's raw volumes (no averages), scored on the folds of
# experiments/unseen_scans; on root_512, where the adapted target is missed, two levers besides:
# registered neighbours (data.register=true) and a third of the learning rate.
# Needs run_adapt.sh's scanner folders (it writes them). A row whose crossval.md exists is kept.
# Run from anywhere: bash experiments/scanners/run_adapt_shipped.sh   (about 20 min per row on 2 CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=logs/scanners/adapt
runs=logs/scanners/adapt_shipped
[ -d "$data/root_512" ] || python experiments/scanners/adapt.py build "$data"
adapt() {  # name scanner [overrides...]
    local name=$1 scanner=$2; shift 2
    [ -f "$runs/$name/crossval.md" ] && return
    python -m octsr.crossval hydra.run.dir="$runs/$name" data_root="$data/$scanner/duke" bm3d.enabled=false \
        jobs=3 '~rows' "+rows.$name='data=volumes experiment=adapt data.root=$data/$scanner/volumes $*'" \
        > "$runs/$name.log" 2>&1
}
mkdir -p "$runs"
adapt root_512 root_512
adapt log_1024 log_1024
adapt linear_768 linear_768
adapt root_512_registered root_512 data.register=true
adapt root_512_lr1e-4 root_512 optim.lr=0.0001
for name in root_512 log_1024 linear_768 root_512_registered root_512_lr1e-4; do
    cp "$runs/$name/crossval.md" "experiments/scanners/adapt_shipped_$name.md"
    cp "$runs/$name/per_image.csv" "experiments/scanners/adapt_shipped_${name}_per_image.csv"
done
