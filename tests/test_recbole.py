"""The RecBole adapter (eulerrec/recbole.py, nbs/12_recbole.ipynb) inside RecBole 1.2.1.

RecBole needs its own environment (numpy < 2): these tests are skipped elsewhere. Run them with
`bash tools/recbole_env.sh test` (CI does, as a separate step). They need the ML-100K files: $EULERREC_DATA, the
eulerrec cache, or ../shared/data next to the checkout.
"""
import math, os, sys, warnings
from unittest import mock
from pathlib import Path
import pytest
import torch

pytest.importorskip('recbole', reason='RecBole is not installed in this environment: run `bash tools/recbole_env.sh test` '
                                      '(RecBole 1.2.1 needs numpy < 2, so it lives in its own venv)')

pytestmark = pytest.mark.filterwarnings('ignore::FutureWarning:recbole.*')  # RecBole 1.2.1 on pandas 2.2 and torch 2.13

from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import init_seed
from eulerrec.models import build_model
from eulerrec.recbole import (RecBoleEulerFormer, RecBoleRecGRELA, RecBoleLinRec, aligned_config, SPLIT_CASES, compare_split,
                              recbole_model, run_recbole, write_atomic, _cwd)

SHARED = Path(__file__).resolve().parents[2]/'shared'/'data'
DATA_DIR = None if os.environ.get('EULERREC_DATA') or not SHARED.is_dir() else str(SHARED)
ML100K = dict(users=943, items=1349, interactions=99287)  # eulerrec's 5-core ML-100K (nbs/00_data.ipynb)
L = 10  # short histories keep the training tests at about a minute each on one CPU thread


@pytest.fixture(scope='module')
def recbole_data(tmp_path_factory):
    "RecBole's dataset and dataloaders for ML-100K (aligned config, max_len L), built once."
    work = tmp_path_factory.mktemp('recbole')
    inter = write_atomic('ml-100k', work/'atomic', data_dir=DATA_DIR)
    cd = {**aligned_config(max_len=L, epochs=1), 'data_path': str(work/'atomic'), 'checkpoint_dir': str(work/'saved'),
          'eval_batch_size': 256}
    with _cwd(work), mock.patch.object(sys, 'argv', sys.argv[:1]):
        config = Config(model=RecBoleEulerFormer, dataset=inter.parent.name, config_dict=cd)
        init_seed(config['seed'], config['reproducibility'])
        ds = create_dataset(config)
        train, valid, test = data_preparation(config, ds)
    return dict(config=config, cd=cd, work=work, name=inter.parent.name, train=train, valid=valid, test=test)


def _config(cls, d, cd):
    "RecBole's Config in the run folder, without pytest's command line (RecBole's Config parses `--key=value` arguments)."
    with _cwd(d['work']), mock.patch.object(sys, 'argv', sys.argv[:1]):
        return Config(model=cls, dataset=d['name'], config_dict=cd)


def _wrapper(cls, d):
    config = _config(cls, d, d['cd'])
    init_seed(2020, True)
    return cls(config, d['train']._dataset), config


def test_ids_and_sizes(recbole_data):
    ds = recbole_data['train']._dataset
    assert ds.field2id_token['item_id'][0] == '[PAD]'              # RecBole's padding id is 0, as eulerrec's
    m, _ = _wrapper(RecBoleEulerFormer, recbole_data)
    assert m.n_items == ds.item_num == ML100K['items'] + 1         # RecBole's count includes the padding
    assert m.model.n_items == ML100K['items'] and m.model.max_len == L
    batch = next(iter(recbole_data['test']))[0]
    seq, n = batch['item_id_list'], batch['item_length']
    assert seq.shape[1] == L and (seq[torch.arange(L)[None] >= n[:, None]] == 0).all()   # left-aligned, padded after
    assert (seq[torch.arange(L)[None] < n[:, None]] > 0).all()


@pytest.mark.parametrize('cls', [RecBoleEulerFormer, RecBoleRecGRELA, RecBoleLinRec])
def test_scores_equal_eulerrec_logits(recbole_data, cls):
    m, _ = _wrapper(cls, recbole_data)
    m.eval()
    ref = build_model(cls.eulerrec_model, m.model.n_items, L)       # an independent eulerrec model with the same weights
    ref.load_state_dict(m.model.state_dict()); ref.eval()
    batch = next(iter(recbole_data['test']))[0]
    with torch.no_grad():
        full = m.full_sort_predict(batch)
        want = ref.logits(ref.last_hidden(batch['item_id_list']))   # eulerrec's own read-out: the last non-padding position
        assert full.shape == (len(batch), recbole_data['train']._dataset.item_num)
        torch.testing.assert_close(full, want)
        assert torch.isneginf(full[:, 0]).all() and torch.isfinite(full[:, 1:]).all()
        torch.testing.assert_close(m.predict(batch), want.gather(1, batch['item_id'][:, None]).squeeze(1))


def test_loss_adds_phase_contrast(recbole_data):
    batch = next(iter(recbole_data['train']))
    for cls, has_aux in ((RecBoleEulerFormer, True), (RecBoleRecGRELA, False)):
        m, _ = _wrapper(cls, recbole_data)
        m.train()
        loss = m.calculate_loss(batch)
        aux = m.model.aux_loss()
        assert torch.isfinite(loss) and loss.requires_grad
        assert (aux is not None) == has_aux
        if has_aux: assert float(aux.detach()) > 0
        loss.backward()
        assert all(p.grad is not None for p in m.parameters() if p.requires_grad)


def test_refuses_other_objectives(recbole_data):
    with pytest.raises(ValueError, match='own training objective'):
        _wrapper(recbole_model('bert4rec'), recbole_data)
    config = _config(RecBoleEulerFormer, recbole_data,
                     {**recbole_data['cd'], 'loss_type': 'BPR', 'train_neg_sample_args': {'distribution': 'uniform', 'sample_num': 1}})
    with pytest.raises(ValueError, match='loss_type: CE'):
        RecBoleEulerFormer(config, recbole_data['train']._dataset)


@pytest.mark.parametrize('name', ['eulerformer', 'recgrela'])
def test_trains_inside_recbole(tmp_path, name):
    res = run_recbole(name, 'ml-100k', aligned_config(max_len=L, epochs=1), data_dir=DATA_DIR, work_dir=tmp_path/'work',
                      out=tmp_path/'out')
    assert res['data'] == ML100K                                   # RecBole's 5-core filtering = eulerrec's
    al = res['alignment']
    assert al['users_common'] == al['users_recbole'] == al['users_eulerrec'] == ML100K['users']
    assert al['same_test_target'] == 1.0 and al['same_test_history'] == 1.0
    assert res['epochs'] == 1 and res['best_epoch'] == 0
    for split in ('valid', 'test'):
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in res[split].values())
    assert res['test']['NDCG@10'] > 0.005 and res['test']['HR@10'] > 0.01   # chance: HR@10 = 10/1349 = 0.0074
    assert {'metrics.json', 'history.csv', 'config.json', 'recbole.log'} <= {p.name for p in (tmp_path/'out').iterdir()}
    assert res['versions']['recbole'] == '1.2.1' and res['git_commit'] and res['seed'] == 2020
    ckpt = next((tmp_path/'work'/'saved').glob('*.pth'))
    with pytest.raises(Exception, match='[Ww]eights only load failed|weights_only'), warnings.catch_warnings():
        warnings.simplefilter('ignore')                            # (torch's note on pickle protocol 4)
        torch.load(ckpt, map_location='cpu')                       # the default weights_only=True refuses RecBole's checkpoint:
                                                                   # why TrustedCheckpointTrainer exists


def test_model_settings_reach_eulerrec(recbole_data):
    d = dict(recbole_data, cd={**recbole_data['cd'], 'eulerrec_model': 'eulerformer-no-pcl', 'eulerrec_config': {'n_layers': 1}})
    m, _ = _wrapper(RecBoleEulerFormer, d)
    assert len(m.model.blocks) == 1 and m.model.config['pcl_weight'] == 0 and m.model.config['max_len'] == L


@pytest.mark.parametrize('case', list(SPLIT_CASES))
def test_split_equals_recbole(case, tmp_path):
    "RecBole's own split (its create_dataset and build) and eulerrec's agree for every user once timestamps are compared as RecBole does."
    c = compare_split(case, tmp_path, DATA_DIR)
    exact, default = c[c['recbole_time_cast']], c['default']
    assert exact['users'] > 900 and exact['only_one_pipeline'] == 0
    assert exact['test_target'] == exact['valid_target'] == exact['test_input_50'] == exact['sequence'] == 0, c
    if case.startswith('ML-100K'):  # the default (exact timestamps): only the preset's min-max float32 steps of about 1 s differ
        assert c['recbole_time_cast'] == 'minmax-float32' and default['any_of_these'] <= 39, c
    else:
        assert c['recbole_time_cast'] == 'float32' and default['test_target'] > 0, c  # raw float32: 64 s steps


@pytest.mark.parametrize('recbole, ours, protocol', [('SASRec', 'sasrec', 'eulerformer-ml-1m-dropout0.5'),
                                                      ('SASRec', 'eulerformer', 'eulerformer-ml-1m-dropout0.5'),
                                                      ('BERT4Rec', 'bert4rec', 'eulerformer-ml-1m')])
def test_recbole_dropout_protocol_is_recboles(recbole, ours, protocol, tmp_path):
    """The official EulerFormer code replaces RecBole's `SASRec` (and `BERT4Rec`) class and reads its dropout from the
    config; its `config_files/ml.yaml` sets none, so RecBole's model yaml decides: the protocol
    `eulerformer-ml-1m-dropout0.5` trains the SASRec-backbone models with those values (`eulerformer-ml-1m` chose 0.2 on
    validation), and BERT4Rec's are our defaults."""
    from eulerrec.sweep import PROTOCOLS
    official_ml_yaml = dict(MAX_ITEM_LIST_LENGTH=50, stopping_step=10, epochs=500, train_batch_size=4096, eval_batch_size=4096,
                            valid_metric='NDCG@10', embedding_size=64, learning_rate=0.001, train_neg_sample_args=None)
    with _cwd(tmp_path), mock.patch.object(sys, 'argv', sys.argv[:1]):
        c = Config(model=recbole, dataset='ml-1m', config_dict=official_ml_yaml)
    model = build_model(ours, 100, 50, **PROTOCOLS[protocol].train_config(ours, 2020).model_config)
    assert (model.config['hidden_dropout'], model.config['attn_dropout']) == (c['hidden_dropout_prob'], c['attn_dropout_prob'])
