"""Trainer properties: all-position == prefix training, exact resume, checkpoint safety, the benchmark ratio."""
import json, os
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
import torch
from eulerrec.data import load, WindowLoader, PrefixLoader
from eulerrec.models import build_model
from eulerrec.train import (TrainConfig, train, sequence_loss, save_checkpoint, load_checkpoint, CheckpointError,
                            window_prefixes)
from eulerrec.cli import benchmark_modes


@pytest.fixture(scope='module')
def ml100k(shared_data):
    return load('ml-100k', data_dir=shared_data, verbose=False)


def _epoch_loss_sum(model, loader):
    total, n = 0.0, 0
    with torch.no_grad():
        for items, targets in loader:
            k = int((targets > 0).sum()) if targets.dim() == 2 else len(targets)
            total += sequence_loss(model, items, targets).item() * k; n += k
    return total, n


@pytest.mark.parametrize('name,long,stride', [('sasrec', False, None), ('gru4rec', False, None), ('sasrec', True, 1)])
def test_all_position_equals_prefix_training(ml100k, name, long, stride):
    """Same targets, same context: an epoch of windows and an epoch of prefixes give the same loss for a causal model,
    for users that fit in one window, and with stride 1 also for users longer than several windows."""
    L = 20 if long else 50
    seqs = [s for s in ml100k.train_seqs if (len(s) > 3 * L if long else len(s) <= L + 1)][:8 if long else 60]
    assert len(seqs) >= (8 if long else 30)
    torch.manual_seed(0)
    model = build_model(name, ml100k.n_items, L).eval()
    s_all, n_all = _epoch_loss_sum(model, WindowLoader(seqs, L, 32, shuffle=False, stride=stride))
    s_pre, n_pre = _epoch_loss_sum(model, PrefixLoader(seqs, L, 256, shuffle=False))
    assert n_all == n_pre == sum(len(s) - 1 for s in seqs)
    assert abs(s_all / n_all - s_pre / n_pre) < 1e-5
    if long:  # the default stride L gives the targets of older windows less context than their prefixes
        ctx, pre = WindowLoader(seqs, L, 64).contexts()
        assert (ctx <= pre).all() and (ctx < pre).mean() > 0.3


def test_window_prefixes_equivalence_long_users(ml100k):
    "Users longer than one window: each window target equals the prefix built from the window's own context."
    L = 20
    seqs = [s for s in ml100k.train_seqs if len(s) > 3 * L][:10]
    torch.manual_seed(1)
    model = build_model('sasrec', ml100k.n_items, L).eval()
    items, targets = next(iter(WindowLoader(seqs, L, 64, shuffle=False)))
    prefixes, y = window_prefixes(items, targets)
    with torch.no_grad():
        torch.testing.assert_close(sequence_loss(model, items, targets), sequence_loss(model, prefixes, y), atol=1e-5, rtol=1e-5)


def test_resume_accepts_a_checkpoint_from_before_a_config_key_existed(ml100k, tmp_path):
    "A last.pt written before TrainConfig had `stride` resumes when the new key has its default."
    base = dict(model='sasrec', dataset='ml-100k', epochs=1, max_len=20, batch_size=512, patience=50, seed=7, device='cpu')
    out = tmp_path/'run'
    train(TrainConfig(**base, out=str(out)), data=ml100k, progress=False, verbose=False)
    st = load_checkpoint(out/'last.pt'); del st['config']['stride']; save_checkpoint(out/'last.pt', **st)
    res = train(TrainConfig(**{**base, 'epochs': 2}, out=str(out)), data=ml100k, progress=False, verbose=False)
    assert res['epochs'] == 2
    with pytest.raises(CheckpointError, match='different configuration'):
        train(TrainConfig(**{**base, 'epochs': 3, 'stride': 5}, out=str(out)), data=ml100k, progress=False, verbose=False)


def test_resume_gives_same_result(ml100k, tmp_path):
    "An interrupted run resumed from last.pt ends exactly where an uninterrupted run ends."
    small = ml100k
    base = dict(model='sasrec', dataset='ml-100k', epochs=3, max_len=20, batch_size=512, patience=50, seed=7, device='cpu')
    full = train(TrainConfig(**base, out=str(tmp_path/'full')), data=small, progress=False, verbose=False)
    train(TrainConfig(**{**base, 'epochs': 1}, out=str(tmp_path/'cut')), data=small, progress=False, verbose=False)
    resumed = train(TrainConfig(**base, out=str(tmp_path/'cut')), data=small, progress=False, verbose=False)
    h1, h2 = pd.read_csv(tmp_path/'full'/'history.csv'), pd.read_csv(tmp_path/'cut'/'history.csv')
    pd.testing.assert_frame_equal(h1.drop(columns='seconds'), h2.drop(columns='seconds'))
    assert full['test'] == resumed['test']
    m = json.loads((tmp_path/'full'/'metrics.json').read_text())
    for key in ('valid', 'test', 'epochs', 'wall_seconds', 'device', 'seed', 'git_commit', 'command'):
        assert key in m
    # every process that worked on the run is recorded, and the wall time is their sum
    assert [(p['first_epoch'], p['last_epoch']) for p in m['processes']] == [(0, 2)]
    cut = json.loads((tmp_path/'cut'/'metrics.json').read_text())
    assert [(p['first_epoch'], p['last_epoch']) for p in cut['processes']] == [(0, 0), (1, 2)]
    assert cut['wall_seconds'] == pytest.approx(sum(p['wall_seconds'] for p in cut['processes'])) and cut['wall_seconds'] > 0
    assert all(p['git_commit'] and p['command'] and p['device'] == 'cpu' for p in cut['processes'])


def test_git_commit_of_a_copied_tree(monkeypatch):
    "Without git (a copy of the tree on a GPU machine) the commit comes from $EULERREC_GIT_COMMIT, marked as a copy."
    import subprocess
    from eulerrec.train import git_commit
    def no_git(*a, **k): raise FileNotFoundError('git')
    monkeypatch.setattr(subprocess, 'run', no_git)
    monkeypatch.delenv('EULERREC_GIT_COMMIT', raising=False)
    assert git_commit() == 'unknown'
    monkeypatch.setenv('EULERREC_GIT_COMMIT', 'e7698c9')
    assert git_commit() == 'e7698c9+copy'


def test_resume_from_a_checkpoint_without_process_record(ml100k, tmp_path):
    "A last.pt written before processes were recorded: the earlier process is listed with an unknown wall time."
    from eulerrec.train import load_checkpoint, save_checkpoint
    base = dict(model='sasrec', dataset='ml-100k', max_len=20, batch_size=512, patience=50, seed=7, device='cpu', out=str(tmp_path/'r'))
    train(TrainConfig(**base, epochs=1), data=ml100k, progress=False, verbose=False)
    st = load_checkpoint(tmp_path/'r'/'last.pt'); del st['processes']; save_checkpoint(tmp_path/'r'/'last.pt', **st)
    m = train(TrainConfig(**base, epochs=2), data=ml100k, progress=False, verbose=False)
    assert m['processes'][0]['wall_seconds'] is None and 'unknown' in m['processes'][0]['note']
    assert m['wall_seconds'] is None and m['processes'][1]['first_epoch'] == 1 and m['processes'][1]['wall_seconds'] > 0


def test_resume_refuses_other_config(ml100k, tmp_path):
    base = dict(model='sasrec', dataset='ml-100k', epochs=1, max_len=20, batch_size=512, device='cpu', out=str(tmp_path))
    train(TrainConfig(**base), data=ml100k, progress=False, verbose=False)
    before = {f.name: f.read_bytes() for f in tmp_path.iterdir()}
    with pytest.raises(CheckpointError, match='different configuration'):
        train(TrainConfig(**{**base, 'lr': 0.01}), data=ml100k, progress=False, verbose=False)
    assert {f.name: f.read_bytes() for f in tmp_path.iterdir()} == before  # the refused run changed nothing, config.json included


def test_checkpoints_refuse_foreign_and_corrupt_files(tmp_path):
    good = tmp_path/'good.pt'
    save_checkpoint(good, model_state={'w': torch.ones(3)}, epoch=1)
    assert load_checkpoint(good)['epoch'] == 1
    torch.save({'state_dict': torch.ones(1)}, tmp_path/'foreign.pt')
    with pytest.raises(CheckpointError, match='not an eulerrec checkpoint'): load_checkpoint(tmp_path/'foreign.pt')
    (tmp_path/'corrupt.pt').write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(CheckpointError, match='not a loadable'): load_checkpoint(tmp_path/'corrupt.pt')

    class Evil:  # a pickled object that weights_only=True must refuse
        def __reduce__(self): return (print, ('code ran',))
    torch.save({'format': 'eulerrec-checkpoint-v1', 'x': Evil()}, tmp_path/'evil.pt')
    with pytest.raises(CheckpointError, match='weights_only'): load_checkpoint(tmp_path/'evil.pt')
    with pytest.raises(CheckpointError, match='no such'): load_checkpoint(tmp_path/'missing.pt')


def test_same_seed_same_metrics(ml100k, tmp_path):
    cfg = lambda d: TrainConfig(model='gru4rec', dataset='ml-100k', epochs=1, max_len=20, batch_size=512, seed=3, device='cpu', out=str(tmp_path/d))
    a = train(cfg('a'), data=ml100k, progress=False, verbose=False)
    b = train(cfg('b'), data=ml100k, progress=False, verbose=False)
    assert a['test'] == b['test'] and a['valid'] == b['valid']


def test_benchmark_all_position_is_much_faster(ml100k):
    "The benchmark measures both modes in one run; all-position must win by a wide margin, growing with L (target >= 20x)."
    r = benchmark_modes(ml100k, 'sasrec', max_lens=(50, 200), batch_size=256, device=torch.device('cpu'), max_batches=3).set_index('max_len')
    assert (r.targets > 0).all()
    assert r.loc[200, 'ratio'] >= 20, r   # measured ~59x on this 2-core machine
    assert r.loc[50, 'ratio'] >= 8, r     # measured ~20x; the output layer (same cost in both modes) caps it at short L


def test_history_is_written_after_every_epoch(ml100k, tmp_path, monkeypatch):
    "A run that dies in its second validation leaves the curve of its first epoch, and resumes from there."
    import eulerrec.train as tr
    evaluate, calls = tr.evaluate, []
    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 2: raise RuntimeError('killed')
        return evaluate(*a, **k)
    monkeypatch.setattr(tr, 'evaluate', failing)
    cfg = TrainConfig(model='sasrec', dataset='ml-100k', epochs=2, epoch_steps=2, device='cpu', out=str(tmp_path/'run'))
    with pytest.raises(RuntimeError, match='killed'): train(cfg, data=ml100k, progress=False, verbose=False)
    h = pd.read_csv(tmp_path/'run'/'history.csv')
    assert list(h.epoch) == [0] and not (tmp_path/'run'/'metrics.json').exists()
    monkeypatch.setattr(tr, 'evaluate', evaluate)
    res = train(cfg, data=ml100k, progress=False, verbose=False)
    assert res['epochs'] == 2 and list(pd.read_csv(tmp_path/'run'/'history.csv').epoch) == [0, 1]


def test_a_stop_while_an_epoch_is_written_lands_after_it(ml100k, tmp_path, monkeypatch):
    "Ctrl-C (or a deadline's SIGTERM) while best.pt is being written: the epoch's files are all written, then the run stops."
    import signal
    import eulerrec.train as tr
    save = tr.save_checkpoint
    def interrupted(path, **state):
        if Path(path).name == 'best.pt': os.kill(os.getpid(), signal.SIGINT)
        save(path, **state)
    monkeypatch.setattr(tr, 'save_checkpoint', interrupted)
    run = tmp_path/'run'
    cfg = TrainConfig(model='sasrec', dataset='ml-100k', epochs=3, epoch_steps=2, device='cpu', out=str(run))
    with pytest.raises(KeyboardInterrupt): train(cfg, data=ml100k, progress=False, verbose=False)
    assert tr.load_checkpoint(run/'last.pt')['epoch'] == 0 and tr.load_checkpoint(run/'best.pt')['epoch'] == 0
    assert len(pd.read_csv(run/'history.csv')) == 1 and not list(run.glob('.*.part'))
