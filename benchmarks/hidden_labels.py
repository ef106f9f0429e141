"""Partial labels on real data: the NIH ChestX-ray14 sample with a fraction of its label cells hidden at random, through
`medfusionnet cv` as a user's own CSV, beside the same cross-validation with every label known.

    .venv/bin/python benchmarks/hidden_labels.py [--fraction 0.3] [--models medfusionnet,mfn-image,lr,gb] [--epochs 10]

The CSV with hidden cells is written under runs/bench/ (git-ignored: it is derived from the shared data and never
committed). Both runs use the same models, settings and seed. Their folds are not identical: with unknown cells the
folds are stratified on what is known (the known positives and where each label is unknown).
Printed, per model and label: AUROC [95% CI] (rows scored)
  - full: every label known;
  - hidden, known cells: the run with hidden cells, scored on the cells it could see (what its report shows);
  - hidden, hidden cells: the same out-of-fold predictions scored on the cells that were hidden from it, whose true
    labels this script kept aside (a check that unknown cells were neither learned from nor needed).
Aggregate metrics (no per-patient rows) go to benchmarks/results/cv/cxr-sample-hidden<pct>/.
"""
import argparse, json, shutil, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from medfusionnet.data import load_chestxray14, CXR14_LABELS, CXR14_FEATURES
from medfusionnet.evaluate import evaluate_predictions
from medfusionnet.report import ci_text
from medfusionnet.core import metrics_records


def mfn(*args):
    exe = Path(sys.executable).parent/'medfusionnet'
    cmd = [str(exe)] if exe.exists() else [sys.executable, '-m', 'medfusionnet.cli']
    t0 = time.time()
    r = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, cwd=ROOT)
    if r.returncode: sys.exit(f"medfusionnet {' '.join(map(str, args[:3]))} failed:\n{r.stderr[-3000:]}")
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--fraction', type=float, default=0.3, help='fraction of the label cells hidden')
    ap.add_argument('--seed', type=int, default=0, help='seeds the hidden cells and the cross-validation')
    ap.add_argument('--models', default='medfusionnet,mfn-image,lr,gb')
    ap.add_argument('--folds', type=int, default=5)
    ap.add_argument('--epochs', type=int, default=10)
    ap.add_argument('--n-boot', type=int, default=1000)
    ap.add_argument('--out', default=str(ROOT/'runs'/'bench'/'hidden-labels'))
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    df, sc = load_chestxray14()
    hidden = np.random.default_rng(a.seed).random((len(df), len(CXR14_LABELS))) < a.fraction
    part = df[['image', 'patient', *CXR14_FEATURES, *CXR14_LABELS]].copy()
    part[CXR14_LABELS] = part[CXR14_LABELS].astype(float).mask(hidden)
    fn = out/'nih_sample_hidden.csv'; part.to_csv(fn, index=False)
    common = ['--models', a.models, '--folds', a.folds, '--epochs', a.epochs, '--n-boot', a.n_boot, '--seed', a.seed]
    secs = {}
    secs['full'] = mfn('cv', '--dataset', 'nih-cxr14-sample', *common, '--out', out/'full')
    secs['hidden'] = mfn('cv', '--dataset', fn, '--labels', ','.join(CXR14_LABELS), '--numeric', ','.join(CXR14_FEATURES),
                         '--image-col', 'image', '--image-root', sc.image_root, '--id-col', 'image', '--group-col', 'patient',
                         *common, '--out', out/'hidden')
    full, hid = (json.loads((out/k/'metrics.json').read_text()) for k in ('full', 'hidden'))
    Yfull, groups = sc.labels(df), df['patient'].to_numpy()
    Yhidden_only = np.where(hidden, Yfull, np.nan)              # the true labels of the hidden cells only
    rows, on_hidden = [], {}
    for m in a.models.split(','):
        P = pd.read_csv(out/'hidden'/f'oof_{m}.csv')[[f'prob_{l}' for l in CXR14_LABELS]].to_numpy()
        on_hidden[m] = metrics_records(evaluate_predictions(Yhidden_only, P, CXR14_LABELS, groups=groups, n_boot=a.n_boot, seed=a.seed))
        for l in [*CXR14_LABELS, 'macro']:
            cell = lambda rec: ci_text(rec[l], 'auroc') + ('' if l == 'macro' else f" ({int(rec[l]['n'])})")
            rows.append({'model': m, 'label': l, 'full': cell(full['pooled'][m]), 'hidden, known cells': cell(hid['pooled'][m]),
                         'hidden, hidden cells': cell(on_hidden[m])})
    t = pd.DataFrame(rows).set_index(['model', 'label'])
    pd.set_option('display.width', 200); pd.set_option('display.max_rows', 200)
    print(f"NIH ChestX-ray14 sample, {len(df)} images, {df.patient.nunique()} patients; {hidden.mean():.1%} of the label cells "
          f"hidden (seed {a.seed}); {a.folds}-fold cv, {a.epochs} epochs; AUROC [95% patient-bootstrap CI] (rows scored)")
    print(t.to_string())
    print('seconds: ' + ', '.join(f'{k} {v:.0f}' for k, v in secs.items()))
    res = ROOT/'benchmarks'/'results'/'cv'/f'cxr-sample-hidden{round(100 * a.fraction)}'
    res.mkdir(parents=True, exist_ok=True)
    shutil.copy(out/'hidden'/'metrics.json', res/'metrics.json')
    (res/'on_hidden_cells.json').write_text(json.dumps(dict(fraction=a.fraction, seed=a.seed, hidden_cells=int(hidden.sum()),
                                                            pooled_on_hidden_cells=on_hidden), indent=1, default=str))
    t.to_csv(res/'side_by_side.csv')


if __name__ == '__main__': main()
