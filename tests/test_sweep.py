"""`eulerrec sweep` through the installed command: a tiny protocol (two models, two seeds) swept with two jobs, listed
with --dry-run, interrupted and resumed, stopped by --deadline, and shown by --status."""
import os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest

from eulerrec.results import read_run
from eulerrec.sweep import get_protocol, plan

TINY = '''name = "tiny"
about = "two small models, two seeds"
folder = "tiny"
runs = ["sasrec", "gru4rec"]
seeds = [1, 2]
[config]
dataset = "ml-100k"
max_len = 20
batch_size = 64
epoch_steps = 2
epochs = {epochs}
patience = {epochs}
device = "cpu"
'''


def sweep(tmp, *args, **kw):
    return subprocess.run(['eulerrec', 'sweep', str(tmp/'tiny.toml'), '--results', str(tmp/'r'), *args],
                          capture_output=True, text=True, timeout=600, **kw)


def states(tmp): return [(p.run, p.seed, p.state) for p in plan(get_protocol(tmp/'tiny.toml'), results=tmp/'r')]


def test_sweep_two_jobs_interrupted_and_resumed(tmp_path):
    (tmp_path/'tiny.toml').write_text(TINY.format(epochs=6))
    out = sweep(tmp_path, '--dry-run').stdout
    assert '4 of 4 run(s) to train' in out and out.count(': new (not yet run)') == 4 and 'eulerrec train --model gru4rec' in out
    # started, then interrupted (Ctrl-C) once the first epochs are written
    p = subprocess.Popen(['eulerrec', 'sweep', str(tmp_path/'tiny.toml'), '--results', str(tmp_path/'r'), '--jobs', '2'],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first = tmp_path/'r'/'tiny'/'sasrec-seed1'/'last.pt'
    t = time.time()
    while not first.exists() and time.time() - t < 300: time.sleep(0.2)
    p.send_signal(signal.SIGINT); log = p.communicate(timeout=120)[0]
    assert p.returncode == 130, log
    assert log.count(': training') == 2, log   # two side by side; no third started
    assert not subprocess.run(['pgrep', '-f', str(tmp_path)], capture_output=True).stdout   # no training left behind
    st = states(tmp_path)
    assert ('sasrec', 1, 'resume') in st and sum(s == 'done' for *_, s in st) == 0, st
    # resumed: every run finishes, and a third sweep has nothing to do
    r = sweep(tmp_path, '--jobs', '2')
    assert r.returncode == 0 and 'resume: unfinished after' in r.stdout, r.stdout + r.stderr
    assert states(tmp_path) == [(m, s, 'done') for s in (1, 2) for m in ('sasrec', 'gru4rec')]
    assert all(read_run(tmp_path/'r'/'tiny'/f'{m}-seed{s}')['epochs'] == 6 for s in (1, 2) for m in ('sasrec', 'gru4rec'))
    assert '0 run(s) to train' in sweep(tmp_path).stdout
    # a larger epoch cap continues the capped runs; --status writes where each stands
    assert '4 of 4 run(s) to train' in sweep(tmp_path, '--epochs', '7', '--dry-run').stdout
    r = sweep(tmp_path, '--status', str(tmp_path/'STATUS.md'))
    assert r.returncode == 0 and (tmp_path/'STATUS.md').read_text().count('| done | capped at 6 epochs | file |') == 4


def test_deadline_stops_every_run_cleanly(tmp_path):
    (tmp_path/'tiny.toml').write_text(TINY.format(epochs=2000))   # far longer than the deadline
    t = time.time()
    r = sweep(tmp_path, '--jobs', '2', '--deadline', '45')
    assert r.returncode == 0 and time.time() - t < 45 + 40, r.stdout + r.stderr
    st = states(tmp_path)
    assert sum(s == 'resume' for *_, s in st) >= 1 and not any(s == 'done' for *_, s in st), st
    for m, s, state in st:   # a stopped run kept its epochs: history and last.pt agree
        if state == 'resume':
            d = tmp_path/'r'/'tiny'/f'{m}-seed{s}'
            import torch
            assert torch.load(d/'last.pt', weights_only=False)['epoch'] + 1 == len(pd.read_csv(d/'history.csv'))


@pytest.mark.skipif(not Path('/proc/self/autogroup').is_file(), reason='Linux autogroups only')
def test_niced_sweep_gives_its_session_priority_back():
    "A niced sweep lowers its session's autogroup while it runs (its runs yield to other sessions) and restores it after: the session may be the user's terminal."
    code = ("from pathlib import Path; from eulerrec.sweep import sweep, _yield_to_other_sessions\n"
            "with _yield_to_other_sessions(): print('during', Path('/proc/self/autogroup').read_text().split()[-1])\n"
            "sweep([], say=lambda s: None)")
    out = subprocess.run(['setsid', 'sh', '-c', f'nice -n 7 {sys.executable} -c "{code}"; cat /proc/self/autogroup'],
                         capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert out[:2] == ['during', '7'] and out[-1] == '0', out   # a fresh session starts at 0 and is left at 0
