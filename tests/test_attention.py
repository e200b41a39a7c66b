"""Attention and position schemes (eulerrec.attention): causality, padding invariance, relative positions."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from eulerrec.attention import (POSITION_SCHEMES, CausalSelfAttention, LearnedPositions, RotaryQK, SinusoidalPositions,
                                TransformerBlock, init_recbole, position_scheme)


class Encoder(nn.Module):
    def __init__(self, name, causal=True, n_items=25, d=16, L=30):
        super().__init__()
        torch.manual_seed(0)
        self.emb, self.scheme = nn.Embedding(n_items + 1, d, padding_idx=0), position_scheme(name, d, L, 2)
        self.blocks = nn.ModuleList(TransformerBlock(d, 2, 32, 0., 0., self.scheme.make_qk(i), causal) for i in range(2))
        with torch.no_grad():
            for n, p in self.named_parameters():
                if n.endswith(('delta', '.b', 'psi')): p.uniform_(0.3, 1.7)
        self.eval()

    def forward(self, items):
        x, pad = self.scheme.embed(self.emb(items)), items > 0
        for b in self.blocks: x = b(x, pad)
        return x


def batch(lens, L, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(1, 26, (len(lens), L), generator=g) * (torch.arange(L) < torch.tensor(lens)[:, None])


@pytest.mark.parametrize('name', POSITION_SCHEMES)
def test_causality(name):
    enc, items = Encoder(name), batch([12, 12], 12)
    with torch.no_grad():
        ref = enc(items)
        for j in range(1, 12):
            other = items.clone(); other[:, j] = other[:, j] % 25 + 1
            out = enc(other)
            assert (out[:, :j] - ref[:, :j]).abs().max() == 0
            assert (out[:, j] - ref[:, j]).abs().max() > 1e-4


@pytest.mark.parametrize('causal', [True, False])
@pytest.mark.parametrize('name', POSITION_SCHEMES)
def test_padding_invariance(name, causal):
    enc, lens = Encoder(name, causal), [1, 5, 12]
    short = batch(lens, 12)
    real = torch.arange(12) < torch.tensor(lens)[:, None]
    with torch.no_grad(): a, b = enc(short), enc(F.pad(short, (0, 9)))[:, :12]
    torch.testing.assert_close(b[real], a[real], rtol=0, atol=1e-5)


@pytest.mark.parametrize('causal', [True, False])
def test_attention_matches_direct_formula(causal):
    torch.manual_seed(0)
    att = CausalSelfAttention(8, 2, causal=causal).eval(); att.apply(init_recbole)
    x = torch.randn(2, 5, 8)
    pad = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]).bool()
    q, k, v = (f(x).view(2, 5, 2, 4).transpose(1, 2) for f in (att.q, att.k, att.v))
    M = torch.full((5, 5), float('-inf')).triu(1) if causal else torch.zeros(2, 1, 1, 5).masked_fill(~pad[:, None, None], float('-inf'))
    ref = torch.softmax(q @ k.transpose(-1, -2) / 2 + M, -1) @ v
    torch.testing.assert_close(att(x, pad), att.o(ref.transpose(1, 2).reshape(2, 5, 8)))


@pytest.mark.parametrize('scope', ['model', 'head'])
def test_rope_is_relative(scope):
    torch.manual_seed(0)
    rq = RotaryQK(16, 40, 2, scope)
    q, k = torch.randn(1, 1, 16), torch.randn(1, 1, 16)
    Q, K = q.expand(1, 40, 16), k.expand(1, 40, 16)
    a, b = rq(Q, K)
    S = (a @ b.transpose(1, 2))[0]
    for D in (0, 3, 17):
        diag = torch.diagonal(S, -D)
        torch.testing.assert_close(diag, diag[:1].expand_as(diag), atol=1e-5, rtol=0)


def test_schemes_and_errors():
    assert isinstance(position_scheme('ape', 8, 10), nn.Embedding)   # checkpoints keep `pos_emb.weight`
    s = SinusoidalPositions(8, 10)
    scale = 0.02 * 2 ** 0.5   # entries have RMS 0.02, like the N(0, 0.02²) item embeddings
    assert abs(s.table[3, 2].item() / scale - torch.sin(torch.tensor(3 * 10000 ** (-2 / 8))).item()) < 1e-5
    assert abs(SinusoidalPositions(8, 10, scale=2 ** -0.5).table[3, 3].item() - torch.cos(torch.tensor(3 * 10000 ** (-2 / 8))).item()) < 1e-6
    assert position_scheme('rope', 8, 10).make_qk(0) is not None and position_scheme('ape', 8, 10).make_qk(0) is None
    with pytest.raises(ValueError, match='valid: none, ape'): position_scheme('alibi', 8, 10)
    with pytest.raises(ValueError, match='takes no options'): position_scheme('sinusoidal', 8, 10, psi=False)
    with pytest.raises(ValueError, match='takes no options'): position_scheme('sinusoidal-gain', 8, 10, scale=1.)
    eu = position_scheme('euler', 8, 10, 2, psi=False)
    assert eu.shift is None and isinstance(eu.ape, LearnedPositions)


def test_sinusoidal_gain_scales_the_fixed_table():
    "sinusoidal-gain adds γ·table with γ = exp(a) learned from 0: the fixed table at init, any positive multiple of it later."
    fixed, gain = SinusoidalPositions(8, 10), position_scheme('sinusoidal-gain', 8, 10)
    x = torch.randn(2, 6, 8)
    torch.testing.assert_close(gain.embed(x), fixed.embed(x), rtol=0, atol=0)
    assert [n for n, _ in fixed.named_parameters()] == [] and [n for n, _ in gain.named_parameters()] == ['log_gain']
    with torch.no_grad(): gain.log_gain.fill_(-1.5)
    torch.testing.assert_close(gain.embed(x) - x, (fixed.table[:6] * torch.tensor(-1.5).exp()).expand(2, 6, 8))
    gain.embed(x).pow(2).sum().backward()
    assert gain.log_gain.grad is not None and gain.log_gain.grad.abs() > 0
