"""tools/: embedding_rms.py (the size of the absolute-position signal beside the item embeddings, read from checkpoints) and device_sweep.sh's round trip to a lent GPU."""
import json, math, os, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
import torch
from eulerrec.models import build_model
from eulerrec.train import save_checkpoint

ROOT = Path(__file__).resolve().parents[1]


def checkpointed_run(root: Path, model: str, seed: int = 2020, n_items: int = 30, max_len: int = 8, log_gain: float | None = None) -> torch.nn.Module:
    "A finished run as `eulerrec train` leaves it (config.json, metrics.json, best.pt), with an untrained model (`log_gain`: a sinusoidal table's learned gain)."
    torch.manual_seed(seed)
    m = build_model(model, n_items, max_len)
    if log_gain is not None:
        with torch.no_grad(): m.pos_emb.log_gain.fill_(log_gain)
    d = root/f'{model}-seed{seed}'; d.mkdir(parents=True)
    (d/'config.json').write_text(json.dumps(dict(model=model, max_len=max_len, seed=seed, model_config={})))
    (d/'metrics.json').write_text(json.dumps(dict(epochs=1, best_epoch=0)))
    save_checkpoint(d/'best.pt', model_state=m.state_dict(), model_config=m.config, epoch=0)
    return m


def embedding_rms(folder: Path):
    "Run tools/embedding_rms.py on `folder` as a user would (from the repository root)."
    subprocess.run([sys.executable, str(ROOT/'tools'/'embedding_rms.py'), str(folder)], check=True, cwd=ROOT, capture_output=True)


def test_embedding_rms_reads_each_scheme(tmp_path):
    models = {name: checkpointed_run(tmp_path, name) for name in ('sasrec', 'sasrec-sinusoidal', 'sasrec-rope', 'eulerformer')}
    models['sasrec-sinusoidal-gain'] = checkpointed_run(tmp_path, 'sasrec-sinusoidal-gain', log_gain=math.log(3.))
    (tmp_path/'unfinished-seed2020').mkdir()   # no metrics.json: skipped
    checkpointed_run(tmp_path, 'sasrec', seed=2021)
    (tmp_path/'sasrec-seed2021'/'metrics.json').write_text(json.dumps(dict(epochs=5, best_epoch=3)))  # best.pt newer: skipped
    embedding_rms(tmp_path)
    t = pd.read_csv(tmp_path/'embedding-rms.csv').set_index('model')
    assert sorted(t.index) == sorted(models)
    rms = lambda w: w.detach().pow(2).mean().sqrt().item()
    for name, m in models.items():
        assert math.isclose(t.loc[name, 'item_rms'], rms(m.item_emb.weight[1:]), rel_tol=1e-4)   # padding row excluded
    assert math.isclose(t.loc['sasrec', 'position_rms'], rms(models['sasrec'].pos_emb.weight), rel_tol=1e-4)
    assert math.isclose(t.loc['eulerformer', 'position_rms'], rms(models['eulerformer'].pos_emb.ape.weight), rel_tol=1e-4)
    assert math.isclose(t.loc['sasrec-sinusoidal', 'position_rms'], 0.02, rel_tol=1e-3)     # the fixed table's scale
    assert math.isclose(t.loc['sasrec-sinusoidal-gain', 'position_rms'], 0.06, rel_tol=1e-3)   # the table times its learned gain
    assert math.isnan(t.loc['sasrec-rope', 'position_rms'])                                # nothing added at the input
    assert math.isclose(t.loc['sasrec', 'position_to_item'], t.loc['sasrec', 'position_rms'] / t.loc['sasrec', 'item_rms'], rel_tol=1e-3)


def test_embedding_rms_keeps_rows_it_cannot_measure(tmp_path):
    "Rows of runs whose checkpoints are gone (measured where they trained) stay; runs measured now replace their rows."
    checkpointed_run(tmp_path, 'sasrec'); checkpointed_run(tmp_path, 'eulerformer')
    embedding_rms(tmp_path)
    first = pd.read_csv(tmp_path/'embedding-rms.csv').set_index('run')
    (tmp_path/'eulerformer-seed2020'/'best.pt').unlink()                 # its checkpoint is not on this machine any more
    stale = first.copy(); stale.loc['sasrec-seed2020', 'item_rms'] = 99.  # a row that measuring again must replace
    stale.reset_index().to_csv(tmp_path/'embedding-rms.csv', index=False)
    checkpointed_run(tmp_path, 'sasrec-rope')                            # a new run
    embedding_rms(tmp_path)
    t = pd.read_csv(tmp_path/'embedding-rms.csv').set_index('run')
    assert list(t.index) == ['eulerformer-seed2020', 'sasrec-rope-seed2020', 'sasrec-seed2020']   # one row each, sorted
    assert t.loc['eulerformer-seed2020'].equals(first.loc['eulerformer-seed2020'])                  # kept as it was
    assert math.isclose(t.loc['sasrec-seed2020', 'item_rms'], first.loc['sasrec-seed2020', 'item_rms'], rel_tol=1e-6)
    for ck in tmp_path.glob('*/best.pt'): ck.unlink()                   # no checkpoint at all: the file stays as it is
    embedding_rms(tmp_path)
    assert pd.read_csv(tmp_path/'embedding-rms.csv').set_index('run').equals(t)


def test_device_sweep_packs_trains_and_brings_back(tmp_path):
    "tools/device_sweep.sh as a session with a lent GPU uses it, here on the CPU: pack a run to train, train it 'there' under a deadline, bring it back."
    data = Path(os.environ.get('EULERREC_DATA') or ROOT.parent/'shared'/'data')
    if not (data/'ml-100k').is_dir(): pytest.skip(f'no ML-100K under {data}')
    env = dict(os.environ, EULERREC_DATA=str(data), EULERREC_RESULTS=str(tmp_path/'here'), DEVICE_DIR=str(tmp_path/'package'),
               EULERREC_CACHE=str(tmp_path/'cache'), OUT=str(tmp_path/'out'), DEVICE='cpu', OMP_NUM_THREADS='1')
    sh = lambda *args, **kw: subprocess.run(['bash', str(ROOT/'tools'/'device_sweep.sh'), *args], env={**env, **kw},
                                            capture_output=True, text=True, timeout=300)
    r = sh('pack', 'recipe-ml-100k', '--runs', 'sasrec', '--seeds', '2031', '--epochs', '1')   # one epoch: done long before the deadline, under any load
    assert r.returncode == 0 and 'recipe-ml-100k/sasrec-seed2031' in r.stdout, r.stdout + r.stderr
    (tmp_path/'out').mkdir()
    r = sh('run', '240', '1', EULERREC_RESULTS=str(tmp_path/'there'))   # the machine's own results folder
    assert r.returncode == 0 and (tmp_path/'out'/'sasrec-seed2031.tar').is_file(), r.stdout + r.stderr
    r = sh('unpack', str(tmp_path/'out'))
    run = tmp_path/'here'/'v2'/'recipe-ml-100k'/'sasrec-seed2031'
    assert r.returncode == 0 and (run/'last.pt').is_file() and (run.parent/'sasrec-seed2031.log').is_file(), r.stdout + r.stderr
    assert len(pd.read_csv(run/'history.csv')) >= 1   # trained there: at least its first epoch
