#!/usr/bin/env bash
# Continue results/run.sh runs on a GPU machine that is lent for one call (a copy of the tree, no network, no git, a
# few minutes): pack here, run there side by side until a deadline, unpack the returned run directories here.
#
#   bash results/gpu.sh pack SETUP MODEL:SEED ...   here: .gpu/ (git-excluded) gets the dataset, each run's directory
#                                                   as it stands (results/rerun/… if there, else results/…: last.pt,
#                                                   best.pt, history, log), the commit and an `eulerrec` launcher
#   DEADLINE=535 bash results/gpu.sh go             there, with .gpu carried: every packed run at once on the GPU
#                                                   (DEVICE=cuda) until DEADLINE seconds, then SIGTERM (last.pt is
#                                                   written atomically after each epoch); one tar per run into $OUT
#   bash results/gpu.sh unpack DIR                  here: the returned tars into results/rerun/, where run.sh goes on
#                                                   (RESULTS_DIR=results/rerun) on the CPU or on the next GPU
# The runs record device cuda and commit <sha>+copy (EULERREC_GIT_COMMIT: the copy has no .git). DEV=cpu tries it here.
set -u
cd "$(dirname "$0")/.."
G=.gpu; DATA=${EULERREC_DATA:-/work/shared/data}
case ${1:-} in
pack)
  setup=$2; shift 2
  case $setup in
    ml-1m|long-ml-1m|probe-ml-1m|prefix-ml-1m) ds=ml-1m ;; ml-100k|long-ml-100k) ds=ml-100k ;;
    *) echo "pack: $setup is not packed yet (ml-1m, long-ml-1m, probe-ml-1m, prefix-ml-1m, ml-100k, long-ml-100k)"; exit 2 ;;
  esac
  dir=$(DRY=1 SEED=0 RESULTS_DIR=R bash results/run.sh $setup ${1%:*} | sed -n 's/.* --out R\/\(.*\)\/[^/]*-seed0 .*/\1/p')
  [ -n "$dir" ] || { echo "pack: no results directory for $setup ${1%:*}"; exit 2; }
  rm -rf $G; mkdir -p $G/data/$ds $G/bin
  grep -qx "/$G/" .git/info/exclude 2>/dev/null || echo "/$G/" >> .git/info/exclude
  for f in $DATA/$ds/*; do [ -f $f ] && gzip -c $f > $G/data/$ds/$(basename $f).gz; done
  printf '#!/usr/bin/env python3\nimport sys\nfrom eulerrec.cli import main\nsys.exit(main())\n' > $G/bin/eulerrec; chmod +x $G/bin/eulerrec
  git rev-parse HEAD > $G/commit; echo "$setup" > $G/setup; echo "$dir" > $G/dir; : > $G/list
  for ms in "$@"; do
    run=${ms%:*}-seed${ms#*:}; echo "$ms" >> $G/list
    for root in results/rerun results; do
      [ -d $root/$dir/$run ] || continue
      tar rf $G/runs.tar --exclude='*.tmp' --transform "s,^$root/,results/rerun/," $root/$dir/$run $(ls $root/$dir/$run.log 2>/dev/null)
      echo "packed $root/$dir/$run"; break
    done
  done
  git diff --quiet HEAD -- eulerrec || echo "warning: eulerrec/ differs from $(cat $G/commit): commit first, the runs record that commit"
  tree=$( (git ls-files -co --exclude-standard -z; find $G -type f -print0) | du -cb --files0-from=- | tail -1 | cut -f1)
  echo "travels: $(( tree / 1048576 )) MiB of at most 64 (untracked files travel too: git-exclude results/rerun/ during the call)" ;;
go)
  T0=$(date +%s); DEADLINE=${DEADLINE:-480}
  export PYTHONPATH=$PWD PATH=$PWD/$G/bin:$PATH EULERREC_DATA=$PWD/$G/data EULERREC_GIT_COMMIT=$(cat $G/commit) PYTHONUNBUFFERED=1
  command -v flock >/dev/null || { printf '#!/bin/sh\nexit 0\n' > $G/bin/flock; chmod +x $G/bin/flock; }  # one worker per run: no claims needed
  gunzip -f $G/data/*/*.gz; [ -f $G/runs.tar ] && tar xf $G/runs.tar
  python3 -c "import torch; print(torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name(0))" || exit 1
  setup=$(cat $G/setup)
  for ms in $(cat $G/list); do
    DEVICE=${DEV:-cuda} SEED=${ms#*:} EPOCHS=${EPOCHS:-200} RESULTS_DIR=results/rerun bash results/run.sh $setup ${ms%:*} > $G/w-${ms/:/-}.out 2>&1 &
  done
  while sleep 30; do
    t=$(( $(date +%s) - T0 )); n=$(pgrep -f "$PWD/$G/bin/eulerrec train" | wc -l); echo "== ${t}s, $n training"
    for ms in $(cat $G/list); do f=results/rerun/$(cat $G/dir)/${ms%:*}-seed${ms#*:}.log; [ -f $f ] || continue; echo "$(basename $f .log): $(grep -E '^epoch' $f | tail -1 | cut -c1-120)"; done
    [ "$n" = 0 ] && [ $t -gt 60 ] && break
    [ $t -ge $DEADLINE ] && { pkill -TERM -f "$PWD/$G/bin/eulerrec train"; sleep 5; break; }
  done
  cat $G/w-*.out
  for ms in $(cat $G/list); do d=results/rerun/$(cat $G/dir)/${ms%:*}-seed${ms#*:}   # the packed runs only (at most 8 files come back)
    [ -d $d ] && tar cf $OUT/$(basename $d).tar $d $(ls $d.log 2>/dev/null); done
  ls -la $OUT; echo "total $(( $(date +%s) - T0 ))s" ;;
unpack)
  for t in ${2:?unpack DIR}/*.tar; do tar xf $t && echo "unpacked $(basename $t .tar)"; done ;;
*) sed -n 2,14p "$0"; exit 2 ;;
esac
