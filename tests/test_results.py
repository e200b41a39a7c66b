"""eulerrec.results: reading runs, seeds, the paired test and the headline table."""
import json, math
from pathlib import Path
import numpy as np
import pytest
from scipy import stats
from eulerrec.results import read_run, run_status, run_table, seed_runs, seed_table, t_interval, paired_seed_test, headline, EULERFORMER_ML1M

RESULTS = Path(__file__).resolve().parents[1]/'results'


def write_run(root, name, seed, ndcg, epochs=30, best=10, patience=10, finished=True):
    d = Path(root)/f'{name}-seed{seed}'
    d.mkdir(parents=True)
    (d/'config.json').write_text(json.dumps(dict(patience=patience)))
    (d/'history.csv').write_text('epoch,loss,seconds\n' + ''.join(f'{e},1.0,{2.0 + e}\n' for e in range(epochs)))
    if finished:
        (d/'metrics.json').write_text(json.dumps(dict(model=name, epochs=epochs, best_epoch=best,
                                                      test={'NDCG@10': ndcg, 'HR@10': 2 * ndcg, 'MRR@10': ndcg / 2})))
    return d


def test_read_run_stop_reason_and_epoch_time(tmp_path):
    early = read_run(write_run(tmp_path, 'a', 1, 0.1, epochs=21, best=10))
    assert early['stopped'] == 'early stop' and early['epoch_s'] == np.median([2.0 + e for e in range(21)])
    assert read_run(write_run(tmp_path, 'a', 2, 0.1, epochs=20, best=10))['stopped'] == 'capped at 20 epochs'
    assert read_run(write_run(tmp_path, 'a', 3, 0.1, finished=False)) is None


def test_run_status_of_an_unfinished_run_counts_epochs_since_its_best(tmp_path):
    d = write_run(tmp_path, 'a', 1, 0.1, finished=False)
    (d/'config.json').write_text(json.dumps(dict(patience=10, epochs=100)))
    vals = [0.1, 0.3, 0.2, 0.25]                     # best at epoch 1, two epochs without gain since
    (d/'history.csv').write_text('epoch,loss,seconds,valid_NDCG@10\n' + ''.join(f'{e},1.0,2.0,{v}\n' for e, v in enumerate(vals)))
    assert run_status(d) == ('unfinished after 4 of ≤100 epochs, best valid NDCG@10 0.3000 at epoch 1, '
                             '2 epoch(s) since (early stop after 10)')
    (d/'history.csv').write_text('epoch,loss,seconds\n')    # created, no epoch finished yet
    assert run_status(d) == 'not yet run' and run_status(tmp_path/'absent') == 'not yet run'
    assert run_status(write_run(tmp_path, 'a', 2, 0.1, epochs=21, best=10)) == 'done (early stop)'


def test_seed_runs_matches_the_exact_model_name(tmp_path):
    write_run(tmp_path, 'eulerformer', 2020, 0.1)
    write_run(tmp_path, 'eulerformer', 7, 0.2)
    write_run(tmp_path, 'eulerformer-no-pcl', 2020, 0.3)
    write_run(tmp_path, 'eulerformer', 9, 0.4, finished=False)
    runs = seed_runs(tmp_path, 'eulerformer')
    assert list(runs) == [7, 2020] and {r['model'] for r in runs.values()} == {'eulerformer'}


def test_run_table_rows_ratios_and_missing_runs(tmp_path):
    write_run(tmp_path, 'base', 2020, 0.10, epochs=21, best=10)                  # median epoch time 12 s
    write_run(tmp_path, 'new', 2020, 0.12, epochs=11, best=10)                   # median 7 s; capped
    write_run(tmp_path, 'new', 2021, 0.50)                                       # another seed: not in the table
    write_run(tmp_path, 'late', 2020, 0.30, finished=False)
    t = run_table(tmp_path, ['base', 'new', 'late', 'absent'], base='base')
    assert t.status.tolist() == ['done (early stop)', 'done (capped at 11 epochs)', 'unfinished after 30 epochs', 'not yet run']
    assert math.isclose(t.loc['new', 'NDCG@10'], 12.0) and math.isclose(t.loc['new', 'HR@10'], 24.0)
    assert math.isclose(t.loc['new', 'epoch_ratio'], 7 / 12) and t.loc['base', 'epoch_ratio'] == 1
    assert run_table(tmp_path, ['new'], seed=2021, scale=1.).loc['new', 'NDCG@10'] == 0.5
    assert 'epoch_ratio' not in run_table(tmp_path, ['new'])
    assert np.isnan(run_table(tmp_path, ['new'], base='absent').loc['new', 'epoch_ratio'])


def test_t_interval_and_paired_test_against_formulas(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.05, 0.07, 4), rng.uniform(0.05, 0.08, 4)
    for s, (x, y) in enumerate(zip(a, b)):
        write_run(tmp_path, 'base', s, x); write_run(tmp_path, 'new', s, y)
    write_run(tmp_path, 'new', 99, 0.5)  # a seed without a base run is not paired
    r = paired_seed_test(tmp_path, 'new', 'base')
    d = 100 * (b - a)
    assert r['seeds'] == 4 and r['wins'] == int((d > 0).sum())
    assert math.isclose(r['t'], d.mean() / (d.std(ddof=1) / 2), rel_tol=1e-9)
    assert math.isclose(r['p'], 2 * stats.t.sf(abs(r['t']), 3), rel_tol=1e-9)
    assert math.isclose(r['rel'], b.mean() / a.mean() - 1, rel_tol=1e-9)
    m, lo, hi = t_interval(100 * a)
    assert math.isclose(hi - m, stats.t.ppf(0.975, 3) * (100 * a).std(ddof=1) / 2, rel_tol=1e-9) and math.isclose(m - lo, hi - m)
    tab = seed_table(tmp_path, ['base', 'new', 'absent'])
    assert tab.seeds.tolist() == [4, 5, 0] and math.isclose(tab.loc['base', 'NDCG@10'], 100 * a.mean())
    assert np.isnan(tab.loc['absent', 'NDCG@10'])


def test_headline_reports_missing_runs_and_pairs_seeds(tmp_path):
    assert set(headline(tmp_path).protocol) == {'eulerformer-ml-1m', 'eulerformer-ml-1m-dropout0.5', 'recgrela-ml-1m', 'kv2023-ml-1m'}   # the papers' protocols
    h = headline(tmp_path, order=None)
    assert (h.seeds == 0).all() and h.note.str.contains('not yet run').all() and h.ours.isna().all()
    ml1m = tmp_path/'positional'/'ml-1m'
    for s, (x, y) in enumerate([(0.120, 0.130), (0.118, 0.131), (0.121, 0.127)]):
        write_run(ml1m, 'sasrec', s, x, epochs=30, best=10); write_run(ml1m, 'eulerformer', s, y, epochs=30, best=29)
    h = headline(tmp_path, order=None).set_index(['protocol', 'claim'])
    base = h.loc[('ml-1m', 'sasrec NDCG@10')]
    assert base.seeds == 3 and math.isclose(base.ours, 100 * np.mean([0.120, 0.118, 0.121]))
    assert math.isclose(base.gap, base.ours - EULERFORMER_ML1M.loc['sasrec', 'NDCG'])
    gain = h.loc[('ml-1m', 'eulerformer vs sasrec NDCG@10')]
    assert math.isclose(gain.ours, 100 * (np.mean([0.130, 0.131, 0.127]) / np.mean([0.120, 0.118, 0.121]) - 1))
    assert 'paired t-test' in gain.note and 'wins 3/3' in gain.note and 'capped' in gain.note  # eulerformer runs hit the cap
    assert h.loc[('ml-100k', 'eulerformer vs sasrec NDCG@10')].note == 'not yet run'
    assert h.loc[('eulerformer-ml-1m', 'sasrec NDCG@10')].note == ('not yet run; recipe: the current one until every model has runs of every recipe '
                                                                   'with a seed in common (not yet run: eulerformer, eulerformer-l250, sasrec, sasrec-l250)')   # the v2 protocol's folder is empty here
    long1m = tmp_path/'long'/'ml-1m'                        # RecGRELA vs SASRec: paired over the seeds both have
    for s, (x, y) in enumerate([(0.130, 0.140), (0.132, 0.139)]):
        write_run(long1m, 'sasrec', s, x, patience=20, best=5); write_run(long1m, 'recgrela', s, y, patience=20, best=5)
    write_run(long1m, 'recgrela', 7, 0.5, patience=20)       # a seed without its SASRec pair does not count
    gain = headline(tmp_path, order=None).set_index(['protocol', 'claim']).loc[('long-ml-1m', 'recgrela vs sasrec NDCG@10')]
    assert gain.seeds == 2 and math.isclose(gain.ours, 100 * (np.mean([0.140, 0.139]) / np.mean([0.130, 0.132]) - 1))
    assert 'wins 2/2' in gain.note and 'capped' not in gain.note and np.isnan(gain.paper_value)
    conv = tmp_path/'long'/'ml-1m-converged'               # the same runs continued until their patience ran out
    write_run(conv, 'recgrela', 0, 0.150, patience=20, best=5); write_run(conv, 'sasrec', 0, 0.145, patience=20, best=5)
    h = headline(tmp_path, order=None).set_index(['protocol', 'claim'])
    assert h.loc[('long-ml-1m-converged', 'recgrela NDCG@10'), 'seeds'] == 1 and math.isclose(h.loc[('long-ml-1m-converged', 'recgrela NDCG@10'), 'ours'], 15.0)
    assert h.loc[('long-ml-1m-converged', 'recgrela vs sasrec NDCG@10'), 'seeds'] == 1
    assert h.loc[('long-ml-1m', 'recgrela vs sasrec NDCG@10'), 'seeds'] == 2   # the 20-epoch rows are not mixed with them


def test_headline_names_an_equal_budget_of_capped_runs(tmp_path):
    long1m = tmp_path/'long'/'ml-1m'                        # both models of both seeds stopped by a 20-epoch cap
    for s, (x, y) in enumerate([(0.130, 0.140), (0.132, 0.139)]):
        write_run(long1m, 'sasrec', s, x, epochs=20, best=18, patience=20); write_run(long1m, 'recgrela', s, y, epochs=20, best=19, patience=20)
    note = lambda: headline(tmp_path, order=None).set_index(['protocol', 'claim']).loc[('long-ml-1m', 'recgrela vs sasrec NDCG@10'), 'note']
    assert 'equal budget: all 4 runs capped at 20 epochs' in note()
    write_run(long1m, 'sasrec', 2, 0.13, epochs=45, best=20, patience=20)  # seed 2: SASRec stopped early, RecGRELA capped
    write_run(long1m, 'recgrela', 2, 0.14, epochs=20, best=19, patience=20)
    assert 'equal budget' not in note() and 'capped run(s), seed 0, 1, 2: not converged' in note()


def test_headline_reads_the_committed_results():
    h = headline(order='item').set_index(['protocol', 'claim'])   # the clone's results/
    m = json.loads((RESULTS/'positional/ml-1m/sasrec-seed2020/metrics.json').read_text())
    row = h.loc[('ml-1m', 'sasrec NDCG@10')]
    assert row.seeds >= 1 and (row.seeds > 1 or math.isclose(row.ours, 100 * m['test']['NDCG@10']))


def test_every_results_config_loads_under_the_config_checks():
    "TrainConfig rejects bad values when made; every config.json our trainer wrote under results/ still loads (results/recbole holds RecBole's)."
    from eulerrec.train import TrainConfig
    configs = sorted(f for f in RESULTS.rglob('config.json') if 'recbole' not in f.relative_to(RESULTS).parts)
    assert len(configs) > 50
    for f in configs: TrainConfig.from_dict(json.loads(f.read_text()))


def test_cli_results_prints_mean_std_and_paired_test(tmp_path, capsys):
    from eulerrec.cli import main
    for s, (x, y) in enumerate([(0.10, 0.12), (0.11, 0.12), (0.09, 0.115)]):
        write_run(tmp_path, 'base', s, x); write_run(tmp_path, 'new', s, y)
    main(['results', str(tmp_path), '--base', 'base'])
    out = capsys.readouterr().out
    a, b = 100 * np.array([0.10, 0.11, 0.09]), 100 * np.array([0.12, 0.12, 0.115])
    assert f'{b.mean():.2f} ± {b.std(ddof=1):.2f}' in out and f'{a.mean():.2f} ± {a.std(ddof=1):.2f}' in out
    assert f'p = {stats.ttest_rel(b, a).pvalue:.3f}' in out and 'better in 3' in out
    with pytest.raises(SystemExit) as e:
        main(['results', str(tmp_path/'empty')])
    assert e.value.code == 2 and 'no run directories' in capsys.readouterr().err
