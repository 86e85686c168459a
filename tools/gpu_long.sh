#!/usr/bin/env bash
# Chapter 3's long runs on a lent GPU, in one command sized to its budget (tools/gpu_long.py says how).
#   here, before:  bash tools/gpu_long.sh prepare
#                  (.gpu/ gets MNIST's four .gz files and the commit; the tracked weight files leave the
#                  working tree, which must travel in under 64 MiB; `restore` or `unpack` brings them back)
#   there:         bash tools/gpu_long.sh run MINUTES PLAN...      (the device call: carry [".gpu"]; files in $OUT)
#   here, after:   bash tools/gpu_long.sh unpack FILES_AT          (into results/long, then `restore`)
#   dry run:       bash tools/gpu_long.sh dry-run OUT              (the CPU, a tiny model, 1 epoch: make test runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
usage() {
  echo "usage: bash tools/gpu_long.sh prepare | run MINUTES PLAN... | unpack FILES_AT | restore | dry-run OUT" >&2
  exit 2
}
needs() { [ "$1" -ge "$2" ] || usage; }  # needs $# COUNT: at least COUNT arguments, the command included
case "${1:-}" in
  prepare)
    mkdir -p .gpu/mnist
    raw=$($PY -c "from aae_core.data import ensure_mnist; print(ensure_mnist())")
    for f in "$raw"/*-ubyte; do gzip -c "$f" > ".gpu/mnist/$(basename "$f").gz"; done
    git rev-parse HEAD > .gpu/commit
    git diff --quiet HEAD || { echo "gpu_long: commit first: the runs record $(cat .gpu/commit)" >&2; exit 2; }
    # weights and any checkpoint a CPU run left for a later session (results/long's own go on there)
    git ls-files 'results/**/model.pt' 'results/**/snapshots.pt' 'book/_static/models/**' 'results/**/checkpoint.pt' \
      ':(exclude,glob)results/long/**/checkpoint.pt' > .gpu/slimmed.txt
    xargs -a .gpu/slimmed.txt rm -f
    echo "gpu_long: prepared .gpu/ ($(du -sh .gpu | cut -f1)); $(wc -l < .gpu/slimmed.txt) weight files out of the tree until restore"
    ;;
  restore)
    if [ -s .gpu/slimmed.txt ]; then
      xargs -a .gpu/slimmed.txt git checkout --
      echo "gpu_long: the weight files are back"
    else
      echo "gpu_long: nothing to restore (no weight file was taken out by prepare)"
    fi
    ;;
  run)
    needs $# 3
    [ -s .gpu/commit ] || { echo "gpu_long: no .gpu/ here: run 'bash tools/gpu_long.sh prepare' first" >&2; exit 2; }
    [ -n "${OUT:-}" ] || { echo "gpu_long: \$OUT, the folder whose files come back, is not set" >&2; exit 2; }
    minutes=$2; shift 2
    export PYTHONUNBUFFERED=1 AAE_DATA_DIR=/tmp/aae-data AAE_OFFLINE=1 AAE_GIT_COMMIT=$(cat .gpu/commit)
    mkdir -p $AAE_DATA_DIR/MNIST/raw
    for f in .gpu/mnist/*.gz; do gunzip -c "$f" > $AAE_DATA_DIR/MNIST/raw/"$(basename "$f" .gz)"; done
    nvidia-smi -L || true
    $PY tools/gpu_long.py run --plan "$@" --budget "$minutes" --runs results/long --out "$OUT" --rates 2>&1 \
      | tee "$OUT/log.txt"
    ;;
  unpack)
    needs $# 2
    $PY tools/gpu_long.py unpack "$2" results/long
    bash "$0" restore
    ;;
  dry-run)
    needs $# 2
    out=$2 runs=$(mktemp -d)
    trap 'rm -rf "$runs"' EXIT
    $PY tools/gpu_long.py run --plan a --budget 1 --runs "$runs" --out "$out" --dry-run
    ;;
  *) usage ;;
esac
