"""Properties of the models in eulerrec.models: causality, padding invariance, scores, gradients, registry."""
import inspect
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from eulerrec.models import MODELS, MostPopular, SeqRecModel, build_model, model_names

N_ITEMS, MAX_LEN = 30, 20
NEURAL = [n for n in model_names() if MODELS[n][0].trainable]
CAUSAL = [n for n in NEURAL if MODELS[n][0].causal]


def batch(lens, L, seed=0):
    "Random right-padded batch with the given lengths, padded to L."
    g = torch.Generator().manual_seed(seed)
    items = torch.randint(1, N_ITEMS + 1, (len(lens), L), generator=g)
    return items * (torch.arange(L) < torch.tensor(lens)[:, None])


def model(name, **kw):
    torch.manual_seed(0)
    return build_model(name, N_ITEMS, MAX_LEN, **kw).eval()


def perturbed(m):
    "Move Euler parameters (δ, b, ψ) away from their RoPE-like init so that the invariants are tested in general."
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith(('delta', '.b', 'psi')): p.uniform_(0.3, 1.7)
    return m


def test_registry_has_baselines():
    assert {'pop', 'gru4rec', 'sasrec'} <= set(model_names())
    assert model_names() == sorted(MODELS)


def constructor_defaults(cls) -> dict:
    "The keyword arguments a model class takes, with their defaults; the Euler options (`**euler`) from `EulerOptions`."
    from dataclasses import fields
    from eulerrec.models import EulerOptions, BERT4Rec, BERT_EULER_KEYS
    params = inspect.signature(cls).parameters
    out = {k: p.default for k, p in params.items() if p.kind is not p.VAR_KEYWORD}
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        keys = BERT_EULER_KEYS if issubclass(cls, BERT4Rec) else [f.name for f in fields(EulerOptions)]
        out |= {k: getattr(EulerOptions(), k) for k in keys}
    return out


@pytest.mark.parametrize('name', model_names())
def test_defaults_match_constructor(name):
    "Registry defaults are constructor arguments; a class's own name (e.g. 'sasrec') uses exactly the signature's defaults."
    cls, defaults = MODELS[name]
    assert issubclass(cls, SeqRecModel)
    params = constructor_defaults(cls)
    assert set(defaults) <= set(params)
    if name in ('pop', 'gru4rec', 'sasrec', 'sasrec-original', 'eulerformer', 'bert4rec'):
        assert {k: params[k] for k in defaults} == defaults
    assert {k: v for k, v in model(name).config.items() if k in defaults} == defaults


@pytest.mark.parametrize('name', CAUSAL)
def test_causality(name):
    m, items = perturbed(model(name)), batch([10, 10, 10], 10)
    with torch.no_grad(): ref = m.encode(items)
    for j in range(1, 10):
        other = items.clone(); other[:, j] = other[:, j] % N_ITEMS + 1  # a different real item
        with torch.no_grad(): out = m.encode(other)
        torch.testing.assert_close(out[:, :j], ref[:, :j], rtol=0, atol=1e-6)
        assert (out[:, j] - ref[:, j]).abs().max() > 1e-4, 'changing item j must change output j'


@pytest.mark.parametrize('name', NEURAL)
def test_padding_invariance(name):
    m, lens = perturbed(model(name)), [1, 3, 8, 10]
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
    win, tgt = items[:, :-1] * (items[:, 1:] > 0), items[:, 1:]
    loss = m.training_loss(win, tgt)   # the trainer's hooks: a custom objective, else next-item CE, plus aux_loss
    if loss is None:
        s = m(items)
        loss = F.cross_entropy(m.logits(s[:, :-1]).reshape(-1, N_ITEMS + 1), items[:, 1:].reshape(-1), ignore_index=0)
    if m.aux_loss() is not None: loss = loss + m.aux_loss()
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
    with pytest.raises(ValueError, match='valid names: bert4rec, bert4rec-euler, eulerformer'): build_model('bert5rec', 10, 5)
    with pytest.raises(ValueError, match=r"unknown config key\(s\) \['heads'\]; valid keys: d, n_layers"):
        build_model('sasrec', 10, 5, heads=4)
    with pytest.raises(ValueError, match=r'valid keys: \(none\)'): build_model('pop', 10, 5, d=8)
    with pytest.raises(ValueError, match='n_items=0: expected an int >= 1'): build_model('sasrec', 0, 5)
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


# --- position schemes, EulerFormer, BERT4Rec --------------------------------------------------------------------------

POSITIONAL = ['sasrec', 'sasrec-none', 'sasrec-sinusoidal', 'sasrec-sinusoidal-gain', 'sasrec-rope', 'eulerformer', 'eulerformer-no-adapt',
              'eulerformer-learnable-angles', 'eulerformer-no-diff-rot', 'eulerformer-no-psi', 'eulerformer-no-pcl',
              'bert4rec', 'bert4rec-euler']


def test_registry_has_positional_models():
    assert set(POSITIONAL) <= set(model_names())
    assert set(POSITIONAL[:-2]) <= set(CAUSAL) and not MODELS['bert4rec'][0].causal


def test_sasrec_unchanged_by_position_refactoring():
    "Same seed → same init, parameter names and outputs as the SASRec before position schemes existed (snapshot)."
    torch.manual_seed(0)
    m = build_model('sasrec', 30, 20).eval()
    assert list(m.state_dict())[:2] == ['item_emb.weight', 'pos_emb.weight']
    items = torch.tensor([[3, 1, 4, 1, 5, 9, 2, 6, 0, 0], [2, 7, 1, 8, 2, 8, 1, 8, 2, 8]])
    with torch.no_grad(): h = m.encode(items)
    assert abs(h.abs().sum().item() - 1022.9161987304688) < 1e-3
    torch.testing.assert_close(h[0, 3, :4], torch.tensor([0.5040609836578369, 0.7430505156517029, -2.7221059799194336, 0.38006097078323364]))
    assert abs(sum(p.double().sum().item() for p in m.state_dict().values()) - 310.4603872223376) < 1e-6


def test_eulerformer_at_init_is_ape_plus_rope():
    from eulerrec.models import SASRec
    torch.manual_seed(0)
    ef = build_model('eulerformer', N_ITEMS, MAX_LEN).eval()
    class APERoPE(SASRec):
        def add_positions(self, x): return x + ef.pos_emb.ape.weight[:x.shape[1]]
    ar = APERoPE(N_ITEMS, MAX_LEN, positions='rope').eval()
    ar.load_state_dict({k: v for k, v in ef.state_dict().items() if k in ar.state_dict()})
    items = batch([7, 3], 7)
    with torch.no_grad(): torch.testing.assert_close(ef.encode(items), ar.encode(items), rtol=0, atol=1e-5)


@pytest.mark.parametrize('name, weight', [('eulerformer', 1e-5), ('bert4rec-euler', 1e-5), ('eulerformer-no-pcl', None)])
def test_phase_contrast_is_the_aux_loss_in_training_only(name, weight):
    m = model(name).train()
    items = batch([6, 3], 6)
    loss = m.training_loss(items[:, :-1] * (items[:, 1:] > 0), items[:, 1:])
    if loss is None: m.encode(items)
    aux = m.aux_loss()
    if weight is None: assert aux is None; return
    assert aux is not None and 0 < aux.item() < 100 * weight
    m.eval(); m.encode(items)
    assert m.aux_loss() is None


def test_faithful_contrast_option():
    m = model('eulerformer', faithful=True)
    assert m.pcl[0].faithful and m.rotations()[0].pcl_phase == 'rotated'
    assert model('eulerformer').rotations()[0].pcl_phase == 'adapted'


def test_ablation_switches():
    names = lambda m: {n.split('.')[-1] for n, _ in m.named_parameters()}
    full = names(model('eulerformer'))
    assert {'delta', 'b', 'psi', 'w'} <= full and 'freqs' not in full
    assert not {'delta', 'b'} & names(model('eulerformer-no-adapt'))
    la = names(model('eulerformer-learnable-angles'))
    assert 'freqs' in la and not {'delta', 'b'} & la
    assert not model('eulerformer-no-diff-rot').rotations()[0].diff_rotation
    assert 'psi' not in names(model('eulerformer-no-psi'))
    assert model('eulerformer-no-pcl').pcl is None


def test_bert4rec_cloze_and_mask_token():
    m = model('bert4rec').train()
    assert m.item_emb.num_embeddings == N_ITEMS + 2 and m.mask_token == N_ITEMS + 1
    items = batch([MAX_LEN, 4], MAX_LEN)
    loss = m.training_loss(items[:, :-1] * (items[:, 1:] > 0), items[:, 1:])
    assert torch.isfinite(loss) and loss > 0
    # a full-length history still fits: the mask token goes to position max_len
    h = m.eval().last_hidden(items)
    assert h.shape == (2, 64)
    s = m.logits(h)
    assert s.shape == (2, N_ITEMS + 1) and torch.isneginf(s[:, 0]).all()
    # ft_ratio = 1: only the last item is masked, so the loss is the next-item loss read at the appended position
    m1 = model('bert4rec', ft_ratio=1., hidden_dropout=0., attn_dropout=0.).train()
    win, tgt = items[:, :-1] * (items[:, 1:] > 0), items[:, 1:]
    lens = (win > 0).sum(1)
    with torch.no_grad():
        expect = F.cross_entropy(m1.logits(m1.last_hidden(win)), tgt[torch.arange(2), lens - 1])
        torch.testing.assert_close(m1.training_loss(win, tgt), expect)


def test_bert4rec_is_bidirectional():
    m, items = model('bert4rec'), batch([8, 8], 8)
    other = items.clone(); other[:, 7] = other[:, 7] % N_ITEMS + 1
    with torch.no_grad(): assert (m.encode(other)[:, :7] - m.encode(items)[:, :7]).abs().max() > 1e-4


def test_unknown_positions_rejected():
    with pytest.raises(ValueError, match='unknown positions'): build_model('sasrec', 10, 5, positions='alibi')
    with pytest.raises(ValueError, match='unknown positions'): build_model('bert4rec', 10, 5, positions='alibi')
