"Every notebook runs top to bottom as nbdev's test runner runs it (slow/gpu cells skipped unless asked for)."
import pytest
import nbtools


@pytest.mark.parametrize('nb', [p.name for p in nbtools.notebooks()])
def test_notebook(nb):
    ok, secs = nbtools.run_notebook(nb)
    assert ok, f"{nb} failed (traceback above)"
