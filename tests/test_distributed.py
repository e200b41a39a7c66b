"""Multi-process (DDP) training: 2 CPU processes with gloo train to the single-process parameters; a crash ends the launch.

This file is also the worker script that the tests launch with `python -m torch.distributed.run` (see `__main__` below).
"""
import dataclasses, json, os, subprocess, sys, time
from pathlib import Path
import pytest
import torch

# Small runs on a subset of ML-100K, dropout off so that the ranks' slices see the same network as one process.
N_USERS = 40
RUNS = {  # name: TrainConfig overrides
    'sasrec-all': dict(model='sasrec', mode='all', batch_size=48, model_config=dict(hidden_dropout=0., attn_dropout=0.)),
    'gru4rec-last': dict(model='gru4rec', mode='last', batch_size=None, model_config=dict(dropout=0.)),  # batch set below
    'eulerformer-all': dict(model='eulerformer', mode='all', batch_size=64, model_config=dict(hidden_dropout=0., attn_dropout=0.)),
}


def _data(data_dir):
    from eulerrec.data import load
    d = load('ml-100k', data_dir=data_dir, verbose=False)
    return dataclasses.replace(d, seqs=d.seqs[:N_USERS], user_ids=d.user_ids[:N_USERS])


def _config(name, data, out):
    from eulerrec.data import PrefixLoader
    from eulerrec.train import TrainConfig
    kw = dict(RUNS[name])
    if kw['batch_size'] is None:  # all prefixes but one in the first batch: the second has 1 row, so rank 1 runs a stand-in
        kw['batch_size'] = len(PrefixLoader(data.train_seqs, 20, 1).cols[0]) - 1
    return TrainConfig(dataset='ml-100k', max_len=20, epochs=2, seed=11, device='cpu', out=str(Path(out)/name), **kw)


def _worker(out, data_dir, crash):
    "What each torchrun process runs: the RUNS (or, with `crash`, rank 1 raising after its first training step)."
    import eulerrec.train as T
    data = _data(data_dir)
    if crash:
        calls, shard_loss = [0], T.shard_loss
        def failing(*a):
            calls[0] += 1
            if os.environ['RANK'] == '1' and calls[0] > 1: raise RuntimeError('rank 1 crashes on purpose')
            return shard_loss(*a)
        T.shard_loss = failing
    for name in (['sasrec-all'] if crash else RUNS):
        T.train(_config(name, data, out), data=data, progress=False, verbose=False)
    if not crash:  # the sasrec run again, stopped after one epoch and resumed
        cfg = dataclasses.replace(_config('sasrec-all', data, out), out=str(Path(out)/'resumed'))
        T.train(dataclasses.replace(cfg, epochs=1), data=data, progress=False, verbose=False)
        T.train(cfg, data=data, progress=False, verbose=False)


def _launch(out, data_dir, crash=False, timeout=120):
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
           __file__, str(out), str(data_dir)] + (['crash'] if crash else [])
    env = dict(os.environ, OMP_NUM_THREADS='1', EULERREC_DIST_TIMEOUT='60')
    t = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return p, time.time() - t


@pytest.fixture(scope='module')
def ddp_runs(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp')
    p, _ = _launch(out, shared_data)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return out


def _params(run):
    from eulerrec.train import load_checkpoint
    return load_checkpoint(Path(run)/'last.pt')['model_state']


@pytest.mark.parametrize('name', list(RUNS))
def test_ddp_matches_single_process(ddp_runs, shared_data, tmp_path, name):
    """Same global batch and seed: 2 ranks end with the parameters and losses of one process.
    EulerFormer's phase contrast is a batch statistic that DDP averages over the ranks' halves: there the losses agree to
    1e-4, but Adam magnifies the small gradient differences (e.g. in attention key biases) beyond float tolerance."""
    import pandas as pd
    from eulerrec.train import train
    data = _data(shared_data)
    train(_config(name, data, tmp_path), data=data, progress=False, verbose=False)
    one, two = _params(tmp_path/name), _params(ddp_runs/name)
    assert one.keys() == two.keys()
    exact = not name.startswith('eulerformer')
    if exact:
        for k in one: torch.testing.assert_close(two[k], one[k], atol=1e-5, rtol=1e-4, msg=lambda m: f'{name} {k}: {m}')
    h1, h2 = pd.read_csv(tmp_path/name/'history.csv'), pd.read_csv(ddp_runs/name/'history.csv')
    assert len(h1) == len(h2) == 2
    pd.testing.assert_series_equal(h2['loss'], h1['loss'], atol=1e-5 if exact else 1e-4, rtol=0)


def test_ddp_run_dir_and_world_size(ddp_runs):
    "Rank 0 writes the usual run directory; metrics.json records the world size. EulerFormer's aux loss goes through DDP."
    for name in RUNS:
        run = ddp_runs/name
        assert sorted(p.name for p in run.iterdir()) == ['.lock', 'best.pt', 'config.json', 'history.csv', 'last.pt', 'metrics.json']
        m = json.loads((run/'metrics.json').read_text())
        assert m['world_size'] == 2 and m['epochs'] == 2 and 0 <= m['test']['NDCG@10'] <= 1


def test_ddp_resume_is_exact(ddp_runs):
    "A multi-process run resumed from last.pt ends with exactly the parameters of the uninterrupted one."
    full, resumed = _params(ddp_runs/'sasrec-all'), _params(ddp_runs/'resumed')
    for k in full: assert torch.equal(full[k], resumed[k]), k


def test_crashed_worker_fails_the_launch(shared_data, tmp_path):
    "Rank 1 raises after one step: the launcher exits non-zero (and does not hang)."
    p, seconds = _launch(tmp_path, shared_data, crash=True, timeout=120)
    assert p.returncode != 0
    assert 'rank 1 crashes on purpose' in p.stdout + p.stderr
    assert seconds < 120


if __name__ == '__main__':  # a torchrun worker: test_distributed.py OUT DATA_DIR [crash]
    _worker(sys.argv[1], sys.argv[2], crash=sys.argv[3:] == ['crash'])
