#!/usr/bin/env bash
# The ML-100K runs under the RecGRELA protocol (5-core, L = 200) read by nbs/11_exp_long_sequences.ipynb: one at a time,
# single-threaded, seed 2020 unless SEED is set, at most 40 epochs (EPOCHS). Finished runs are skipped and an interrupted run
# resumes from its last.pt. Usage (from the repo root): [SEED=2021] nohup bash results/long/run_ml100k.sh [model ...] &
set -u
SEED=${SEED:-2020}
cd "$(dirname "$0")/../.."
MODELS=${@:-recgrela sasrec linrec gru4rec eulerformer recgrela-no-rope recgrela-no-local recgrela-no-gate}
for m in $MODELS; do
  out=results/long/ml-100k/$m-seed$SEED
  [ -f $out/metrics.json ] && { echo "skip $m (done)"; continue; }
  mkdir -p results/long/ml-100k
  OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nice -n 10 eulerrec train --model $m --dataset ml-100k --data-dir /work/shared/data \
    --max-len 200 --batch-size 64 --epochs ${EPOCHS:-40} --patience 10 --seed $SEED --device cpu --out $out --no-progress \
    >> $out.log 2>&1 || echo "FAILED $m (see $out.log)"
done
