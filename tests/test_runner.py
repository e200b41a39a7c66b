"""results/run.sh: the background runner skips finished runs, continues capped ones, and uses each setup's protocol."""
import os, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]


def runner(*args, **env):
    return subprocess.run(['bash', str(ROOT/'results'/'run.sh'), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'DRY': '1', **env})


def test_protocol_flags_and_skips():
    out = runner('long-ml-100k', 'recgrela', 'linrec-not-run-yet').stdout.splitlines()
    assert out[0] == 'long-ml-100k recgrela seed 2020: skip: capped at 40 epochs, EPOCHS=40'   # committed run, 40-epoch cap
    assert '--max-len 200 --batch-size 64 --epochs 40' in out[1] and out[1].endswith('--out results/long/ml-100k/linrec-not-run-yet-seed2020 --no-progress')
    out = runner('ml-1m', 'sasrec', SEED='12345').stdout
    assert '--dataset ml-1m --min-rating 3 --core 10' in out and '--max-len 50 --epochs 100' in out and '--seed 12345' in out


def test_capped_runs_continue_only_with_a_larger_cap_and_a_checkpoint():
    run = ROOT/'results/positional/ml-1m/sasrec-seed2020'   # committed: capped at 85 epochs
    assert runner('ml-1m', 'sasrec', EPOCHS='85').stdout.strip() == 'ml-1m sasrec seed 2020: skip: capped at 85 epochs, EPOCHS=85'
    out = runner('ml-1m', 'sasrec', EPOCHS='100').stdout.strip()
    if (run/'last.pt').is_file(): assert out.startswith('ml-1m sasrec seed 2020: would run eulerrec train --model sasrec')
    else: assert out == 'ml-1m sasrec seed 2020: skip: capped at 85 epochs but no last.pt here to continue from'
    assert runner('ml-100k', 'sasrec').stdout.strip() == 'ml-100k sasrec seed 2020: skip: stopped early'


def test_unknown_setup_is_refused():
    r = runner('ml-20m')
    assert r.returncode == 2 and r.stdout.startswith('usage:')


def test_a_run_held_by_another_worker_is_skipped(tmp_path):
    import fcntl
    lock = tmp_path/'eulerrec-run-results_positional_ml-1m_sasrec-seed12345.lock'
    with open(lock, 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)          # what a worker training that run holds
        out = runner('ml-1m', 'sasrec', 'eulerformer', SEED='12345', TMPDIR=str(tmp_path)).stdout.splitlines()
        assert out[0] == 'ml-1m sasrec seed 12345: skip: another worker is running it'
        assert out[1].startswith('ml-1m eulerformer seed 12345: would run')
    out = runner('ml-1m', 'sasrec', SEED='12345', TMPDIR=str(tmp_path)).stdout   # released: claimed again
    assert out.startswith('ml-1m sasrec seed 12345: would run'), out
