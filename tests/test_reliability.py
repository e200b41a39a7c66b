"""What eulerrec guarantees (08_train, "What eulerrec guarantees"), through the installed `eulerrec` command.

Each case of the reliability issue: a clean exit on success, a one-line error (exit status 2) for bad input before any
work, run directories that are never corrupted, shared or overwritten by another run, and exact resumption after a kill.
"""
import json, os, shutil, signal, subprocess, sys, time
from pathlib import Path
import pytest
import torch
from eulerrec.train import save_checkpoint

EULERREC = shutil.which('eulerrec') or pytest.skip('the eulerrec console script is not installed', allow_module_level=True)
TINY = ['--model', 'sasrec', '--dataset', 'ml-100k', '--max-len', '10', '--batch-size', '64', '--epoch-steps', '2',
        '--device', 'cpu', '--no-progress']


def eulerrec(*args, check=None, timeout=600):
    "Run the installed console script; `check` = the exit status it must end with."
    p = subprocess.run([EULERREC, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
    if check is not None: assert p.returncode == check, f'exit {p.returncode}, expected {check}\n{p.stdout}\n{p.stderr}'
    return p


def one_line_error(p, *words):
    "An `eulerrec: error:` line naming `words`, and no traceback."
    assert p.returncode == 2 and 'Traceback' not in p.stderr, p.stderr
    line = next(l for l in p.stderr.splitlines() if l.startswith('eulerrec: error:'))
    for w in words: assert w in line, (w, line)


def snapshot(d: Path) -> dict: return {f.name: f.read_bytes() for f in d.iterdir() if f.name != '.lock'}


@pytest.fixture(scope='module')
def finished(shared_data, tmp_path_factory):
    "A finished two-epoch run directory, made once."
    out = tmp_path_factory.mktemp('finished')/'run'
    eulerrec('train', *TINY, '--epochs', '2', '--data-dir', shared_data, '--out', out, check=0)
    return out


def test_evaluate_exits_zero(finished, shared_data):
    p = eulerrec('evaluate', finished, '--data-dir', shared_data, check=0)
    assert 'test, seen items excluded' in p.stdout and p.stderr.count('Traceback') == 0


@pytest.mark.parametrize('args, words', [
    (['--set', 'tau=0'], ['tau=0']), (['--set', 'pcl_weight=-1'], ['pcl_weight=-1']), (['--lr', 'inf'], ['lr=inf']),
    (['--ties', 'bogus'], ["ties='bogus'"])])
def test_impossible_settings_refused_before_any_work(args, words, tmp_path):
    p = eulerrec('train', '--model', 'eulerformer', *args, '--out', tmp_path/'run')
    one_line_error(p, *words)
    assert not (tmp_path/'run').exists()


def test_out_is_a_file(tmp_path):
    f = tmp_path/'file'; f.write_text('mine')
    one_line_error(eulerrec('train', *TINY, '--out', f), 'is a file')
    one_line_error(eulerrec('train', *TINY, '--out', f/'run'), 'cannot be used as a run directory')
    assert f.read_text() == 'mine'


def test_another_models_run_directory_is_not_overwritten(finished, shared_data):
    before = snapshot(finished)
    one_line_error(eulerrec('train', '--model', 'pop', '--dataset', 'ml-100k', '--data-dir', shared_data, '--out', finished),
                   'different configuration', "model: 'sasrec' there, 'pop' here")
    assert snapshot(finished) == before


def test_fewer_epochs_than_trained_refused(finished, shared_data):
    before = snapshot(finished)
    one_line_error(eulerrec('train', *TINY, '--epochs', '1', '--data-dir', shared_data, '--out', finished), 'already trained 2 epochs')
    assert snapshot(finished) == before


@pytest.mark.parametrize('damage, words', [
    (lambda f: f.write_bytes(b''), ['best.pt', 'not a loadable eulerrec checkpoint']),
    (lambda f: save_checkpoint(f, model_state={'w': torch.ones(2)}, model_config={}, epoch=0), ['best.pt', "does not hold a 'sasrec' model"]),
    (lambda f: save_checkpoint(f, epoch=0), ['best.pt', 'without model_config, model_state']),
    (lambda f: (f.parent/'config.json').write_text('{"model": "sasrec",'), ['config.json', 'not a readable JSON file'])])
def test_damaged_run_directories(finished, shared_data, tmp_path, damage, words):
    run = tmp_path/'run'; shutil.copytree(finished, run)
    damage(run/'best.pt')
    one_line_error(eulerrec('evaluate', run, '--data-dir', shared_data), *words)


def test_planted_links_are_replaced_not_followed(shared_data, tmp_path):
    run, outside = tmp_path/'run', tmp_path/'outside'
    run.mkdir(); outside.write_text('precious')
    for name in ('best.pt', 'best.pt.tmp', 'last.pt.tmp', 'metrics.json', 'history.csv'): os.symlink(outside, run/name)
    eulerrec('train', *TINY, '--epochs', '1', '--data-dir', shared_data, '--out', run, check=0)
    assert outside.read_text() == 'precious' and not any((run/n).is_symlink() for n in ('best.pt', 'metrics.json'))


def _wait_for(cond, proc, seconds=300):
    t = time.time()
    while not cond():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t < seconds, 'timed out'
        time.sleep(0.05)


def test_two_writers_one_run_directory(shared_data, tmp_path):
    "A second training into a run directory in use is refused at once; the first one finishes unharmed."
    run = tmp_path/'run'
    first = subprocess.Popen([EULERREC, 'train', *TINY, '--epochs', '60', '--patience', '100', '--data-dir', str(shared_data), '--out', str(run)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    _wait_for(lambda: (run/'.lock').is_file() and (run/'.lock').read_text().startswith('pid'), first)
    one_line_error(eulerrec('train', *TINY, '--epochs', '60', '--patience', '100', '--data-dir', shared_data, '--out', run), 'is training into this run directory')
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    assert json.loads((run/'metrics.json').read_text())['epochs'] == 60


def test_kill_9_then_resume_gives_the_same_result(shared_data, tmp_path):
    "SIGKILL in the middle of a run; the same command then ends exactly as an uninterrupted run."
    args = [*TINY, '--epochs', '12', '--patience', '50', '--data-dir', shared_data]
    eulerrec('train', *args, '--out', tmp_path/'whole', check=0)
    run = tmp_path/'killed'
    victim = subprocess.Popen([EULERREC, 'train', *map(str, args), '--out', str(run)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env={**os.environ, 'OMP_NUM_THREADS': '1'})
    _wait_for(lambda: (run/'history.csv').is_file() and len((run/'history.csv').read_text().splitlines()) >= 3, victim)  # 2 epochs done
    victim.send_signal(signal.SIGKILL); victim.wait()
    assert not (run/'metrics.json').exists()
    eulerrec('train', *args, '--out', run, check=0)
    a, b = (json.loads((d/'metrics.json').read_text()) for d in (tmp_path/'whole', run))
    assert a['test'] == b['test'] and a['valid'] == b['valid'] and a['best_epoch'] == b['best_epoch']
    ha, hb = ((d/'history.csv').read_text().splitlines() for d in (tmp_path/'whole', run))
    strip = lambda lines: [','.join(c for i, c in enumerate(l.split(',')) if i != 2) for l in lines]   # drop the seconds column
    assert strip(ha) == strip(hb) and len(b['processes']) == 2
    assert not list(run.glob('.*.part'))   # the killed writer's temporary file, if any, was cleaned up


def test_tables_without_a_known_time_column_are_refused(tmp_path):
    "A CSV whose time column is not recognised would silently use file order as the chronology: refused, naming the columns."
    f = tmp_path/'ratings.csv'; f.write_text('userId,movieId,rating,when\n1,10,4,5\n1,11,3,6\n')
    one_line_error(eulerrec('data', 'info', f), 'ratings.csv', 'when')
    f.write_text('userId,movieId,rating,Timestamp\n' + ''.join(f'{u},{i},4,{t}\n' for u in range(1, 4) for t, i in enumerate(range(10, 16))))
    p = eulerrec('data', 'info', f, '--core', '0', check=0)
    assert '18' in p.stdout   # found `Timestamp` in any case: all 18 rows read


def test_ids_beyond_int64_and_byte_order_marks(tmp_path):
    big = tmp_path/'big.csv'; big.write_text('user,item,timestamp\n1,2,3\n1,9223372036854775808,4\n')
    one_line_error(eulerrec('data', 'info', big), 'big.csv, line 3', 'signed 64-bit')
    bom = tmp_path/'bom.inter'
    bom.write_bytes(b'\xef\xbb\xbf' + b'user_id:token\titem_id:token\ttimestamp:float\n' + b''.join(b'1\t%d\t%d\n' % (i, i) for i in range(1, 6)))
    eulerrec('data', 'info', bom, '--core', '0', check=0)


def test_damaged_results_files_are_named(finished, tmp_path):
    root = tmp_path/'runs'; shutil.copytree(finished, root/'sasrec-seed2020')
    (root/'sasrec-seed2020'/'metrics.json').write_text('{"model": ')
    one_line_error(eulerrec('results', root), 'metrics.json', 'not a readable JSON file')


def test_runs_from_before_both_seen_item_policies_show_them_as_missing(finished, tmp_path):
    root = tmp_path/'runs'; shutil.copytree(finished, root/'sasrec-seed2020')
    m = json.loads((root/'sasrec-seed2020'/'metrics.json').read_text())
    for k in ('test_seen_excluded', 'valid_seen_excluded', 'ties', 'time_cast', 'data_digest'): del m[k]   # as an older run wrote it
    (root/'sasrec-seed2020'/'metrics.json').write_text(json.dumps(m))
    rows = eulerrec('results', root, '--split', 'test_seen_excluded', check=0).stdout.splitlines()
    assert rows[-1].split()[-3:] == ['—', '—', '—'], rows            # missing, not zero
    assert '0.00' not in rows[-1]
