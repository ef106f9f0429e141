import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))

# Docs and README checks read the executed notebooks: run them after everything else.
_LAST = ('test_readme_docs.py',)

def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda it: Path(str(it.fspath)).name in _LAST)


def run_cli(*args, env=None, cwd=None, timeout=600):
    "Run the installed `medfusionnet` console script; returns the CompletedProcess."
    exe = Path(sys.executable).parent/'medfusionnet'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-m', 'medfusionnet.cli']
    e = dict(os.environ, **(env or {}))
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, env=e,
                          cwd=cwd or ROOT, timeout=timeout)


@pytest.fixture
def cli(): return run_cli
