#!/usr/bin/env bash
# experiments/scanners, part 2: a second scanner. Duke's scans as a root-compressed, 512-column,
# 16-bit scanner would show them (second_scanner.py says how and why); on the same 3 subject
# folds: the shipped U-Net as it is, the shipped U-Net adapted to the new scanner from its raw
# volumes alone (experiment=adapt: no average read in training or checkpoint choice), and
# BM3D with its noise level chosen per fold on the val scans, all scored against the
# transformed averages of the test subjects.
# Run from anywhere: bash experiments/scanners/run_second_scanner.sh   (about 25 min on 2 idle CPU cores)
set -euo pipefail
cd "$(dirname "$0")/../.."
data=logs/scanners/second_scanner
run=logs/crossval/second_scanner
python experiments/scanners/second_scanner.py "$data"
python -m octsr.crossval hydra.run.dir="$run" data_root="$data/duke" 'shipped=[best]' \
    'bm3d.sigmas=[0.1,0.15,0.2,0.25,0.3,0.4]' '~rows' \
    "+rows.adapted='data=volumes experiment=adapt data.root=$data/volumes'"
cp "$run"/crossval.md experiments/scanners/second_scanner.md
cp "$run"/crossval.csv experiments/scanners/second_scanner.csv
cp "$run"/per_image.csv experiments/scanners/second_scanner_per_image.csv
