"""Properties of the models in eulerrec.models: causality, padding invariance, scores, gradients, registry."""
import inspect
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from eulerrec.models import MODELS, MostPopular, SeqRecModel, build_model, model_names

N_ITEMS, MAX_LEN = 30, 20
NEURAL = [n for n in model_names() if MODELS[n][0].trainable]


def batch(lens, L, seed=0):
    "Random right-padded batch with the given lengths, padded to L."
    g = torch.Generator().manual_seed(seed)
    items = torch.randint(1, N_ITEMS + 1, (len(lens), L), generator=g)
    return items * (torch.arange(L) < torch.tensor(lens)[:, None])


def model(name, **kw):
    torch.manual_seed(0)
    return build_model(name, N_ITEMS, MAX_LEN, **kw).eval()


def test_registry_has_baselines():
    assert {'pop', 'gru4rec', 'sasrec'} <= set(model_names())
    assert model_names() == sorted(MODELS)


@pytest.mark.parametrize('name', model_names())
def test_defaults_match_constructor(name):
    cls, defaults = MODELS[name]
    assert issubclass(cls, SeqRecModel)
    params = inspect.signature(cls).parameters
    assert {k: params[k].default for k in defaults} == defaults


@pytest.mark.parametrize('name', NEURAL)
def test_causality(name):
    m, items = model(name), batch([10, 10, 10], 10)
    with torch.no_grad(): ref = m.encode(items)
    for j in range(1, 10):
        other = items.clone(); other[:, j] = other[:, j] % N_ITEMS + 1  # a different real item
        with torch.no_grad(): out = m.encode(other)
        torch.testing.assert_close(out[:, :j], ref[:, :j], rtol=0, atol=1e-6)
        assert (out[:, j] - ref[:, j]).abs().max() > 1e-4, 'changing item j must change output j'


@pytest.mark.parametrize('name', NEURAL)
def test_padding_invariance(name):
    m, lens = model(name), [1, 3, 8, 10]
    short = batch(lens, 10)
    with torch.no_grad(): a, b = m.encode(short), m.encode(F.pad(short, (0, 7)))
    real = torch.arange(10) < torch.tensor(lens)[:, None]
    torch.testing.assert_close(b[:, :10][real], a[real], rtol=0, atol=1e-5)


@pytest.mark.parametrize('name', model_names())
def test_logits_shape_and_padding_column(name):
    m = model(name)
    if not m.trainable: m.fit([np.arange(1, N_ITEMS + 1)])
    h = m.encode(batch([5, 2], 6))
    for hid in (h, h[:, -1]):
        s = m.logits(hid)
        assert s.shape == (*hid.shape[:-1], N_ITEMS + 1)
        assert torch.isneginf(s[..., 0]).all() and torch.isfinite(s[..., 1:]).all()
    assert m.aux_loss() is None
    assert m.train_mode in ('all', 'last')


@pytest.mark.parametrize('name', NEURAL)
def test_gradient_reaches_item_embeddings(name):
    m = model(name).train()
    items = batch([6, 4], 6)
    s = m(items)
    loss = F.cross_entropy(m.logits(s[:, :-1]).reshape(-1, N_ITEMS + 1), items[:, 1:].reshape(-1), ignore_index=0)
    loss.backward()
    g = m.item_emb.weight.grad
    assert g is not None and g[1:].abs().sum() > 0
    assert g[0].abs().sum() == 0  # padding row: never scored, never trained
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize('name', model_names())
def test_config_round_trip(name):
    m = model(name, **({'d': 32} if 'd' in MODELS[name][1] else {}))
    m2 = type(m)(**m.config)
    assert m2.config == m.config
    assert m2.state_dict().keys() == m.state_dict().keys()
    m2.load_state_dict(m.state_dict())
    items = batch([4, 2], 4)
    with torch.no_grad(): torch.testing.assert_close(m2.eval().encode(items), m.encode(items))


def test_same_seed_same_init():
    for name in NEURAL:
        a, b = model(name).state_dict(), model(name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)


def test_sasrec_init_and_eps():
    m = build_model('sasrec', 3416, 200)
    assert abs(m.item_emb.weight[1:].std().item() - 0.02) < 1e-3
    assert all(ln.eps == 1e-12 for ln in m.modules() if isinstance(ln, torch.nn.LayerNorm))


def test_parameter_counts():
    count = lambda n: sum(p.numel() for p in build_model(n, 3416, 200).parameters())
    assert (count('pop'), count('gru4rec'), count('sasrec')) == (0, 300_672, 331_584)


@pytest.mark.parametrize('name', model_names())
@pytest.mark.parametrize('bad, msg', [
    (torch.ones(1, MAX_LEN + 1, dtype=torch.long), 'max_len=20'),
    (torch.tensor([[1, N_ITEMS + 1]]), 'must be in 0..n_items=30'),
    (torch.tensor([[-1, 2]]), 'must be in 0..n_items=30'),
    (torch.tensor([[0, 2, 3]]), 'RIGHT-padded'),
    (torch.tensor([1., 2.]), 'integer tensor [B, L]'),
])
def test_encode_rejects_bad_batches(name, bad, msg):
    with pytest.raises(ValueError, match=msg.replace('[', r'\[').replace(']', r'\]')):
        model(name).encode(bad)


def test_build_model_errors_and_overrides():
    with pytest.raises(ValueError, match='valid names: gru4rec, pop, sasrec'): build_model('bert4rec', 10, 5)
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['heads'\]; valid keys: d, n_layers"):
        build_model('sasrec', 10, 5, heads=4)
    with pytest.raises(ValueError, match=r'valid keys: \(none\)'): build_model('pop', 10, 5, d=8)
    with pytest.raises(ValueError, match='n_items must be a positive int'): build_model('sasrec', 0, 5)
    with pytest.raises(ValueError, match='divisible by n_heads'): build_model('sasrec', 10, 5, d=10, n_heads=3)
    m = build_model('sasrec', 10, 5, n_layers=1, hidden_dropout=0.5, attn_dropout=None)
    assert (len(m.blocks), m.config['hidden_dropout'], m.config['attn_dropout']) == (1, 0.5, 0.2)


def test_most_popular_ranks_by_training_counts():
    m = MostPopular(n_items=6, max_len=4)
    assert not m.trainable and list(m.parameters()) == []
    m.fit([np.array([1, 2, 2, 6]), [2, 6, 6, 6], np.array([3])])
    assert m.counts.tolist() == [0, 1, 3, 1, 0, 0, 4]
    h = m.encode(torch.tensor([[1, 2, 0], [4, 0, 0]]))
    assert h.shape == (2, 3, 1) and (h == 0).all()
    s = m.logits(h[:, -1])
    assert s.shape == (2, 7)
    order = s[0, 1:].argsort(descending=True, stable=True) + 1
    assert order[:2].tolist() == [6, 2]
    assert torch.equal(s[0], s[1])
    assert 'counts' in m.state_dict()
    with pytest.raises(ValueError, match='must be in 1..n_items=6'): m.fit([np.array([7])])
    assert m.fit([]).counts.sum() == 0
