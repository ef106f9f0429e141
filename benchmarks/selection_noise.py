"""How well can a few validation patients choose how to mix modalities? (issue 13; NIH sample)

Reads the per-fold predictions that `bash benchmarks/run_cv_benchmarks.sh cxr-sample-auto-5x3` leaves in
runs/bench/cxr-sample-auto-5x3/checkpoints/ (validation and test probabilities of mfn-image and mfn-tabular, 5 folds x 3
repeats) and scores, on each test fold, blends of the two models' probabilities chosen in different ways:
  - fixed weights of the image model (1.0 = the image model alone; no choice is made from the data);
  - chosen on that fold's inner validation patients, as `late-mfn` and gated fusion's `route_weights` do: per label
    (best AUROC), one weight for all labels (best macro AUROC: 'valid-shared'), that weight kept only when it beats the
    image model alone on 95% of patient resamples of the validation rows ('valid-guarded', the default since issue 13's
    third session), per label with the same guard on each label's AUROC (not a package rule: measured here), the
    better single model, and one weight by validation log loss.
Stores benchmarks/results/selection_noise.json: per fold the test macro AUROC (12 labels with >= 20 positives) of
each rule minus the image model alone, and how often validation ranked the two models the wrong way round.

    .venv/bin/python benchmarks/selection_noise.py
"""
import sys, json, warnings
from pathlib import Path
import numpy as np, pandas as pd
ROOT = Path(__file__).resolve().parent.parent; sys.path.insert(0, str(ROOT))
from medfusionnet.datasets import load_dataset
from medfusionnet.protocols import cv_splits
from medfusionnet.evaluate import blend_weights, guarded_blend_weights, evaluate_predictions, paired_macro_difference

RUN = ROOT/'runs'/'bench'/'cxr-sample-auto-5x3'
OUT = ROOT/'benchmarks'/'results'/'selection_noise.json'
GRID = np.round(np.arange(0, 1.0001, 0.1), 2)

def macro(Y, P, idx):
    "Macro AUROC over the labels `idx` (those defined in Y), as `run_cv` scores a fold."
    return float(evaluate_predictions(Y[:, idx], P[:, idx], [str(k) for k in idx], n_boot=0).loc['macro', 'auroc'])

def per_label_guarded(Y, U, groups, level=0.95, n_boot=500, seed=0):
    "Per label, the best grid weights on validation (`blend_weights`), kept only where they beat model 0 alone on that label's AUROC in `level` of patient resamples."
    W = np.zeros(U.shape[1:]); W[0] = 1
    prop = blend_weights(Y, U)
    for k in range(U.shape[2]):
        if np.allclose(prop[:, k], W[:, k]): continue
        _, b = paired_macro_difference(Y[:, [k]], (U[:, :, k] @ prop[:, k])[:, None], U[:, 0, [k]], groups, n_boot, seed)
        b = b[~np.isnan(b)]
        if len(b) and np.mean(b > 0) >= level: W[:, k] = prop[:, k]
    return W

def logloss(Y, P):
    P, ok = np.clip(P, 1e-6, 1 - 1e-6), ~np.isnan(Y)
    return float(-np.mean((Y * np.log(P) + (1 - Y) * np.log(1 - P))[ok]))

def main():
    if not (RUN/'checkpoints').exists():
        sys.exit(f"{RUN}/checkpoints not found: run `bash benchmarks/run_cv_benchmarks.sh cxr-sample-auto-5x3` first")
    metrics = json.loads((RUN/'metrics.json').read_text())
    df, sc = load_dataset('nih-cxr14-sample')
    Y = sc.labels(df)
    pos = {l: r['positives'] for l, r in metrics['pooled']['lr'].items() if l not in ('macro', 'micro')}
    L20 = [sc.label_cols.index(l) for l, n in pos.items() if n >= 20]
    allk = list(range(Y.shape[1]))
    proto = metrics['protocol']
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for r, f, _, va, te in cv_splits(df, sc, proto['n_splits'], proto['n_repeats'], proto['seed'], proto['inner_valid']):
            z = {m: np.load(RUN/'checkpoints'/f'r{r}-f{f}-{m}.npz') for m in ('mfn-image', 'mfn-tabular')}
            assert all(np.array_equal(z[m]['te'], te) for m in z)
            Vi, Vt, Ti, Tt = z['mfn-image']['Pva'], z['mfn-tabular']['Pva'], z['mfn-image']['Pte'], z['mfn-tabular']['Pte']
            test = lambda W: macro(Y[te], W[0] * Ti + W[1] * Tt, L20)       # W: (2, K) or (2,) weights
            base = test(np.array([1., 0.]))
            row = dict(repeat=r, fold=f, image_alone=base, n_valid_patients=int(df.iloc[va][sc.group_col].nunique()))
            for w in (0.95, 0.9, 0.8, 0.7, 0.5):
                row[f'fixed {w}'] = test(np.array([w, 1 - w])) - base
            U = np.stack([Vi, Vt], 1)
            row['valid: per label'] = test(blend_weights(Y[va], U)) - base
            Ws = blend_weights(Y[va], U, shared=True)
            row['valid: one weight'] = test(Ws) - base
            Wg, g = guarded_blend_weights(Y[va], U, 0, df.iloc[va][sc.group_col].to_numpy(), 0.95)
            row['valid: one weight, guarded'] = test(Wg) - base
            Wp = per_label_guarded(Y[va], U, df.iloc[va][sc.group_col].to_numpy())
            row['valid: per label, guarded'] = test(Wp) - base
            va_img, va_tab = macro(Y[va], Vi, allk), macro(Y[va], Vt, allk)
            row['valid: better single model'] = test(np.array([1., 0.]) if va_img >= va_tab else np.array([0., 1.])) - base
            wl = min(GRID, key=lambda w: logloss(Y[va], w * Vi + (1 - w) * Vt))
            row['valid: one weight by log loss'] = test(np.array([wl, 1 - wl])) - base
            row.update(valid_auroc_image=va_img, valid_auroc_tabular=va_tab, test_auroc_tabular=macro(Y[te], Tt, L20),
                       weight_one=float(Ws[0, 0]), weight_logloss=float(wl),
                       guard_p_better=g['p_better'], guard_kept=bool(g['kept']),
                       per_label_guarded_moved=int((Wp[0] < 1).sum()))
            rows.append(row)
    t = pd.DataFrame(rows)
    rules = [c for c in t.columns if c.startswith(('fixed', 'valid:'))]
    summary = {c: dict(mean=float(t[c].mean()), above=int((t[c] > 1e-12).sum()), below=int((t[c] < -1e-12).sum())) for c in rules}
    wrong = int(((t.valid_auroc_tabular > t.valid_auroc_image) != (t.test_auroc_tabular > t.image_alone)).sum())
    out = dict(source=str(RUN.relative_to(ROOT)), command=metrics['command'], labels=[sc.label_cols[k] for k in L20],
               folds=len(t), rules=summary, validation_ranked_wrong=wrong,
               median_valid_patients=float(t.n_valid_patients.median()), per_fold=t.round(6).to_dict('records'))
    OUT.write_text(json.dumps(out, indent=1))
    print(t[['repeat', 'fold', 'image_alone'] + rules].round(3).to_string(index=False))
    print(pd.DataFrame(summary).T.round(4).to_string())
    print(f"validation ranked the two models the wrong way round in {wrong} of {len(t)} folds "
          f"(median {out['median_valid_patients']:.0f} validation patients); stored {OUT.relative_to(ROOT)}")

if __name__ == '__main__': main()
