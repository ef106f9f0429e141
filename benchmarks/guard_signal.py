"""Does the guarded default still gain where the other modality carries signal? (issue 13; NIH sample)

The NIH sample's metadata (age, sex, view, follow-up) carry almost nothing beyond the image, so there the guarded
route weights (`route_weights='valid-guarded'`, the default with own heads and an image) stay on the image head. This
control gives the metadata signal on purpose and checks that the guard then lets the fused model use it:
  - to the NIH sample's table it adds, for the 3 most frequent labels, a numeric column `hint_<label>` = the label + a
    standard normal draw (alone it scores about 0.76 AUROC on its label, and nothing on the others);
  - it cross-validates the default MedFusionNet (guarded route weights and the image-only fallback), `mfn-image` and
    `mfn-tabular` on the same 5 folds as the stored `cxr-sample-auto` run (`mfn-image` is checked to score the same
    there, fold by fold), and stores benchmarks/results/guard_signal.json: fold-mean macro AUROC (12 labels with >= 20
    positives, and the 3 hinted labels apart), and per fold whether the fused model was kept (and the share of
    validation resamples on which it beat the image-only model), the image head's weight, and fused minus image-only.
The hint is made with a fixed seed from the labels of every row: it is a synthetic control, not a feature anyone has.

    .venv/bin/python benchmarks/guard_signal.py          # about 3 minutes on 2 CPU cores
"""
import sys, json, time, dataclasses, warnings
from pathlib import Path
import numpy as np, pandas as pd
ROOT = Path(__file__).resolve().parent.parent; sys.path.insert(0, str(ROOT))
from medfusionnet.datasets import load_dataset
from medfusionnet.protocols import run_cv

OUT = ROOT/'benchmarks'/'results'/'guard_signal.json'
REF = ROOT/'benchmarks'/'results'/'cv'/'cxr-sample-auto'
MODELS = ('medfusionnet', 'mfn-image', 'mfn-tabular')

def fold_means(folds, labels):
    "Per model, the mean over test folds of the macro AUROC over `labels`; and that per fold."
    f = folds[folds.label.isin(labels)]
    per = f.groupby(['model', 'repeat', 'fold']).auroc.mean()
    return per.groupby('model').mean(), per

def main():
    df, sc = load_dataset('nih-cxr14-sample')
    Y = sc.labels(df)
    hinted = [sc.label_cols[k] for k in np.argsort(-np.nansum(Y, 0))[:3]]
    rng = np.random.default_rng(0)
    df = df.copy()
    for l in hinted: df[f'hint_{l}'] = df[l].astype(float) + rng.standard_normal(len(df))
    sch = dataclasses.replace(sc, numeric_cols=[*sc.numeric_cols, *(f'hint_{l}' for l in hinted)])
    t = time.time()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        cv = run_cv(df, sch, MODELS, n_splits=5, seed=0, n_boot=0, risk=False,
                    checkpoints=ROOT/'runs'/'bench'/'guard-signal'/'checkpoints')
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
    stored = json.loads((REF/'metrics.json').read_text())['seconds']
    out = dict(hinted_labels=hinted, hint='label + standard normal (numpy default_rng(0), rows in table order)',
               labels=L20, fold_mean_macro_auroc=table, per_fold=folds, seconds=seconds,
               no_hint_fold_mean={'medfusionnet': fold_means(rf, L20)[0].get('medfusionnet'), 'mfn-image': fold_means(rf, L20)[0].get('mfn-image')})
    OUT.write_text(json.dumps(out, indent=1))
    print(pd.DataFrame(table).T.round(3).to_string())
    print(pd.DataFrame(folds).round(3).to_string(index=False))
    print(f"without the hints (stored cxr-sample-auto): medfusionnet {out['no_hint_fold_mean']['medfusionnet']:.3f}, "
          f"mfn-image {out['no_hint_fold_mean']['mfn-image']:.3f}; {seconds:.0f} s; stored {OUT.relative_to(ROOT)}")

if __name__ == '__main__': main()
