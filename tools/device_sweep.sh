#!/usr/bin/env bash
# Train runs of a protocol on a lent GPU machine (the `device` tool) until a deadline, and bring them back.
#
#   here:   bash tools/device_sweep.sh pack PROTOCOL [sweep options: --runs ..., --seeds ...]
#             copies the protocol's dataset and the run directories the sweep would train (checkpoints included)
#             into .device/ (git-ignored), with the commit and the sweep's options
#   there:  bash tools/device_sweep.sh run SECONDS JOBS     (device `run` with carry [".device"]; DEVICE=cpu to try it here)
#             sweeps on the GPU, JOBS runs side by side, stopping cleanly SECONDS from now, then packs each run directory
#             it trained, with its log, into $OUT (one tar per run: at most 8 come back, 16 MiB each)
#   here:   bash tools/device_sweep.sh unpack FILES_AT
#             unpacks what came back; `eulerrec sweep PROTOCOL --dry-run` then shows where each run stands
# Run directories live under $EULERREC_RESULTS (default: results/), the data under $EULERREC_DATA (default: ../shared/data),
# the package under $DEVICE_DIR (default: .device/).
set -euo pipefail
cd "$(dirname "$0")/.."
D=${DEVICE_DIR:-.device} R=${EULERREC_RESULTS:-results}
case "${1:-}" in
pack)
  shift; proto=$1; shift
  [ "$D" != .device ] || grep -qx "/.device/" .git/info/exclude 2>/dev/null || echo "/.device/" >> .git/info/exclude
  runs=$(eulerrec sweep "$proto" "$@" --results "$R" --dry-run | grep -o -- '--out [^ ]*' | cut -d' ' -f2)   # those it would train
  [ -n "$runs" ] || { echo "nothing to train in $proto $*"; exit 1; }
  n=$(wc -w <<< "$runs"); [ "$n" -le 8 ] || { echo "$n runs to train: at most 8 come back from one call; name fewer with --runs/--seeds"; exit 1; }
  rm -rf "$D"; mkdir -p "$D/data" "$D/runs"
  dataset=$(python -c "from eulerrec.sweep import PROTOCOLS; print(PROTOCOLS['$proto'].config['dataset'])")
  cp -r "${EULERREC_DATA:-../shared/data}/$dataset" "$D/data/"
  for r in $runs; do [ -d "$r" ] && tar -C "$R" -cf "$D/runs/$(basename "$r").tar" --exclude=.lock "${r#"$R"/}"; done
  git rev-parse HEAD > "$D/commit"; printf '%s\n' "$proto" "$*" > "$D/sweep"
  echo "packed $(du -sh "$D" | cut -f1) in $D for: $runs"
  echo "device run, carry [\"$D\"]: bash tools/device_sweep.sh run SECONDS JOBS"
  ;;
run)
  secs=$2 jobs=$3 proto=$(sed -n 1p "$D/sweep") opts=$(sed -n 2p "$D/sweep")
  mkdir -p "$R"; for t in "$D"/runs/*.tar; do [ -e "$t" ] && tar -C "$R" -xf "$t"; done
  export EULERREC_GIT_COMMIT=$(cat "$D/commit") EULERREC_CACHE=${EULERREC_CACHE:-/tmp/eulerrec-cache} PYTHONUNBUFFERED=1
  touch "$D/started"; nvidia-smi -L 2>/dev/null || true
  # shellcheck disable=SC2086
  python3 -m eulerrec.cli sweep "$proto" $opts --results "$R" --device "${DEVICE:-cuda}" --jobs "$jobs" --deadline "$secs" \
    --data-dir "$D/data" || echo "the sweep exited with $?"
  folder=$(python3 -c "from eulerrec.sweep import PROTOCOLS; print(PROTOCOLS['$proto'].folder)")
  for r in "$R/$folder"/*-seed*/; do
    r=${r%/}
    [ -n "$(find "$r" -newer "$D/started" -type f | head -1)" ] || continue   # not trained here
    logs=$(cd "$R" && ls "$folder/$(basename "$r").log" 2>/dev/null || true)
    tar -C "$R" -cf "${OUT:?}/$(basename "$r").tar" --exclude=.lock "$folder/$(basename "$r")" $logs
  done
  ls -la "$OUT"
  ;;
unpack)
  mkdir -p "$R"; for t in "$2"/*.tar; do tar -C "$R" -xvf "$t"; done
  ;;
*) sed -n 2,14p "$0"; exit 2 ;;
esac
