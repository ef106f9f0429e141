"""Build helpers shared by the Makefile and the tests: run notebooks, render README.md and the docs site.

Notebooks are committed without outputs (their outputs are computed from real data, which is never committed).
Running a notebook writes an executed copy under `_build/nbs/`; the README and the docs are rendered from those
copies, so every number on a page is computed by the build that made the page.

    python tools/nbtools.py run [NB...]   # execute notebooks (all by default) into _build/nbs
    python tools/nbtools.py readme        # README.md from the executed index.ipynb
    python tools/nbtools.py docs          # the site into _docs/ (Quarto if installed, else smalldocs)
"""
from __future__ import annotations
import os, re, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'
BUILD = ROOT/'_build'/'nbs'
SUPPORT = ['_quarto.yml', 'styles.css', 'nbdev.yml']


def notebooks() -> list:
    "Source notebooks, in order."
    return sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))


def skip_flags() -> list:
    "Cell flags skipped: the project's `tst_flags` minus those named in $MEDFUSIONNET_TEST_FLAGS (e.g. 'slow')."
    from nbdev.config import get_config
    forced = set(os.environ.get('MEDFUSIONNET_TEST_FLAGS', '').replace(',', ' ').split())
    return [f for f in get_config(ROOT).tst_flags.split() if f not in forced]


def sidebar_yml() -> str:
    "The docs sidebar: home, then the API notebooks (00-09), then tutorials and result pages (10 and up)."
    api, guides = [], []
    for nb in notebooks():
        if nb.name == 'index.ipynb': continue
        m = re.match(r'(\d+)', nb.name)
        (api if m and int(m.group(1)) < 10 else guides).append(nb.name)
    lines = ['website:', '  sidebar:', '    contents:', '      - index.ipynb']
    for title, items in [('Tutorials and results', guides), ('API reference', api)]:
        if items: lines += [f'      - section: {title}', '        contents:'] + [f'          - {n}' for n in items]
    return '\n'.join(lines) + '\n'


def _stage_support():
    BUILD.mkdir(parents=True, exist_ok=True)
    for f in SUPPORT:
        if (NBS/f).exists(): shutil.copy2(NBS/f, BUILD/f)
    (BUILD/'sidebar.yml').write_text(sidebar_yml())


def run_notebook(nb, save: bool = True) -> tuple:
    "Execute notebook `nb` (a name or path in nbs/) as nbdev's test runner does; save the executed copy in _build/nbs."
    from nbdev.test import test_nb as _run_nb  # (imported under another name so pytest does not collect it)
    src = NBS/Path(nb).with_suffix('.ipynb').name
    _stage_support()
    dst = BUILD/src.name
    tmp = BUILD/f'.{src.name}.running.ipynb'
    shutil.copy2(src, tmp)
    try:
        ok, secs = _run_nb(tmp, skip_flags=skip_flags(), save=save, basepath=str(ROOT))
        if ok and save: os.replace(tmp, dst)
        return ok, secs
    finally: tmp.unlink(missing_ok=True)


def run_stale():
    "Execute the notebooks whose executed copy is missing or older than the source (or than the package)."
    pkg_mtime = max(p.stat().st_mtime for p in (ROOT/'medfusionnet').glob('*.py'))
    failed = []
    for nb in notebooks():
        dst = BUILD/nb.name
        if dst.exists() and dst.stat().st_mtime >= max(nb.stat().st_mtime, pkg_mtime): continue
        print(f'running {nb.name}', flush=True)
        ok, secs = run_notebook(nb)
        if not ok: failed.append(nb.name)
    if failed: raise SystemExit(f'notebooks failed: {", ".join(failed)}')


def _clean_executed():
    "nbdev's runner leaves float `execution` timing metadata that nbformat rejects: drop it (outputs stay)."
    import json
    for nb in BUILD.glob('*.ipynb'):
        d = json.loads(nb.read_text())
        dirty = False
        for c in d['cells']:
            if 'execution' in c.get('metadata', {}): c['metadata'].pop('execution'); dirty = True
        if dirty: nb.write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n')


# README -------------------------------------------------------------------------------------------------------

def _html_table_md(h: str) -> str|None:
    "The first HTML <table> in `h` (as pandas writes it) as a GitHub markdown table, or None."
    from html.parser import HTMLParser
    class P(HTMLParser):
        rows, cur, cell, on = [], None, '', False
        def handle_starttag(self, t, a):
            if t == 'tr': self.cur = []
            if t in ('td', 'th'): self.on, self.cell = True, ''
        def handle_endtag(self, t):
            if t in ('td', 'th') and self.cur is not None: self.cur.append(self.cell.strip()); self.on = False
            if t == 'tr' and self.cur is not None: self.rows.append(self.cur); self.cur = None
        def handle_data(self, d):
            if self.on: self.cell += d
    p = P(); p.rows = []; p.feed(h)
    rows = [r for r in p.rows if any(r)]
    if not rows: return None
    w = max(map(len, rows)); rows = [r + [''] * (w - len(r)) for r in rows]
    if len(rows) > 1 and not rows[0][0] and rows[1][0] and not any(rows[1][1:]):   # pandas' index-name row
        rows = [[rows[1][0]] + rows[0][1:]] + rows[2:]
    esc = lambda r: '| ' + ' | '.join(c.replace('|', '\\|') for c in r) + ' |'
    return '\n'.join([esc(rows[0]), '|' + '---|' * w] + [esc(r) for r in rows[1:]])


def _output_md(o) -> str:
    d = o.get('data', {})
    if o.get('output_type') == 'stream': return '```\n' + ''.join(o.get('text', '')).rstrip() + '\n```'
    if 'text/markdown' in d: return ''.join(d['text/markdown'])
    if 'text/html' in d and '<table' in ''.join(d['text/html']):
        t = _html_table_md(''.join(d['text/html']))
        if t: return t
    if 'text/plain' in d: return '```\n' + ''.join(d['text/plain']).rstrip() + '\n```'
    return ''


def readme_text(nb=None) -> str:
    "GitHub-flavoured markdown of the (executed) index notebook: hidden cells dropped, directives stripped."
    import json
    nb = json.loads(Path(nb or BUILD/'index.ipynb').read_text())
    out = []
    for c in nb['cells']:
        lines = ''.join(c['source']).splitlines()
        flags = ' '.join(l[3:] for l in lines if l.startswith('#|'))
        src = '\n'.join(l for l in lines if not l.startswith('#|')).strip()
        if c['cell_type'] == 'markdown':
            if src: out.append(src)
        elif c['cell_type'] == 'code':
            if re.search(r'\bhide\b|include:\s*false', flags): continue
            if src and not re.search(r'echo:\s*false', flags): out.append('```python\n' + src + '\n```')
            out += [m for m in map(_output_md, c.get('outputs', [])) if m]
    return '\n\n'.join(out) + '\n'


def _blocks(text: str) -> list:
    "Whitespace-normalised paragraphs of a markdown text (for comparing READMEs made by different renderers)."
    return [' '.join(b.split()) for b in re.split(r'\n\s*\n', text) if b.strip()]


def readme_is_current() -> list:
    "Paragraphs of the index notebook's prose and code that README.md lacks (empty when it is current)."
    have = ' '.join(_blocks((ROOT/'README.md').read_text())) if (ROOT/'README.md').exists() else ''
    import json
    nb = json.loads((NBS/'index.ipynb').read_text())
    want = []
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'markdown' or not re.search(r'#\|\s*(hide|include:\s*false|echo:\s*false)', src):
            src = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
            want += [b.lstrip('# >') for b in _blocks(src)]
    return [b for b in want if b not in have]


def build_readme():
    "Write README.md from the executed index (Quarto's nbdev-readme when `quarto` exists, else our converter)."
    run_stale() if not (BUILD/'index.ipynb').exists() else None
    if shutil.which('quarto') and os.environ.get('MEDFUSIONNET_README') != 'python':
        subprocess.run([sys.executable, '-m', 'nbdev.cli', 'nbdev_readme'], check=True, cwd=ROOT)
    (ROOT/'README.md').write_text(readme_text())


# Docs ---------------------------------------------------------------------------------------------------------

def _output_name(nb: Path) -> str:
    "The page name nbdev gives a notebook (`default_exp` module for API notebooks, else the stem)."
    import json
    for c in json.loads(nb.read_text())['cells']:
        m = re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M)
        if m: return m.group(1)
    return nb.stem


def build_docs(out=None):
    "Render the site into `_docs/` (or `out`) from the executed notebooks."
    import nbdev.quarto as q
    from fastcore.xtras import working_directory
    out = Path(out or ROOT/'_docs')
    run_stale(); _clean_executed()
    with working_directory(ROOT):
        q.refresh_quarto_yml()
        _stage_support()
        if shutil.which('quarto'):
            cache, cfg, _ = q._pre_docs(path=str(BUILD), n_workers=0)
            q.render_quarto(cache, cache/'_docs', n_workers=0)
            shutil.rmtree(out, ignore_errors=True); shutil.move(str(cache/'_docs'), out)
            return out
        q._ensure_quarto = lambda: None   # Quarto absent: nbdev would try to install it (curl + sudo)
        cache, cfg, _ = q._pre_docs(path=str(BUILD), n_workers=0)
    # smalldocs ignores `output-file`: give each processed notebook its page name, and fix the sidebar to match
    names = {nb.name: _output_name(nb) + '.ipynb' for nb in notebooks()}
    for old, new in names.items():
        if old != new and (cache/old).exists(): os.replace(cache/old, cache/new)
    for y in ['sidebar.yml', '_quarto.yml']:
        t = (cache/y).read_text()
        for old, new in names.items(): t = t.replace(old, new)
        (cache/y).write_text(t)
    (cache/'nbdev.yml').write_text(re.sub(r'output-dir: .*', f'output-dir: _site', (cache/'nbdev.yml').read_text()))
    subprocess.run([str(Path(sys.executable).parent/'smalldocs'), 'render', str(cache)], check=True)
    shutil.rmtree(out, ignore_errors=True)
    shutil.move(str(cache/'_site'), out)
    return out


if __name__ == '__main__':
    cmd, *args = sys.argv[1:] or ['run']
    t0 = time.time()
    if cmd == 'run':
        if args:
            bad = [a for a in args if not run_notebook(a)[0]]
            if bad: raise SystemExit(f'notebooks failed: {", ".join(bad)}')
        else: run_stale()
    elif cmd == 'readme': build_readme()
    elif cmd == 'docs': print(f'site in {build_docs()}')
    else: raise SystemExit(__doc__)
    print(f'{cmd}: {time.time()-t0:.1f} s')
