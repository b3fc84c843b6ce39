#!/usr/bin/env bash
# experiments/scanners, part 4b: is the adaptation's budget what limits it? experiment=adapt
# with twice the steps (3,000: experiment=adapt's default since) on the three scanners; scored
# as part 4 (run_adapt.sh must have run: it wrote the scanners' folders).
# Run from anywhere: bash experiments/scanners/run_adapt_longer.sh   (about 55 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=logs/scanners/adapt
runs=logs/crossval/adapt_longer
mkdir -p "$(dirname "$runs")"
for scanner in root_512 log_1024 linear_768; do
    python -m octsr.crossval hydra.run.dir="$runs/$scanner" data_root="$data/$scanner/duke" 'shipped=[]' \
        bm3d.enabled=false '~rows' \
        "+rows.adapted_3000='data=volumes experiment=adapt data.root=$data/$scanner/volumes trainer.max_steps=3000'" \
        > "$runs-$scanner.log" 2>&1
done
