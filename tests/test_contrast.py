"""The phase contrastive loss (eulerrec.contrast) against a plain-loop reference."""
import math
import pytest
import torch
from eulerrec.contrast import PhaseContrast, circular_variance, mask_phases, phase_infonce, phase_infonce_loop, phase_similarity


def data(seed=0, B=3, L=7, n=5):
    g = torch.Generator().manual_seed(seed)
    ph = torch.randn(B, L, n, generator=g, dtype=torch.float64) * 2
    w = torch.rand(n, generator=g, dtype=torch.float64) + 0.5
    mask = torch.arange(L) < torch.tensor([L, 4, 1][:B])[:, None]
    return ph, mask_phases(ph, generator=g), w, mask


def test_similarity():
    ph, au, w, _ = data()
    ref = (w * torch.cos(ph[:, :, None] - au[:, None])).sum(-1)
    torch.testing.assert_close(phase_similarity(ph, au, w), ref)


@pytest.mark.parametrize('tau', [0.5, 1., 5., 10.])
@pytest.mark.parametrize('seed', [0, 1])
def test_faithful_equals_loop(tau, seed):
    ph, au, w, mask = data(seed)
    au2 = mask_phases(ph, rescale=True, generator=torch.Generator().manual_seed(seed))   # Dropout(0.5) semantics
    for a in (au, au2):
        assert abs(phase_infonce(ph, a, w, tau, mask, faithful=True).item() - phase_infonce_loop(ph, a, w, tau, mask, faithful=True)) < 1e-10


@pytest.mark.parametrize('tau', [0.5, 1., 5.])
def test_default_equals_loop(tau):
    ph, au, w, mask = data()
    assert abs(phase_infonce(ph, au, w, tau, mask).item() - phase_infonce_loop(ph, au, w, tau, mask)) < 1e-10
    assert abs(phase_infonce(ph, au, w, tau).item() - phase_infonce_loop(ph, au, w, tau)) < 1e-10


def test_default_masks_padding_faithful_does_not():
    ph, au, w, mask = data()
    pad = lambda t: torch.cat([t, torch.zeros(t.shape[0], 5, t.shape[2], dtype=t.dtype)], 1)
    mpad = torch.cat([mask, torch.zeros(mask.shape[0], 5, dtype=torch.bool)], 1)
    assert abs(phase_infonce(pad(ph), pad(au), w, mask=mpad).item() - phase_infonce(ph, au, w, mask=mask).item()) < 1e-10
    assert abs(phase_infonce(pad(ph), pad(au), w, faithful=True).item() - phase_infonce(ph, au, w, faithful=True).item()) > 1e-3
    # and the faithful loss ignores the mask argument (the official code has none)
    assert phase_infonce(ph, au, w, mask=mask, faithful=True).item() == phase_infonce(ph, au, w, faithful=True).item()


def test_mask_phases():
    g = torch.Generator().manual_seed(0)
    m = mask_phases(torch.ones(20000), generator=g)
    assert abs((m == 0).float().mean().item() - 0.5) < 0.02 and set(m.unique().tolist()) == {0., 1.}
    assert set(mask_phases(torch.ones(1000), rescale=True).unique().tolist()) == {0., 2.}


def test_module_train_vs_eval_and_gradients():
    ph, _, _, mask = data()
    pc = PhaseContrast(5, tau=1.)
    torch.manual_seed(0)
    loss = pc(ph.float(), ph.float() * 0.5, mask)
    loss.backward()
    assert loss > 0 and pc.w.grad is not None and torch.isfinite(pc.w.grad).all()
    pc.eval()   # no augmentation: the positive is the anchor itself
    with torch.no_grad():
        expect = phase_infonce(ph.float(), ph.float(), pc.w, 1., mask) + phase_infonce(ph.float() * .5, ph.float() * .5, pc.w, 1., mask)
        torch.testing.assert_close(pc(ph.float(), ph.float() * 0.5, mask), expect)
    assert torch.equal(pc.w.detach(), torch.ones(5))


def test_circular_variance():
    same = torch.full((2, 10, 4), 0.3)
    spread = torch.linspace(0, 2 * math.pi, 11)[:-1][None, :, None].expand(2, 10, 4)
    torch.testing.assert_close(circular_variance(same), torch.zeros(2), atol=1e-6, rtol=0)
    torch.testing.assert_close(circular_variance(spread), torch.ones(2), atol=1e-6, rtol=0)
    mask = torch.arange(10) < 1   # one real position: no dispersion
    torch.testing.assert_close(circular_variance(spread, mask.expand(2, 10)), torch.zeros(2), atol=1e-6, rtol=0)
