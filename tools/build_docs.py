"""Offline stand-in for `nbdev_docs` (which needs Quarto): render the executed notebooks in nbs/ to a static HTML site.

    python tools/build_docs.py [--out _site]

One page per notebook (`02_euler.ipynb` -> `02_euler.html`, `index.ipynb` -> `index.html`), a sidebar listing every
page in notebook order, stored outputs only (nothing is executed): figures as embedded images, pandas tables,
text and streams. nbdev directives are honoured: `#| hide`, `#| default_exp`, `#| exporti` and `#| include: false`
cells are left out; `#| export` cells show an API entry (signature, docstring, documented parameters, read
statically from the source, like nbdev's `show_doc`) instead of their code (`--no-api`: nothing at all);
`#| exports` shows both;
`#| echo: false` keeps only the output and `#| output: false` only the code. Math ($...$, $$...$$, \\begin{env})
is converted to MathML at build time, so pages load nothing from the network (no MathJax, no CDN, no scripts).
"""
from __future__ import annotations
import argparse, ast, base64, html, io, posixpath, re, shutil, sys, time, tokenize, unicodedata
from pathlib import Path

from urllib.parse import quote, unquote

import nbformat
from bs4 import BeautifulSoup
from latex2mathml.converter import convert as _latex2mathml
from nbconvert.filters.ansi import ansi2html
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.process import extract_directives
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

ROOT = Path(__file__).resolve().parents[1]
MARKER = '.eulerrec-docs'  # marks a folder this script made (and may therefore wipe)
KEEP = {'screenshots'}     # left in place on rebuild (tests/test_docs_site.py writes there)

# ---------------------------------------------------------------- math: LaTeX -> MathML at build time

_VARIANT_NAMES = {'bold': 'BOLD', 'italic': 'ITALIC', 'bold-italic': 'BOLD ITALIC', 'script': 'SCRIPT',
                  'bold-script': 'BOLD SCRIPT', 'fraktur': 'FRAKTUR', 'bold-fraktur': 'BOLD FRAKTUR',
                  'double-struck': 'DOUBLE-STRUCK', 'sans-serif': 'SANS-SERIF', 'bold-sans-serif': 'SANS-SERIF BOLD',
                  'sans-serif-italic': 'SANS-SERIF ITALIC', 'monospace': 'MONOSPACE'}
_LETTERLIKE = {'SCRIPT': 'SCRIPT', 'DOUBLE-STRUCK': 'DOUBLE-STRUCK', 'FRAKTUR': 'BLACK-LETTER', 'ITALIC': 'PLANCK CONSTANT'}


def _variant_char(ch: str, variant: str) -> str:
    "The Unicode mathematical alphanumeric for `ch` in `variant` (Chromium's MathML ignores mathvariant)."
    v = _VARIANT_NAMES.get(variant)
    if v is None or not ch.isascii() or not ch.isalnum(): return ch
    kind = 'DIGIT ' + unicodedata.name(ch).split()[-1] if ch.isdigit() else ('CAPITAL ' if ch.isupper() else 'SMALL ') + ch.upper()
    for name in (f'MATHEMATICAL {v} {kind}', f'{_LETTERLIKE.get(v, v)} {kind}'):  # the second: Letterlike block (ℛ, ℝ, ℭ)
        try: return unicodedata.lookup(name)
        except KeyError: pass
    return 'ℎ' if (variant, ch) == ('italic', 'h') else ch


def _fix_mathml(m: str) -> str:
    m = m.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', '')  # not needed in HTML; keeps pages URL-free
    def variant(mo):
        text = html.unescape(mo.group(3))
        return f'<{mo.group(1)}>' + html.escape(''.join(_variant_char(c, mo.group(2)) for c in text)) + f'</{mo.group(1)}>'
    m = re.sub(r'<(mi|mn) mathvariant="(?!normal")([a-z-]+)">([^<]*)</\1>', variant, m)
    def word(mo):  # \mathrm{rank}: a run of one-letter upright <mi> becomes one (upright) multi-letter <mi>
        parts = re.findall(r'<m[in](?: mathvariant="normal")?>([^<]*)</m[in]>', mo.group(1))
        return f'<mrow><mi>{"".join(parts)}</mi></mrow>'
    return re.sub(r'<mrow>((?:<mi mathvariant="normal">[^<]*</mi>|<mn>[^<]*</mn>){2,})</mrow>', word, m)


def latex_to_mathml(tex: str, display: bool, errors: list | None = None) -> str:
    "MathML for one formula; on a conversion error, the TeX source in a `.math-error` element (and noted in `errors`)."
    tex = tex.strip()
    tag = None
    if display:
        mt = re.search(r'\\tag\*?\{([^}]*)\}', tex)
        if mt: tag, tex = mt.group(1), tex[:mt.start()] + tex[mt.end():]
    tex = re.sub(r'\\operatorname\*?\{([^}]*)\}', r'\\mathrm{\1}', tex)
    try: m = _fix_mathml(_latex2mathml(tex, display='block' if display else 'inline'))
    except Exception as e:  # noqa: BLE001 - any converter failure is reported, not fatal
        if errors is not None: errors.append(f'{tex!r}: {e!r}')
        return f'<code class="math-error" title="LaTeX not converted">{html.escape(tex)}</code>'
    if not display: return m
    return f'<div class="math-block">{m}' + (f'<span class="math-tag">({html.escape(tag)})</span>' if tag else '') + '</div>'


class _Renderer(IPythonRenderer):
    "nbconvert's notebook-markdown renderer (math is split off before markdown runs), with math emitted as MathML."
    def __init__(self, errors: list, **kw):
        super().__init__(escape=False, anchor_link_text='#', **kw)
        self.errors = errors
    def inline_math(self, body): return latex_to_mathml(body, False, self.errors)
    def block_math(self, body): return latex_to_mathml(body, True, self.errors)
    def latex_environment(self, name, body): return latex_to_mathml(f'\\begin{{{name}}}{body}\\end{{{name}}}', True, self.errors)
    def heading(self, text, level, **attrs):
        "Jupyter-style heading ids (`Pairs-of-coordinates`), kept unencoded (nbconvert %-encodes them in the id too)."
        h = super().heading(text, level, **attrs)
        return re.sub(r'id="([^"]*)"', lambda m: f'id="{html.escape(unquote(html.unescape(m.group(1))))}"', h, count=1)


def render_markdown(src: str, errors: list, attachments: dict | None = None) -> str:
    return MarkdownWithMath(renderer=_Renderer(errors, attachments=attachments, embed_images=True)).render(src)


# ---------------------------------------------------------------- static API entries for exported code (nbdev's show_doc, without executing)

def _comments(src: str) -> dict:
    "line number -> comment text, for the comments in `src`."
    try: return {t.start[0]: t.string.lstrip('#').strip() for t in tokenize.generate_tokens(io.StringIO(src).readline) if t.type == tokenize.COMMENT}
    except (tokenize.TokenError, IndentationError, SyntaxError): return {}


def _sig(fn: ast.FunctionDef, drop_self=False) -> tuple[str, list]:
    "Signature text and [(name, annotation, default, docment)] of `fn`, docments read from `# comments` after parameters."
    a = fn.args
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    items = list(zip(pos, defaults))
    if drop_self and items and items[0][0].arg in ('self', 'cls'): items = items[1:]
    parts, params = [], []
    def p(arg, default, prefix=''):
        s = prefix + arg.arg + (f':{ast.unparse(arg.annotation)}' if arg.annotation else '')
        if default is not None: s += f'={ast.unparse(default)}'
        parts.append(s)
        params.append((prefix + arg.arg, ast.unparse(arg.annotation) if arg.annotation else '', ast.unparse(default) if default is not None else '', arg))
    n_posonly = len(a.posonlyargs) - (len(pos) - len(items))
    for i, (arg, d) in enumerate(items):
        p(arg, d)
        if n_posonly > 0 and i == n_posonly - 1: parts.append('/')
    if a.vararg: p(a.vararg, None, '*')
    elif a.kwonlyargs: parts.append('*')
    for arg, d in zip(a.kwonlyargs, a.kw_defaults): p(arg, d)
    if a.kwarg: p(a.kwarg, None, '**')
    ret = f' -> {ast.unparse(fn.returns)}' if fn.returns else ''
    return f"({', '.join(parts)}){ret}", params


def _docments(fn: ast.FunctionDef, params: list, comments: dict) -> list:
    "Attach a parameter's trailing comment when it is the last parameter on its line (nbdev's docments layout)."
    if not params: return []
    body_line = fn.body[0].lineno
    lines = [p[3].end_lineno for p in params]
    out = []
    for i, (name, anno, default, arg) in enumerate(params):
        ln = arg.end_lineno
        last_on_line = i == len(params) - 1 or lines[i + 1] != ln
        multi = len(set(lines)) > 1 or ln != fn.lineno
        doc = comments.get(ln, '') if (last_on_line and multi and ln < body_line) else ''
        out.append((name, anno, default, doc))
    return out


def _docstring_html(node, errors) -> str:
    d = ast.get_docstring(node)
    return f'<div class="api-doc">{render_markdown(d, errors)}</div>' if d else ''


def _params_table(rows, errors) -> str:
    if not any(doc for *_, doc in rows): return ''
    code = lambda x: f'<code>{html.escape(x)}</code>' if x else ''
    tr = ''.join(f'<tr><td>{code(n)}</td><td>{code(a)}</td><td>{code(d)}</td><td>{_inline_md(doc, errors) if doc else ""}</td></tr>'
                 for n, a, d, doc in rows)
    return ('<table class="api-params"><thead><tr><th></th><th>Type</th><th>Default</th><th>Details</th></tr></thead>'
            f'<tbody>{tr}</tbody></table>')


def _public(name: str) -> bool: return not name.startswith('_') or (name.startswith('__') and name.endswith('__'))


def api_entries(src: str, errors: list) -> str:
    "HTML API entries for the public functions and classes defined at top level in an exported cell."
    try: tree = ast.parse(src)
    except SyntaxError: return ''
    comments = _comments(src)
    out = []
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) or not _public(node.name): continue
        name, anchor = node.name, node.name.lower()
        if isinstance(node, ast.ClassDef):
            bases = ', '.join(ast.unparse(b) for b in node.bases + node.keywords)
            init = next((b for b in node.body if isinstance(b, ast.FunctionDef) and b.name == '__init__'), None)
            decos = [ast.unparse(d) for d in node.decorator_list]
            if init: sig, params = _sig(init, drop_self=True); rows = _docments(init, params, comments)
            elif any(d.split('(')[0].split('.')[-1] == 'dataclass' for d in decos):  # fields are the constructor
                fields = [b for b in node.body if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)]
                sig = '(' + ', '.join(f'{f.target.id}:{ast.unparse(f.annotation)}' + (f'={ast.unparse(f.value)}' if f.value else '') for f in fields) + ')'
                rows = [(f.target.id, ast.unparse(f.annotation), ast.unparse(f.value) if f.value else '', comments.get(f.lineno, '')) for f in fields]
            else: sig, rows = '', []
            doc = _docstring_html(node, errors) or (_docstring_html(init, errors) if init else '')
            methods = []
            for m in node.body:
                if not isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef)) or m.name.startswith('_'): continue
                msig, _ = _sig(m, drop_self=True)
                kind = next((k for k in ('property', 'staticmethod', 'classmethod') if k in [ast.unparse(d) for d in m.decorator_list]), '')
                mdoc = ast.get_docstring(m)
                methods.append(f'<dt id="{anchor}.{m.name.lower()}"><code>{html.escape(m.name + ("" if kind == "property" else msig))}</code>'
                               + (f' <span class="api-kind">{kind}</span>' if kind else '') + '</dt>'
                               + f'<dd>{render_markdown(mdoc, errors) if mdoc else ""}</dd>')
            body = (f'<pre class="api-sig"><span class="kw">class</span> {html.escape(name + sig)}'
                    + (f'  <span class="api-bases">({html.escape(bases)})</span>' if bases else '') + '</pre>'
                    + doc + _params_table(rows, errors) + (f'<dl class="api-methods">{"".join(methods)}</dl>' if methods else ''))
        else:
            sig, params = _sig(node)
            rows = _docments(node, params, comments)
            ret = comments.get(node.body[0].lineno - 1, '') if node.returns and node.body[0].lineno - 1 > node.lineno else ''
            if ret and rows: rows = rows + [('returns', ast.unparse(node.returns), '', ret)]
            body = f'<pre class="api-sig">{html.escape(name + sig)}</pre>' + _docstring_html(node, errors) + _params_table(rows, errors)
        out.append(f'<section class="api" id="{anchor}"><h3 class="api-name"><a href="#{anchor}">{html.escape(name)}</a></h3>{body}</section>')
    return ''.join(out)


# ---------------------------------------------------------------- notebook -> page body

API_ENTRIES = True  # `--no-api`: export cells vanish entirely instead of showing signature + docstring
_FRAG_SAFE = "?/:@!$&'()*+,;="  # as nbconvert's anchor links
_HIDE = {'hide', 'default_exp', 'exporti'}
_IMG = ('image/svg+xml', 'image/png', 'image/jpeg', 'image/gif', 'image/webp')
_FMT = HtmlFormatter(cssclass='highlight')


def _text(x) -> str: return ''.join(x) if isinstance(x, list) else (x or '')


def _flag(dirs: dict, key: str):
    v = dirs.get(key + ':') or dirs.get(key)
    return v[0].lower() if v else None


def notebook_meta(nb) -> tuple[str | None, str | None, int | None]:
    "(title, description, index of the title cell) - nbdev's rule: a raw `---` frontmatter cell, else the first `# Title` markdown cell."
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'raw' and c.source.strip().startswith('---'):
            import yaml
            fm = yaml.safe_load(c.source.strip().strip('-')) or {}
            if fm.get('title'): return str(fm['title']), fm.get('description'), i
    for i, c in enumerate(nb.cells):
        if c.cell_type != 'markdown': continue
        m = re.search(r'^#\s+(\S.*?)\s*$', c.source, flags=re.M)
        if not m: continue
        d = re.search(r'^>\s+(\S.*?)\s*$', c.source, flags=re.M)
        return m.group(1), d.group(1) if d else None, i
    return None, None, None


def render_output(o, errors) -> str:
    t = o.get('output_type')
    if t == 'stream':
        return f'<pre class="output stream {html.escape(o.get("name", "stdout"))}">{ansi2html(_text(o.get("text")))}</pre>'
    if t == 'error':
        tb = '\n'.join(o.get('traceback') or [f"{o.get('ename')}: {o.get('evalue')}"])
        return f'<pre class="output error">{ansi2html(tb)}</pre>'
    data, meta = o.get('data', {}), o.get('metadata', {})
    for mime in _IMG:
        if mime in data:
            raw = _text(data[mime])
            b64 = base64.b64encode(raw.encode()).decode() if mime == 'image/svg+xml' else raw.replace('\n', '')
            m = meta.get(mime, {}) if isinstance(meta.get(mime), dict) else {}
            size = ''.join(f' {k}="{int(m[k])}"' for k in ('width', 'height') if isinstance(m.get(k), (int, float)))
            alt = html.escape(_text(data.get('text/plain', 'figure')).strip()[:200])
            return f'<div class="output figure"><img src="data:{mime};base64,{b64}" alt="{alt}"{size}></div>'
    if 'text/html' in data:
        h = re.sub(r'<style scoped>.*?</style>\s*', '', _text(data['text/html']), flags=re.S)  # pandas' per-table CSS
        h = re.sub(r'<script\b.*?</script>', '', h, flags=re.S | re.I)                      # the site runs no scripts
        return f'<div class="output html">{h}</div>'
    if 'text/markdown' in data: return f'<div class="output markdown">{render_markdown(_text(data["text/markdown"]), errors)}</div>'
    if 'text/latex' in data:
        tex = _text(data['text/latex']).strip()
        m = re.fullmatch(r'\$\$(.*)\$\$|\$(.*)\$|\\\[(.*)\\\]', tex, flags=re.S)
        if m: return f'<div class="output latex">{latex_to_mathml(next(g for g in m.groups() if g is not None), True, errors)}</div>'
    if 'text/plain' in data: return f'<pre class="output text">{ansi2html(_text(data["text/plain"]))}</pre>'
    return ''


def render_cell(c, errors) -> str:
    if c.cell_type == 'markdown':
        if not c.source.strip(): return ''
        return f'<div class="cell markdown">{render_markdown(c.source, errors, c.get("attachments"))}</div>'
    if c.cell_type != 'code': return ''
    c = nbformat.from_dict(dict(c))  # a copy: extract_directives edits the source
    dirs = extract_directives(c, remove=True)
    if dirs.keys() & _HIDE or _flag(dirs, 'include') == 'false': return ''
    src = '\n'.join(l for l in c.source.splitlines()
                    if not l.lstrip().startswith(('#|', '%')) and not re.search(r'#\|\s*hide_line\s*$', l)).strip()
    parts = []
    if 'export' in dirs or 'exports' in dirs:
        if API_ENTRIES: parts.append(api_entries(src, errors))
        show_src = 'exports' in dirs
    else: show_src = _flag(dirs, 'echo') != 'false'
    if show_src and src: parts.append(highlight(src, PythonLexer(), _FMT))
    if _flag(dirs, 'output') != 'false': parts += [render_output(o, errors) for o in c.get('outputs', [])]
    parts = [p for p in parts if p]
    return f'<div class="cell code">{"".join(parts)}</div>' if parts else ''


def _inline_md(s: str, errors) -> str:
    "Render one line of markdown without the enclosing <p>."
    h = render_markdown(s, errors).strip()
    return h[3:-4] if h.startswith('<p>') and h.endswith('</p>') else h


# ---------------------------------------------------------------- site

def _page_path(nb_path: Path, nbs: Path) -> str: return nb_path.relative_to(nbs).with_suffix('.html').as_posix()


def _rel(target: str, current: str) -> str:
    return posixpath.relpath(target, posixpath.dirname(current) or '.') if posixpath.dirname(current) else target


def find_notebooks(nbs: Path) -> list[Path]:
    "Notebooks in nbdev's sidebar order: index first, then by folder and file name; `_`/`.`-prefixed ones skipped."
    files = [Path(p) for p in nbglob(nbs, func=Path)]
    return sorted(files, key=lambda p: (p.parent.relative_to(nbs).parts, '00' if p.name.startswith('index.') else p.name))


def _lookup(cfg):
    "nbdev's backtick linker for this library only (external libraries' docs would be network links)."
    try:
        from nbdev.doclinks import NbdevLookup
        return NbdevLookup(incl_libs=cfg.lib_name)
    except Exception as e:  # noqa: BLE001 - links are a nicety; e.g. the package is not pip-installed
        print(f'build_docs: no symbol links ({e!r})', file=sys.stderr)
        return None


def build(out: Path | str | None = None, nbs: Path | str | None = None, quiet: bool = False) -> dict:
    "Build the site into `out` (default <repo>/_site); returns a summary dict (pages, warnings, seconds)."
    t0 = time.time()
    cfg = get_config(path=ROOT)
    nbs = Path(nbs or cfg.nbs_path).resolve()
    out = Path(out or ROOT / '_site').resolve()
    _prepare_out(out)
    doc_base = (cfg.doc_host.rstrip('/') + '/' + cfg.doc_baseurl.strip('/')).rstrip('/') + '/'
    files = find_notebooks(nbs)
    errors = []
    lookup = _lookup(cfg)
    from nbdev.doclinks import _nbpath2html  # nbdev's URL for a notebook (numeric prefix dropped): 02_euler -> euler.html
    pages, by_stem, by_nbdev = [], {}, {}
    for f in files:
        nb = nbformat.read(f, as_version=4)
        title, desc, ti = notebook_meta(nb)
        path = _page_path(f, nbs)
        pages.append(dict(src=f, nb=nb, title=title or f.stem, desc=desc, title_cell=ti, path=path))
        by_stem[f.relative_to(nbs).with_suffix('').as_posix()] = path
        by_nbdev[_nbpath2html(f.relative_to(nbs)).as_posix()] = path

    for p in pages:  # pass 1: bodies
        cells = []
        for i, c in enumerate(p['nb'].cells):
            if i == p['title_cell']: continue
            if c.cell_type == 'markdown' and lookup is not None: c = nbformat.from_dict({**c, 'source': lookup.linkify(c.source)})
            cells.append(render_cell(c, errors))
        p['body'] = '\n'.join(x for x in cells if x)
        p['ids'] = {html.unescape(x) for x in re.findall(r'\sid="([^"]+)"', p['body'])}
        p['toc'] = [(h.get('id'), h.get_text().rstrip('#').strip()) for h in BeautifulSoup(p['body'], 'html.parser').find_all('h2') if h.get('id')]

    ids = {p['path']: p['ids'] for p in pages}
    def fix_href(href: str, current: str) -> str:
        "Notebook links and nbdev doc links -> relative links to the pages here; a missing #anchor is dropped."
        h = html.unescape(href)
        if h.startswith(doc_base): target, _, frag = h[len(doc_base):].partition('#'); target = by_nbdev.get(target)
        elif re.match(r'^[a-z][a-z0-9+.-]*:|^#|^/', h, flags=re.I): return href
        else:
            pth, _, frag = h.partition('#')
            m = re.search(r'([^/]+)\.ipynb$', pth)
            if not m: return href
            key = posixpath.normpath(posixpath.join(posixpath.dirname(current), pth))[:-len('.ipynb')]
            target = by_stem.get(key) or next((v for k, v in by_stem.items() if posixpath.basename(k) == m.group(1)), None)
        if target is None: return href
        frag = frag if frag and unquote(frag) in ids[target] else ''
        return html.escape(_rel(target, current) + (f'#{frag}' if frag else ''))

    for i, p in enumerate(pages):  # pass 2: links, layout
        body = re.sub(r'href="([^"]*)"', lambda m: f'href="{fix_href(m.group(1), p["path"])}"', p['body'])
        (out / p['path']).parent.mkdir(parents=True, exist_ok=True)
        (out / p['path']).write_text(_page(p, pages, i, body, cfg, errors), encoding='utf-8')
    (out / 'style.css').write_text(CSS + _FMT.get_style_defs('.highlight'), encoding='utf-8')
    (out / MARKER).write_text('built by tools/build_docs.py; the folder is wiped on rebuild\n')
    res = dict(out=str(out), pages=[p['path'] for p in pages], math_errors=list(errors), seconds=round(time.time() - t0, 2))
    if not quiet:
        print(f"build_docs: {len(pages)} pages -> {out} in {res['seconds']} s")
        for e in errors: print(f'build_docs: math not converted: {e}', file=sys.stderr)
    return res


def _prepare_out(out: Path):
    if out.exists():
        extra = [x for x in out.iterdir() if x.name not in KEEP | {MARKER}]
        if extra and not (out / MARKER).exists():
            raise SystemExit(f'build_docs: {out} is not empty and was not made by this script; choose another --out')
        for x in extra: shutil.rmtree(x) if x.is_dir() else x.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _page(p, pages, i, body, cfg, errors) -> str:
    cur = p['path']
    nav = []
    for q in pages:
        here = q is p
        toc = ''
        if here and q['toc']:
            toc = '<ol class="toc">' + ''.join(f'<li><a href="#{html.escape(quote(a, safe=_FRAG_SAFE))}">{html.escape(t)}</a></li>' for a, t in q['toc']) + '</ol>'
        nav.append(f'<li{" class=current" if here else ""}><a href="{html.escape(_rel(q["path"], cur))}"'
                   f'{" aria-current=page" if here else ""} title="{html.escape(q["src"].name)}">{html.escape(q["title"].replace("`", ""))}</a>{toc}</li>')
    prev_next = ''.join(f'<a class="{cls}" href="{html.escape(_rel(q["path"], cur))}"><span>{lbl}</span>{html.escape(q["title"].replace("`", ""))}</a>'
                        for cls, lbl, q in (('prev', '← Previous', pages[i - 1] if i > 0 else None),
                                            ('next', 'Next →', pages[i + 1] if i + 1 < len(pages) else None)) if q)
    desc = f'<p class="description">{_inline_md(p["desc"], errors)}</p>' if p['desc'] else ''
    site = html.escape(cfg.get('title', cfg.lib_name))
    home = html.escape(_rel(pages[0]['path'], cur))
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(p['title'].replace('`', ''))} – {site}</title>
{f'<meta name="description" content="{html.escape(p["desc"])}">' if p['desc'] else ''}
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{html.escape(_rel('style.css', cur))}">
</head>
<body>
<div class="layout">
<nav class="sidebar" aria-label="Notebooks">
<a class="site-title" href="{home}">{site}</a>
<ol class="nav-pages">
{chr(10).join(nav)}
</ol>
</nav>
<main class="content" id="content">
<header class="page-header"><h1>{_inline_md(p['title'], errors)}</h1>{desc}</header>
{body}
<footer class="page-footer"><nav class="prev-next" aria-label="Previous and next">{prev_next}</nav>
<p class="source">Rendered from <code>{html.escape(p['src'].name)}</code> with its stored outputs.</p></footer>
</main>
</div>
</body>
</html>
"""


CSS = """
:root { --fg:#1f2328; --muted:#59636e; --border:#d1d9e0; --bg-soft:#f6f8fa; --accent:#0b5cad; --sidebar:17rem; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; color:var(--fg); background:#fff; font: 16px/1.6 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.layout { display:flex; align-items:stretch; min-height:100vh;
  background:linear-gradient(to right, var(--bg-soft) calc(var(--sidebar) - 1px), var(--border) calc(var(--sidebar) - 1px), var(--border) var(--sidebar), #fff var(--sidebar)); }
.sidebar { flex:0 0 var(--sidebar); width:var(--sidebar);
  padding:1.4rem 1rem 2rem; position:sticky; top:0; align-self:flex-start; max-height:100vh; overflow-y:auto; font-size:.9rem; }
.site-title { display:block; font-weight:700; font-size:1.25rem; color:var(--fg); margin:0 .5rem 1rem; }
.nav-pages, .toc { list-style:none; margin:0; padding:0; }
.nav-pages > li > a { display:block; padding:.3rem .5rem; border-radius:6px; color:var(--fg); line-height:1.35; }
.nav-pages > li > a:hover { background:#e7ecf0; text-decoration:none; }
.nav-pages > li.current > a { background:#dde8f5; color:var(--accent); font-weight:600; }
.toc { margin:.2rem 0 .5rem .9rem; border-left:2px solid var(--border); }
.toc a { display:block; padding:.15rem .6rem; color:var(--muted); font-size:.85rem; line-height:1.35; }
.content { flex:1 1 auto; min-width:0; max-width:56rem; padding:2rem 3rem 4rem; }
.page-header { border-bottom:1px solid var(--border); margin-bottom:1.5rem; padding-bottom:.8rem; }
.page-header h1 { font-size:2.1rem; line-height:1.2; margin:.2rem 0 .6rem; }
.description { color:var(--muted); font-size:1.1rem; margin:0; }
h2 { font-size:1.5rem; margin:2.2rem 0 .8rem; padding-bottom:.25rem; border-bottom:1px solid var(--border); line-height:1.3; }
h3 { font-size:1.2rem; margin:1.8rem 0 .6rem; } h4 { font-size:1.05rem; }
.anchor-link { visibility:hidden; margin-left:.4rem; color:var(--muted); font-weight:400; }
h1:hover .anchor-link, h2:hover .anchor-link, h3:hover .anchor-link, h4:hover .anchor-link { visibility:visible; }
p, ul, ol, dl, table { margin:0 0 1rem; }
li + li { margin-top:.2rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size:.88em;
  background:rgba(175,184,193,.2); border-radius:4px; padding:.1em .3em; }
pre code, .highlight code { background:none; padding:0; }
pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size:.84rem; line-height:1.45;
  margin:0 0 1rem; padding:.8rem 1rem; overflow-x:auto; border-radius:6px; }
.cell.code { margin:0 0 1.2rem; }
.highlight { background:var(--bg-soft); border:1px solid var(--border); border-radius:6px; margin:0 0 .5rem; }
.highlight pre { margin:0; background:none; }
.output { margin:0 0 .6rem; }
pre.output { background:#fff; border:1px solid var(--border); border-left:3px solid #8c959f; max-height:32rem; }
pre.output.stderr { border-left-color:#d4a72c; background:#fffbeb; }
pre.output.error { border-left-color:#cf222e; background:#fff5f5; }
.output.figure img { display:block; max-width:100%; height:auto; margin:.3rem 0; }
.output.html { overflow-x:auto; }
/* wide code, printed lines and tables use the page's width to the right of the text column before they scroll */
.highlight, pre.output, .output.html { width:max-content; min-width:100%; max-width:calc(100vw - var(--sidebar) - 6rem); }
.output.html th, .output.html td { white-space:nowrap; }
table { border-collapse:collapse; font-size:.88rem; font-variant-numeric:tabular-nums; }
th, td { border:1px solid var(--border); padding:.3rem .6rem; text-align:right; vertical-align:top; }
.markdown th, .markdown td, .api-params td, .api-params th { text-align:left; }
thead th { background:var(--bg-soft); }
tbody tr:nth-child(even) { background:#fafbfc; }
blockquote { margin:0 0 1rem; padding:.1rem 1rem; border-left:4px solid var(--border); color:var(--muted); }
img { max-width:100%; }
math { font-size:1.08em; font-family: "STIX Two Math", "Latin Modern Math", "Cambria Math", "DejaVu Math TeX Gyre", math; }
.math-block { display:flex; align-items:center; gap:1rem; overflow-x:auto; overflow-y:hidden; margin:.8rem 0; padding:.2rem 0; }
.math-block math { flex:1 1 auto; }
.math-tag { color:var(--muted); }
.math-error { color:#cf222e; }
.api { border:1px solid var(--border); border-radius:8px; padding:.2rem 1.1rem .4rem; margin:1.2rem 0; box-shadow:0 1px 2px rgba(31,35,40,.06); }
.api-name { margin:.8rem 0 .4rem; font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size:1.1rem; }
.api-name a { color:var(--fg); }
.api-sig { background:var(--bg-soft); white-space:pre-wrap; overflow-wrap:anywhere; padding:.5rem .8rem; }
.api-sig .kw { color:#8250df; } .api-bases { color:var(--muted); }
.api-doc p:last-child { margin-bottom:.6rem; }
.api-params { width:100%; }
.api-methods dt { margin-top:.5rem; } .api-methods dd { margin:.1rem 0 .4rem 1.2rem; }
.api-methods dd p { margin:0 0 .3rem; }
.api-kind { color:var(--muted); font-size:.8rem; }
.page-footer { margin-top:3rem; border-top:1px solid var(--border); padding-top:1rem; color:var(--muted); font-size:.85rem; }
.prev-next { display:flex; justify-content:space-between; gap:1rem; margin-bottom:1rem; }
.prev-next a { display:block; border:1px solid var(--border); border-radius:6px; padding:.5rem .8rem; max-width:48%; font-size:.95rem; }
.prev-next a span { display:block; color:var(--muted); font-size:.75rem; }
.prev-next .next { margin-left:auto; text-align:right; }
@media (max-width: 900px) {
  .layout { display:block; background:#fff; }
  .sidebar { position:static; width:auto; max-height:none; background:var(--bg-soft); border-bottom:1px solid var(--border); }
  .toc { display:none; }
  .content { padding:1.2rem 1rem 3rem; }
  .highlight, pre.output, .output.html { max-width:calc(100vw - 2rem); }
}
"""


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--out', default=None, help='output folder (default: <repo>/_site)')
    ap.add_argument('--nbs', default=None, help="notebook folder (default: settings.ini's nbs_path)")
    ap.add_argument('--strict', action='store_true', help='exit 1 if some math could not be converted')
    ap.add_argument('--no-api', action='store_true', help='no API entries for exported functions/classes (hide export cells entirely)')
    a = ap.parse_args(argv)
    global API_ENTRIES
    API_ENTRIES = not a.no_api
    res = build(a.out, a.nbs)
    if a.strict and res['math_errors']: sys.exit(1)


if __name__ == '__main__': main()
