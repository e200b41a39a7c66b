#!/usr/bin/env bash
# The headline models (Base = sasrec, eulerformer) on the S3-Rec versions of Amazon Beauty / Sports / Toys and Yelp
# (../shared/data/<name>/s3rec: already 5-core, time-ordered, no timestamps), with the EulerFormer protocol otherwise:
# leave-one-out, full ranking, L = 50, patience 10. These are NOT the paper's datasets (it uses Amazon-Books and Yelp2022
# with its own filtering). Read by nbs/10_exp_positional.ipynb. One run at a time, single-threaded, resumable.
# Usage (from the repo root): [SEED=2020] nohup bash results/positional/run_s3rec.sh DATASET [model ...] &
#   DATASET: beauty | sports | toys | yelp
set -u
cd "$(dirname "$0")/../.."
SEED=${SEED:-2020}
case ${1:-} in
  beauty) f=amazon-beauty/s3rec/Beauty.txt ;;
  sports) f=amazon-sports/s3rec/Sports_and_Outdoors.txt ;;
  toys)   f=amazon-toys/s3rec/Toys_and_Games.txt ;;
  yelp)   f=yelp/s3rec/Yelp.txt ;;
  *) echo "usage: $0 beauty|sports|toys|yelp [model ...]"; exit 2 ;;
esac
ds=$1; shift
MODELS=${@:-sasrec eulerformer}
for m in $MODELS; do
  out=results/positional/s3rec-$ds/$m-seed$SEED
  [ -f $out/metrics.json ] && { echo "skip $m on $ds (done)"; continue; }
  mkdir -p results/positional/s3rec-$ds
  OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1} nice -n 10 eulerrec train --model $m \
    --dataset ${EULERREC_DATA:-/work/shared/data}/$f --max-len 50 --epochs ${EPOCHS:-100} --patience 10 --seed $SEED \
    --device cpu --out $out --no-progress >> $out.log 2>&1 || echo "FAILED $m on $ds (see $out.log)"
done
