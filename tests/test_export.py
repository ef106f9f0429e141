"The package must be exactly what the notebooks export."
import filecmp, shutil, subprocess, sys
from pathlib import Path
from conftest import ROOT


def test_package_matches_notebooks(tmp_path):
    # Export into a copy of the project, so the check never changes the working tree.
    for f in ['pyproject.toml']: shutil.copy(ROOT/f, tmp_path/f)
    shutil.copytree(ROOT/'nbs', tmp_path/'nbs')
    shutil.copytree(ROOT/'medfusionnet', tmp_path/'medfusionnet', ignore=shutil.ignore_patterns('__pycache__'))
    subprocess.run([str(Path(sys.executable).parent/'nbdev-export')], cwd=tmp_path, check=True, capture_output=True)
    ours = {p.relative_to(ROOT/'medfusionnet') for p in (ROOT/'medfusionnet').rglob('*.py')}
    theirs = {p.relative_to(tmp_path/'medfusionnet') for p in (tmp_path/'medfusionnet').rglob('*.py')}
    assert ours == theirs, f"files differ: only in repo {sorted(ours-theirs)}, only in export {sorted(theirs-ours)}"
    stale = [str(p) for p in sorted(ours) if not filecmp.cmp(ROOT/'medfusionnet'/p, tmp_path/'medfusionnet'/p, shallow=False)]
    assert not stale, f"medfusionnet/ differs from the notebooks in {stale}: run `make export` and commit both"


def test_notebooks_are_clean():
    "Committed notebooks carry no outputs or execution counts (outputs come from real data; docs recompute them)."
    import json
    dirty = []
    for nb in sorted((ROOT/'nbs').glob('*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:
            if c['cell_type'] == 'code' and (c.get('outputs') or c.get('execution_count')): dirty.append(nb.name); break
    assert not dirty, f"notebooks with outputs: {dirty}; run `make export` (nbdev-clean) and clear outputs"
