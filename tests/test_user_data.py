"""A user's own CSV, as a new user brings it: every column type for every model, one clear line before any training
when the request cannot work, cross-validation that resumes after a kill, prediction without labels, run folders
that run no code when opened, and warnings a person can read."""
import json, os, pickle, signal, subprocess, time
from pathlib import Path
import numpy as np, pandas as pd
import pytest
from conftest import run_cli, cli_command, one_error_line
from medfusionnet.testing import toy_dataset
from medfusionnet.protocols import cv_model_names
from medfusionnet.external import find_dataset

LABELS = ['bright', 'high', 'effusion']


def own_csv(folder, n=60, **changes):
    "A CSV as a user writes it: image file names, a patient id, numbers, text, and categorical columns of strings with blanks."
    folder = Path(folder)
    df, _, _, _ = toy_dataset(folder, n=n)
    df['sex'] = np.where(np.arange(n) % 3 == 0, 'F', 'M'); df.loc[::7, 'sex'] = np.nan
    df['view'] = np.where(np.arange(n) % 2 == 0, 'PA', 'AP')
    for k, v in changes.items(): df[k] = v
    fn = folder/'mine.csv'; df.to_csv(fn, index=False)
    return fn, ['--dataset', fn, '--labels', ','.join(LABELS), '--numeric', 'x1,x2', '--categorical', 'site,sex,view',
                '--image-col', 'image', '--image-root', folder/'img', '--text-col', 'note', '--group-col', 'pid']


FAST = ['--epochs', '1', '--image-size', '32', '--bs', '16', '--n-boot', '0']


def test_every_cv_model_takes_string_categories_and_blanks(tmp_path):
    "The crash of the issue: `--categorical sex,view` with lr (and every other model) in one cv."
    fn, args = own_csv(tmp_path)
    models = cv_model_names()
    r = run_cli('cv', *args, '--models', ','.join(models), '--folds', '2', '--no-risk', *FAST, '--out', tmp_path/'cv')
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path/'cv'/'metrics.json').read_text())
    assert m['models'] == models
    for name in models:
        auc = m['pooled'][name]['macro']['auroc']
        assert auc is not None and 0 <= auc <= 1, (name, auc)
    assert 'Traceback' not in r.stderr


@pytest.mark.parametrize('cmd,extra,change,expect', [
    ('cv', ['--models', 'lr,medfusionnet'], dict(high=0), "label(s) ['high'] have no positive row"),
    ('train', [], dict(high=0), "label(s) ['high'] have no positive row"),
    ('cv', ['--models', 'lr', '--folds', '100'], {}, "100 folds need at least 100 patients ('pid'); the table has 60"),
    ('cv', ['--models', 'lr,mfn-texts'], {}, "unknown model 'mfn-texts'"),
    ('train', ['--test', '1.5'], {}, '--test 1.5: the fraction of patients held out must be in [0, 1)'),
    ('train', ['--valid', '0.5', '--test', '0.5'], {}, 'leave no patient to train on'),
])
def test_bad_requests_stop_in_seconds_with_one_line(tmp_path, cmd, extra, change, expect):
    fn, args = own_csv(tmp_path, **change)
    t0 = time.time()
    r = run_cli(cmd, *args, *extra, *FAST, '--out', tmp_path/'out')
    assert r.returncode == 1 and expect in one_error_line(r), r.stderr[-2000:]
    assert time.time() - t0 < 60                   # before any training (the command's start-up is most of it)
    assert not (tmp_path/'out'/'metrics.json').exists() and not (tmp_path/'out'/'checkpoints').exists()


def _same_results(a:Path, b:Path):
    "Two cv folders hold the same results: metrics.json key by key (timings, machine, command aside), CSVs byte for byte."
    ma, mb = (json.loads((d/'metrics.json').read_text()) for d in (a, b))
    for k in ('seconds', 'machine', 'command', 'warnings'): ma.pop(k, None); mb.pop(k, None)
    assert ma == mb
    csvs = sorted(p.name for p in a.glob('*.csv'))
    assert csvs == sorted(p.name for p in b.glob('*.csv')) and 'folds.csv' in csvs
    for n in csvs: assert (a/n).read_bytes() == (b/n).read_bytes(), n


def test_cv_killed_in_the_middle_resumes_to_the_same_metrics(tmp_path):
    args = ['cv', '--dataset', 'cervical', '--models', 'medfusionnet,lr', '--folds', '3', '--epochs', '2', '--n-boot', '20']
    r = run_cli(*args, '--out', tmp_path/'whole')
    assert r.returncode == 0, r.stderr[-3000:]
    out = tmp_path/'killed'
    p = subprocess.Popen(cli_command() + [str(a) for a in args] + ['--out', str(out)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    t0 = time.time()
    while len(list((out/'checkpoints').glob('*.npz'))) < 2:
        assert p.poll() is None, 'the cross-validation ended before it could be killed'
        assert time.time() - t0 < 300
        time.sleep(0.05)
    os.killpg(p.pid, signal.SIGKILL); p.wait()
    done = len(list((out/'checkpoints').glob('*.npz')))
    assert 2 <= done < 6 and not (out/'metrics.json').exists()
    r = run_cli(*args, '--out', out)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f'resumed: {done} finished' in r.stdout
    _same_results(tmp_path/'whole', out)
    other = [*args[:args.index('--epochs') + 1], '3', *args[args.index('--epochs') + 2:]]
    r = run_cli(*other, '--out', out)                    # other settings: refused, nothing mixed
    assert r.returncode == 1 and 'holds the finished folds of another cross-validation' in one_error_line(r)


@pytest.fixture(scope='module')
def cxr_run(tmp_path_factory):
    run = tmp_path_factory.mktemp('cxr')/'run'
    r = run_cli('train', '--dataset', 'nih-cxr14-sample', '--out', run, '--epochs', '1', '--n-boot', '0', '--no-risk')
    assert r.returncode == 0, r.stderr[-3000:]
    return run


@pytest.mark.parametrize('labels', ['empty', 'absent'])
def test_predict_official_layout_needs_no_labels(cxr_run, tmp_path, labels):
    src = find_dataset('nih-cxr14-sample')
    d = tmp_path/'ChestX-ray14'; (d/'images').mkdir(parents=True)
    names = sorted(p.name for p in (src/'images').glob('*.png'))[:40]
    for n in names: (d/'images'/n).symlink_to(src/'images'/n)
    raw = pd.read_csv(src/'Data_Entry_2017.csv')
    raw = raw[raw['Image Index'].isin(names)]
    raw = raw.assign(**{'Finding Labels': ''}) if labels == 'empty' else raw.drop(columns='Finding Labels')
    raw.to_csv(d/'Data_Entry_2017.csv', index=False)
    r = run_cli('predict', '--run', cxr_run, '--dataset', 'chestxray14', '--data-dir', d, '--out', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    p = pd.read_csv(tmp_path/'p.csv')
    assert len(p) == 40 and sorted(p['image']) == names and p.filter(like='prob_').shape[1] == 14


class Payload:
    "Unpickling this creates a file: the proof that code ran."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (Path.touch, (Path(self.marker),))


def test_a_run_folder_with_a_planted_pickle_runs_nothing(cxr_run, tmp_path):
    import shutil, torch
    run = Path(shutil.copytree(cxr_run, tmp_path/'shared-run'))
    marker = tmp_path/'code-ran'
    pickle.loads(pickle.dumps(Payload(marker))); assert marker.exists(); marker.unlink()   # the payload works
    pred = ['predict', '--run', run, '--dataset', 'nih-cxr14-sample', '--out', tmp_path/'p.csv']
    (run/'model'/'preprocessor.json').rename(tmp_path/'preprocessor.json')
    (run/'model'/'preprocessor.pkl').write_bytes(pickle.dumps(Payload(marker)))
    r = run_cli(*pred)
    assert r.returncode == 1 and 'never loaded' in one_error_line(r) and not marker.exists()
    (tmp_path/'preprocessor.json').rename(run/'model'/'preprocessor.json')
    torch.save({'weights': Payload(marker)}, run/'model'/'model.pth')     # a pickle inside the weights file
    r = run_cli(*pred)
    assert r.returncode == 1 and "model.pth: not this model's weights" in one_error_line(r) and not marker.exists()
    (run/'model'/'preprocessor.json').write_text('{"format": 2, "preprocessor": ')
    r = run_cli(*pred)
    assert r.returncode == 1 and 'preprocessor.json: not a saved model' in one_error_line(r)
    assert not (tmp_path/'p.csv').exists()


def test_data_warnings_are_one_line_each_stored_and_strict(tmp_path):
    fn, args = own_csv(tmp_path)
    (tmp_path/'img'/'5.png').unlink()                                   # a missing image
    r = run_cli('train', *args, *FAST, '--no-risk', '--out', tmp_path/'run')
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [l for l in r.stderr.splitlines() if '5.png' in l]
    first = [l for l in lines if ' times: ' not in l]                   # printed once, however often it was raised
    assert len(first) == 1 and first[0].startswith('medfusionnet: warning: ') and 'missing or unreadable' in first[0]
    assert all(l.startswith('medfusionnet: warning: ') for l in lines)  # (and, if repeated, once more in the summary)
    assert 'warnings.warn' not in r.stderr and 'UserWarning' not in r.stderr and 'DataWarning' not in r.stderr
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert any('5.png' in w['message'] and w['category'] == 'DataWarning' for w in m['warnings'])
    r = run_cli('train', *args, *FAST, '--no-risk', '--strict', '--out', tmp_path/'strict')
    assert r.returncode == 1 and '5.png' in one_error_line(r)
    assert not (tmp_path/'strict'/'model').exists()                     # stopped before training


def test_every_run_has_a_report_and_explains(cxr_run, tmp_path):
    "`train` wrote report.md/html with the forest plot; `report` rewrites it; `explain` reads the run folder."
    md = (cxr_run/'report.md').read_text()
    assert md.startswith('# Run report: nih-cxr14-sample') and '![AUROC per label with 95% CIs](figures/forest_auroc.png)' in md
    assert (cxr_run/'figures'/'forest_auroc.png').stat().st_size > 10_000 and (cxr_run/'report.html').exists()
    (cxr_run/'report.md').unlink()
    r = run_cli('report', cxr_run)
    assert r.returncode == 0 and (cxr_run/'report.md').read_text() == md
    r = run_cli('report', tmp_path)
    assert r.returncode == 1 and 'no metrics.json' in one_error_line(r)
    ids = pd.read_csv(cxr_run/'predictions_test.csv')['image'].iloc[:1].tolist()
    r = run_cli('explain', '--run', cxr_run, '--dataset', 'nih-cxr14-sample', '--ids', ids[0], '--out', tmp_path/'ex')
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path/'ex'/'summary.json').exists() and f'{ids[0]}: most probable' in r.stdout
