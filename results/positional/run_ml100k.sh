#!/usr/bin/env bash
# The ML-100K runs read by nbs/10_exp_positional.ipynb: one at a time, single-threaded, seed 2020 unless SEED is set.
# Usage (from the repo root): [SEED=2021] nohup bash results/positional/run_ml100k.sh [model ...] &
set -u
SEED=${SEED:-2020}
cd "$(dirname "$0")/../.."
MODELS=${@:-sasrec sasrec-sinusoidal sasrec-rope eulerformer eulerformer-no-pcl eulerformer-no-adapt eulerformer-learnable-angles eulerformer-no-diff-rot eulerformer-no-psi bert4rec bert4rec-euler sasrec-none}
for m in $MODELS; do
  out=results/positional/ml-100k/$m-seed$SEED
  [ -f $out/metrics.json ] && { echo "skip $m (done)"; continue; }
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 10 eulerrec train --model $m --dataset ml-100k --data-dir /work/shared/data \
    --max-len 50 --epochs 100 --patience 10 --seed $SEED --device cpu --out $out --no-progress > $out.log 2>&1 \
    || echo "FAILED $m (see $out.log)"
done
