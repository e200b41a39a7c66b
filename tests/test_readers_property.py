"""Property tests of the eulerrec.data readers: well-formed files round-trip, malformed ones give a DataError (or read)."""
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from eulerrec.data import (DataError, TABLE_COLUMNS, load_interactions, read_inter, read_ml100k, read_ml1m_dat, read_ncf,
                           read_pairs, read_sequences, read_table)

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
I64 = st.integers(-2**63, 2**63 - 1)
IDS = st.one_of(st.integers(0, 50), I64)                  # small ids repeat (users with several rows), any int64 is valid
TIMES = st.one_of(st.integers(0, 2**31), I64)
RATINGS = st.integers(0, 20).map(lambda x: x / 2)      # exact in decimal and binary
NEWLINE = st.sampled_from(['\n', '\r\n'])


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
    "One folder for the module: hypothesis runs many examples per test, so each example rewrites its file."
    return tmp_path_factory.mktemp('readers')


def put(folder, name, data):
    p = folder/name
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    return p


def order_in_user(users):
    "0, 1, 2, … per user in row order, as the readers number files without timestamps."
    seen, out = {}, []
    for u in users:
        seen[u] = seen.get(u, -1) + 1
        out.append(seen[u])
    return out


# ---------------------------------------------------------------- well-formed files round-trip

UIRT = st.lists(st.tuples(IDS, IDS, RATINGS, TIMES), min_size=1, max_size=30)


@SETTINGS
@given(rows=UIRT, nl=NEWLINE, bom=st.booleans())
def test_tab_separated_round_trip(folder, rows, nl, bom):
    text = ('\ufeff' if bom else '') + ''.join(f'{u}\t{i}\t{r}\t{t}{nl}' for u, i, r, t in rows)
    want = [[u, i, r, t] for u, i, r, t in rows]
    for name, read in [('u.data', read_ml100k), ('x.train.rating', read_ncf)]:
        df = read(put(folder, name, text))
        assert df.columns.tolist() == ['user', 'item', 'rating', 'timestamp']
        assert df.astype(object).values.tolist() == want
    df = read_ml1m_dat(put(folder, 'ratings.dat', text.replace('\t', '::')))
    assert df.astype(object).values.tolist() == want


@SETTINGS
@given(rows=st.lists(st.tuples(IDS, IDS, RATINGS, st.integers(-2**53, 2**53), st.booleans()), min_size=1, max_size=30),
       order=st.permutations(['user_id:token', 'item_id:token', 'rating:float', 'timestamp:float', 'title:token_seq']),
       with_rating=st.booleans(), nl=NEWLINE, bom=st.booleans())
def test_inter_round_trip(folder, rows, order, with_rating, nl, bom):
    header = [h for h in order if with_rating or h != 'rating:float']
    def field(h, u, i, r, t, dot):
        return {'user_id': str(u), 'item_id': str(i), 'rating': str(r), 'timestamp': f'{t}.0' if dot else str(t),
                'title': 'a b'}[h.split(':')[0]]
    text = ('\ufeff' if bom else '') + '\t'.join(header) + nl
    text += ''.join('\t'.join(field(h, *row) for h in header) + nl for row in rows)
    df = read_inter(put(folder, 'x.inter', text))
    assert df.columns.tolist() == ['user', 'item', 'timestamp'] + (['rating'] if with_rating else [])
    assert df.timestamp.dtype == 'int64'
    assert df[['user', 'item', 'timestamp']].values.tolist() == [[u, i, t] for u, i, _, t, _ in rows]
    if with_rating: assert df.rating.tolist() == [r for _, _, r, _, _ in rows]


def any_case(name):
    return st.sampled_from([name, name.lower(), name.upper(), name.capitalize()])


@SETTINGS
@given(rows=UIRT, data=st.data(), sep=st.sampled_from([',', '\t', ';', '|']), nl=NEWLINE, bom=st.booleans(),
       extra=st.sampled_from([None, 'note', 'c0', 'c3']))
def test_csv_table_round_trip(folder, rows, data, sep, nl, bom, extra):
    names = {k: data.draw(st.sampled_from(v).flatmap(any_case), label=k) for k, v in TABLE_COLUMNS.items()}
    cols = data.draw(st.permutations(['user', 'item', 'rating', 'time'] + (['extra'] if extra else [])), label='order')
    def field(c, u, i, r, t): return {'user': u, 'item': i, 'rating': r, 'time': t, 'extra': 'x y'}[c]
    text = ('\ufeff' if bom else '') + sep.join(names.get(c, extra) for c in cols) + nl
    text += ''.join(sep.join(str(field(c, *row)) for c in cols) + nl for row in rows)
    df = read_table(put(folder, 'x.csv', text))
    assert df.columns.tolist() == ['user', 'item', 'timestamp', 'rating']
    assert df.astype(object).values.tolist() == [[u, i, t, r] for u, i, r, t in rows]


@SETTINGS
@given(seqs=st.dictionaries(IDS, st.lists(IDS, min_size=1, max_size=8), min_size=1, max_size=15),
       times=st.booleans(), nl=NEWLINE, bom=st.booleans())
def test_sequence_file_round_trip(folder, seqs, times, nl, bom):
    p = put(folder, 'seqs.txt', ('\ufeff' if bom else '') + ''.join(f'{u} {" ".join(map(str, s))}{nl}' for u, s in seqs.items()))
    want = [[u, i, k] for u, s in seqs.items() for k, i in enumerate(s)]
    if times:  # a parallel TiCoSeRec time file: any int64 times, here 1000·position − user's first item
        stamps = {u: [1000 * k - s[0] % 1000 for k in range(len(s))] for u, s in seqs.items()}
        tp = put(folder, 'times.txt', ''.join(f'{u} {" ".join(map(str, t))}{nl}' for u, t in stamps.items()))
        want = [[u, i, stamps[u][k]] for u, i, k in want]
    df = read_sequences(p, tp if times else None)
    assert df.columns.tolist() == ['user', 'item', 'timestamp']
    assert df.values.tolist() == want


@SETTINGS
@given(pairs=st.lists(st.tuples(IDS, IDS), min_size=1, max_size=30), nl=NEWLINE, bom=st.booleans(),
       sep=st.sampled_from([' ', '\t', '  ']))
def test_pair_file_round_trip(folder, pairs, nl, bom, sep):
    df = read_pairs(put(folder, 'pairs.txt', ('\ufeff' if bom else '') + ''.join(f'{u}{sep}{i}{nl}' for u, i in pairs)))
    assert df.columns.tolist() == ['user', 'item', 'timestamp']
    users = [u for u, _ in pairs]
    assert df.values.tolist() == [[u, i, t] for (u, i), t in zip(pairs, order_in_user(users))]


# ---------------------------------------------------------------- malformed files: a DataError naming the file, or a table

READERS = {  # reader: file name it is given
    read_ml100k: 'u.data', read_ncf: 'x.train.rating', read_ml1m_dat: 'ratings.dat', read_inter: 'x.inter',
    read_table: 'x.csv', read_sequences: 'seqs.txt', read_pairs: 'pairs.txt',
    (lambda p: load_interactions(p, verbose=False)): 'any.txt',  # format sniffed from the content
}
GOOD = {  # a well-formed file per format, the seed of the mutations below
    'u.data': '1\t2\t3\t4\n1\t3\t4.5\t5\n2\t2\t1\t6\n', 'x.train.rating': '0\t32\t4\t978824330\n0\t4\t5\t978824291\n',
    'ratings.dat': '1::1193::5::978300760\n1::661::3::978302109\n',
    'x.inter': 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t2\t3\t4.0\n2\t3\t4\t5\n',
    'x.csv': 'userId,movieId,rating,timestamp\n1,10,4.0,100\n1,11,5,90\n', 'seqs.txt': '1 1 2 3\n2 4 2\n',
    'pairs.txt': '1 10\n1 11\n2 10\n', 'any.txt': '1 2 3\n2 4\n',
}
TOKENS = st.one_of(st.sampled_from(['', 'x', 'B00X', '1.5', '1e300', 'nan', 'inf', '-', '+', '0x1F', '١٢', '1_000', '"', '"a',
                                    str(2**63), str(-2**63 - 1), str(2**64), '9' * 30, '\ufeff', '\x00', '\r', '::', '\t', ',']),
                   st.text(max_size=6))


def mutate(text, how, k, token):
    "One kind of damage to a well-formed file: k picks where."
    lines = text.splitlines()
    n = k % len(lines)
    sep = next(s for s in ('::', '\t', ',', ' ') if s in lines[n])
    fields = lines[n].split(sep)
    if how == 'truncate': return text[:k % (len(text) + 1)]
    if how == 'drop_field': del fields[k % len(fields)]
    if how == 'add_field': fields.insert(k % (len(fields) + 1), token)
    if how == 'replace_field': fields[k % len(fields)] = token
    if how in ('drop_field', 'add_field', 'replace_field'): return '\n'.join(lines[:n] + [sep.join(fields)] + lines[n + 1:]) + '\n'
    if how == 'insert': return text[:k % (len(text) + 1)] + token + text[k % (len(text) + 1):]
    if how == 'bom': return '\ufeff' + text
    if how == 'empty': return ''
    if how == 'blank': return '\n \n\t\n'
    raise ValueError(how)


def reads_or_data_error(read, p, *others):
    "Read `p`: a DataFrame, or a DataError that names `p` (or one of the `others` files read with it); nothing else."
    try: out = read(p)
    except DataError as e:
        assert e.path is not None and str(e.path) in {str(f) for f in (p, *others)}, (e.path, p)
        assert str(e).startswith(str(e.path))
        return e
    assert isinstance(out, pd.DataFrame) and {'user', 'item', 'timestamp'} <= set(out.columns)
    assert all(out[c].dtype == 'int64' for c in ('user', 'item', 'timestamp'))
    return out


@SETTINGS
@given(how=st.sampled_from(['truncate', 'drop_field', 'add_field', 'replace_field', 'insert', 'bom', 'empty', 'blank']),
       k=st.integers(0, 10**6), token=TOKENS, encoding=st.sampled_from(['utf-8', 'latin-1', 'utf-16']))
def test_damaged_files_give_data_error(folder, how, k, token, encoding):
    for read, name in READERS.items():
        text = mutate(GOOD[name], how, k, token)
        reads_or_data_error(read, put(folder, name, text.encode(encoding, errors='replace')))


@SETTINGS
@given(data=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                      st.lists(st.sampled_from(['1', '2', '-3', str(2**63), 'x', '\t', ' ', ',', '::', '\n', '\r', '\ufeff', ':token',
                                                'user_id', 'item_id', 'timestamp', 'userId', '"', 'c0']), max_size=60)
                      .map(lambda xs: ''.join(xs).encode())))
def test_random_files_give_data_error(folder, data):
    for read, name in READERS.items():
        reads_or_data_error(read, put(folder, name, data))
    p, t = put(folder, 'seqs.txt', data), put(folder, 'times.txt', data[::-1])
    reads_or_data_error(lambda p: read_sequences(p, t), p, t)
