"""Gated-fusion variants on the NIH sample under the stored cxr-sample folds (issue 13 experiments; results printed, not stored).

    .venv/bin/python benchmarks/gated_variants.py NAME MODEL_KWARGS_JSON SETTINGS_JSON [MODELS]
    e.g. benchmarks/gated_variants.py detach-uni1 '{"detach_heads": true}' '{"fusion": "gated", "unimodal_loss": 1.0}'

MFN_SEED_OFFSET=N trains every model with seed + N on the same folds (the seed-to-seed spread).
Prints the fold-mean (SD) macro AUROC over the 12 labels with >= 20 positives, each model's seconds, and the mean
learned weights per label of a gated model."""
import sys, json, warnings, numpy as np, pandas as pd
from pathlib import Path; sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from medfusionnet.datasets import load_dataset
from medfusionnet.protocols import run_cv
from medfusionnet.settings import TrainSettings
import fastprogress.fastprogress as fpb; fpb.NO_BAR = True
import os
if (OFFSET := int(os.environ.get('MFN_SEED_OFFSET', 0))):   # other model seeds (init, data order, dropout) on the same folds
    _split = TrainSettings.split.__func__
    def _offset_split(cls, settings=None, **kw):
        if 'seed' in kw: kw['seed'] += OFFSET
        return _split(cls, settings, **kw)
    TrainSettings.split = classmethod(_offset_split)
df, sc = load_dataset('nih-cxr14-sample')
name, kw, st = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
s = TrainSettings(epochs=10, **st)
models = sys.argv[4].split(',') if len(sys.argv) > 4 else ['medfusionnet']
cv = run_cv(df, sc, models=models, n_splits=5, seed=0, n_boot=0, settings=s, risk=False, fusion_kwargs={'*': kw}, progress=False)
m = json.load(open(Path(__file__).resolve().parent/'results'/'cv'/'cxr-sample'/'metrics.json'))
pos = {l: int(r['positives']) for l, r in m['pooled']['lr'].items() if l not in ('macro', 'micro')}
common = [l for l, n in pos.items() if n >= 20]
f = cv['folds']; f = f[f.label.isin(common)]
print(name, f.groupby(['model', 'fold']).auroc.mean().groupby('model').agg(['mean', 'std']).round(3).to_dict('index'), {k: round(v) for k, v in cv['seconds'].items()})
print('per fold', f.groupby(['model', 'fold']).auroc.mean().unstack().round(3).to_dict('index'))
if cv.get('fusion_weights') is not None:
    w = cv['fusion_weights']; print(w[w.model == 'medfusionnet'].drop(columns=['repeat', 'fold']).groupby('label').mean(numeric_only=True).round(3).to_string())
