#!/usr/bin/env bash
# SRCNN on the phantom (the default run) with one noisy frame per input against five
# repeated frames of the same scene stacked as channels (data.input_frames=5), then the table.
# Run from anywhere: bash experiments/unseen_scans/stacked_frames/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=logs/experiments/stacked_frames_phantom
python -m octsr.train -m data.input_frames=1,5 hydra.sweep.dir="$out"   # runs input-frames1, input-frames5
python -m octsr.report "$out" out=experiments/unseen_scans/stacked_frames panel=false
