"README.md is current; the docs site has a page per notebook, API entries, resolving links; pages render in Chromium."
import contextlib, functools, html.parser, http.server, os, shutil, subprocess, tempfile, threading
from pathlib import Path
from urllib.parse import urlsplit, unquote
import pytest
import nbtools
from conftest import ROOT


def test_readme_is_current():
    missing = nbtools.readme_is_current()
    assert not missing, f"README.md lacks (run `make readme`): {missing[:3]}"


@pytest.fixture(scope='module')
def site():
    return nbtools.build_docs()


class _Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.links, self.ids, self.title = [], set(), ''
        self._in_title = False
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'id' in a: self.ids.add(a['id'])
        for k in ('href', 'src'):
            if a.get(k) and not (tag == 'a' and a.get('class', '').find('external') >= 0): self.links.append(a[k])
        self._in_title = tag == 'title'
    def handle_data(self, data):
        if self._in_title: self.title += data
    def handle_endtag(self, tag): self._in_title = False


@functools.lru_cache(None)
def _parse(fn: Path) -> _Page:
    p = _Page(); p.feed(fn.read_text(errors='replace')); return p


def test_every_notebook_has_a_page(site):
    for nb in nbtools.notebooks():
        page = site/(nbtools._output_name(nb) + '.html')
        assert page.exists(), f"{nb.name} has no page {page.name}"
        assert len(page.read_text()) > 2000


def test_api_entries_rendered(site):
    from medfusionnet._modidx import d
    n = 0
    for mod, syms in d['syms'].items():
        for sym, (url, _) in syms.items():
            name = sym[len(mod)+1:]
            if name.startswith('_') or '.' in name: continue   # private helpers and methods have no entry of their own
            page, anchor = url.split('#')
            assert anchor in _parse(site/page).ids, f"{sym}: no API entry #{anchor} on {page}"
            n += 1
    assert n >= 10


def test_internal_links_resolve(site):
    broken = []
    for page in site.rglob('*.html'):
        for link in _parse(page).links:
            u = urlsplit(link)
            if u.scheme or link.startswith(('//', 'mailto:', 'data:', 'javascript:')): continue
            target = page if not u.path else (page.parent/unquote(u.path)).resolve()
            if target.is_dir(): target = target/'index.html'
            if not target.exists(): broken.append(f"{page.name}: {link}"); continue
            if u.fragment and target.suffix == '.html' and u.fragment not in _parse(target).ids:
                broken.append(f"{page.name}: {link} (no #{u.fragment})")
    assert not broken, f"broken internal links: {broken[:10]}"


@contextlib.contextmanager
def _serve(folder):
    h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    class Quiet(h.func):
        def log_message(self, *a): pass
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(Quiet, directory=str(folder)))
    t = threading.Thread(target=srv.serve_forever, daemon=True); t.start()
    try: yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally: srv.shutdown()


def _chromium():
    exe = shutil.which('chromium') or shutil.which('chromium-browser')
    if exe is None:
        if os.environ.get('MEDFUSIONNET_REQUIRE_BROWSER'): pytest.fail('chromium is required (MEDFUSIONNET_REQUIRE_BROWSER) but not installed')
        pytest.skip('chromium not installed (apt-get install chromium); .ci/run installs it')
    return exe


def _browse(exe, url, *args, timeout=90):
    with tempfile.TemporaryDirectory() as prof:
        cmd = [exe, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
               '--disable-background-networking', '--disable-component-update', '--disable-sync',
               f'--user-data-dir={prof}', '--window-size=1280,1600', *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


_CHECK = """<script>window.addEventListener('load', () => setTimeout(() => {
  const imgs = [...document.images];
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => (i.getAttribute('src') || '').slice(0, 80));
  const d = document.createElement('pre'); d.id = 'mfn-check';
  d.textContent = 'MFN' + 'CHECK' + JSON.stringify({images: imgs.length, broken: bad, text: document.body.innerText.length}) + 'MFN' + 'END';
  document.body.appendChild(d);
}, 300));</script>"""


def _pages():
    return ['index.html'] + [nbtools._output_name(nb) + '.html' for nb in nbtools.notebooks() if nb.name != 'index.ipynb']


@pytest.fixture(scope='module')
def checked_site(site, tmp_path_factory):
    "A copy of the site whose pages report, once loaded in the browser, how many images loaded and how many broke."
    d = tmp_path_factory.mktemp('site')/'site'
    shutil.copytree(site, d)
    for page in d.rglob('*.html'):
        t = page.read_text(errors='replace')
        page.write_text(t.replace('</body>', _CHECK + '</body>') if '</body>' in t else t + _CHECK)
    return d


@pytest.mark.parametrize('page', _pages())
def test_every_page_renders_in_chromium(site, checked_site, page):
    "Each page loads in headless Chromium: its title and sidebar are in the rendered DOM and every image decodes."
    import json, re
    exe = _chromium()
    with _serve(checked_site) as base:
        dom = _browse(exe, f"{base}/{page}", '--virtual-time-budget=8000', '--dump-dom').stdout
    title = _parse(site/page).title.split('–')[0].split('|')[0].strip()
    assert title and title in dom, f"{page}: title {title!r} not in the rendered DOM"
    assert 'sidebar' in dom, f"{page}: no sidebar in the rendered page"
    m = re.search(r'MFNCHECK(.*?)MFNEND', dom)
    assert m, f"{page}: the page's load event never fired"
    r = json.loads(m.group(1).replace('&quot;', '"'))
    assert not r['broken'], f"{page}: {len(r['broken'])} of {r['images']} images failed to load: {r['broken'][:3]}"
    assert r['text'] > 300, f"{page}: the rendered page has almost no text"
    if page == 'core.html': assert 'write_json_atomic' in dom
    if page == 'external.html': assert 'find_dataset' in dom
    if page == '15_design.html': assert r['images'] >= 1, '15_design.html shows no drawing of the layers'
    if page == 'select.html': assert r['images'] >= 3, f"select.html shows {r['images']} images"


def test_home_page_screenshot(site):
    "A screenshot of the home page as a browser draws it (kept in _build/screenshots/index.png)."
    exe = _chromium()
    shots = ROOT/'_build'/'screenshots'; shots.mkdir(parents=True, exist_ok=True)
    shot = shots/'index.png'
    shot.unlink(missing_ok=True)
    with _serve(site) as base:
        _browse(exe, f"{base}/index.html", f'--screenshot={shot}')
    assert shot.exists() and shot.stat().st_size > 20_000, "home page screenshot missing or blank"


def test_computed_outputs_are_on_the_pages(site):
    "Numbers and figures a notebook computes reach its page (outputs are computed by the build, not committed)."
    import json
    for nb in nbtools.notebooks():
        cells = json.loads((nbtools.BUILD/nb.name).read_text())['cells']
        outs = [o for c in cells if c['cell_type'] == 'code' for o in c.get('outputs', [])
                if o['output_type'] == 'stream' or 'text/html' in o.get('data', {}) or 'image/png' in o.get('data', {})]
        if not outs: continue
        page = (site/(nbtools._output_name(nb) + '.html')).read_text()
        shown = page.count('cell-output-stdout') + page.count('cell-output cell-output-display"') + page.count('<img src="data:image')
        assert shown > 0, f"{nb.name}: {len(outs)} computed outputs, none on its page"
    figs = (site/'select.html').read_text().count('<img src="data:image/png')
    assert figs >= 3, f"select.html shows {figs} figures"
