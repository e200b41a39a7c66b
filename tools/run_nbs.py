"""Execute notebooks in place (nbdev's skip rules: `#| eval: false` and tst_flags cells are skipped
unless their flag is given with --flags), then run nbdev_clean on them.

    python tools/run_nbs.py [nbs/00_data.ipynb ...] [--flags slow]
"""
import argparse, os, subprocess, sys
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config
from nbdev.process import extract_directives


def _skip(cell, skip):
    if cell.cell_type != 'code' or 'nbdev_export(' in cell.source: return True
    d = extract_directives(cell, remove=False)
    return d.get('eval:', [''])[0].lower() == 'false' or bool(skip & d.keys())


def run_nb(fn, skip):
    fn = Path(fn).absolute(); nb = read_nb(fn); sh = CaptureShell(fn)
    print(f'running {fn.name}', flush=True)
    with working_directory(fn.parent): sh.run_all(nb, exc_stop=True, preproc=lambda c: _skip(c, skip))
    write_nb(nb, fn)


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('nbs', nargs='*'); p.add_argument('--flags', default='')
    a = p.parse_args()
    cfg = get_config(); sys.path.insert(0, str(cfg.config_path))
    skip = set(cfg.tst_flags.split()) - set(a.flags.split())
    files = a.nbs or sorted(str(f) for f in Path(cfg.nbs_path).glob('[!_]*.ipynb'))
    for f in files: run_nb(f, skip)
    subprocess.run(['nbdev_clean', *sum((['--fname', f] for f in files), [])], check=True)
