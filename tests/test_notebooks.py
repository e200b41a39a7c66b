"""Every notebook in nbs/ is one pytest item, executed the way `nbdev_test` executes it.

Cells flagged with a `tst_flags` flag (e.g. `#| slow`) are skipped unless NBDEV_TEST_FLAGS names it.
"""
import functools, os
import pytest
from execnb.shell import CaptureShell
from nbdev.config import get_config
from nbdev import test as nbtest  # not `from nbdev.test import test_nb`: pytest would collect it

CELL_TIMEOUT = int(os.environ.get('NB_CELL_TIMEOUT', '900'))
nbtest.CaptureShell = functools.partial(CaptureShell, timeout=CELL_TIMEOUT)  # nbdev 2.x has no timeout option
cfg = get_config()
NBS = sorted(p for p in cfg.nbs_path.rglob('*.ipynb')
             if not any(s.startswith(('_', '.')) for s in p.relative_to(cfg.nbs_path).parts))
FLAGS = os.environ.get('NBDEV_TEST_FLAGS', '').split()


@pytest.mark.notebook
@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.name)
def test_notebook(nb):
    ok, _ = nbtest.test_nb(nb, skip_flags=cfg.tst_flags.split(), force_flags=FLAGS, basepath=cfg.config_path)
    assert ok, f'{nb.name} failed (traceback in captured stderr)'
