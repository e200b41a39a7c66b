#!/usr/bin/env bash
# The separate RecBole 1.2.1 environment of eulerrec's adapter (eulerrec/recbole.py, nbs/12_recbole.ipynb).
# RecBole 1.2.1 needs numpy < 2, so it cannot share the main environment; this builds its own venv, once, and reuses it
# while this script and tools/recbole-requirements.txt are unchanged.
#
#   bash tools/recbole_env.sh build              build (or reuse) the venv, nothing else
#   bash tools/recbole_env.sh test [ARGS]        python -m pytest -q tests/test_recbole.py [ARGS] inside it
#   bash tools/recbole_env.sh python ARGS...     any python command inside it, e.g.
#       OMP_NUM_THREADS=1 bash tools/recbole_env.sh python -m eulerrec.recbole --model eulerformer --max-len 20 --epochs 10 \
#           --data-dir ../shared/data --out results/recbole/ml-100k/recbole-eulerformer-L20-seed2020
#
# Environment: RECBOLE_VENV (default .ci-cache/recbole-venv, git-ignored), PYTHON (the interpreter that creates it).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${RECBOLE_VENV:-.ci-cache/recbole-venv}"
PYTHON="${PYTHON:-python}"
REQ=tools/recbole-requirements.txt
export PIP_DISABLE_PIP_VERSION_CHECK=1

build() {
  local key; key=$({ "$PYTHON" --version; cat "$REQ" "$0"; } | sha256sum | cut -c1-16)
  if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.built" 2>/dev/null)" = "$key" ]; then return 0; fi
  echo "tools/recbole_env.sh: building $VENV (RecBole 1.2.1 stack)" >&2
  local t0=$SECONDS
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  local pip=("$VENV/bin/python" -m pip install -q)
  "${pip[@]}" "torch==2.13.0"            # the CPU wheel, as in the main environment (an unpinned torch pulls the CUDA stack)
  "${pip[@]}" --no-deps -r "$REQ"         # the exact list: RecBole without ray, thop, plotly (see the file)
  "${pip[@]}" --no-deps -e .              # eulerrec itself (runtime: numpy, pandas, torch, tqdm: all above)
  "$VENV/bin/python" - <<'PY'
import numpy, recbole, torch
from eulerrec.recbole import require_recbole, RecBoleEulerFormer, TrustedCheckpointTrainer
require_recbole()
print(f'RecBole {recbole.__version__}, torch {torch.__version__}, numpy {numpy.__version__}: importable')
PY
  echo "$key" > "$VENV/.built"
  echo "tools/recbole_env.sh: built $VENV in $((SECONDS - t0)) s" >&2
}

cmd="${1:-build}"; [ $# -gt 0 ] && shift
case "$cmd" in
  build)  build ;;
  test)   build; exec "$VENV/bin/python" -m pytest -q tests/test_recbole.py "$@" ;;
  python) build; exec "$VENV/bin/python" "$@" ;;
  *) echo "usage: bash tools/recbole_env.sh [build | test [PYTEST ARGS] | python ARGS...]" >&2; exit 2 ;;
esac
