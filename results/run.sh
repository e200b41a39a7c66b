#!/usr/bin/env bash
# The background runs whose results files the experiment notebooks read: one model after another, single-threaded
# (THREADS=1), seed 2020 unless SEED is set, on the CPU unless DEVICE is set (DEVICE=cuda: a GPU; the run records it).
#
# Usage (from anywhere):  [SEED=2021] [EPOCHS=N] [DEVICE=cuda] nohup bash results/run.sh SETUP [model ...] &
#
#   SETUP          protocol (leave-one-out by time, full ranking, patience 10*)       results in                 read by
#   ml-100k        EulerFormer protocol on ML-100K: 5-core, L = 50, <= 100 epochs     positional/ml-100k         10_exp_positional
#   ml-1m          EulerFormer protocol: rating >= 3, 10-core, L = 50, <= 100 epochs  positional/ml-1m           10_exp_positional
#   s3rec-DS       DS = beauty|sports|toys|yelp, the S3-Rec sequence files (already   positional/s3rec-DS        10_exp_positional
#                  5-core; NOT the paper's datasets), L = 50, <= 100 epochs
#   long-ml-100k   RecGRELA protocol on ML-100K: 5-core, L = 200, batch 64, <= 100    long/ml-100k               11_exp_long_sequences
#   long-ml-1m     RecGRELA protocol on ML-1M: 5-core, L = 200, <= 200 epochs,        long/ml-1m                 11_exp_long_sequences
#                  *patience 20, as the official run; windows every 50 targets (--stride 50: each target sees at least
#                  151 items, close to the official prefix training), 28 per step (about 2k targets, as the official
#                  batch of 2048 prefixes; 483 steps per epoch, the official run about 480)
#   probe-ml-1m    the first 480 steps of RecGRELA on ML-1M (RecGRELA protocol)  long/ml-1m-probe           11_exp_long_sequences
#                  in three regimes, validated every 60 steps (--epoch-steps 60, 8 epochs, no early stop), about
#                  292 targets per step in each: recgrela-windows (ours: 4 windows, stride 50), recgrela-prefixes
#                  (the causal model on 292 prefixes, as the official batches), recgrela-bidirectional-prefixes (the
#                  official model). Prefix training costs about 35 core-minutes per run here.
#   prefix-ml-1m   RecGRELA on ML-1M trained as the official run, to the end: one target per prefix, 2048 prefixes per
#                  step (about 480 steps per epoch), <= 200 epochs, patience 20; recgrela-prefixes (causal) and
#                  recgrela-bidirectional-prefixes (the official model). Hundreds of core-hours each: a GPU job
#                  (results/gpu.sh; the official run took 77 s per epoch on a 24 GB GPU)  long/ml-1m-prefixes  11_exp_long_sequences
#
# Without models, each setup runs its default list (below). Each run writes results/<dir>/<model>-seed<SEED>/ and a .log.
# A run that was interrupted resumes from its last.pt. A finished run is skipped, unless the epoch cap stopped it
# (not early stopping) and EPOCHS is larger than the epochs it ran: then it continues from its last.pt, which is kept
# beside the results (git ignores it), e.g. SEED=2021 EPOCHS=100 bash results/run.sh ml-1m sasrec eulerformer.
# DRY=1 prints what would run, and why the others are skipped; for an unfinished run (or one another worker is training)
# it says how far it got (epochs, best validation NDCG@10, epochs since; eulerrec.results.run_status).
# RESULTS_DIR=D writes under D instead of results/ (tests).
# On a GPU machine lent for one call (a copy of the tree): results/gpu.sh packs runs here, continues them there side by
# side, and unpacks what comes back into results/rerun/.
# Several workers may share one list (two cores: start it twice): each run is claimed with a lock (flock on a file in
# $TMPDIR, released when its worker exits, also when killed), and a worker skips the runs that another one holds.
set -u
cd "$(dirname "$0")/.."
SEED=${SEED:-2020}
DEVICE=${DEVICE:-cpu}
DATA=${EULERREC_DATA:-/work/shared/data}
RESULTS=${RESULTS_DIR:-results}
setup=${1:-}; shift || true
patience=10; prefixes=                 # prefixes per step: set by the setups whose run names name a training regime
case $setup in
  ml-100k) dir=positional/ml-100k; data=(--dataset ml-100k); proto=(--max-len 50); cap=100
    defaults="sasrec sasrec-sinusoidal sasrec-rope eulerformer eulerformer-no-pcl eulerformer-no-adapt eulerformer-learnable-angles
              eulerformer-no-diff-rot eulerformer-no-psi bert4rec bert4rec-euler sasrec-none sasrec-sinusoidal-gain" ;;
  ml-1m) dir=positional/ml-1m; data=(--dataset ml-1m --min-rating 3 --core 10); proto=(--max-len 50); cap=100
    defaults="sasrec eulerformer sasrec-rope sasrec-sinusoidal eulerformer-no-adapt eulerformer-learnable-angles
              eulerformer-no-diff-rot eulerformer-no-psi eulerformer-no-pcl bert4rec bert4rec-euler sasrec-sinusoidal-gain" ;;
  s3rec-beauty|s3rec-sports|s3rec-toys|s3rec-yelp)
    f=$(case $setup in s3rec-beauty) echo amazon-beauty/s3rec/Beauty.txt ;; s3rec-sports) echo amazon-sports/s3rec/Sports_and_Outdoors.txt ;;
                       s3rec-toys) echo amazon-toys/s3rec/Toys_and_Games.txt ;; s3rec-yelp) echo yelp/s3rec/Yelp.txt ;; esac)
    dir=positional/$setup; data=(--dataset $DATA/$f); proto=(--max-len 50); cap=100; defaults="sasrec eulerformer" ;;
  long-ml-100k|long-ml-1m) dir=long/${setup#long-}; data=(--dataset ${setup#long-})
    defaults="recgrela sasrec linrec gru4rec eulerformer recgrela-no-rope recgrela-no-local recgrela-no-gate"
    case $setup in
      long-ml-100k) proto=(--max-len 200 --batch-size 64); cap=100 ;;
      long-ml-1m) proto=(--max-len 200 --batch-size 28 --stride 50); cap=200; patience=20 ;;   # as the official run (above)
    esac ;;
  probe-ml-1m) dir=long/ml-1m-probe; data=(--dataset ml-1m); proto=(--max-len 200 --epoch-steps 60); cap=8; patience=8; prefixes=292
    defaults="recgrela-windows recgrela-prefixes recgrela-bidirectional-prefixes" ;;
  prefix-ml-1m) dir=long/ml-1m-prefixes; data=(--dataset ml-1m); proto=(--max-len 200); cap=200; patience=20; prefixes=2048
    defaults="recgrela-prefixes recgrela-bidirectional-prefixes" ;;
  *) echo "usage: [SEED=S] [EPOCHS=N] [DEVICE=cuda] bash $0 ml-100k|ml-1m|s3rec-beauty|s3rec-sports|s3rec-toys|s3rec-yelp|long-ml-100k|long-ml-1m|probe-ml-1m|prefix-ml-1m [model ...]"
     exit 2 ;;
esac
EPOCHS=${EPOCHS:-$cap}
# what to do with an existing run directory: run (new, interrupted: with how far it got, or capped below EPOCHS with a
# last.pt) or skip (why)
todo() { python - "$1" "$EPOCHS" <<'PY'
import sys
from pathlib import Path
from eulerrec.results import read_run, run_status
d, epochs = Path(sys.argv[1]), int(sys.argv[2])
r = read_run(d)
if r is None: st = run_status(d); print('run' + (f' [resumes: {st}]' if st.startswith('unfinished') else ''))
elif r['stopped'] == 'early stop': print('skip: stopped early')
elif r['epochs'] >= epochs: print(f"skip: {r['stopped']}, EPOCHS={epochs}")
elif not (d/'last.pt').is_file(): print(f"skip: {r['stopped']} but no last.pt here to continue from")
else: print('run')
PY
}
status() { python -c 'import sys; from eulerrec.results import run_status; print(run_status(sys.argv[1]))' "$1"; }  # e.g. unfinished after 15 of ≤100 epochs, …
for m in ${@:-$defaults}; do
  out=$RESULTS/$dir/$m-seed$SEED
  exec 9>"${TMPDIR:-/tmp}/eulerrec-run-${out//\//_}.lock"
  flock -n 9 || { st=$(status $out); echo "$setup $m seed $SEED: skip: another worker is running it (${st/#not yet run/no epoch finished yet})"
                  exec 9>&-; continue; }
  what=$(todo $out)                         # decided under the lock: another worker may just have finished it
  [ "${what%% *}" != run ] && { echo "$setup $m seed $SEED: $what"; exec 9>&-; continue; }
  st=${what#run}                            # ' [resumes: how far it got]' for an unfinished run, else empty
  model=$m; regime=()
  if [ -n "${prefixes:-}" ]; then          # probe-ml-1m, prefix-ml-1m: a run name is a model and its training regime
    case $setup:$m in
      probe-ml-1m:recgrela-windows) model=recgrela; regime=(--mode all --batch-size 4 --stride 50) ;;
      *:recgrela-prefixes) model=recgrela; regime=(--mode last --batch-size $prefixes) ;;
      *:recgrela-bidirectional-prefixes) model=recgrela-bidirectional; regime=(--mode last --batch-size $prefixes) ;;
      *) echo "$setup $m: unknown run (${defaults// /, })"; exec 9>&-; continue ;;
    esac
  fi
  # --ties item: every run in these folders was made with equal timestamps ordered by item id, before file order (RecBole's)
  # became the default; new seeds must share their split until the reproduction under the papers' protocol replaces them
  cmd=(eulerrec train --model $model "${data[@]}" --data-dir $DATA "${proto[@]}" ${regime[@]+"${regime[@]}"} --epochs $EPOCHS --patience $patience --seed $SEED
       --ties item --device $DEVICE --out $out --no-progress)
  [ -n "${DRY:-}" ] && { echo "$setup $m seed $SEED: would run ${cmd[*]}$st"; exec 9>&-; continue; }
  mkdir -p $RESULTS/$dir
  echo "$setup $m seed $SEED: training (log $out.log)$st"
  OMP_NUM_THREADS=${THREADS:-1} MKL_NUM_THREADS=${THREADS:-1} nice -n 10 "${cmd[@]}" >> $out.log 2>&1 || echo "FAILED $setup $m (see $out.log)"
  exec 9>&-                                 # release the claim (the training process held it too, until it ended)
done
