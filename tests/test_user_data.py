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
    ('cv', ['--models', 'lr'], dict(high=[0.] * 30 + [np.nan] * 30), "label(s) ['high'] have no known positive row"),
    ('train', [], dict(high=np.nan), "label(s) ['high'] are unknown (blank) in every row"),
    ('train', [], dict(high=1), "label(s) ['high'] are positive in every row (no negative): nothing to learn or score; "
                                "leave them out of the labels (command line: --labels bright,effusion)"),
    ('cv', ['--models', 'lr'], dict(high=[1.] * 30 + [np.nan] * 30), "label(s) ['high'] are positive in every known row"),
    ('train', ['--test', '1.5'], {}, '--test 1.5: the fraction of patients held out must be in [0, 1)'),
    ('train', ['--valid', '0.5', '--test', '0.5'], {}, 'leave no patient to train on'),
    ('train', ['--precision', 'bf16'], {}, '--precision bf16 needs a CUDA GPU'),
    ('cv', ['--models', 'medfusionnet', '--precision', 'fp16'], {}, '--precision fp16 needs a CUDA GPU'),
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
    net = run/'model'/'fold0'                                              # (the default is a stack: its first network's folder)
    (net/'preprocessor.json').rename(tmp_path/'preprocessor.json')
    (net/'preprocessor.pkl').write_bytes(pickle.dumps(Payload(marker)))
    r = run_cli(*pred)
    assert r.returncode == 1 and 'never loaded' in one_error_line(r) and not marker.exists()
    (tmp_path/'preprocessor.json').rename(net/'preprocessor.json')
    torch.save({'weights': Payload(marker)}, net/'model.pth')     # a pickle inside the weights file
    r = run_cli(*pred)
    assert r.returncode == 1 and "model.pth: not this model's weights" in one_error_line(r) and not marker.exists()
    (net/'preprocessor.json').write_text('{"format": 2, "preprocessor": ')
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
    r = run_cli('report', '--run', cxr_run)                      # (--run, as in evaluate, predict and explain)
    assert r.returncode == 0 and (cxr_run/'report.md').read_text() == md
    r = run_cli('report')
    assert r.returncode == 1 and 'report --run RUN' in one_error_line(r)
    r = run_cli('report', tmp_path)
    assert r.returncode == 1 and 'no metrics.json' in one_error_line(r)
    ids = pd.read_csv(cxr_run/'predictions_test.csv')['image'].iloc[:1].tolist()
    r = run_cli('explain', '--run', cxr_run, '--dataset', 'nih-cxr14-sample', '--ids', ids[0], '--out', tmp_path/'ex')
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path/'ex'/'summary.json').exists() and f'{ids[0]}: most probable' in r.stdout


def _partial_high(folder, n=60, seed=1):
    "The toy table's 'high' label with 9 blank cells and 6 uncertain (-1) ones, and where they are."
    df, *_ = toy_dataset(folder, n=n, write=False)
    cells = np.random.default_rng(seed).permutation(n)
    blank, unc = cells[:9], cells[9:15]
    high = df['high'].to_numpy(dtype=float, copy=True); orig = high.copy()
    high[blank] = np.nan; high[unc] = -1
    return high, orig, blank, unc


def test_blank_and_uncertain_labels_under_each_policy(tmp_path):
    "Blank label cells are unknown; -1 cells stop the run until --uncertain says what they mean; each policy is scored on the known cells."
    high, orig, blank, unc = _partial_high(tmp_path)
    fn, args = own_csv(tmp_path, high=high)
    r = run_cli('cv', *args, '--models', 'lr', '--folds', '3', *FAST, '--out', tmp_path/'none')
    assert r.returncode == 1 and "label(s) ['high'] hold the uncertain value -1 (6 cells; e.g. 'high' row" in one_error_line(r)
    n_pos = int(np.nansum(np.where(high == -1, np.nan, high)))
    expect = dict(ignore=(60 - 15, n_pos), zeros=(60 - 9, n_pos), ones=(60 - 9, n_pos + 6))
    for policy, (n_known, pos) in expect.items():
        out = tmp_path/policy
        models = 'lr,medfusionnet' if policy == 'ignore' else 'lr'
        r = run_cli('cv', *args, '--uncertain', policy, '--models', models, '--folds', '3', *FAST, '--out', out)
        assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr[-3000:]
        m = json.loads((out/'metrics.json').read_text())
        for model in models.split(','):
            rec = m['pooled'][model]
            assert (rec['high']['n'], rec['high']['positives'], rec['high']['unknown']) == (n_known, pos, 60 - n_known), (policy, model)
            assert (rec['bright']['n'], rec['bright']['unknown']) == (60, 0)
            # the reported AUROC is the one of the known cells, from the out-of-fold predictions
            from sklearn.metrics import roc_auc_score
            oof = pd.read_csv(out/f'oof_{model}.csv')['prob_high'].to_numpy()
            y = {'ignore': np.where(high == -1, np.nan, high), 'zeros': np.where(high == -1, 0, high), 'ones': np.where(high == -1, 1, high)}[policy]
            k = ~np.isnan(y)
            assert abs(rec['high']['auroc'] - roc_auc_score(y[k], oof[k])) < 1e-12
        report = (out/'report.md').read_text()
        assert 'Unknown labels: each label is scored on the rows where it is known' in report, report[:2000]
    r = run_cli('train', *args, '--uncertain', 'ignore', *FAST, '--out', tmp_path/'train')   # train, with its report
    assert r.returncode == 0, r.stderr[-3000:]
    t = json.loads((tmp_path/'train'/'metrics.json').read_text())
    assert t['test']['metrics']['high']['unknown'] > 0 and 'known rows' in (tmp_path/'train'/'report.md').read_text()


def test_an_unknown_label_cell_has_no_effect(tmp_path):
    "The loss (unimodal heads included) and every gradient are those of the known cells alone; stage 1 and the metrics too."
    import torch, torch.nn.functional as F
    from medfusionnet.data import DatasetSchema
    from medfusionnet.fusion_data import FusionPreprocessor, fusion_dls
    from medfusionnet.learner import fusion_model
    from medfusionnet.losses import WeightedBCELoss
    from medfusionnet.evaluate import evaluate_predictions
    df, sc, tr, va = toy_dataset(tmp_path, n=64)
    df = df.astype({l: float for l in LABELS})
    hide = np.random.default_rng(0).random((len(df), 3)) < 0.3
    dfu = df.copy(); dfu[LABELS] = df[LABELS].mask(hide)
    prep = FusionPreprocessor(sc, stage1_features=2, image_size=32).fit(dfu.iloc[tr])
    # stage 1: each label's table is the one fitted on its known training rows alone
    for k, l in enumerate(LABELS):
        rows = tr[~hide[tr, k]]
        alone = FusionPreprocessor(DatasetSchema(**{**sc.__dict__, 'label_cols': [l]}), stage1_features=2, image_size=32).fit(dfu.iloc[rows])
        a, b = prep.selector_.table_, alone.selector_.table_
        pd.testing.assert_frame_equal(a[a.label == l].drop(columns='label').reset_index(drop=True), b.drop(columns='label').reset_index(drop=True))
    dls = fusion_dls(prep, dfu, tr, va, bs=48, augment=False, device='cpu')
    *xb, y = dls.train.one_batch()
    assert torch.isnan(y).any()
    torch.manual_seed(0); net = fusion_model('tiny', 3, prep, unimodal_heads=True).train()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for name in ('bce',):
        lf = WeightedBCELoss.from_labels(dfu.iloc[tr][LABELS].to_numpy(), LABELS)
        def total(reference:bool):
            net.load_state_dict(state); net.zero_grad(); torch.manual_seed(1)
            out = net(*xb); out.retain_grad()
            parts = [(out, torch.ones(len(y), dtype=torch.bool))] + [(lg, keep) for lg, keep in net.last_unimodal.values()]
            loss = 0
            for lg, keep in parts:
                if not reference: loss = loss + lf(lg[keep], y[keep]); continue
                kn = ~torch.isnan(y[keep])          # the known cells alone, by indexing, one loss per cell averaged
                yk, lk = y[keep][kn], lg[keep][kn]
                if name == 'bce':
                    w = lf.pos_weight.expand_as(lg[keep])[kn]
                    cells = F.binary_cross_entropy_with_logits(lk, yk, pos_weight=None, reduction='none') * torch.where(yk == 1, w, 1)
                else: cells = torch.stack([lf(lk[i:i+1, None], yk[i:i+1, None]) for i in range(len(yk))])
                loss = loss + cells.mean()
            loss.backward()
            return loss.item(), out.grad.clone(), {k: p.grad.clone() for k, p in net.named_parameters() if p.grad is not None}
        (la, ga, pa), (lb, gb, pb) = total(False), total(True)
        assert abs(la - lb) < 1e-5, (name, la, lb)
        assert (ga[torch.isnan(y)] == 0).all()                       # no gradient reaches an unknown cell's logit
        assert pa.keys() == pb.keys() and all(torch.allclose(pa[k], pb[k], atol=1e-6) for k in pa), name
        l0 = lf(net(*xb), torch.nan_to_num(y, nan=0.)).item()        # (read as negatives, they would count)
        assert abs(l0 - la) > 1e-4
    # the metrics: whatever is predicted for an unknown cell changes nothing
    Y = dfu[LABELS].to_numpy(); P = np.random.default_rng(1).random(Y.shape)
    P2 = np.where(hide, 1 - P, P)
    pd.testing.assert_frame_equal(evaluate_predictions(Y, P, LABELS, n_boot=100), evaluate_predictions(Y, P2, LABELS, n_boot=100))



def test_stack_cv_stores_its_weights_and_resumes_them(tmp_path):
    "The default cv (the cross-fitted stack) writes each fold's per-label stacker weights and the gain over the best single candidate; a rerun resumes them."
    fn, args = own_csv(tmp_path)
    cmd = ['cv', *args, '--models', 'medfusionnet,mfn-image', '--folds', '2', '--stack-folds', '2', '--no-risk', *FAST, '--out', tmp_path/'cv']
    r = run_cli(*cmd)
    assert r.returncode == 0, r.stderr[-3000:]
    w = pd.read_csv(tmp_path/'cv'/'stack_weights_medfusionnet.csv')
    cands = ['mfn', 'mfn-image', 'mfn-tabular', 'mfn-text', 'lr', 'gb', 'tfidf']
    assert len(w) == 2 * len(LABELS) and set(w.label) == set(LABELS) and list(w.columns[1:1 + len(cands)]) == cands
    assert (w[cands] >= 0).all().all() and set(w.choice) <= {'equal weights', 'stack (shared)', 'stack (partial)', 'undefined', *cands}
    m = json.loads((tmp_path/'cv'/'metrics.json').read_text())
    st = m['stack']['medfusionnet']
    assert st['candidates'] == cands and set(st['gain_over_best_single']) == {*LABELS, 'macro'}
    g = st['gain_over_best_single']['macro']
    assert g['best_single'] in cands and g['difference'] is not None and g['ci_low'] is None   # (--n-boot 0: no interval)
    f = pd.read_csv(tmp_path/'cv'/'fusion_weights.csv')                   # the single networks' learned gates (mfn-image here)
    np.testing.assert_allclose(f[f.model == 'mfn-image']['weight_image'], 1)
    r2 = run_cli(*cmd)                                                      # every fold is in the checkpoints: nothing refitted
    assert r2.returncode == 0, r2.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path/'cv'/'stack_weights_medfusionnet.csv'), w)


def test_missing_modality_stress_test(cxr_run, tmp_path):
    "train reports each modality hidden from the test patients; evaluate --drop does it on any table; an unknown modality is one line, before any work."
    m = json.loads((cxr_run/'metrics.json').read_text())
    mm = m['missing_modality']
    assert set(mm) == {'full input', 'without image', 'without tabular'} and set(mm['full input']) >= {'macro', 'Effusion'}
    assert mm['full input']['macro']['auroc'] == pytest.approx(m['metrics']['macro']['auroc'])   # the same model, the same patients
    assert mm['without image']['macro']['auroc'] != mm['full input']['macro']['auroc']
    assert 'A modality missing in the clinic' in (cxr_run/'report.md').read_text()
    r = run_cli('evaluate', '--run', cxr_run, '--dataset', 'nih-cxr14-sample', '--include-seen', '--n-boot', '0', '--drop', 'each')
    assert r.returncode == 0, r.stderr[-3000:]
    e = json.loads((cxr_run/'evaluate-nih-cxr14-sample'/'metrics.json').read_text())
    assert set(e['missing_modality']) == {'full input', 'without image', 'without tabular'} and 'without tabular' in r.stdout
    r = run_cli('evaluate', '--run', cxr_run, '--dataset', 'nih-cxr14-sample', '--drop', 'text')
    assert r.returncode == 1 and one_error_line(r) == "medfusionnet: error: --drop text: the model reads image, tabular only"


def test_latin1_csv_is_read_with_one_warning(tmp_path):
    "A CSV saved in Latin-1 (accented values, as spreadsheet programs write it) trains, with one warning naming the file."
    fn, args = own_csv(tmp_path)
    df = pd.read_csv(fn)
    df['site'] = np.where(np.arange(len(df)) % 2 == 0, 'tórax', 'espalda')
    df.to_csv(fn, index=False, encoding='latin-1')
    r = run_cli('cv', *args, '--models', 'lr', '--folds', '2', '--no-risk', *FAST, '--out', tmp_path/'cv')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'Traceback' not in r.stderr and f'{fn}: not UTF-8' in r.stderr and 'Windows-1252' in r.stderr


def test_labels_option_keeps_a_presets_labels(tmp_path):
    r = run_cli('cv', '--dataset', 'cervical', '--labels', 'Biopsy,Citology', '--models', 'lr', '--folds', '2', '--no-risk',
                '--n-boot', '0', '--out', tmp_path/'cv')
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path/'cv'/'metrics.json').read_text())
    assert [k for k in m['pooled']['lr'] if k not in ('macro', 'micro')] == ['Biopsy', 'Citology']
    r = run_cli('cv', '--dataset', 'cervical', '--labels', 'Biopsy,Cancer', '--models', 'lr', '--out', tmp_path/'bad')
    assert r.returncode == 1 and "--labels: Cancer not among cervical's labels" in one_error_line(r)


def test_log_to_a_file_has_plain_epoch_lines(tmp_path):
    "Output that is not a terminal: fastai's epoch table as plain lines, no progress-bar glyphs or carriage returns."
    fn, args = own_csv(tmp_path)
    r = run_cli('train', *args, *FAST, '--epochs', '2', '--out', tmp_path/'run')
    assert r.returncode == 0, r.stderr[-3000:]
    assert '\u2588' not in r.stdout and '\r' not in r.stdout
    head = [l for l in r.stdout.splitlines() if l.startswith('epoch')]
    assert head and head[0].split()[:3] == ['epoch', 'train_loss', 'valid_loss']


def test_ctrl_c_during_train_is_one_line_saying_how_to_continue(tmp_path):
    fn, args = own_csv(tmp_path, n=120)
    out = tmp_path/'run'
    p = subprocess.Popen(cli_command() + ['train', *map(str, args), '--epochs', '30', '--image-size', '32', '--out', str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not any(len(h.read_text().splitlines()) >= 2 for h in out.rglob('history.csv')):     # an epoch done
        assert p.poll() is None, 'the run ended before it could be interrupted'
        assert time.time() - t0 < 300
        time.sleep(0.1)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=120)[1]
    assert p.returncode == 130, err[-2000:]
    assert 'Traceback' not in err and 'KeyboardInterrupt' not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith('medfusionnet: interrupted') and str(out) in last and 'with --resume' in last


def test_train_the_image_only_baseline_under_the_default_combine(tmp_path):
    "`--variant densenet121` trains the baseline alone (nothing to stack) and predicts, though `--combine stack` is the default."
    fn, args = own_csv(tmp_path)
    r = run_cli('train', *args, *FAST, '--variant', 'densenet121', '--out', tmp_path/'run')
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path/'run'/'model'/'config.json').exists() and not (tmp_path/'run'/'model'/'stack.json').exists()
    r = run_cli('predict', '--run', tmp_path/'run', *args[:2], '--image-root', tmp_path/'img', '--out', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr[-3000:]
    assert list(pd.read_csv(tmp_path/'p.csv').columns[1:4]) == [f'prob_{l}' for l in LABELS]
