#!/usr/bin/env bash
# experiments/scanners, part 4: the shipped U-Net adapted to each of intensity.py's three
# scanners from their raw volumes alone (experiment=adapt, through each volume's intensity
# transform), on the same 3 subject folds, scored against the stored averages; adapt.py
# writes the table beside the shipped and BM3D rows of intensity_per_image.csv.
# Run from anywhere: bash experiments/scanners/run_adapt.sh   (about 90 min on 2 idle CPU cores:
# 18 runs, two at a time with one thread each)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=logs/scanners/adapt
runs=logs/crossval/adapt
started=$(date +%s)
python experiments/scanners/adapt.py build "$data"
mkdir -p "$(dirname "$runs")"
# Two rows: each train B-scan towards its next neighbour (experiment=adapt as it is), and
# towards the neighbour on each side (data.neighbours=both).
for scanner in root_512 log_1024 linear_768; do
    python -m octsr.crossval hydra.run.dir="$runs/$scanner" data_root="$data/$scanner/duke" 'shipped=[]' \
        bm3d.enabled=false '~rows' \
        "+rows.adapted='data=volumes experiment=adapt data.root=$data/$scanner/volumes'" \
        "+rows.adapted_both='data=volumes experiment=adapt data.root=$data/$scanner/volumes data.neighbours=both'" \
        > "$runs-$scanner.log" 2>&1
done
python experiments/scanners/adapt.py table "$runs" --header \
    "\`bash experiments/scanners/run_adapt.sh\`, $(date +%F), $(python -c 'from octsr.utils.machine import machine; print(machine())'), $(( ($(date +%s) - started) / 60 )) min; two runs at a time, one thread each."
