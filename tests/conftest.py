import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))

# Docs and README checks read the executed notebooks: run them after everything else.
_LAST = ('test_readme_docs.py',)

def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda it: Path(str(it.fspath)).name in _LAST)


def one_error_line(r):
    "The single `medfusionnet: error: ...` line a failed command prints (asserting there is exactly one line)."
    lines = [l for l in r.stderr.strip().splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{r.stderr}"
    assert lines[0].startswith('medfusionnet: error: ')
    return lines[0]


def cli_command():
    "The installed `medfusionnet` console script (or the module) as a command list."
    exe = Path(sys.executable).parent/'medfusionnet'
    return [str(exe)] if exe.exists() else [sys.executable, '-m', 'medfusionnet.cli']


def run_cli(*args, env=None, cwd=None, timeout=600):
    "Run the installed `medfusionnet` console script; returns the CompletedProcess."
    e = dict(os.environ, **(env or {}))
    return subprocess.run(cli_command() + [str(a) for a in args], capture_output=True, text=True, env=e,
                          cwd=cwd or ROOT, timeout=timeout)


@pytest.fixture
def cli(): return run_cli
