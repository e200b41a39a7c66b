"""Properties of the Euler transform and the differential rotation (eulerrec.euler)."""
import math
import pytest
import torch
from eulerrec.euler import (LAYOUTS, EulerRotation, PhaseShift, SafePolar, euler, euler_inverse, from_pairs, polar,
                            rope_freqs, rotate_pairs, to_pairs)


def qk(B=2, L=12, d=32, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, L, d, generator=g, dtype=dtype), torch.randn(B, L, d, generator=g, dtype=dtype)


def logits(rot, q, k, **kw):
    a, b = rot(q, k, **kw)
    return a @ b.transpose(1, 2)


def rope(x, freqs):
    a = torch.arange(x.shape[1], dtype=x.dtype)[:, None] * freqs.to(x.dtype)
    return from_pairs(*rotate_pairs(*to_pairs(x), torch.cos(a), torch.sin(a)))


@pytest.mark.parametrize('layout', LAYOUTS)
def test_transform_is_lossless_and_preserves_dot_products(layout):
    x = torch.randn(6, 24, dtype=torch.float64)
    lam, th = euler(x, layout, n_heads=3)
    torch.testing.assert_close(euler_inverse(lam, th, layout, n_heads=3), x)
    assert (lam >= 0).all() and (th.abs() <= math.pi).all()
    dots = (lam[:, None] * lam[None] * torch.cos(th[:, None] - th[None])).sum(-1)
    torch.testing.assert_close(dots, x @ x.T)


def test_layouts():
    x = torch.arange(8.)
    assert [t.tolist() for t in to_pairs(x)] == [[0, 2, 4, 6], [1, 3, 5, 7]]
    assert [t.tolist() for t in to_pairs(x, 'half', 2)] == [[0, 1, 4, 5], [2, 3, 6, 7]]
    with pytest.raises(ValueError, match='layout'): to_pairs(x, 'split')
    with pytest.raises(ValueError, match='divisible'): to_pairs(torch.ones(6), 'half', 2)


def test_safe_polar_matches_autograd_away_from_zero():
    r, s = torch.randn(8, dtype=torch.float64, requires_grad=True), torch.randn(8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(SafePolar.apply, (r, s))


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_official_polar_is_nan_at_zero_safe_is_finite(dtype):
    for safe in (False, True):
        r = torch.tensor([0., 0.5, 1e-30], dtype=dtype, requires_grad=True)
        s = torch.tensor([0., -0.5, 1e-30], dtype=dtype, requires_grad=True)
        lam, th = polar(r, s, safe=safe)
        (lam * torch.cos(0.5 * th + 0.1) + lam * torch.sin(2 * th)).sum().backward()
        if safe: assert torch.isfinite(r.grad).all() and torch.isfinite(s.grad).all()
        else: assert r.grad[0].isnan()


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
@pytest.mark.parametrize('delta', [0., 0.5, 1., 2.])
def test_rotation_gradients_finite_with_exactly_zero_pairs(dtype, delta):
    rot = EulerRotation(16, 10, delta_init=delta).to(dtype)
    rot.record = True
    q, k = qk(2, 6, 16, dtype=dtype)
    q[:, :, :6] = 0; k[1] = 0; k[0, 3, 2:4] = 0
    q.requires_grad_(); k.requires_grad_()
    a, b = rot(q, k)
    ((a @ b.transpose(1, 2)).sum() + sum(torch.cos(p).sum() for p in rot.phases)).backward()
    for g in (q.grad, k.grad, rot.delta.grad, rot.b.grad):
        assert g is not None and torch.isfinite(g).all()


def test_official_form_gives_nan_in_the_rotation():
    rot = EulerRotation(16, 10, delta_init=0.5, safe=False)
    q, k = qk(2, 6, 16); q[:, :, :4] = 0; q.requires_grad_()
    logits(rot, q, k).sum().backward()
    assert rot.delta.grad.isnan().any() or q.grad.isnan().any()


def test_delta_one_bias_zero_is_rope():
    q, k = qk(3, 20, 64, dtype=torch.float64)
    rot = EulerRotation(64, 50, n_heads=2).double()   # official init: δ = 1, b = 0
    torch.testing.assert_close(logits(rot, q, k), rope(q, rot.freqs) @ rope(k, rot.freqs).transpose(1, 2), rtol=0, atol=1e-6)
    rot32 = EulerRotation(64, 50, n_heads=2)
    q, k = q.float(), k.float()
    ref = rope(q, rot32.freqs) @ rope(k, rot32.freqs).transpose(1, 2)
    assert ((logits(rot32, q, k) - ref).abs().max() / ref.abs().max()) < 1e-6


@pytest.mark.parametrize('shape', ['scalar', 'vector'])
def test_logits_depend_on_positions_only_through_distance(shape):
    q, k = qk(2, 15, 32, dtype=torch.float64)
    rot = EulerRotation(32, 300, delta_shape=shape, bias_shape=shape).double()
    with torch.no_grad(): rot.delta.uniform_(-1, 2.5); rot.b.uniform_(-3, 3)
    with torch.no_grad(): ref = logits(rot, q, k)
    for off in (1, 17, 250):
        with torch.no_grad(): torch.testing.assert_close(logits(rot, q, k, offset=off), ref, rtol=0, atol=1e-9)


@pytest.mark.parametrize('delta, b', [(1., 0.), (0., 0.7), (0.5, -1.), (2., 3.)])
def test_closed_form(delta, b):
    q, k = qk(2, 10, 32, dtype=torch.float64)
    rot = EulerRotation(32, 20).double()
    with torch.no_grad(): rot.delta.fill_(delta); rot.b.fill_(b)
    (lq, tq), (lk, tk) = euler(q), euler(k)
    m = torch.arange(10, dtype=torch.float64)
    phase = delta * (tq[:, :, None] - tk[:, None]) + b + (m[:, None] - m[None])[..., None] * rot.freqs
    closed = (lq[:, :, None] * lk[:, None] * torch.cos(phase)).sum(-1)
    with torch.no_grad(): torch.testing.assert_close(logits(rot, q, k), closed, rtol=0, atol=1e-9)


def test_alpha_fixed_and_learnable_variants():
    rot = EulerRotation(32, 20)
    assert not rot.freqs.requires_grad and 'freqs' not in dict(rot.named_parameters())
    assert 'freqs' not in rot.state_dict()   # deterministic; rebuilt from d and max_len
    assert [n for n, _ in rot.named_parameters()] == ['delta', 'b']
    assert rot.delta.shape == (1,) and rot.b.shape == (1,)
    v = EulerRotation(32, 20, delta_shape='vector', bias_shape='vector', delta_init=2.)
    assert v.delta.shape == (16,) and (v.delta == 2).all()
    assert EulerRotation(32, 20, bias=False).b is None
    la = EulerRotation(32, 20, adapt=False, learnable_angles=True)
    assert [n for n, _ in la.named_parameters()] == ['freqs']
    q, k = qk(1, 5, 32)
    logits(la, q, k).sum().backward()
    assert la.freqs.grad is not None
    with pytest.raises(ValueError, match='delta_shape'): EulerRotation(32, 20, delta_shape='matrix')


def test_alpha_frequencies():
    g = rope_freqs(64, 2)
    torch.testing.assert_close(g[[0, 16]], torch.tensor([1., 0.01], dtype=torch.float64))
    assert rope_freqs(64, 2, scope='head')[16] == 1


def test_ablation_switches():
    q, k = qk(1, 8, 32)
    no_adapt = EulerRotation(32, 10, adapt=False)
    assert list(no_adapt.parameters()) == []
    torch.testing.assert_close(logits(no_adapt, q, k), rope(q, no_adapt.freqs) @ rope(k, no_adapt.freqs).transpose(1, 2))
    no_rot = EulerRotation(32, 10, diff_rotation=False)   # δ = 1, b = 0: identity
    torch.testing.assert_close(logits(no_rot, q, k), q @ k.transpose(1, 2), rtol=1e-5, atol=1e-5)


def test_half_layout_is_a_permutation_of_interleaved():
    q, k = qk(2, 10, 32, dtype=torch.float64)
    perm = from_pairs(*to_pairs(torch.arange(32), 'half', 2))
    qh, kh = torch.empty_like(q), torch.empty_like(k)
    qh[..., perm], kh[..., perm] = q, k
    ri, rh = EulerRotation(32, 10, 2).double(), EulerRotation(32, 10, 2, layout='half').double()
    with torch.no_grad():
        for r in (ri, rh): r.delta.fill_(0.6); r.b.fill_(0.4)
        torch.testing.assert_close(logits(rh, qh, kh), logits(ri, q, k))


def test_branch_cut_for_non_integer_delta():
    x = torch.tensor([[-1., 0.], [-1., -0.]])
    lam, th = euler(x)
    out = euler_inverse(lam, 0.5 * th)
    torch.testing.assert_close(out, torch.tensor([[0., 1.], [0., -1.]]), atol=1e-6, rtol=0)
    out2 = euler_inverse(lam, 2 * th)   # integer δ: continuous
    torch.testing.assert_close(out2[0], out2[1], atol=1e-6, rtol=0)


def test_phase_shift_psi():
    ps = PhaseShift(16, 8)
    x = torch.randn(2, 8, 16)
    assert torch.equal(ps(x).detach(), x)
    with torch.no_grad(): ps.psi.normal_()
    y = ps(x).detach()
    torch.testing.assert_close(euler(y)[0], euler(x)[0])
    assert [n for n, _ in ps.named_parameters()] == ['psi']


def test_recorded_phases():
    rot = EulerRotation(16, 10, delta_init=0.5)
    with torch.no_grad(): rot.b.fill_(0.3)
    q, k = qk(2, 6, 16)
    rot.record = True; rot(q, k)
    pq, pk = rot.phases
    torch.testing.assert_close(pq, 0.5 * euler(q)[1] + 0.3)
    torch.testing.assert_close(pk, 0.5 * euler(k)[1])
    rr = EulerRotation(16, 10, pcl_phase='rotated'); rr.record = True
    a, b = rr(q, k)
    torch.testing.assert_close(torch.cos(rr.phases[0]), torch.cos(euler(a)[1]), atol=1e-5, rtol=0)
