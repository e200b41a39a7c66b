"""Linear-attention recommenders (eulerrec.linear): registry, causality, padding invariance, streaming state, bidirectional variant, LinRec, benchmarks."""
import inspect
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from eulerrec.models import MODELS, SeqRecModel, build_model, model_names
from eulerrec.linear import (LINEAR_MODELS, LinRec, LinRecAttention, RecGRELA, RecGRELABidirectional, length_benchmark,
                             streaming_benchmark)

N_ITEMS, MAX_LEN = 30, 40
NAMES = sorted(LINEAR_MODELS) + ['linrec']
CAUSAL = [n for n in NAMES if n != 'recgrela-bidirectional']
STREAMING = [n for n in LINEAR_MODELS if n != 'recgrela-bidirectional']


def batch(lens, L, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, N_ITEMS + 1, (len(lens), L), generator=g) * (torch.arange(L) < torch.tensor(lens)[:, None])


def model(name, **kw):
    torch.manual_seed(0)
    return build_model(name, N_ITEMS, MAX_LEN, **{'chunk': 8, **kw}).eval()


def test_registered():
    assert set(NAMES) <= set(model_names())
    for n in NAMES:
        cls, defaults = MODELS[n]
        assert issubclass(cls, SeqRecModel)
        params = inspect.signature(cls).parameters
        assert {k: params[k].default for k in defaults} == defaults
    assert build_model('recgrela-bidirectional', 5, 10).train_mode == 'last'
    assert all(build_model(n, 5, 10).train_mode == 'all' for n in CAUSAL)


@pytest.mark.parametrize('name', CAUSAL)
def test_causality(name):
    m, items = model(name), batch([12, 12, 12], 12)
    with torch.no_grad(): ref = m.encode(items)
    for j in range(1, 12):
        other = items.clone(); other[:, j] = other[:, j] % N_ITEMS + 1
        with torch.no_grad(): out = m.encode(other)
        torch.testing.assert_close(out[:, :j], ref[:, :j], rtol=0, atol=1e-6)
        assert (out[:, j] - ref[:, j]).abs().max() > 1e-4


@pytest.mark.parametrize('name', NAMES)
def test_padding_invariance(name):
    m, lens = model(name), [1, 3, 8, 10]
    short = batch(lens, 10)
    with torch.no_grad(): a, b = m.encode(short), m.encode(F.pad(short, (0, 7)))
    real = torch.arange(10) < torch.tensor(lens)[:, None]
    torch.testing.assert_close(b[:, :10][real], a[real], rtol=0, atol=1e-5)


def test_bidirectional_is_not_causal_and_pads_to_max_len():
    m, items = model('recgrela-bidirectional'), batch([12, 12], 12)
    with torch.no_grad():
        ref = m.encode(items)
        other = items.clone(); other[:, 9] = other[:, 9] % N_ITEMS + 1
        assert (m.encode(other)[:, :9] - ref[:, :9]).abs().max() > 1e-4
        # equals the parent's encode on the input padded to max_len (the official layout)
        torch.testing.assert_close(ref, RecGRELA.encode(m, F.pad(items, (0, MAX_LEN - 12)))[:, :12])
    assert m.item_emb.weight[0].abs().sum() > 0  # official: the padding row is a frozen random vector
    with pytest.raises(ValueError, match='only causal models'): m.prefill(items)


@pytest.mark.parametrize('name', STREAMING)
def test_step_reproduces_encode_and_scores(name):
    m, items = model(name), batch([20, 20], 20, seed=3)
    with torch.no_grad():
        ref = m.encode(items)
        st, hs = m.init_state(2), []
        for t in range(20):
            h, st = m.step(items[:, t], st); hs.append(h)
        torch.testing.assert_close(torch.stack(hs, 1), ref, rtol=0, atol=1e-5)
        torch.testing.assert_close(m.logits(hs[-1])[:, 1:], m.logits(ref[:, -1])[:, 1:], rtol=0, atol=1e-5)
        h, _ = m.step(items[:, -1], m.prefill(items[:, :-1]))
        torch.testing.assert_close(h, ref[:, -1], rtol=0, atol=1e-5)
        with pytest.raises(ValueError, match='no padding'): m.prefill(batch([3, 5], 5))


@pytest.mark.parametrize('name', NAMES)
def test_gradients_and_round_trip(name):
    m = model(name).train()
    items = batch([6, 4], 6)
    h = m(items)
    F.cross_entropy(m.logits(h[:, :-1]).reshape(-1, N_ITEMS + 1), items[:, 1:].reshape(-1), ignore_index=0).backward()
    g = m.item_emb.weight.grad
    assert g[1:].abs().sum() > 0 and g[0].abs().sum() == 0
    assert all(p.grad is not None for p in m.parameters())
    m2 = type(m)(**m.config); m2.load_state_dict(m.state_dict())
    with torch.no_grad(): torch.testing.assert_close(m2.eval().encode(items), m.eval().encode(items))


@pytest.mark.parametrize('name', NAMES)
def test_rejects_bad_batches(name):
    with pytest.raises(ValueError, match='RIGHT-padded'): model(name).encode(torch.tensor([[0, 2, 3]]))
    with pytest.raises(ValueError, match='max_len=40'): model(name).encode(torch.ones(1, 41, dtype=torch.long))


def test_parameter_counts():
    count = lambda n: sum(p.numel() for p in build_model(n, 3416, 200).parameters())
    assert count('recgrela') == 436_672  # the official ML-1M log
    assert count('recgrela-no-local') == 436_672 - 4 * 320 and count('recgrela-no-gate') == 436_672 - 4 * 4160
    assert count('recgrela-no-rope') == count('recgrela-bidirectional') == 436_672


def test_linrec_attention_formula():
    torch.manual_seed(0)
    att = LinRecAttention(16, 2, chunk=3)
    x = torch.randn(2, 9, 16)
    with torch.no_grad():
        q, k, v = (t.view(2, 9, 2, 8).transpose(1, 2) for t in (F.elu(att.q(x)), F.elu(att.k(x)), att.v(x)))
        rows = []
        for t in range(9):
            qt = q[:, :, t] / q[:, :, t].norm(dim=-1, keepdim=True)
            kt = k[:, :, :t + 1] / k[:, :, :t + 1].norm(dim=-2, keepdim=True)
            rows.append((qt[:, :, None] @ (kt.transpose(-1, -2) @ v[:, :, :t + 1])).squeeze(-2))
        torch.testing.assert_close(att(x), att.o(torch.stack(rows, 2).transpose(1, 2).reshape(2, 9, 16)), rtol=0, atol=1e-5)


def test_train_one_epoch(tmp_path):
    from eulerrec.data import prepare
    from eulerrec.train import TrainConfig, train
    rng = np.random.default_rng(0)
    df = pd.DataFrame(dict(user=np.repeat(np.arange(30), 12), item=rng.integers(0, 15, 360), timestamp=np.tile(np.arange(12), 30)))
    data = prepare(df, name='toy', user_core=1, item_core=1)
    for name in ('recgrela', 'recgrela-bidirectional', 'linrec'):
        res = train(TrainConfig(model=name, dataset='toy', max_len=10, epochs=1, batch_size=64, device='cpu',
                                model_config={'n_layers': 1}, out=str(tmp_path / name)), data=data, progress=False, verbose=False)
        assert res['mode'] == ('last' if name == 'recgrela-bidirectional' else 'all')
        assert 0 <= res['test']['HR@10'] <= 1


def test_benchmarks_small():
    df = length_benchmark(lengths=(32, 64), models=('sasrec', 'recgrela', 'nope'), repeats=1, verbose=False)
    assert df.status.tolist() == ['ok'] * 4 + ['not registered']
    assert (df.peak_mb[:4] > 0).all() and (df.seconds[:4] > 0).all()
    assert np.allclose(df.speedup_vs_sasrec[:2], 1.)
    r = streaming_benchmark(L=100, repeats=2)
    assert r['max_abs_score_diff'] < 1e-5 and r['speedup'] > 1
