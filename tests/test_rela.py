"""RELA (eulerrec.rela): linear attention forms agree, causality, padding invariance, RoPE, the official non-causal formula."""
import math
import pytest
import torch
import torch.nn.functional as F
from eulerrec.rela import (RELA, apply_rope, bidirectional_linear_attention, causal_linear_attention_chunked,
                           causal_linear_attention_quadratic, causal_numerator_chunked, feature_map,
                           init_linear_attention_state, linear_attention_step, rope_angles)


def feats(B=2, H=4, L=37, d=16, seed=0, dtype=torch.float32, rope=True):
    g = torch.Generator().manual_seed(seed)
    q, k = (feature_map(torch.randn(B, L, H * d, generator=g, dtype=dtype)) for _ in range(2))
    v = torch.randn(B, L, H * d, generator=g, dtype=dtype)
    heads = lambda t: t.view(B, L, H, d).transpose(1, 2)
    rot = apply_rope if rope else (lambda t: t)
    return heads(rot(q)), heads(rot(k)), heads(q), heads(k), heads(v)


def official_rela(qk_out, v, H):
    "The official RecGRELA/MLLA forward as described in the spec: mean normaliser, L^-1/2 scalings, complex RoPE."
    B, L, D = v.shape
    q, k = F.elu(qk_out[..., :D]) + 1.0, F.elu(qk_out[..., D:]) + 1.0
    theta = 10000. ** (-torch.arange(D // 2, dtype=torch.float64) / (D // 2))
    rot = torch.polar(torch.ones(L, D // 2, dtype=torch.float64), torch.arange(L, dtype=torch.float64)[:, None] * theta)
    rope = lambda x: torch.view_as_real(torch.view_as_complex(x.double().reshape(B, L, D // 2, 2).contiguous()) * rot).reshape(B, L, D).to(x.dtype)
    heads = lambda x: x.reshape(B, L, H, D // H).permute(0, 2, 1, 3)
    q_rope, k_rope, q, k, vh = heads(rope(q)), heads(rope(k)), heads(q), heads(k), heads(v)
    z = 1 / (q @ k.mean(dim=-2, keepdim=True).transpose(-2, -1) + 1e-6)
    s = L ** -0.5
    kv = (k_rope.transpose(-2, -1) * s) @ (vh * s)
    return (q_rope @ kv * z).transpose(1, 2).reshape(B, L, D)


def test_feature_map_positive():
    x = torch.linspace(-15, 15, 301)
    assert (feature_map(x) > 0).all()


def test_associativity():
    qr, kr, qf, kf, v = feats(dtype=torch.float64)
    quad = (qr @ kr.transpose(-1, -2)) @ v / ((qf @ kf.transpose(-1, -2)).sum(-1, keepdim=True) + 37e-6)
    torch.testing.assert_close(bidirectional_linear_attention(qr, kr, qf, kf, v), quad)


def test_rope_norm_relative_and_complex():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 9, 32, generator=g, dtype=torch.float64)
    r = apply_rope(x)
    torch.testing.assert_close(r.norm(dim=-1), x.norm(dim=-1))
    theta = 10000. ** (-torch.arange(16, dtype=torch.float64) / 16)
    c = torch.view_as_complex(x.reshape(2, 9, 16, 2).contiguous()) * torch.polar(torch.ones(9, 16, dtype=torch.float64), torch.arange(9.)[:, None].double() * theta)
    torch.testing.assert_close(r, torch.view_as_real(c).reshape(2, 9, 32))
    q, k = torch.randn(32, generator=g, dtype=torch.float64), torch.randn(32, generator=g, dtype=torch.float64)
    rot = lambda v, m: apply_rope(v[None], torch.tensor([m]))[0].view(4, 8)  # 4 heads of 8
    for m, n, s in [(0, 4, 9), (7, 1, 50)]:
        torch.testing.assert_close((rot(q, m) * rot(k, n)).sum(-1), (rot(q, m + s) * rot(k, n + s)).sum(-1))
    with pytest.raises(ValueError, match='must be even'): rope_angles(torch.arange(3), 5)


@pytest.mark.parametrize('L, chunk', [(1, 4), (37, 1), (37, 5), (37, 16), (64, 64), (100, 32)])
def test_three_causal_forms_agree(L, chunk):
    f = feats(L=L)
    ref = causal_linear_attention_quadratic(*f)
    torch.testing.assert_close(causal_linear_attention_chunked(*f, chunk=chunk), ref, rtol=0, atol=1e-5)
    state, out = init_linear_attention_state(2, 4, 16, 16), []
    for t in range(L):
        o, state = linear_attention_step(state, *(x[:, :, t] for x in f)); out.append(o)
    torch.testing.assert_close(torch.stack(out, 2), ref, rtol=0, atol=1e-5)


def test_numerator_chunked_matches_masked():
    qr, kr, _, _, v = feats(L=50, seed=4)
    ref = (qr @ kr.transpose(-1, -2)).tril() @ v
    torch.testing.assert_close(causal_numerator_chunked(qr, kr, v, 7), ref, rtol=0, atol=1e-4)


def test_denominator_positive_numerator_signed():
    qr, kr, qf, kf, _ = feats(L=200, seed=1)
    assert ((qf @ kf.transpose(-1, -2)).tril().sum(-1) > 0).all()
    assert ((qr @ kr.transpose(-1, -2)).tril() < 0).any()


@pytest.mark.parametrize('rope', [True, False])
def test_module_forms_causality_padding(rope):
    torch.manual_seed(0)
    m = RELA(32, 4, rope=rope, chunk=8)
    V = torch.randn(3, 30, 32)
    with torch.no_grad():
        ref = m(V, impl='quadratic')
        torch.testing.assert_close(m(V), ref, rtol=0, atol=1e-5)
        st, out = m.init_state(3), []
        for t in range(30):
            o, st = m.step(V[:, t], t, st); out.append(o)
        torch.testing.assert_close(torch.stack(out, 1), ref, rtol=0, atol=1e-5)
        for j in (0, 11, 29):
            V2 = V.clone(); V2[:, j] += 1.
            out2 = m(V2)
            torch.testing.assert_close(out2[:, :j], ref[:, :j], rtol=0, atol=1e-6)
            assert (out2[:, j] - ref[:, j]).abs().max() > 1e-4
        torch.testing.assert_close(m(torch.cat([V, torch.randn(3, 9, 32)], 1))[:, :30], ref, rtol=0, atol=1e-5)


def test_bidirectional_equals_official_and_is_not_causal():
    torch.manual_seed(0)
    m = RELA(64, 4, causal=False)
    V = torch.randn(2, 20, 64)
    with torch.no_grad():
        out = m(V)
        torch.testing.assert_close(out, official_rela(m.qk(V), V, 4), rtol=0, atol=1e-5)
        V2 = V.clone(); V2[:, 15] += 1.
        assert (m(V2)[:, 3] - out[:, 3]).abs().max() > 1e-3
    with pytest.raises(ValueError, match='no recurrent form'): m.step(V[:, 0], 0, m.init_state(2))
    # float64 closed form exactly
    qk, v = torch.randn(1, 12, 32, dtype=torch.float64), torch.randn(1, 12, 16, dtype=torch.float64)
    qf, kf = feature_map(qk[..., :16]), feature_map(qk[..., 16:])
    h = lambda t: t.view(1, 12, 4, 4).transpose(1, 2)
    ours = bidirectional_linear_attention(h(apply_rope(qf)), h(apply_rope(kf)), h(qf), h(kf), h(v)).transpose(1, 2).reshape(1, 12, 16)
    torch.testing.assert_close(ours, official_rela(qk, v, 4), rtol=0, atol=1e-12)


def test_last_position_causal_equals_bidirectional_one_layer():
    f = feats(L=25, dtype=torch.float64)
    torch.testing.assert_close(bidirectional_linear_attention(*f, eps=0)[:, :, -1], causal_linear_attention_chunked(*f, eps=0)[:, :, -1])


def test_errors():
    with pytest.raises(ValueError, match='divisible by n_heads=3'): RELA(64, 3)
    with pytest.raises(ValueError, match="impl='fast'"): RELA(8, 2)(torch.randn(1, 3, 8), impl='fast')
