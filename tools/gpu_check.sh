#!/usr/bin/env bash
# The GPU checks in one call on a GPU machine (appendix C reads what comes back):
#   the CUDA-graph tests, `bench` on CUDA (fp32 and bf16, batch 50-400, the graph against the eager
#   step and the plain reference), a short real training run with and without the graph, and
#   10-epoch runs (100 and 1000 labels, seeds 0-2) in fp32 and bf16, beside the CPU's in
#   results/precision-copies: about 8 minutes on an H100, the machine's start not counted.
# The tree must stay under the device tool's 64 MiB: untrack the stored model.pt files for the call.
# Usage there: AAE_GIT_COMMIT=<commit> bash tools/gpu_check.sh MNIST_GZ_DIR OUT_DIR
# MNIST_GZ_DIR holds the four IDX files gzipped (the machine reaches no network); OUT_DIR gets
# benches.jsonl (one bench JSON per line), runs.tgz (the runs' config, history and summary) and log.txt.
set -u
mnist_gz=$1 out=$2
export PYTHONUNBUFFERED=1 AAE_DATA_DIR=/tmp/aae-data
log() { echo "== $* ($(date +%T))"; }
{
  log "machine"
  nvidia-smi -L; python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"
  mkdir -p $AAE_DATA_DIR/MNIST/raw
  for f in "$mnist_gz"/*.gz; do gunzip -c "$f" > $AAE_DATA_DIR/MNIST/raw/"$(basename "$f" .gz)"; done

  log "CUDA-graph tests"
  timeout 240 python3 -m pytest -q -x -p no:cacheprovider tests/test_cuda_graphs.py 2>&1 | tail -15

  keep_runs() { (cd /tmp/runs && tar czf "$out/runs.tgz" --exclude='*.pt' .); }
  bench() { timeout 150 python3 -m aae_core bench --device cuda --json "$@" >> "$out/benches.jsonl" || echo "bench $* failed"; }
  log "bench, batch 100"
  bench --precision fp32 && bench --precision bf16
  log "training, 3 epochs, 100 labels, one CUDA graph per step"
  timeout 200 python3 -m aae_core train --device cuda --labels 100 --epochs 3 --quiet --out /tmp/runs/cuda-graph
  log "training, 1 epoch, eager steps"
  timeout 120 python3 -m aae_core train --device cuda --labels 100 --epochs 1 --quiet --no-cuda-graphs \
    --out /tmp/runs/cuda-eager
  keep_runs
  log "bench, other batch sizes and bf16 under autocast"
  for b in 50 200 400; do bench --precision fp32 --batch-size $b; bench --precision bf16 --batch-size $b; done
  bench --precision bf16 --bf16-weights autocast
  log "10 epochs, 100 and 1000 labels, fp32 and bf16, seeds 0-2"
  for labels in 100 1000; do
    for seed in 0 1 2; do
      for p in fp32 bf16; do
        timeout 100 python3 -m aae_core train --device cuda --labels $labels --epochs 10 --seed $seed --precision $p \
          --quiet --out /tmp/runs/precision/labels-$labels/$p/seed-$seed | tail -1
        keep_runs
      done
    done
  done
  log "done"
  python3 - "$out/benches.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(f"{r['step']:22s} b{r['batch_size']:<4d} {r['ms_per_step']:7.3f} ms  {r['s_per_epoch']:6.2f} s/epoch"
          f"  eager {r.get('eager_ms_per_step', float('nan')):7.3f}  reference {r.get('reference_ms_per_step', float('nan')):7.3f}")
EOF
} 2>&1 | tee "$out/log.txt"
