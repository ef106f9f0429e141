"The `medfusionnet` command: help everywhere, the demo, and one clear line + non-zero exit for bad data."
import json
import pandas as pd, shutil
from pathlib import Path
import pytest
from medfusionnet.external import find_dataset, cards_dir


from conftest import one_error_line as _one_error_line


@pytest.mark.parametrize('args', [[], ['data'], ['demo'], ['explain']])
def test_help(cli, args):
    r = cli(*args, '--help')
    assert r.returncode == 0 and r.stdout.startswith('usage: medfusionnet'), r.stderr


def test_unknown_dataset(cli):
    r = cli('data', 'verify', 'imagenet')
    assert r.returncode == 1
    msg = _one_error_line(r)
    assert "unknown dataset 'imagenet'" in msg and 'cervical' in msg


def test_missing_dataset(cli, tmp_path):
    # A dataset this machine does not have: a copy of the cervical card under a new name and folder.
    cards = tmp_path/'cards'; shutil.copytree(cards_dir(), cards)
    c = json.loads((cards/'cervical.json').read_text()); c.update(name='cervical-elsewhere', folder='cervical-elsewhere')
    (cards/'cervical-elsewhere.json').write_text(json.dumps(c))
    r = cli('data', 'path', 'cervical-elsewhere', '--data-dir', tmp_path/'nowhere', env={'MEDFUSIONNET_CARDS': str(cards)})
    assert r.returncode == 1
    msg = _one_error_line(r)
    assert 'not found' in msg and str(tmp_path/'nowhere') in msg and 'download cervical-elsewhere' in msg


def test_corrupt_table_is_named(cli, tmp_path):
    d = tmp_path/'cervical'; d.mkdir()
    src = find_dataset('cervical')/'risk_factors_cervical_cancer.csv'
    (d/src.name).write_text(''.join(src.read_text().splitlines(keepends=True)[:-1]))  # one row lost
    r = cli('data', 'verify', 'cervical', '--data-dir', tmp_path)
    assert r.returncode == 1
    msg = _one_error_line(r)
    assert str(d/src.name) in msg and 'expected 858 rows, found 857' in msg


def test_corrupt_image_is_named(cli, tmp_path):
    d = tmp_path/'nih-cxr14-sample'
    shutil.copytree(find_dataset('nih-cxr14-sample'), d)
    img = sorted((d/'images').glob('*.png'))[10]
    b = bytearray(img.read_bytes()); b[len(b)//2] ^= 0xFF; img.write_bytes(bytes(b))
    r = cli('data', 'verify', 'nih-cxr14-sample', '--data-dir', tmp_path)
    assert r.returncode == 1
    msg = _one_error_line(r)
    assert img.name in msg and 'wrong SHA-256' in msg


def test_demo_refuses_corrupt_data_and_writes_nothing(cli, tmp_path):
    d = tmp_path/'data'/'cervical'; d.mkdir(parents=True)
    (d/'risk_factors_cervical_cancer.csv').write_text('Age,Biopsy\n20,0\n')
    r = cli('demo', '--data-dir', tmp_path/'data', '--out', tmp_path/'run')
    assert r.returncode == 1 and 'missing column' in _one_error_line(r)
    assert not (tmp_path/'run').exists() and not (tmp_path/'run.partial').exists()


def test_demo_quick(cli, tmp_path):
    "The whole demo on both datasets with tiny settings: a complete report folder and its path printed."
    r = cli('demo', '--quick', '--out', tmp_path/'run')
    assert r.returncode == 0, r.stderr[-3000:]
    rep = tmp_path/'run'
    assert str(rep/'report.html') in r.stdout
    m = json.loads((rep/'metrics.json').read_text())
    assert set(m['datasets']) == {'cervical', 'nih-cxr14-sample'} and m['quick']
    assert m['datasets']['cervical']['summary']['rows'] == 858 and m['datasets']['nih-cxr14-sample']['summary']['patients'] == 185
    md = (rep/'report.md').read_text()
    for d in ('cervical', 'nih-cxr14-sample'):
        assert (rep/d/'predictions_test.csv').exists() and f'## {d}' in md
    assert 'gradcam' in md and 'modality Shapley' in md      # the image explanations reached the report
    import re
    assert all((rep/l).exists() for l in re.findall(r'!\[[^\]]*\]\(([^)]+)\)', md))


def test_data_list(cli):
    r = cli('data', 'list')
    assert r.returncode == 0 and 'cervical' in r.stdout and 'chestxray14' in r.stdout


def test_select_help(cli):
    r = cli('select', '--help')
    assert r.returncode == 0 and '--n-features' in r.stdout and '--label-col' in r.stdout


def test_select_writes_table(cli, tmp_path):
    r = cli('select', '--dataset', 'cervical', '--out', tmp_path/'t.csv', '--n-features', '2', '--plots', tmp_path/'fig')
    assert r.returncode == 0, r.stderr
    import pandas as pd
    t = pd.read_csv(tmp_path/'t.csv')
    assert set(t.label) == {'Hinselmann', 'Schiller', 'Citology', 'Biopsy'} and t.groupby('label').selected.sum().max() == 2
    assert (tmp_path/'fig'/'stage1_scores.png').stat().st_size > 10_000


@pytest.mark.parametrize('content,args,expect', [
    ('pid,age,y\n1,30,0\n2,40,1\n', ['--labels', 'y', '--numeric', 'age,weight'], "['weight'] not in the table"),
    ('pid,age,y\n1,30,0\n2,40,2\n', ['--labels', 'y', '--numeric', 'age'], "label 'y' must be 0/1 (or blank: unknown); found ['2']"),
    ('pid,age,y\n', ['--labels', 'y', '--numeric', 'age'], 'the table is empty'),
])
def test_select_bad_csv(cli, tmp_path, content, args, expect):
    (tmp_path/'mine.csv').write_text(content)
    r = cli('select', '--dataset', tmp_path/'mine.csv', '--group-col', 'pid', *args, '--out', tmp_path/'t.csv')
    assert r.returncode == 1 and expect in _one_error_line(r)
    assert not (tmp_path/'t.csv').exists()


def test_select_label_never_positive_warns(cli, tmp_path):
    (tmp_path/'mine.csv').write_text('pid,age,y,z\n' + ''.join(f'{i},{20+i},{i%2},0\n' for i in range(20)))
    r = cli('select', '--dataset', tmp_path/'mine.csv', '--labels', 'y,z', '--numeric', 'age', '--out', tmp_path/'t.csv')
    assert r.returncode == 0, r.stderr
    assert "'z'" in r.stderr and 'never positive' in r.stderr


@pytest.mark.parametrize('cmd', ['train', 'evaluate', 'predict', 'cv'])
def test_training_commands_help(cli, cmd):
    r = cli(cmd, '--help')
    assert r.returncode == 0 and '--dataset' in r.stdout


@pytest.fixture(scope='module')
def cervical_run(tmp_path_factory):
    from conftest import run_cli
    run = tmp_path_factory.mktemp('runs')/'cerv'
    r = run_cli('train', '--dataset', 'cervical', '--out', run, '--epochs', '2', '--n-boot', '50')
    assert r.returncode == 0, r.stderr[-3000:]
    return run


def test_train_writes_a_complete_run(cervical_run):
    m = json.loads((cervical_run/'metrics.json').read_text())
    assert set(m['metrics']) >= {'Biopsy', 'macro', 'micro'} and m['protocol']['kind'].startswith('patient-grouped')
    assert 0 <= m['metrics']['macro']['auroc'] <= 1 and m['metrics']['Biopsy']['auroc_lo'] <= m['metrics']['Biopsy']['auroc']
    assert m['versions']['torch'] and m['seed'] == 0
    split = json.loads((cervical_run/'split.json').read_text())
    assert not set(split['train']) & set(split['valid']) and not (set(split['train']) | set(split['valid'])) & set(split['test'])
    assert m['protocol']['headline'] == 'test' and m['test']['patients'] == len(split['test']) > 100
    assert m['metrics'] == m['test']['metrics']
    # calibration and risk levels, fitted on validation, reported on the test patients
    assert {r['label'] for r in m['risk']} == {'Hinselmann', 'Schiller', 'Citology', 'Biopsy'}
    assert set(m['test']['calibration']) >= {'Biopsy', 'macro'}
    assert {r['level'] for r in m['test']['risk_levels']} <= {'low', 'intermediate', 'high', 'undefined'}
    assert sum(r['n'] for r in m['test']['risk_levels'] if r['label'] == 'Biopsy') == m['test']['rows']
    t = pd.read_csv(cervical_run/'predictions_test.csv')
    assert len(t) == m['test']['rows'] and {'risk_Biopsy', 'cal_prob_Biopsy', 'prob_Biopsy'} <= set(t.columns)
    for f in ('roc_pr_valid', 'roc_pr_test', 'reliability_test', 'risk_levels_test'):
        assert (cervical_run/'figures'/f'{f}.png').stat().st_size > 10_000, f
    assert (cervical_run/'model'/'stack.json').exists() and (cervical_run/'model'/'fold0'/'model.pth').exists()   # the default: a stack


def test_predict_new_rows_without_labels(cli, cervical_run, tmp_path):
    src = find_dataset('cervical')/'risk_factors_cervical_cancer.csv'
    lines = src.read_text().splitlines()
    cols = lines[0].split(',')
    keep = [i for i, c in enumerate(cols) if c not in ('Hinselmann', 'Schiller', 'Citology', 'Biopsy')]
    (tmp_path/'new.csv').write_text('\n'.join(','.join(l.split(',')[i] for i in keep) for l in lines[:11]) + '\n')
    r = cli('predict', '--run', cervical_run, '--dataset', tmp_path/'new.csv', '--out', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr
    import pandas as pd
    p = pd.read_csv(tmp_path/'p.csv')
    assert len(p) == 10 and [c for c in p.columns if c.startswith('prob_')] == [f'prob_{l}' for l in ('Hinselmann', 'Schiller', 'Citology', 'Biopsy')]
    assert p.filter(like='prob_').stack().between(0, 1).all()
    assert p.filter(like='risk_').stack().isin(['low', 'intermediate', 'high']).all() and p.filter(like='risk_').shape[1] == 4


def test_predict_missing_feature_column(cli, cervical_run, tmp_path):
    (tmp_path/'bad.csv').write_text('Age,Smokes\n30,0\n')
    r = cli('predict', '--run', cervical_run, '--dataset', tmp_path/'bad.csv', '--out', tmp_path/'p.csv')
    assert r.returncode == 1 and 'the model needs are missing' in _one_error_line(r)
    assert not (tmp_path/'p.csv').exists()


def test_evaluate_leaves_out_seen_patients(cli, cervical_run):
    r = cli('evaluate', '--run', cervical_run, '--dataset', 'cervical', '--n-boot', '0')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'left out' in r.stderr     # the training and validation patients
    e = json.loads((cervical_run/'evaluate-cervical'/'metrics.json').read_text())
    m = json.loads((cervical_run/'metrics.json').read_text())
    assert e['patients'] == m['test']['patients']       # exactly the held-out test patients remain
    assert abs(e['metrics']['macro']['auroc'] - m['test']['metrics']['macro']['auroc']) < 1e-6


def test_train_without_test_part(cli, tmp_path):
    r = cli('train', '--dataset', 'cervical', '--out', tmp_path/'r', '--epochs', '1', '--n-boot', '0', '--test', '0', '--no-risk')
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path/'r'/'metrics.json').read_text())
    assert m['test'] is None and m['risk'] is None and m['protocol']['headline'].startswith('valid')
    assert not (tmp_path/'r'/'risk.json').exists()
    r = cli('evaluate', '--run', tmp_path/'r', '--dataset', 'cervical', '--n-boot', '0')
    assert r.returncode == 1 and 'no rows of unseen patients' in r.stderr   # every patient trained or validated it


def test_predict_needs_a_finished_run(cli, tmp_path):
    r = cli('predict', '--run', tmp_path/'nothing', '--dataset', 'cervical', '--out', tmp_path/'p.csv')
    assert r.returncode == 1 and 'not a finished run folder' in _one_error_line(r)


def test_cv_tabular_and_permutation(cli, tmp_path):
    r = cli('cv', '--dataset', 'cervical', '--models', 'lr,gb', '--folds', '3', '--n-boot', '50', '--out', tmp_path/'cv')
    assert r.returncode == 0, r.stderr[-2000:]
    m = json.loads((tmp_path/'cv'/'metrics.json').read_text())
    assert m['protocol']['n_splits'] == 3 and set(m['pooled']) == {'lr', 'gb'}
    assert (tmp_path/'cv'/'folds.csv').exists() and (tmp_path/'cv'/'oof_lr.csv').exists()
    # risk levels: a stratifier per fold, fitted on inner validation, applied to the test fold, so every row has a level
    lv = pd.read_csv(tmp_path/'cv'/'risk_levels.csv')
    assert set(lv.model) == {'lr', 'gb'} and (lv.groupby(['model', 'label']).n.sum() == 858).all()
    cal = m['risk']['calibration_macro']['lr']
    assert cal['brier_after'] < cal['brier_before']           # balanced class weights inflate LR's raw probabilities
    o = {x['label']: x for x in m['risk']['level_ordering']['lr']}
    assert set(o) == {'Hinselmann', 'Schiller', 'Citology', 'Biopsy'} and o['Schiller']['judged']
    assert 'high above low for' in r.stdout


def test_predict_new_image_of_an_unseen_patient(cli, tmp_path):
    "Train on the NIH sample, then predict a full-resolution image of a patient who is not in the sample: no labels needed."
    run = tmp_path/'cxr'
    r = cli('train', '--dataset', 'nih-cxr14-sample', '--out', run, '--epochs', '1', '--n-boot', '0')
    assert r.returncode == 0, r.stderr[-3000:]
    cfg = json.loads((run/'model'/'fold0'/'config.json').read_text())      # (the stack's first network)
    assert cfg['model_kwargs']['fusion'] == 'gated' and cfg['model_kwargs']['unimodal_heads'] and cfg['channels'] == 1   # (gray radiographs)
    seen = set(sum(json.loads((run/'split.json').read_text()).values(), []))
    assert '27426' not in seen
    full = find_dataset('nih-cxr14-fullres')
    (tmp_path/'new.csv').write_text('Image Index,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position\n'
                                    '00027426_000.png,0,27426,53,M,PA\n')
    r = cli('predict', '--run', run, '--dataset', tmp_path/'new.csv', '--image-root', full, '--out', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr[-3000:]
    p = pd.read_csv(tmp_path/'p.csv')
    assert len(p) == 1 and p.filter(like='prob_').shape[1] == 28          # prob_ and cal_prob_ for 14 labels
    assert p.filter(regex='^prob_').stack().between(0, 1).all()
    assert p.filter(like='risk_').stack().isin(['low', 'intermediate', 'high', 'undefined']).all()


def test_every_option_the_package_names_exists():
    "A message, help text or docstring that tells the user to pass `--something` names an option some subcommand has."
    import re
    from medfusionnet.cli import build_parser
    opts = set()
    for sub in build_parser()._subparsers._group_actions[0].choices.values():
        for act in sub._actions: opts |= set(act.option_strings)
    pkg = Path(__file__).resolve().parent.parent/'medfusionnet'
    named = {m.group(): f.name for f in pkg.glob('*.py') for m in re.finditer(r"(?<![\w-])--[a-z][a-z0-9]+(?:-[a-z0-9]+)*(?![\w-])", f.read_text())}
    assert {o: f for o, f in named.items() if o not in opts | {'--the-name'}} == {}    # (add_options' doc: the name pattern)
