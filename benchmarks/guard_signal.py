"""Does the guarded default still gain where the other modality carries signal? (issue 13; NIH sample)

The NIH sample's metadata (age, sex, view, follow-up) carry almost nothing beyond the image, so there the guarded
route weights (`route_weights='valid-guarded'`, the default with own heads and an image) stay on the image head. This
control gives the metadata signal on purpose and checks that the guard then lets the fused model use it:
  - to the NIH sample's table it adds, for the 3 most frequent labels, a numeric column `hint_<label>` = the label +
    normal noise of SD `--noise` (1: alone it scores about 0.76 AUROC on its label; 0.5: about 0.92; nothing on the
    other labels);
  - it cross-validates the default MedFusionNet (guarded route weights and the image-only fallback), `mfn-image` and
    `mfn-tabular` on the same 5 folds as the stored `cxr-sample-auto` run (`mfn-image` is checked to score the same
    there, fold by fold), and stores benchmarks/results/guard_signal.json: fold-mean macro AUROC (12 labels with >= 20
    positives, and the 3 hinted labels apart), and per fold whether the fused model was kept (and the share of
    validation resamples on which it beat the image-only model), the image head's weight, and fused minus image-only;
  - and, on the same folds, blends of the separately trained `mfn-image` and `mfn-tabular` chosen on the validation
    patients as in `selection_noise.py` (one weight, guarded; per label; per label, guarded), minus `mfn-image`.
Results are stored per noise level (key = the SD).
The hint is made with a fixed seed from the labels of every row: it is a synthetic control, not a feature anyone has.

    .venv/bin/python benchmarks/guard_signal.py [--noise 1.0]      # about 5 minutes on 2 CPU cores
"""
import sys, json, time, argparse, dataclasses, warnings
from pathlib import Path
import numpy as np, pandas as pd
ROOT = Path(__file__).resolve().parent.parent; sys.path.insert(0, str(ROOT)); sys.path.insert(0, str(ROOT/'benchmarks'))
from medfusionnet.datasets import load_dataset
from medfusionnet.protocols import run_cv, cv_splits
from medfusionnet.evaluate import blend_weights, guarded_blend_weights
from selection_noise import macro, per_label_guarded

OUT = ROOT/'benchmarks'/'results'/'guard_signal.json'
REF = ROOT/'benchmarks'/'results'/'cv'/'cxr-sample-auto'
MODELS = ('medfusionnet', 'mfn-image', 'mfn-tabular')

def fold_means(folds, labels):
    "Per model, the mean over test folds of the macro AUROC over `labels`; and that per fold."
    f = folds[folds.label.isin(labels)]
    per = f.groupby(['model', 'repeat', 'fold']).auroc.mean()
    return per.groupby('model').mean(), per

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--noise', type=float, default=1.0, help='SD of the normal noise added to the label (default 1)')
    a = ap.parse_args()
    df, sc = load_dataset('nih-cxr14-sample')
    Y = sc.labels(df)
    hinted = [sc.label_cols[k] for k in np.argsort(-np.nansum(Y, 0))[:3]]
    rng = np.random.default_rng(0)
    df = df.copy()
    for l in hinted: df[f'hint_{l}'] = df[l].astype(float) + a.noise * rng.standard_normal(len(df))
    sch = dataclasses.replace(sc, numeric_cols=[*sc.numeric_cols, *(f'hint_{l}' for l in hinted)])
    t = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        cv = run_cv(df, sch, MODELS, n_splits=5, seed=0, n_boot=0, risk=False,
                    checkpoints=ROOT/'runs'/'bench'/f'guard-signal-{a.noise:g}'/'checkpoints')
    seconds = time.time() - t
    ref = json.loads((REF/'metrics.json').read_text())
    L20 = [l for l, r in ref['pooled']['lr'].items() if l not in ('macro', 'micro') and r['positives'] >= 20]
    rf = pd.read_csv(REF/'folds.csv')
    img_here, img_ref = fold_means(cv['folds'], L20)[1].loc['mfn-image'], fold_means(rf, L20)[1].loc['mfn-image']
    assert np.allclose(img_here.to_numpy(), img_ref.to_numpy(), atol=1e-9), "the image model differs from the stored cxr-sample-auto run's: not the same folds"
    others = [l for l in L20 if l not in hinted]
    table = {name: fold_means(cv['folds'], labs)[0].to_dict() for name, labs in
             (('12 labels', L20), ('3 hinted labels', hinted), (f'{len(others)} other labels', others))}
    per = fold_means(cv['folds'], L20)[1]
    fw = cv['fusion_weights']; fw = fw[fw.model == 'medfusionnet'].groupby(['repeat', 'fold'])
    folds = [dict(repeat=int(r), fold=int(f), fused_kept=bool(g.fused_kept.iloc[0]), p_better=float(g.fallback_p_better.iloc[0]),
                  weight_image=float(g.weight_image.mean()),
                  fused_minus_image=float(per.loc[('medfusionnet', r, f)] - per.loc[('mfn-image', r, f)]))
             for (r, f), g in fw]
    K20 = [sc.label_cols.index(l) for l in L20]
    rules = []
    for r, f, _, va, te in cv_splits(df, sch, 5, 1, 0, 0.2):       # the separately trained parts, blended on validation
        z = {m: np.load(ROOT/'runs'/'bench'/f'guard-signal-{a.noise:g}'/'checkpoints'/f'r{r}-f{f}-{m}.npz') for m in ('mfn-image', 'mfn-tabular')}
        assert np.array_equal(z['mfn-image']['te'], te)
        U, g = np.stack([z['mfn-image']['Pva'], z['mfn-tabular']['Pva']], 1), df.iloc[va][sc.group_col].to_numpy()
        test = lambda W: macro(Y[te], W[0] * z['mfn-image']['Pte'] + W[1] * z['mfn-tabular']['Pte'], K20)
        base = test(np.array([1., 0.]))
        rules.append({'one weight, guarded': test(guarded_blend_weights(Y[va], U, 0, g, 0.95)[0]) - base,
                      'per label': test(blend_weights(Y[va], U)) - base,
                      'per label, guarded': test(per_label_guarded(Y[va], U, g)) - base})
    rules = pd.DataFrame(rules)
    out = dict(noise=a.noise, hinted_labels=hinted, hint=f'label + {a.noise:g} x standard normal (numpy default_rng(0), rows in table order)',
               labels=L20, fold_mean_macro_auroc=table, per_fold=folds, seconds={k: float(v) for k, v in cv['seconds'].items()},
               parts_blends_minus_image=dict(mean=rules.mean().to_dict(), per_fold=rules.to_dict('records')),
               no_hint_fold_mean={'medfusionnet': fold_means(rf, L20)[0].get('medfusionnet'), 'mfn-image': fold_means(rf, L20)[0].get('mfn-image')})
    allres = json.loads(OUT.read_text()) if OUT.exists() else {}
    if 'noise' not in next(iter(allres.values()), {}): allres = {}       # (a file from before the noise option)
    allres[f'{a.noise:g}'] = out
    OUT.write_text(json.dumps(allres, indent=1))
    print(pd.DataFrame(table).T.round(3).to_string())
    print(pd.DataFrame(folds).round(3).to_string(index=False))
    print('blends of the separate parts, minus mfn-image:'); print(rules.round(3).to_string())
    print(f"without the hints (stored cxr-sample-auto): medfusionnet {out['no_hint_fold_mean']['medfusionnet']:.3f}, "
          f"mfn-image {out['no_hint_fold_mean']['mfn-image']:.3f}; {seconds:.0f} s (wall, with what was resumed); stored {OUT.relative_to(ROOT)}")

if __name__ == '__main__': main()
