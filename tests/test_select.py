"Stage 1 (`UnivariateThresholdSelector`): exact against a brute-force reference, and one clear error per bad input."
import warnings
import numpy as np, pandas as pd
import pytest
from hypothesis import given, settings, HealthCheck, strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse
from medfusionnet.core import MedFusionNetError
from medfusionnet.select import UnivariateThresholdSelector, InputError, youden_cuts


def brute_force(x, y):
    """Best Youden cut of `x` for 0/1 `y` by trying every cut between distinct observed values, both directions.
    Returns (J, direction, threshold): direction 1 is `x >= t`, -1 is `x <= t`, 0 no cut. Cuts are compared on the
    exact integer J*P*N; among equal ones the lowest cut wins (the selector's documented tie-break)."""
    ok = ~np.isnan(x)
    x, y = x[ok], y[ok]
    P = int(sum(y)); N = len(y) - P
    best_s, best_d, best_t = 0, 0, np.nan
    values = sorted(set(x.tolist()))
    for i in range(len(values) - 1):
        for d, t in ((1, values[i + 1]), (-1, values[i])):
            tp = tn = 0
            for xi, yi in zip(x, y):
                pred = xi >= t if d == 1 else xi <= t
                tp += pred and yi == 1
                tn += (not pred) and yi == 0
            s = tp*N + tn*P - P*N
            if s > best_s: best_s, best_d, best_t = s, d, t
    return (best_s/(P*N) if best_s else 0.), best_d, best_t


def j_of_rule(x, y, d, t):
    "Youden's J of rule (d, t) on the rows where x is observed, computed directly."
    ok = ~np.isnan(x); x, y = x[ok], y[ok].astype(bool)
    pred = x >= t if d == 1 else x <= t
    return pred[y].mean() + (~pred[~y]).mean() - 1


values = st.one_of(st.integers(-2, 4).map(float), st.sampled_from([-np.inf, np.inf, 0.5, -0.0]))

@st.composite
def tables(draw):
    n, F, K = draw(st.integers(1, 24)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    X = draw(arrays(np.float64, (n, F), elements=values))
    X[draw(arrays(np.bool_, (n, F), elements=st.booleans()))] = np.nan
    Y = draw(arrays(np.int8, (n, K), elements=st.integers(0, 1)))
    return X, Y


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.integers(1, 3))
def test_matches_brute_force(data, n_features):
    X, Y = data
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')          # labels that are all 0 or all 1 warn; they are part of the test
        sel = UnivariateThresholdSelector(n_features=n_features).fit(X, Y)
    t = sel.table_.set_index(['label', 'feature'])
    for k, lab in enumerate(sel.labels_):
        for j, feat in enumerate(sel.candidates_):
            r = t.loc[(lab, feat)]
            J, d, thr = brute_force(X[:, j], Y[:, k])
            assert r.J == J
            if d == 0: assert pd.isna(r.direction) and np.isnan(r.threshold) and not r.selected
            else:
                assert r.direction == {1: '>=', -1: '<='}[d] and r.threshold == thr
                assert np.isclose(j_of_rule(X[:, j], Y[:, k], d, thr), J, atol=1e-12)
        # selection: the best n_features with J > 0, by rank
        g = sel.table_[sel.table_.label == lab]
        want = g[g.J > 0].sort_values('rank').feature.head(n_features).tolist()
        assert sel.selected_[lab] == want
    # the rule indicators reproduce the table's counts on the training rows
    Xt = sel.transform(X)
    m = len(sel.selected_features_)
    for i, r in enumerate(sel.rules_.itertuples()):
        ind, y = Xt[:, m + i].astype(bool), Y[:, sel.labels_.index(r.label)].astype(bool)
        obs = ~np.isnan(X[:, sel.candidates_.index(r.feature)])
        assert (ind & y & obs).sum() == round(r.sensitivity*r.n_pos)
        assert (~ind & ~y & obs).sum() == round(r.specificity*r.n_neg)


@settings(max_examples=100, deadline=None)
@given(tables())
def test_youden_cuts_matches_brute_force(data):
    X, Y = data
    r = youden_cuts(X[:, 0], Y)
    for k in range(Y.shape[1]):
        J, d, thr = brute_force(X[:, 0], Y[:, k])
        assert (r.J[k], r.direction[k]) == (J, d)
        if d: assert r.threshold[k] == thr


# --- bad input -------------------------------------------------------------------------------------------------

X0 = pd.DataFrame({'age': [30, 40, 45, 50, 60, 70.], 'bmi': [20, 31, 22, 35, 24, np.nan]})
Y0 = pd.DataFrame({'A': [0, 0, 1, 1, 1, 0], 'B': [1, 0, 1, 0, 0, 1]})


def fit(X=X0, Y=Y0, **kw): return UnivariateThresholdSelector(**kw).fit(X, Y)


@pytest.mark.parametrize('make, msg', [
    (lambda: fit(Y=Y0.assign(B=[0, 1, 2, 0, 1, np.nan])), "labels must be 0/1: 'B' has [2.0]"),   # (NaN: an unknown cell, allowed)
    (lambda: fit(Y=Y0.assign(A=[0, 1, -1, 1, 1, 0], B=[0, 1, 1, 0, 1, 3])), "'A' has [-1]; 'B' has [3]"),
    (lambda: fit(X=X0.iloc[:0], Y=Y0.iloc[:0]), 'X: empty table: 0 sample(s)'),
    (lambda: fit(X=X0[[]]), 'X: empty table: 0 feature(s)'),
    (lambda: fit(Y=Y0.iloc[:4]), 'X has 6 rows but Y has 4'),
    (lambda: fit(X=X0.assign(sex=list('MFMFMF'))), "['sex'] are not real numbers"),
    (lambda: fit(X=X0.assign(A=1.)), "['A'] are both features (X) and labels (Y)"),
    (lambda: fit(Y=None), 'requires y to be passed'),
    (lambda: fit(X=pd.concat([X0, X0.age], axis=1)), "X: duplicated column name(s) ['age']"),
    (lambda: fit(X=sparse.csr_matrix(X0.fillna(0).values)), 'sparse input is not supported'),
    (lambda: fit(X=X0.values[:, 0]), 'expected a 2-D table'),
    (lambda: fit(n_features=0), 'n_features must be a positive integer'),
    (lambda: fit(alpha=1.5), 'alpha must be in (0, 1]'),
    (lambda: fit(test='t'), "test must be 'auto', 'fisher' or 'chi2'"),
    (lambda: fit(n_features=2).transform(X0.drop(columns='bmi')), "X: column(s) ['bmi'] missing"),
    (lambda: fit(X=X0.values, n_features=2).transform(X0.values[:, :1]), 'X has 1 columns but the selector was fitted on 2'),
])
def test_bad_input(make, msg):
    with pytest.raises(InputError) as e: make()
    assert msg in str(e.value)
    assert isinstance(e.value, MedFusionNetError) and isinstance(e.value, ValueError)


@pytest.mark.parametrize('col, word', [([0]*6, 'positive'), ([1]*6, 'negative')])
def test_rare_label_warns_and_selects_nothing(col, word):
    with pytest.warns(UserWarning, match=f"label 'rare' is never {word} in the 6 rows"):
        sel = fit(Y=Y0.assign(rare=col), n_features=1)
    assert sel.selected_['rare'] == [] and sel.selected_['A'] != []
    assert not any(n.startswith('rare:') for n in sel.get_feature_names_out())
    assert sel.transform(X0).shape == (6, len(sel.get_feature_names_out()))


def test_transform_needs_only_selected_columns_and_keeps_names():
    sel = fit(n_features=1).set_output(transform='pandas')
    used = sorted(set(sel.rules_.feature))
    out = sel.transform(X0[used].iloc[::-1])
    assert list(out.columns) == list(sel.get_feature_names_out())
    assert list(out.index) == list(X0.index[::-1])
