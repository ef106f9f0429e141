"tools/compare_outputs.py, the check behind every behaviour-preserving refactor, finds what differs and only that."
import json, math
from compare_outputs import compare


def _out(d, auroc, secs, csv='a,b\n1,2\n'):
    (d/'run').mkdir(parents=True)
    (d/'run'/'metrics.json').write_text(json.dumps(dict(auroc=auroc, brier=math.nan, seconds=dict(total=secs), machine={'cpus': 2})))
    (d/'run'/'folds.csv').write_text(csv)


def test_compare_outputs(tmp_path):
    _out(tmp_path/'a', 0.61, 10.0); _out(tmp_path/'b', 0.61, 99.0)          # timings and NaN aside: the same
    assert compare(tmp_path/'a', tmp_path/'b') == (1, 1, [])
    _out(tmp_path/'c', 0.62, 10.0, csv='a,b\n1,3\n')
    n_json, n_csv, diffs = compare(tmp_path/'a', tmp_path/'c')
    assert sorted(diffs) == ['CSV differs: run/folds.csv', "run/metrics.json/auroc: '0.61' != '0.62'"]
    (tmp_path/'c'/'extra.csv').write_text('x\n')
    assert compare(tmp_path/'a', tmp_path/'c')[2][-1] == 'only after: extra.csv'


def test_compare_outputs_ignores_epoch_durations(tmp_path):
    log = 'epoch,train_loss,time\n0,0.5,{}\n'
    _out(tmp_path/'a', 0.61, 1.0, csv=log.format('00:27')); _out(tmp_path/'b', 0.61, 1.0, csv=log.format('00:02'))
    assert compare(tmp_path/'a', tmp_path/'b')[2] == []                       # only the time column differs
    _out(tmp_path/'c', 0.61, 1.0, csv=log.format('00:27').replace('0.5', '0.6'))
    assert compare(tmp_path/'a', tmp_path/'c')[2] == ['CSV differs: run/folds.csv']
