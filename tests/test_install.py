"""The README's main job needs only the runtime requirements: a fresh virtual environment (no system packages) gets
torch and eulerrec without the `dev` extra, and `eulerrec train` runs there; `eulerrec --help` answers quickly."""
import json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_ONLY = ('nbdev', 'fastcore', 'execnb', 'jupyterlab', 'pytest', 'hypothesis', 'selenium', 'IPython')


def test_main_job_runs_with_the_runtime_requirements_alone(tmp_path, shared_data):
    venv = tmp_path/'venv'
    subprocess.run([sys.executable, '-m', 'venv', str(venv)], check=True, timeout=300)
    py = venv/'bin'/'python'
    pip = lambda *a: subprocess.run([str(py), '-m', 'pip', 'install', '-q', '--disable-pip-version-check', *a],
                                    check=True, timeout=1200, capture_output=True, text=True)
    pip('torch==2.13.0')   # the CPU build where the registry offers it (the README's CPU route)
    pip(str(ROOT))         # the runtime requirements only: no [dev]
    missing = subprocess.run([str(py), '-c', f'import importlib.util as u; print([m for m in {DEV_ONLY!r} if u.find_spec(m)])'],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert missing == '[]', f'dev packages in the runtime environment: {missing}'
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'VIRTUAL_ENV')}
    run = subprocess.run([str(venv/'bin'/'eulerrec'), 'train', '--epochs', '1', '--epoch-steps', '2', '--data-dir', str(shared_data),
                          '--no-progress', '--device', 'cpu'], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    m = json.loads((tmp_path/'runs'/'ml-100k,epoch_steps=2'/'eulerformer-seed2020'/'metrics.json').read_text())
    assert m['model'] == 'eulerformer' and m['epochs'] == 1 and 0 <= m['test']['NDCG@10'] <= 1
    t = time.perf_counter()
    assert 'sweep' in subprocess.run([str(venv/'bin'/'eulerrec'), '--help'], env=env, capture_output=True, text=True, check=True).stdout
    print(f'eulerrec --help: {time.perf_counter() - t:.2f} s')
