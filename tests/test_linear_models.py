"""Linear-attention recommenders (eulerrec.linear): registry, causality, padding invariance, streaming state, bidirectional variant, LinRec, benchmarks."""
import inspect
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from eulerrec.models import MODELS, SeqRecModel, build_model, model_names
from eulerrec.linear import LINEAR_MODELS, LinRec, LinRecAttention, RecGRELA, RecGRELABidirectional
from eulerrec.bench import length_benchmark, streaming_benchmark

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


def test_recompute_spec_and_memory():
    "'+recompute' keeps only block inputs: at L=2048 RecGRELA needs clearly less memory for one pass (measured: 1.7-1.9x)."
    df = length_benchmark(lengths=(2048,), models=('recgrela', 'recgrela+recompute'), repeats=0, verbose=False)
    assert df.status.tolist() == ['ok', 'ok']
    assert df.peak_mb[1] * 1.4 < df.peak_mb[0], df[['model', 'peak_mb']]
    bad = length_benchmark(lengths=(32,), models=('recgrela+fast',), repeats=0, verbose=False)
    assert bad.status[0].startswith('failed') and "only option is '+recompute'" in bad.status[0]


@pytest.mark.parametrize('name', ['recgrela', 'linrec', 'sasrec', 'eulerformer'])
def test_recompute_same_gradients(name):
    m = build_model(name, N_ITEMS, MAX_LEN)
    items = batch([5, 17, 40], MAX_LEN)
    grads = []
    for rc in (False, True):
        m.recompute = rc; m.zero_grad(); m.train(); torch.manual_seed(3)
        loss = m.encode(items).pow(2).mean()
        if m.aux_loss() is not None: loss = loss + m.aux_loss()
        loss.backward()
        grads.append({n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for n in grads[0]: torch.testing.assert_close(grads[0][n], grads[1][n], atol=1e-6, rtol=1e-5)


def test_streaming_step_uses_one_rope_for_all_layers():
    "RELA.step with the shared rotation equals RELA.step computing its own, and apply_rope equals the `rope` scheme's RotaryQK."
    from eulerrec.rela import RELA, apply_rope
    from eulerrec.attention import RotaryQK
    rela = RELA(64, 4).eval()
    v, st = torch.randn(2, 64), rela.init_state(2)
    with torch.no_grad():
        a, _ = rela.step(v, 37, st)
        b, _ = rela.step(v, 37, st, rela.rotation(37))
    torch.testing.assert_close(a, b, atol=0, rtol=0)
    x = torch.randn(2, 20, 64)
    rq, rk = RotaryQK(64, 20)(x, x)
    torch.testing.assert_close(apply_rope(x), rq, atol=1e-6, rtol=0)
