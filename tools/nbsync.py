"""Edit notebooks as plain text: convert nbs/*.ipynb to a py:percent file and back, keeping outputs.

    python tools/nbsync.py to-py   nbs/00_data.ipynb /tmp/00_data.py
    python tools/nbsync.py from-py /tmp/00_data.py nbs/00_data.ipynb   # outputs of unchanged cells are kept

The .ipynb stays the source of truth: never commit the .py file. Run nbdev_export / tools/run_nbs.py after.
"""
import sys
from pathlib import Path
import jupytext, nbformat

KERNEL = {'display_name': 'Python 3 (ipykernel)', 'language': 'python', 'name': 'python3'}


def to_py(nb_path, py_path): jupytext.write(jupytext.read(nb_path), py_path, fmt='py:percent')


def from_py(py_path, nb_path):
    new = jupytext.read(py_path, fmt='py:percent')
    nb_path = Path(nb_path)
    if nb_path.exists():  # keep the ids (and, for code, the outputs) of cells whose source did not change: small diffs
        old = {(c.cell_type, c.source): c for c in nbformat.read(nb_path, as_version=4).cells}
        for c in new.cells:
            if (o := old.get((c.cell_type, c.source))) is not None:
                c['id'] = o.get('id', c.get('id'))
                if c.cell_type == 'code': c.outputs = o.outputs
    new.metadata = {'kernelspec': KERNEL}
    for c in new.cells: c.metadata = {}
    nbformat.write(new, nb_path)


if __name__ == '__main__':
    cmd, src, dst = sys.argv[1:4]
    {'to-py': to_py, 'from-py': from_py}[cmd](src, dst)
