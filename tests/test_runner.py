"""results/run.sh: the background runner skips finished runs, continues capped ones, and uses each setup's protocol.

The runs it decides about are fakes written under a temporary RESULTS_DIR, so that these tests do not depend on which
real results are committed (those change as runs are continued)."""
import json, os, subprocess
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]


def runner(*args, **env):
    return subprocess.run(['bash', str(ROOT/'results'/'run.sh'), *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, 'DRY': '1', **env})


def fake_run(root: Path, name: str, epochs: int, best_epoch: int, patience: int = 10, last_pt: bool = True) -> Path:
    "A finished run directory as `eulerrec train` leaves it: metrics.json, config.json and (optionally) last.pt."
    d = root/name; d.mkdir(parents=True)
    (d/'metrics.json').write_text(json.dumps(dict(epochs=epochs, best_epoch=best_epoch, test={'NDCG@10': 0.1})))
    (d/'config.json').write_text(json.dumps(dict(patience=patience, epochs=epochs)))
    if last_pt: (d/'last.pt').write_bytes(b'')
    return d


def test_protocol_flags_and_skips(tmp_path):
    fake_run(tmp_path, 'long/ml-100k/recgrela-seed2020', epochs=40, best_epoch=33)   # stopped by a 40-epoch cap
    env = dict(RESULTS_DIR=str(tmp_path))
    assert runner('long-ml-100k', 'recgrela', EPOCHS='40', **env).stdout.strip() == \
        'long-ml-100k recgrela seed 2020: skip: capped at 40 epochs, EPOCHS=40'
    out = runner('long-ml-100k', 'recgrela', 'linrec', **env).stdout.splitlines()   # the setup's cap: 100 epochs
    assert out[0].startswith('long-ml-100k recgrela seed 2020: would run eulerrec train --model recgrela')
    assert '--max-len 200 --batch-size 64 --epochs 100 --patience 10' in out[1] and out[1].endswith(f'--out {tmp_path}/long/ml-100k/linrec-seed2020 --no-progress')
    out = runner('long-ml-1m', 'recgrela', **env).stdout   # ML-1M: close to the official prefix training
    assert '--dataset ml-1m' in out and '--max-len 200 --batch-size 28 --stride 50 --epochs 200 --patience 20' in out
    out = runner('ml-1m', 'sasrec', SEED='12345', **env).stdout
    assert '--dataset ml-1m --min-rating 3 --core 10' in out and '--max-len 50 --epochs 100' in out and '--seed 12345' in out
    assert '--ties item ' in out   # these folders hold runs with ties by item id: a new seed shares their split
    assert '--device cpu ' in out and '--device cuda ' in runner('ml-1m', 'sasrec', DEVICE='cuda', **env).stdout   # CPU unless told


def test_probe_runs_name_a_model_and_its_training_regime(tmp_path):
    out = runner('probe-ml-1m', RESULTS_DIR=str(tmp_path)).stdout.splitlines()
    assert len(out) == 3 and all('--max-len 200 --epoch-steps 60' in o and '--epochs 8 --patience 8' in o for o in out)
    assert '--model recgrela ' in out[0] and '--mode all --batch-size 4 --stride 50' in out[0]
    assert '--model recgrela ' in out[1] and '--mode last --batch-size 292' in out[1]
    assert '--model recgrela-bidirectional ' in out[2] and out[2].endswith('ml-1m-probe/recgrela-bidirectional-prefixes-seed2020 --no-progress')
    assert 'unknown run' in runner('probe-ml-1m', 'recgrela', RESULTS_DIR=str(tmp_path)).stdout


def test_prefix_runs_train_as_the_official_run_to_the_end(tmp_path):
    out = runner('prefix-ml-1m', RESULTS_DIR=str(tmp_path)).stdout.splitlines()   # both models, the official batch, no probe cap
    assert len(out) == 2 and all('--max-len 200 --mode last --batch-size 2048 --epochs 200 --patience 20' in o for o in out)
    assert '--epoch-steps' not in out[0] and '--model recgrela ' in out[0] and '--model recgrela-bidirectional ' in out[1]
    assert out[1].endswith('ml-1m-prefixes/recgrela-bidirectional-prefixes-seed2020 --no-progress')
    assert 'unknown run' in runner('prefix-ml-1m', 'recgrela-windows', RESULTS_DIR=str(tmp_path)).stdout   # the probe's own regime only


def test_capped_runs_continue_only_with_a_larger_cap_and_a_checkpoint(tmp_path):
    fake_run(tmp_path, 'positional/ml-1m/sasrec-seed2020', epochs=85, best_epoch=84)
    fake_run(tmp_path, 'positional/ml-1m/eulerformer-seed2020', epochs=85, best_epoch=84, last_pt=False)
    fake_run(tmp_path, 'positional/ml-1m/bert4rec-seed2020', epochs=50, best_epoch=30)   # 19 epochs without a better one
    env = dict(RESULTS_DIR=str(tmp_path))
    assert runner('ml-1m', 'sasrec', EPOCHS='85', **env).stdout.strip() == 'ml-1m sasrec seed 2020: skip: capped at 85 epochs, EPOCHS=85'
    assert runner('ml-1m', 'sasrec', EPOCHS='100', **env).stdout.strip().startswith('ml-1m sasrec seed 2020: would run eulerrec train --model sasrec')
    assert runner('ml-1m', 'eulerformer', EPOCHS='100', **env).stdout.strip() == \
        'ml-1m eulerformer seed 2020: skip: capped at 85 epochs but no last.pt here to continue from'
    assert runner('ml-1m', 'bert4rec', EPOCHS='100', **env).stdout.strip() == 'ml-1m bert4rec seed 2020: skip: stopped early'


def test_an_unfinished_run_is_resumed_and_says_how_far_it_got(tmp_path):
    d = tmp_path/'positional/ml-1m/sasrec-seed2020'; d.mkdir(parents=True)     # interrupted after epoch 2 (best epoch 1)
    (d/'config.json').write_text(json.dumps(dict(patience=10, epochs=100)))
    (d/'history.csv').write_text('epoch,loss,seconds,valid_NDCG@10\n0,7.0,100,0.05\n1,6.5,100,0.08\n2,6.3,100,0.07\n')
    out = runner('ml-1m', 'sasrec', RESULTS_DIR=str(tmp_path)).stdout.strip()
    assert out.startswith('ml-1m sasrec seed 2020: would run eulerrec train --model sasrec') and out.endswith(
        ' [resumes: unfinished after 3 of ≤100 epochs, best valid NDCG@10 0.0800 at epoch 1, 1 epoch(s) since (early stop after 10)]')


def test_unknown_setup_is_refused():
    r = runner('ml-20m')
    assert r.returncode == 2 and r.stdout.startswith('usage:')


def test_a_run_held_by_another_worker_is_skipped(tmp_path):
    import fcntl
    lock = tmp_path/'eulerrec-run-results_positional_ml-1m_sasrec-seed12345.lock'
    with open(lock, 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)          # what a worker training that run holds
        out = runner('ml-1m', 'sasrec', 'eulerformer', SEED='12345', TMPDIR=str(tmp_path)).stdout.splitlines()
        assert out[0] == 'ml-1m sasrec seed 12345: skip: another worker is running it (no epoch finished yet)'
        assert out[1].startswith('ml-1m eulerformer seed 12345: would run')
    out = runner('ml-1m', 'sasrec', SEED='12345', TMPDIR=str(tmp_path)).stdout   # released: claimed again
    assert out.startswith('ml-1m sasrec seed 12345: would run'), out


def test_gpu_pack_go_unpack_round_trip(tmp_path, shared_data):
    "results/gpu.sh on this CPU (DEV=cpu): pack a run, train it in a copy of the tree without git, unpack what comes back."
    tree, out, back = tmp_path/'tree', tmp_path/'out', tmp_path/'back'
    subprocess.run(['git', 'clone', '-q', '--depth', '1', f'file://{ROOT}', str(tree)], check=True)
    sh = lambda where, *a, **env: subprocess.run(['bash', 'results/gpu.sh', *a], cwd=where, capture_output=True, text=True, timeout=600,
                                                 env={**os.environ, 'EULERREC_DATA': str(shared_data), **env})
    packed = sh(tree, 'pack', 'ml-100k', 'sasrec:7')
    assert packed.returncode == 0 and 'travels:' in packed.stdout, packed.stdout + packed.stderr
    sha = (tree/'.gpu'/'commit').read_text().strip()
    subprocess.run(['rm', '-rf', str(tree/'.git')], check=True)   # the GPU machine gets the files, not the repository
    out.mkdir(); went = sh(tree, 'go', OUT=str(out), DEV='cpu', EPOCHS='1', DEADLINE='300')
    assert went.returncode == 0 and sorted(p.name for p in out.iterdir()) == ['sasrec-seed7.tar'], went.stdout + went.stderr
    (back/'results').mkdir(parents=True); subprocess.run(['cp', str(ROOT/'results'/'gpu.sh'), str(back/'results')], check=True)
    assert sh(back, 'unpack', str(out)).stdout.strip() == 'unpacked sasrec-seed7'
    m = json.loads((back/'results/rerun/positional/ml-100k/sasrec-seed7/metrics.json').read_text())
    assert m['epochs'] == 1 and m['git_commit'] == f'{sha}+copy' and [p['device'] for p in m['processes']] == ['cpu']
    assert (back/'results/rerun/positional/ml-100k/sasrec-seed7/last.pt').is_file()
