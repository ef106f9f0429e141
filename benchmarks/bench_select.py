"""Stage 1 speed and exactness on the full ChestX-ray14 metadata (112,120 rows, 14 labels, 8 metadata features).

Times `UnivariateThresholdSelector.fit` (one sort per feature, all labels at once, plus the tests and BH) against
a straightforward reference: for every label and feature, `sklearn.metrics.roc_curve` on `x` and on `-x`, and the
best Youden J = max(tpr - fpr) over both. Both are timed on the same machine in the same process, best of a few
repeats after one warm-up. Exits non-zero if any label x feature J differs by more than 1e-9.

    .venv/bin/python benchmarks/bench_select.py [--repeats 5]
"""
import argparse, sys, time, warnings
import numpy as np, pandas as pd
from sklearn.metrics import roc_curve
from medfusionnet.data import load_chestxray14
from medfusionnet.select import UnivariateThresholdSelector


def reference_j(X: pd.DataFrame, Y: pd.DataFrame) -> pd.DataFrame:
    "Best Youden J per label x feature, both directions, one roc_curve per label, feature and direction."
    out = pd.DataFrame(0., index=Y.columns, columns=X.columns)
    for lab in Y.columns:
        y = Y[lab].to_numpy()
        for f in X.columns:
            x = X[f].to_numpy()
            best = 0.
            for s in (x, -x):                                     # x >= t, then x <= t
                fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
                best = max(best, float((tpr - fpr).max()))
            out.loc[lab, f] = best
    return out


def best_time(fn, repeats: int) -> tuple:
    "Minimum wall time of `repeats` calls after one warm-up call, and the last result."
    res = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); res = fn(); times.append(time.perf_counter() - t0)
    return min(times), res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=5, help='timed repeats of our fit (after one warm-up)')
    ap.add_argument('--ref-repeats', type=int, default=2, help='timed repeats of the reference (after one warm-up)')
    a = ap.parse_args(argv)

    df, schema = load_chestxray14(name='nih-cxr14-metadata', acquisition=True, check_images=False)
    X, Y = df[schema.feature_cols], df[schema.label_cols]
    assert not X.isna().any().any(), "reference (roc_curve) needs complete features"
    print(f"ChestX-ray14 metadata: {len(X):,} rows, {Y.shape[1]} labels, {X.shape[1]} features "
          f"({X.shape[1]*Y.shape[1]} label x feature pairs)")

    sel = UnivariateThresholdSelector(n_features=3)
    with warnings.catch_warnings():
        warnings.simplefilter('error')                            # no label is rare on the full table
        t_ours, sel = best_time(lambda: sel.fit(X, Y), a.repeats)
    t_ref, ref = best_time(lambda: reference_j(X, Y), a.ref_repeats)

    ours = sel.table_.pivot(index='label', columns='feature', values='J').loc[Y.columns, X.columns]
    diff = (ours - ref).abs()
    worst = float(diff.to_numpy().max())

    best = sel.table_[sel.table_['rank'] == 1].set_index('label').loc[Y.columns]
    rows = pd.DataFrame({'n_pos': Y.sum().astype(int), 'best rule': [f"{r.feature} {r.direction} {r.threshold:g}"
                         for r in best.itertuples()], 'J ours': best.J.round(4), 'J ref': ref.max(axis=1).round(4),
                         'max |dJ|': diff.max(axis=1).map(lambda v: f'{v:.1e}')})
    print(rows.to_string())
    ratio = t_ref/t_ours
    print(f"\n{'':28}{'seconds':>10}")
    print(f"{'selector fit (ours)':28}{t_ours:10.4f}   best of {a.repeats}, after a warm-up")
    print(f"{'roc_curve loop (reference)':28}{t_ref:10.4f}   best of {a.ref_repeats}, after a warm-up")
    print(f"{'speed-up':28}{ratio:9.1f}x")
    print(f"targets: ours < 0.2 s: {'met' if t_ours < 0.2 else 'MISSED'}; >= 30x: {'met' if ratio >= 30 else 'MISSED'}")
    if worst > 1e-9:
        print(f"DISAGREE: max |J ours - J reference| = {worst:.3g} > 1e-9", file=sys.stderr)
        return 1
    print(f"agree: max |J ours - J reference| = {worst:.1e} over {diff.size} label x feature pairs")
    return 0


if __name__ == '__main__': sys.exit(main())
