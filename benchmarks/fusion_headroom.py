"""How much can the NIH sample's metadata add to the image model at most? An oracle bound from stored predictions.

    .venv/bin/python benchmarks/fusion_headroom.py [runs/bench/cxr-sample]

Reads the out-of-fold predictions that `benchmarks/run_cv_benchmarks.sh cxr-sample` leaves in its run folder
(`oof_densenet121.csv`, `oof_lr.csv`, ...; git-ignored, they hold patient rows), rebuilds the run's folds from its
metrics.json (same splitter and seed), and scores blends `w * logit(image) + (1 - w) * logit(other)` for w in 0..1.
The weight is chosen *on the test folds themselves*, so the best blend is an upper bound on what any fusion of the two
predictions could add, not an honest estimate. Scores: macro AUROC over the labels with >= 20 positive images, mean over
the test folds (the issue's criterion). Writes the aggregate numbers to benchmarks/results/cv/cxr-sample/headroom.json.
"""
import json, sys, warnings
from pathlib import Path
import numpy as np, pandas as pd
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from medfusionnet.datasets import load_dataset
from medfusionnet.splits import multilabel_group_kfold

run = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT/'runs'/'bench'/'cxr-sample')
m = json.loads((run/'metrics.json').read_text())
p = m['protocol']
df, sc = load_dataset(m['dataset'])
Y = sc.labels(df)
common = [k for k in range(Y.shape[1]) if Y[:, k].sum() >= 20]
folds = [te for _, _, _, te in multilabel_group_kfold(df, sc, n_splits=p['n_splits'], n_repeats=p['n_repeats'], seed=p['seed'])]

def oof(name):
    t = pd.read_csv(run/f'oof_{name}.csv')
    if t[sc.id_col].astype(str).tolist() != df[sc.id_col].astype(str).tolist():
        sys.exit(f"{run/f'oof_{name}.csv'}: rows do not match the dataset's (was it made from other data?)")
    return t[[f'prob_{l}' for l in sc.label_cols]].to_numpy(float)

def logit(P): P = np.clip(P, 1e-6, 1 - 1e-6); return np.log(P / (1 - P))

def fold_mean(S):
    per_fold = []
    for te in folds:
        a = [roc_auc_score(Y[te, k], S[te, k]) for k in common if 0 < Y[te, k].sum() < len(te)]
        per_fold.append(np.mean(a))
    return float(np.mean(per_fold))

# the stored fold means must come out again (same folds, same predictions)
stored = pd.read_csv(run/'folds.csv')
stored = stored[stored.label.isin([sc.label_cols[k] for k in common])].groupby(['model', 'fold']).auroc.mean().groupby('model').mean()
base = {n: fold_mean(oof(n)) for n in ('densenet121', 'lr', 'mfn-image', 'medfusionnet')}
for n, v in base.items():
    if abs(v - stored[n]) > 1e-6: sys.exit(f"{n}: recomputed fold mean {v:.6f} differs from the stored {stored[n]:.6f}: folds differ")
grid = np.round(np.linspace(0, 1, 21), 2)
out = dict(run=str(run.relative_to(ROOT)) if run.is_relative_to(ROOT) else str(run), labels=[sc.label_cols[k] for k in common],
           single=base, blends={})
for other in ('lr', 'mfn-image'):
    curve = {float(w): fold_mean(w * logit(oof('densenet121')) + (1 - w) * logit(oof(other))) for w in grid}
    w = max(curve, key=curve.get)
    out['blends'][f'densenet121+{other}'] = dict(curve=curve, best_weight=w, best=curve[w], gain=curve[w] - base['densenet121'])
dst = ROOT/'benchmarks'/'results'/'cv'/'cxr-sample'/'headroom.json'
dst.write_text(json.dumps(out, indent=1))
print(f"fold-mean macro AUROC over {len(common)} labels: " + ', '.join(f'{n} {v:.3f}' for n, v in base.items()))
for n, b in out['blends'].items():
    print(f"{n}: best image weight {b['best_weight']:.2f} (chosen on the test folds: an upper bound) -> {b['best']:.3f}, "
          f"{b['gain']:+.3f} over densenet121")
print(f"-> {dst}")
