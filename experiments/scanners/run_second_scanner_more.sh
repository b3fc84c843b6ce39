#!/usr/bin/env bash
# experiments/scanners, part 2b: on the second scanner, is the adapted model's gap to BM3D a
# matter of training budget? The full target-free recipe from scratch (data=volumes with the
# unet_quality recipe: 4,500 steps, no averages), and BM3D again with a grid above the 0.4
# that part 2 chose on every fold.
# Run from anywhere: bash experiments/scanners/run_second_scanner_more.sh   (about 40 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=logs/scanners/second_scanner
run=logs/crossval/second_scanner_more
python experiments/scanners/second_scanner.py "$data"
python -m octsr.crossval hydra.run.dir="$run" data_root="$data/duke" 'bm3d.sigmas=[0.3,0.4,0.5,0.6,0.8]' '~rows' \
    "+rows.scratch='data=volumes experiment=unet_quality data.root=$data/volumes'"
cp "$run"/crossval.md experiments/scanners/second_scanner_more.md
cp "$run"/crossval.csv experiments/scanners/second_scanner_more.csv
cp "$run"/per_image.csv experiments/scanners/second_scanner_more_per_image.csv
