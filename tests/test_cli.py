"""The `eulerrec` console script, end to end on real data."""
import json, os, subprocess, sys
import pytest


def run(*args, env=None, check=True):
    p = subprocess.run([sys.executable, '-c', 'from eulerrec.cli import main; main()', *args], capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, timeout=900)
    if check and p.returncode != 0: raise AssertionError(f'exit {p.returncode}\n{p.stdout}\n{p.stderr}')
    return p


def test_data_info_ml1m(shared_data):
    out = run('data', 'info', 'ml-1m', '--data-dir', str(shared_data)).stdout
    for s in ('6,040', '3,706', '1,000,209', '3,416', '999,611'): assert s in out, out


def test_train_and_evaluate(shared_data, tmp_path):
    out = run('train', '--model', 'sasrec', '--dataset', 'ml-100k', '--data-dir', str(shared_data), '--epochs', '1',
              '--max-len', '20', '--out', str(tmp_path/'run'), '--no-progress', '--device', 'cpu').stdout
    for k in ('HR@5', 'NDCG@10', 'MRR@20'): assert k in out
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    ev = run('evaluate', str(tmp_path/'run'), '--data-dir', str(shared_data)).stdout
    assert f"{m['test']['NDCG@10']:.4f}" in ev, (m['test'], ev)


def test_pop_runs(shared_data, tmp_path):
    out = run('train', '--model', 'pop', '--dataset', 'ml-100k', '--data-dir', str(shared_data), '--out', str(tmp_path/'pop')).stdout
    assert 'NDCG@10' in out


def test_errors_are_clear(tmp_path):
    bad = tmp_path/'bad.csv'
    bad.write_text('user,item,timestamp\n1,2,3\n1,x,4\n')
    p = run('data', 'info', str(bad), check=False)
    assert p.returncode == 2 and 'bad.csv' in p.stderr, p.stderr
    p = run('train', '--model', 'nope', check=False)
    assert p.returncode == 2 and "unknown model 'nope'" in p.stderr, p.stderr
    p = run('evaluate', str(tmp_path), check=False)
    assert p.returncode == 2 and 'eulerrec: error:' in p.stderr and 'not a run directory' in p.stderr, p.stderr
    (tmp_path/'config.json').write_text('{}')   # a run interrupted in its first epoch
    p = run('evaluate', str(tmp_path), check=False)
    assert p.returncode == 2 and 'no best.pt, so no epoch has finished yet' in p.stderr, p.stderr
    for bad in (('benchmark', '--max-batches', '0'), ('benchmark-long', '--lengths', '64', '-8'), ('benchmark-long', '--repeats', '0')):
        p = run(*bad, check=False)
        assert p.returncode == 2 and 'expected an int >= 1' in p.stderr, (bad, p.stderr)
    for bad, msg in ((('--epochs', '-1'), 'epochs=-1: expected an int >= 1'), (('--set', 'nosuch=1'), "unknown config key(s) ['nosuch']"), (('--set', 'd'), "--set 'd': expected KEY=VALUE"),
                     (('--model', 'sasrec', '--set', 'd=0'), 'SASRec: d=0: expected an int >= 1'),
                     (('--model', 'sasrec', '--set', 'n_heads=3'), 'must be divisible by n_heads=3')):
        p = run('train', *bad, '--out', str(tmp_path/'run'), check=False)   # before any data loads or anything is written
        assert p.returncode == 2 and msg in p.stderr and 'ml-100k' not in p.stdout + p.stderr, (bad, p.stdout, p.stderr)
        assert not (tmp_path/'run').exists(), bad


def test_benchmark_long_prints_ratios_and_streaming():
    out = run('benchmark-long', '--lengths', '64', '128', '--models', 'sasrec', 'recgrela', '--repeats', '1',
              '--stream-len', '100', '--stream-batch', '1').stdout
    assert 'speedup_vs_sasrec' in out and 'memory_saving_vs_sasrec' in out, out
    assert 'streaming L=100' in out and 'max_abs_score_diff' in out and 'speedup' in out, out


def test_train_estimate_trains_nothing(shared_data, tmp_path):
    out = run('train', '--model', 'sasrec', '--dataset', 'ml-100k', '--data-dir', str(shared_data), '--epochs', '7',
              '--estimate', '2', '--out', str(tmp_path/'run'), '--device', 'cpu').stdout
    assert 'steps per epoch' in out and 'median of 2' in out and 'at most 7 epochs' in out, out
    assert not (tmp_path/'run').exists()
    p = run('train', '--estimate', 'x', check=False)
    assert p.returncode == 2 and 'invalid int value' in p.stderr
    p = run('train', '--estimate', '0', '--data-dir', str(shared_data), '--out', str(tmp_path/'run'), check=False)
    assert p.returncode == 2 and "'0': expected an int >= 1" in p.stderr and not (tmp_path/'run').exists(), p.stderr


def two_runs(root):
    "Two run directories of two epochs each under `root`: sasrec-seed1 finished, eulerformer-seed1 still training."
    done, part = root/'sasrec-seed1', root/'eulerformer-seed1'
    for d in (done, part):
        d.mkdir(); (d/'config.json').write_text(json.dumps(dict(patience=10, epochs=100)))
        (d/'history.csv').write_text('epoch,loss,seconds,valid_NDCG@10\n0,7.0,10,0.05\n1,6.5,10,0.04\n')
    (done/'metrics.json').write_text(json.dumps(dict(model='sasrec', epochs=2, best_epoch=0, test={'NDCG@10': 0.1, 'HR@10': 0.2, 'MRR@10': 0.05})))
    return done, part


def test_results_lists_unfinished_runs_below_the_table(tmp_path):
    done, part = two_runs(tmp_path)
    out = run('results', str(tmp_path)).stdout.splitlines()
    assert out[-1] == 'eulerformer-seed1: unfinished after 2 of ≤100 epochs, best valid NDCG@10 0.0500 at epoch 0, 1 epoch(s) since (early stop after 10)'
    assert any(l.split()[:2] == ['sasrec', '1'] for l in out), out      # the finished run's row: one seed
    (done/'metrics.json').unlink()                                     # nothing finished: the unfinished runs alone
    assert run('results', str(tmp_path)).stdout.splitlines() == [f'{n}: unfinished after 2 of ≤100 epochs, best valid NDCG@10 0.0500 at epoch 0, '
                                                                  '1 epoch(s) since (early stop after 10)' for n in ('eulerformer-seed1', 'sasrec-seed1')]
    p = run('results', str(tmp_path/'empty'), check=False)
    assert p.returncode != 0 and 'no run directories' in p.stderr
    (done/'metrics.json').write_text(json.dumps(dict(model='sasrec', epochs=2, best_epoch=0, test={'NDCG@10': 0.1})))
    p = run('results', str(tmp_path), '--base', 'sasrecc', check=False)   # a misspelt base is an error, not silently no comparison
    assert p.returncode == 2 and "--base 'sasrecc': no finished run of it" in p.stderr and 'finished: sasrec' in p.stderr, p.stderr


def test_ctrl_c_keeps_the_run_and_says_how_to_continue(shared_data, tmp_path):
    import signal, time
    args = ['train', '--model', 'sasrec', '--max-len', '20', '--data-dir', str(shared_data), '--out', str(tmp_path/'run'),
            '--no-progress', '--device', 'cpu']
    # Ctrl-C as in a terminal: a shell that starts a job in the background (CI's, nohup) sets SIGINT to be ignored, and
    # the child would inherit that; Python's own handler is put back first
    code = 'import signal; signal.signal(signal.SIGINT, signal.default_int_handler); from eulerrec.cli import main; main()'
    p = subprocess.Popen([sys.executable, '-c', code, *args, '--epochs', '50'], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        t0 = time.time()
        while not (tmp_path/'run'/'last.pt').exists() and p.poll() is None and time.time() - t0 < 600: time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally: p.kill()
    assert p.returncode == 130 and 'eulerrec: interrupted' in err and 'Traceback' not in err, (p.returncode, err)
    assert f"{tmp_path/'run'/'last.pt'} holds the run up to epoch" in err and 'the same command continues' in err, err
    out = run(*args, '--epochs', '2').stdout   # the same run, capped at 2 epochs: it resumes
    assert 'resumed from' in out, out


def test_results_plot_draws_every_run(tmp_path):
    import matplotlib.image
    two_runs(tmp_path)
    out = run('results', str(tmp_path), '--plot', str(tmp_path/'fig'/'runs.png')).stdout
    assert f"plot written to {tmp_path/'fig'/'runs.png'}" in out, out
    img = matplotlib.image.imread(tmp_path/'fig'/'runs.png')
    assert img.shape[1] > 1000 and img[..., :3].std() > 0.05   # a wide figure with something drawn on it


def test_every_trainconfig_field_has_a_flag():
    "`eulerrec train` has a flag for every TrainConfig field (model_config: --set), each with a help line naming its default."
    from dataclasses import fields
    from eulerrec.cli import build_parser, train_config
    from eulerrec.train import TrainConfig
    train = build_parser()._subparsers._group_actions[0].choices['train']
    actions = {a.dest: a for a in train._actions}
    for f in fields(TrainConfig):
        a = actions['set' if f.name == 'model_config' else f.name]
        assert a.help and ('default' in a.help or a.const is True), (f.name, a.help)
    assert train_config(train.parse_args([])) == TrainConfig()   # the flags' defaults are TrainConfig's
    cfg = train_config(train.parse_args(['--weight-decay', '0.1', '--eval-batch-size', '64', '--ks', '1', '50', '--set', 'd=32']))
    assert (cfg.weight_decay, cfg.eval_batch_size, cfg.ks, cfg.model_config) == (0.1, 64, (1, 50), {'d': 32})


def test_results_reads_the_run_folders_train_writes(shared_data, tmp_path):
    "Without --out, runs go to runs/<setup>/<model>-seed<S>: `eulerrec results runs --base sasrec` compares those of one setup."
    common = ('--dataset', 'ml-100k', '--data-dir', str(shared_data), '--epochs', '1', '--epoch-steps', '2', '--max-len', '20',
              '--no-progress', '--device', 'cpu')
    train = lambda *a: subprocess.run([sys.executable, '-c', 'from eulerrec.cli import main; main()', 'train', *common, *a],
                                      cwd=tmp_path, capture_output=True, text=True, timeout=600, check=True)
    train('--model', 'sasrec'); train('--model', 'gru4rec'); train('--model', 'gru4rec', '--lr', '0.01')
    setups = sorted(p.name for p in (tmp_path/'runs').iterdir())
    assert setups == ['ml-100k,max_len=20,epoch_steps=2', 'ml-100k,max_len=20,epoch_steps=2,lr=0.01'], setups   # another --lr: its own folder
    out = subprocess.run([sys.executable, '-c', 'from eulerrec.cli import main; main()', 'results', 'runs', '--base', 'sasrec'],
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert 'gru4rec vs sasrec: NDCG@10' in out.stdout and 'lr=0.01: no finished run of sasrec to compare with' in out.stdout, out.stdout


def test_help_loads_neither_torch_nor_the_pipeline():
    "`eulerrec --help` (and a usage error) answer without importing torch, pandas or the data pipeline: well under 2 s."
    code = ("import sys\nfrom eulerrec.cli import main\ntry: main(sys.argv[1:])\nexcept SystemExit: pass\n"
            "heavy = [m for m in ('torch', 'pandas', 'eulerrec.data', 'eulerrec.models') if m in sys.modules]\nprint('loaded:', heavy)")
    for args in (['--help'], ['train', '--help'], ['sweep', '--help'], ['train', '--epochs', 'x']):
        p = subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True, timeout=60)
        assert p.stdout.strip().endswith('loaded: []'), (args, p.stdout[-300:], p.stderr[-300:])
