"""The docs site in a real browser: build it with tools/build_docs.py into a temp folder, serve it on localhost,
open every page in headless Chromium (selenium + Debian's chromium/chromium-driver) and check what a reader sees.

What each page must show is read from its notebook, not listed here: its title (first `# ` heading) in the sidebar
of every page, one loaded <img> per visible image output, a <table> per visible HTML table output or markdown
table, and rendered MathML for every $...$ / $$...$$ in its markdown. A full-page screenshot of each page goes to
$EULERREC_SCREENSHOTS (default: _site/screenshots). Skipped when chromium, chromedriver or selenium is missing.
"""
import base64, functools, html, http.server, importlib.util, os, re, shutil, sys, threading, time
from pathlib import Path
from urllib.parse import urlsplit, unquote

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'
CHROMIUM = next((p for p in (shutil.which('chromium'), '/usr/bin/chromium', shutil.which('chromium-browser')) if p and Path(p).exists()), None)
CHROMEDRIVER = next((p for p in (shutil.which('chromedriver'), '/usr/bin/chromedriver') if p and Path(p).exists()), None)
FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
         '--no-first-run', '--disable-quic', '--disable-sync', '--disable-dev-shm-usage', '--window-size=1280,900',
         '--hide-scrollbars', '--force-device-scale-factor=1']
MAX_SHOT_HEIGHT = 16000  # px; Chromium's capture limit is about 16k

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                       reason='needs headless Chromium: apt-get install -y chromium chromium-driver (.ci/run does)'),
    pytest.mark.skipif(importlib.util.find_spec('selenium') is None, reason='needs selenium: pip install -e ".[dev]"'),
]


# ---------------------------------------------------------------- expectations, from the notebooks themselves

def _directives(src):
    "Leading `#| key: value` lines of a code cell -> {key: value-or-True}."
    d = {}
    for line in src.splitlines():
        if not line.strip(): continue
        if not line.lstrip().startswith('#|'): break
        k, _, v = line.lstrip()[2:].strip().partition(' ')
        d[k.rstrip(':')] = v.strip().lower() or True
    return d


def _count_math(md):
    md = re.sub(r'^(```|~~~).*?^\1', '', md, flags=re.S | re.M)  # fenced code
    md = re.sub(r'(`+).+?\1', '', md, flags=re.S)                   # code spans
    md = md.replace(r'\$', '')
    n = len(re.findall(r'\$\$.+?\$\$', md, flags=re.S))
    md = re.sub(r'\$\$.+?\$\$', '', md, flags=re.S)
    return n + len(re.findall(r'\$[^$]+?\$', md, flags=re.S)) + len(re.findall(r'\\begin\{(\w+\*?)\}.*?\\end\{\1\}', md, flags=re.S))


def expected_pages():
    nbs = [p for p in NBS.rglob('*.ipynb') if not any(s.startswith(('_', '.')) for s in p.relative_to(NBS).parts)]
    nbs.sort(key=lambda p: (p.parent.relative_to(NBS).parts, '00' if p.name.startswith('index.') else p.name))
    pages = []
    for p in nbs:
        nb = nbformat.read(p, as_version=4)
        e = dict(nb=p.name, page=p.relative_to(NBS).with_suffix('.html').as_posix(), title=p.stem, images=0, tables=0, math=0)
        heads = [re.search(r'^#\s+(\S.*?)\s*$', c.source, flags=re.M) for c in nb.cells if c.cell_type == 'markdown']
        first = next((m for m in heads if m), None)
        if first: e['title'] = first.group(1).replace('`', '')
        for c in nb.cells:
            if c.cell_type == 'markdown':
                e['math'] += _count_math(c.source)
                e['tables'] += len(re.findall(r'^\s*\|?\s*:?-{3,}:?\s*\|', c.source, flags=re.M))
            elif c.cell_type == 'code':
                d = _directives(c.source)
                if d.keys() & {'hide', 'export', 'exporti', 'default_exp'} or d.get('include') == 'false' or d.get('output') == 'false':
                    continue
                for o in c.get('outputs', []):
                    data = o.get('data', {})
                    if any(k.startswith('image/') for k in data): e['images'] += 1
                    elif 'text/html' in data:
                        h = data['text/html']
                        e['tables'] += len(re.findall(r'<table\b', ''.join(h) if isinstance(h, list) else h))
        pages.append(e)
    return pages


PAGES = expected_pages()


# ---------------------------------------------------------------- fixtures: build, serve, browse

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    sys.path.insert(0, str(ROOT / 'tools'))
    try: import build_docs
    finally: sys.path.remove(str(ROOT / 'tools'))
    out = tmp_path_factory.mktemp('site')
    t = time.time()
    res = build_docs.build(out, quiet=True)
    res['seconds'] = time.time() - t
    return out, res


@pytest.fixture(scope='module')
def base_url(site):
    handler = functools.partial(_Quiet, directory=str(site[0]))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    th = threading.Thread(target=srv.serve_forever, daemon=True); th.start()
    yield f'http://127.0.0.1:{srv.server_address[1]}/'
    srv.shutdown(); srv.server_close()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    failed = []
    def log_message(self, *a): pass
    def log_request(self, code='-', size='-'):
        if str(code) != '200' and str(code) != '304': self.failed.append((self.path, code))


@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for f in FLAGS + [f'--user-data-dir={tmp_path_factory.mktemp("chromium-profile")}']: opts.add_argument(f)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    drv = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()


@pytest.fixture(scope='module')
def shots():
    d = Path(os.environ.get('EULERREC_SCREENSHOTS') or ROOT / '_site' / 'screenshots')
    d.mkdir(parents=True, exist_ok=True)
    return d


# ---------------------------------------------------------------- tests

def test_build(site):
    out, res = site
    assert res['pages'] == [p['page'] for p in PAGES], 'one page per notebook, in notebook order'
    assert not res['math_errors'], f"LaTeX that did not convert to MathML: {res['math_errors']}"
    assert res['seconds'] < 60, f"build took {res['seconds']:.0f} s"
    for p in PAGES: assert (out / p['page']).stat().st_size > 0


PROBE = r"""
const main = document.querySelector('main');
const abs = u => { try { return new URL(u, location.href).href } catch (e) { return u } };
const attrs = [];  // every URL-bearing attribute except navigation links
for (const el of document.querySelectorAll('*')) for (const a of el.attributes) {
  if (el.tagName === 'A' && a.name === 'href') continue;
  if (['src', 'href', 'srcset', 'data', 'poster', 'action', 'xlink:href', 'style'].includes(a.name)) attrs.push(a.value);
}
const texts = [];  // the reader-visible prose, one string per text node (code and formulas excluded)
const walk = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
for (let n; (n = walk.nextNode());) if (!n.parentElement.closest('pre, code, math, style, script, .math-error')) texts.push(n.data);
const maths = [...main.querySelectorAll('math')];
const rect = e => e.getBoundingClientRect();
return {
  ready: document.readyState,
  title: document.title,
  h1: (document.querySelector('main h1') || {}).textContent,
  nav: [...document.querySelectorAll('nav.sidebar .nav-pages > li > a')].map(a => [a.getAttribute('href'), a.textContent.trim(), a.getAttribute('aria-current')]),
  imgs: [...main.querySelectorAll('img')].map(i => ({ok: i.complete && i.naturalWidth > 0 && i.naturalHeight > 0, w: rect(i).width, src: i.src.slice(0, 40)})),
  tables: [...main.querySelectorAll('table')].filter(t => rect(t).width > 0 && t.querySelectorAll('td, th').length > 0).length,
  maths: maths.length,
  mathDisplay: [...new Set(maths.map(m => getComputedStyle(m).display))],
  mathEmpty: maths.filter(m => !(rect(m).width > 0 && rect(m).height > 0)).map(m => m.outerHTML.slice(0, 120)),
  fracs: [...main.querySelectorAll('mfrac')].filter(f => f.children.length === 2)
          .map(f => rect(f.children[0]).bottom <= rect(f.children[1]).top + 1 && rect(f.children[0]).height > 0),
  mathErrors: document.querySelectorAll('.math-error').length,
  prose: texts,
  externalAttrs: attrs.filter(v => /(^|url\(\s*['"]?)(https?:)?\/\//i.test(v)),
  resources: performance.getEntriesByType('resource').map(e => e.name),
  links: [...document.querySelectorAll('a[href]')].map(a => [a.getAttribute('href'), a.href]),
  overflowX: document.documentElement.scrollWidth > window.innerWidth + 1,
  // code, printed output and tables that scroll sideways although the page has room to their right (they should use it)
  cut: [...main.querySelectorAll('.output.html, .highlight > pre, pre.output')]
       .filter(e => e.scrollWidth > e.clientWidth + 1 && rect(e).right < window.innerWidth - 64).map(e => e.textContent.slice(0, 60)),
};
"""


@pytest.mark.parametrize('exp', PAGES, ids=[p['nb'] for p in PAGES])
def test_page(exp, site, base_url, browser, shots):
    out = site[0]
    url = base_url + exp['page']
    browser.get_log('browser')  # drop earlier pages' messages
    _Quiet.failed.clear()
    browser.get(url)
    r = browser.execute_script(PROBE)
    name = exp['page'].replace('/', '__')[:-5]
    _screenshot(browser, shots / f'{name}.png')

    # loads, no errors
    assert r['ready'] == 'complete'
    errors = [e for e in browser.get_log('browser') if e['level'] in ('SEVERE', 'ERROR')]
    assert not errors, f'browser console errors: {errors}'
    assert not _Quiet.failed, f'failed requests: {_Quiet.failed}'
    assert r['h1'].strip() == exp['title'] and exp['title'] in r['title']
    assert not r['overflowX'], 'page scrolls sideways at 1280 px'
    assert not r['cut'], f"wide code, output or tables scroll inside the text column instead of using the page's width: {r['cut']}"

    # the nav lists every page, in order, with its title; links are relative and resolve
    assert [h for h, _, _ in r['nav']] == [os.path.relpath(p['page'], os.path.dirname(exp['page']) or '.') for p in PAGES]
    assert [t for _, t, _ in r['nav']] == [p['title'] for p in PAGES]
    assert [c for _, _, c in r['nav']].count('page') == 1

    # nothing from the network: every loaded resource is this server's or inline
    assert not r['externalAttrs'], f"external resource references: {r['externalAttrs'][:5]}"
    assert all(u.startswith(base_url) or u.startswith('data:') for u in r['resources']), r['resources']
    for href, resolved in r['links']:
        assert '.ipynb' not in href, f'notebook link not rewritten: {href}'
        if not resolved.startswith(base_url): continue
        target = urlsplit(resolved)
        f = out / unquote(target.path).lstrip('/')
        assert f.is_file(), f'broken link {href} -> {f}'
        if target.fragment and f.suffix == '.html':
            frag = unquote(target.fragment)
            assert f'id="{frag}"' in _ids(f), f'link {href}: no element with id {frag!r} on {f.name}'

    # figures, tables, math
    assert all(i['ok'] and i['w'] > 0 for i in r['imgs']), f"images not loaded: {[i for i in r['imgs'] if not i['ok']]}"
    assert len(r['imgs']) >= exp['images'], f"{exp['images']} image outputs in {exp['nb']}, {len(r['imgs'])} <img> on the page"
    assert r['tables'] >= exp['tables'], f"{exp['tables']} tables in {exp['nb']}, {r['tables']} visible <table> on the page"
    assert r['maths'] >= exp['math'], f"{exp['math']} formulas in {exp['nb']}, {r['maths']} <math> on the page"
    if r['maths']:
        assert set(r['mathDisplay']) <= {'math', 'inline math', 'block math'}, f"MathML not laid out as math: {r['mathDisplay']}"
        assert not r['mathEmpty'], f"formulas with no size: {r['mathEmpty'][:3]}"
        assert all(r['fracs']), 'a fraction whose numerator is not above its denominator (MathML not rendered)'
    assert r['mathErrors'] == 0
    tex = re.compile(r'\$[^$]*\$|\\(?:frac|sum|math[a-z]+|operatorname|left|right|begin|end|theta|lambda|delta|phi|sqrt|cdot|top)\b')
    raw = [t for t in r['prose'] if tex.search(t)]
    assert not raw, f'raw TeX left in the text: {raw[:3]}'


@functools.lru_cache(maxsize=None)
def _ids(f: Path) -> str:
    return ' '.join(f'id="{html.unescape(m)}"' for m in re.findall(r'\sid="([^"]*)"', f.read_text(encoding='utf-8')))


def _screenshot(drv, path: Path):
    "Full-page PNG via the DevTools protocol (selenium's Chrome driver only captures the viewport)."
    m = drv.execute_cdp_cmd('Page.getLayoutMetrics', {})
    size = m.get('cssContentSize') or m['contentSize']
    w, h = int(size['width']), min(int(size['height']), MAX_SHOT_HEIGHT)
    # a viewport as tall as the page, so the (sticky, viewport-high) sidebar shows in full
    drv.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {'width': w, 'height': h, 'deviceScaleFactor': 1, 'mobile': False})
    try:
        png = drv.execute_cdp_cmd('Page.captureScreenshot', {'format': 'png', 'captureBeyondViewport': True,
                                                             'clip': dict(x=0, y=0, width=w, height=h, scale=1)})
    finally: drv.execute_cdp_cmd('Emulation.clearDeviceMetricsOverride', {})
    path.write_bytes(base64.b64decode(png['data']))
