"The package's layering: no import cycle, nothing imports `cli`, each module imports only those before it, and the notebooks come in that order."
import re
from conftest import ROOT
from medfusionnet.testing import MODULE_ORDER, package_imports, layering_problems
import nbtools


def test_no_cycle_and_no_upward_import():
    problems = layering_problems(package_imports())
    assert not problems, '\n'.join(problems)


def test_the_check_catches_a_cycle_and_an_import_of_cli():
    g = package_imports()
    g['core'] = g['core'] + ['learner']                  # a planted upward import (and with it a cycle)
    g['data'] = g['data'] + ['cli']
    problems = layering_problems(g)
    assert any(p.startswith('import cycle: ') for p in problems)
    assert 'core imports learner, which comes after it' in problems
    assert any(p.startswith('data imports cli') for p in problems)


def test_notebooks_follow_the_module_order():
    "One notebook per module, numbered in the order the modules may import each other."
    exps = []
    for nb in nbtools.notebooks():
        m = re.search(r'#\| default_exp (\w+)', nb.read_text())
        if m: exps.append(m.group(1))
    assert exps == MODULE_ORDER
    assert sorted(p.stem for p in (ROOT/'medfusionnet').glob('*.py') if not p.stem.startswith('_')) == sorted(MODULE_ORDER)


def test_one_parameter_per_docments_line():
    from medfusionnet.testing import docments_problems
    problems = docments_problems()
    assert not problems, 'several parameters before one comment (only the last is documented):\n' + '\n'.join(problems)
