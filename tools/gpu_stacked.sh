#!/usr/bin/env bash
# On a GPU: the protocol's final table and the 500-epoch column of Latała's Table 3, each as stacked runs
# (reproduce --stack: R runs in one process, batched products). Prepared and dry-run on the CPU:
#   DRY=1 PYTHON=.venv/bin/python bash tools/gpu_stacked.sh ../shared/data /tmp/gpu-dry   (1 epoch, 200 images, CPU)
# There: AAE_GIT_COMMIT=<commit> bash tools/gpu_stacked.sh MNIST_DIR OUT_DIR
# MNIST_DIR holds MNIST/raw with the four IDX files (the machine reaches no network); OUT_DIR gets the run
# folders (protocol/ and epochs-500/, without checkpoint.pt) as runs.tgz, the stacked bench (for results/bench-stacked) and log.txt.
# The stacked step is not yet recorded as a CUDA graph, so a stack launches its kernels eagerly: time
# the bench first and size the stacks to the minutes left.
set -u
PY=${PYTHON:-python3}
data=$1 out=$2
mkdir -p "$out"
export PYTHONUNBUFFERED=1 AAE_DATA_DIR=$data AAE_OFFLINE=1
if [ "${DRY:-0}" = 1 ]; then device=cpu quick="--unlabeled 200" epochs_50=1 epochs_500=1
else device=cuda quick="" epochs_50=50 epochs_500=500; fi
runs=/tmp/aae-stacked-runs
log() { echo "== $* ($(date +%T))"; }
{
  log "stacked bench, 1, 3 and 9 runs"
  for r in 1 3 9; do
    timeout 300 $PY -m aae_core bench --device $device --runs $r --steps 20 --json >> "$out/stacked-bench.jsonl"
  done
  log "the protocol's final table, 30 runs, stacks of 15"
  if [ "${DRY:-0}" = 1 ]; then
    timeout 900 $PY -m aae_core reproduce --labels 100 --epochs $epochs_50 --seeds 100 101 $quick --stack 2 \
      --device $device --out $runs/protocol-dry --allow-dirty
  else
    timeout 1800 $PY -m aae_core reproduce --protocol --stack 15 --device $device --out $runs/protocol
  fi
  log "Latała's 500-epoch column: 100, 1000 and all labels, seeds 0-2, paper-sgd and the chosen presets"
  timeout 3000 $PY -m aae_core reproduce --labels 100 1000 all --epochs $epochs_500 --seeds 0 1 2 $quick \
    --stack 9 --device $device --out $runs/epochs-500/paper-sgd ${DRY:+--allow-dirty}
  timeout 3000 $PY -m aae_core reproduce --labels 100 --epochs $epochs_500 --seeds 0 1 2 $quick --stack 3 \
    --preset sgd-labeled-noise --device $device --out $runs/epochs-500/sgd-labeled-noise ${DRY:+--allow-dirty}
  timeout 3000 $PY -m aae_core reproduce --labels 1000 all --epochs $epochs_500 --seeds 0 1 2 $quick --stack 6 \
    --preset sgd-early-drop --device $device --out $runs/epochs-500/sgd-early-drop ${DRY:+--allow-dirty}
  (cd $runs && tar czf "$out/runs.tgz" --exclude=checkpoint.pt .)
  log "done"
} 2>&1 | tee "$out/log.txt"
