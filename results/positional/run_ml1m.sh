#!/usr/bin/env bash
# ML-1M runs under the EulerFormer paper's protocol (rating >= 3, 10-core, leave-one-out, full ranking), read by
# nbs/10_exp_positional.ipynb. One at a time, single-threaded, seed 2020 unless SEED is set. Finished runs are skipped and an
# interrupted run resumes from its last.pt. Usage (from the repo root): nohup bash results/positional/run_ml1m.sh [model ...] &
set -u
cd "$(dirname "$0")/../.."
SEED=${SEED:-2020}
MODELS=${@:-sasrec eulerformer sasrec-rope sasrec-sinusoidal}
for m in $MODELS; do
  out=results/positional/ml-1m/$m-seed$SEED
  [ -f $out/metrics.json ] && { echo "skip $m (done)"; continue; }
  mkdir -p results/positional/ml-1m
  OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1} nice -n 10 eulerrec train --model $m --dataset ml-1m \
    --data-dir ${EULERREC_DATA:-/work/shared/data} --min-rating 3 --core 10 --max-len 50 --epochs ${EPOCHS:-100} --patience 10 \
    --seed $SEED --device cpu --out $out --no-progress >> $out.log 2>&1 || echo "FAILED $m (see $out.log)"
done
