"""Offline stand-in for `nbdev_readme` (which needs Quarto): render nbs/index.ipynb to README.md."""
from pathlib import Path
import re, shutil, tempfile
import nbformat, yaml
from nbconvert import MarkdownExporter
from traitlets.config import Config
from nbdev.config import get_config
from nbdev.quarto import proc_nbs


def main():
    cfg = get_config()
    with tempfile.TemporaryDirectory() as tmp:  # process only the README notebook, in a scratch copy
        src = Path(tmp)/'nbs'; src.mkdir()
        shutil.copy(cfg.nbs_path/cfg.readme_nb, src/cfg.readme_nb)
        cache = proc_nbs(src, n_workers=0, force=True)  # writes to <repo>/_proc (git-ignored)
        nb = nbformat.read(Path(cache)/cfg.readme_nb, as_version=4)
    fm = {}
    if nb.cells and nb.cells[0].cell_type == 'raw':  # frontmatter cell added by nbdev
        fm = yaml.safe_load(nb.cells.pop(0).source.strip().strip('-')) or {}
    nb.metadata['language_info'] = {'name': 'python'}
    for c in nb.cells:
        if c.cell_type != 'code': continue
        lines = c.source.splitlines()
        if any(l.replace(' ', '') == '#|echo:false' for l in lines): c.metadata['tags'] = ['remove_input']  # output only
        c.source = '\n'.join(l for l in lines if not l.startswith('#|')).strip()  # drop directive lines nbdev left in
        for o in c.get('outputs', []):  # pandas' <style> blocks are noise in markdown
            if 'text/html' in o.get('data', {}): o['data']['text/html'] = re.sub(r'<style scoped>.*?</style>\s*', '', o['data']['text/html'], flags=re.S)
    conf = Config(); conf.TagRemovePreprocessor.enabled = True; conf.TagRemovePreprocessor.remove_input_tags = {'remove_input'}
    body, res = MarkdownExporter(config=conf).from_notebook_node(nb, resources={'output_files_dir': 'README_files'})
    head = f"# {fm.get('title', cfg.lib_name)}\n\n" + (f"> {fm['description']}\n\n" if fm.get('description') else '')
    root = Path(cfg.config_path)
    (root/'README.md').write_text(head + body.lstrip(), encoding='utf-8')
    for name, data in res.get('outputs', {}).items():
        (root/name).parent.mkdir(parents=True, exist_ok=True)
        (root/name).write_bytes(data)


if __name__ == '__main__': main()
