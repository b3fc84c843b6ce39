#!/usr/bin/env bash
# The teacher for the single-frame targets, on a GPU: a wide residual U-Net (width 24, batch 32) on the shipped
# recipe's registered Noise2Noise targets, trained once per cross-validation fold (the folds of
# every table in experiments/unseen_scans) and once on all 12 subjects, four runs at once; then each
# teacher's outputs for every noisy frame (test-time flips and turns), which a student of the
# shipped size learns from on the CPU (as run.sh does with a CPU teacher). Last, the bench's GPU
# rows (fp16, channels-last, CUDA graphs against their B-scans/s targets). Each teacher's outputs
# land in $OUT as one .tar.xz (3–6 MB) as soon as they exist.
#   OUT=<results> bash experiments/unseen_scans/teacher/run_gpu.sh     (about 8 min on one H200; README.md)
# On a machine without a GPU, TRAINER=cpu STEPS=20 MAX_TIME=00:00:02:00 BENCH=0 smoke-tests it
# (with DUKE= a copy of the subjects cut small: 4 min on 2 cores).
set -uo pipefail
cd "$(dirname "$0")/../../.."
: "${OUT:?set OUT to the folder the results go to}"
DUKE=${DUKE:-../shared/data/duke-bioptigen}
TRAINER=${TRAINER:-gpu}
STEPS=${STEPS:-8000}
MAX_TIME=${MAX_TIME:-00:00:03:00}
RUNS=${RUNS:-logs/teacher}
BENCH=${BENCH:-1}
mkdir -p "$RUNS"
TEACHER="experiment=unet_registered model.residual=true model.net.width=24 data.batch_size=32 trainer=$TRAINER trainer.max_steps=$STEPS ++trainer.max_time=$MAX_TIME"
date
python -m octsr.crossval hydra.run.dir="$RUNS/crossval" data_root="$DUKE" bm3d.enabled=false jobs=3 tta=true \
    '~rows' "+rows={teacher: \"$TEACHER\"}" >"$RUNS/crossval.log" 2>&1 &
crossval=$!
python -m octsr.train experiment=shipped_unet_residual model.net.width=24 data.batch_size=32 data.root="$DUKE" \
    trainer="$TRAINER" trainer.max_steps="$STEPS" ++trainer.max_time="$MAX_TIME" threads=3 \
    hydra.run.dir="$RUNS/all" >"$RUNS/all.log" 2>&1
echo "all-subject teacher: exit $?"; date
teach() {  # teach NAME RUN_DIR: the teacher's outputs for every frame of every subject
    local ckpt
    ckpt=$(python -c "from octsr.models.checkpoint import best_checkpoint; print(best_checkpoint('$2'))") || return
    python -m octsr.enhance input="$DUKE" output="$RUNS/targets/$1" ckpt_path="$ckpt" tta=true \
        >"$RUNS/enhance_$1.log" 2>&1 || { echo "enhance $1 failed"; tail -3 "$RUNS/enhance_$1.log"; return 1; }
    find "$RUNS/targets/$1" -name average.tif -delete   # not an input the student trains on
    if [ -n "${3:-}" ]; then  # a fold's teacher: only its train subjects' outputs are trained on
        python -c "import json, pathlib, shutil; keep = json.load(open('$3'))['splits']['train']
for p in pathlib.Path('$RUNS/targets/$1').iterdir():
    if p.is_dir() and p.name not in keep: shutil.rmtree(p)"
    fi
    tar -C "$RUNS/targets" -cJf "$OUT/targets_$1.tar.xz" "$1" && echo "targets $1: $(du -h "$OUT/targets_$1.tar.xz" | cut -f1)"
}
teach all "$RUNS/all" &
wait $crossval; echo "crossval: exit $?"; date
tail -25 "$RUNS/crossval.log"
for k in 0 1 2; do teach "fold$k" "$RUNS/crossval/teacher/fold$k" "$RUNS/crossval/teacher/fold$k/fold_result.json" & done
wait; date
# The device's call ends at its limit whatever runs, and then nothing may come back: the bench
# gets what is left of DEADLINE seconds, and is skipped under a minute.
DEADLINE=${DEADLINE:-500}
if [ "$BENCH" = 1 ] && [ $((DEADLINE - SECONDS)) -ge 60 ]; then
    timeout $((DEADLINE - SECONDS)) python experiments/speed/bench.py --sections gpu --out "$RUNS/bench" >"$RUNS/bench.log" 2>&1
    echo "bench: exit $?"; tail -30 "$RUNS/bench/results.md" 2>/dev/null || tail -20 "$RUNS/bench.log"
fi
tar -C "$RUNS" -czf "$OUT/teacher_runs.tar.gz" --exclude='*.ckpt' --exclude='targets' --exclude='*.tfevents*' . 
date
