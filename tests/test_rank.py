"""Rank modulator (eulerrec.rank): causal depthwise conv, gated selector, effective rank and mixing matrices."""
import torch
import torch.nn.functional as F
from eulerrec.rank import (CausalDepthwiseConv, GatedRankSelector, effective_rank, linear_attention_matrix,
                           local_mixing_matrix, mixing_spectra, softmax_attention_matrix)
from eulerrec.rela import RELA, apply_rope, feature_map


def test_conv_causal_padding_step_and_formula():
    torch.manual_seed(0)
    conv = CausalDepthwiseConv(6)
    v = torch.randn(2, 12, 6)
    with torch.no_grad():
        y = conv(v)
        v2 = v.clone(); v2[:, 7:] = 5.
        torch.testing.assert_close(conv(v2)[:, :7], y[:, :7])
        torch.testing.assert_close(conv(F.pad(v, (0, 0, 0, 4)))[:, :12], y)
        w, b = conv.conv.weight[2, 0], conv.conv.bias[2]
        torch.testing.assert_close(y[0, 8, 2], F.silu((w * v[0, 5:9, 2]).sum() + b))
        st, out = conv.init_state(2), []
        for t in range(12):
            o, st = conv.step(v[:, t], st); out.append(o)
        torch.testing.assert_close(torch.stack(out, 1), y, rtol=0, atol=1e-6)
    assert sum(p.numel() for p in CausalDepthwiseConv(64).parameters()) == 320


def test_gate():
    torch.manual_seed(0)
    g = GatedRankSelector(5)
    x, a = torch.randn(3, 5), torch.randn(3, 5)
    torch.testing.assert_close(g(x, a), F.silu(g.proj(x)) * a)
    assert g.last_gate is None
    g.record = True; g(x, a)
    torch.testing.assert_close(g.last_gate, F.silu(g.proj(x)).detach())


def test_effective_rank_and_matrices():
    assert abs(effective_rank(torch.eye(5)).item() - 5) < 1e-9
    assert abs(effective_rank(torch.ones(4, 4)).item() - 1) < 1e-9
    torch.manual_seed(0)
    q, k = torch.randn(40, 8, dtype=torch.float64), torch.randn(40, 8, dtype=torch.float64)
    qf, kf = feature_map(q), feature_map(k)
    A = linear_attention_matrix(apply_rope(qf), apply_rope(kf), qf, kf, causal=False)
    assert torch.linalg.matrix_rank(A.double()) <= 8
    S = softmax_attention_matrix(q, k, causal=True)
    torch.testing.assert_close(S.sum(-1), torch.ones(40, dtype=torch.float64))
    assert (S.triu(1) == 0).all()
    conv = CausalDepthwiseConv(3, act=False)
    x = torch.randn(1, 10, 3)
    with torch.no_grad():
        for c in range(3):
            torch.testing.assert_close(local_mixing_matrix(conv.conv.weight[c, 0], 10) @ x[0, :, c] + conv.conv.bias[c], conv(x)[0, :, c])


def test_mixing_spectra_shapes():
    torch.manual_seed(0)
    rela, conv = RELA(16, 2), CausalDepthwiseConv(16)
    spectra, ranks = mixing_spectra(rela, conv, torch.randn(3, 20, 16))
    assert spectra['linear'].shape == (3, 2, 20) and spectra['linear + local'].shape == (3, 2, 4, 20)
    assert ranks['softmax'].shape == (3, 2)
    _, ranks_nc = mixing_spectra(rela, None, torch.randn(3, 20, 16), causal=False)
    assert (ranks_nc['linear'] <= 8 + 1e-6).all()  # non-causal linear attention has rank <= d_h = 8
