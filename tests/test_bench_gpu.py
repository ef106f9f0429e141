"The GPU benchmark's quick CPU mode runs and writes the fields the scale-up page reads; the committed GPU results parse."
import importlib.util, json
from pathlib import Path

import pytest, torch, torchvision

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location('bench_gpu', ROOT/'benchmarks'/'bench_gpu.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_quick_cpu(tmp_path, monkeypatch):
    "The whole quick mode, with a 4-layer DenseNet standing in for DenseNet-121 (whose CPU training step takes seconds)."
    out, bench = tmp_path/'q.json', _bench()
    small = lambda weights=None, num_classes=1000: torchvision.models.DenseNet(8, (1, 1, 1, 1), 8, num_classes=num_classes)
    monkeypatch.setattr(bench.torchvision.models, 'densenet121', small)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    bench.main(['--device', 'cpu', '--quick', '--precisions', 'fp32,bf16', '--channels-last', 'on',
                   '--learner', 'off', '--out', str(out)])
    res = json.loads(out.read_text())
    assert res['environment']['device'] == 'cpu' and res['settings']['quick']
    rows = res['rows']
    assert not [r for r in rows if 'error' in r or 'skipped' in r]
    assert {(r['model'], r['mode'], r['precision']) for r in rows} == {
        (m, mode, p) for m in ('tiny', 'densenet121') for mode in ('train', 'infer') for p in ('fp32', 'bf16')}
    for r in rows:
        assert r['images_per_s'] > 0 and len(r['images_per_s_runs']) == res['settings']['runs'] == 2
        assert r['peak_mem_MiB'] is None                       # (CUDA only)
        assert r['vs_densenet121'] > 0 and r['vs_fp32'] > 0
        if r['model'] == 'densenet121': assert r['vs_densenet121'] == 1
        if r['precision'] == 'fp32': assert r['vs_fp32'] == 1
    t = next(r for r in rows if (r['model'], r['mode'], r['precision']) == ('tiny', 'train', 'bf16'))
    ref = next(r for r in rows if (r['model'], r['mode'], r['precision']) == ('densenet121', 'train', 'bf16'))
    assert t['vs_densenet121'] == pytest.approx(t['images_per_s'] / ref['images_per_s'])


def test_compile_loader_and_targets_cpu(tmp_path, monkeypatch):
    """The recipe's CPU parts: compiled training rows (torch.compile on the CPU), the loader read from a cache with and
    without worker processes, and the target ratios computed from the run's own rows."""
    out, bench = tmp_path/'c.json', _bench()
    small = lambda weights=None, num_classes=1000: torchvision.models.DenseNet(8, (1, 1, 1, 1), 8, num_classes=num_classes)
    monkeypatch.setattr(bench.torchvision.models, 'densenet121', small)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    bench.main(['--device', 'cpu', '--quick', '--models', 'densenet121', '--precisions', 'fp32,bf16', '--channels-last', 'on',
                '--compile', 'off,default', '--loader', 'on', '--loader-workers', '0,2', '--learner', 'off', '--out', str(out)])
    res = json.loads(out.read_text())
    rows = res['rows']
    assert not [r for r in rows if 'error' in r or 'skipped' in r]
    got = {(r['mode'], r['precision'], r['compile']) for r in rows}
    assert got == {(m, p, 'off') for m in ('train', 'infer') for p in ('fp32', 'bf16')} | {('train', p, 'default') for p in ('fp32', 'bf16')}
    for r in rows:
        if r['compile'] == 'default':
            eager = next(e for e in rows if (e['mode'], e['precision'], e['compile']) == ('train', r['precision'], 'off'))
            assert r['first_step_s'] > eager['first_step_s'] and r['images_per_s'] > 0   # the first step compiled it
            assert r['vs_densenet121'] == 1 and r['vs_fp32'] > 0                     # ratios within the same compile setting
    loader = res['loader']
    assert [l['workers'] for l in loader] == [0, 2] and all(l['images_per_s'] > 0 and l['size'] == 32 for l in loader)
    assert all(l['n_images'] == 16 and l['batches'] >= 1 for l in loader)
    rec = res['recipe']
    assert set(rec) == {'densenet121 bf16 / fp32 training', 'loader / fastest training'}     # (no 'base' in this run)
    train = [r for r in rows if r['mode'] == 'train']
    best = lambda p: max(r['images_per_s'] for r in train if r['precision'] == p)
    assert rec['densenet121 bf16 / fp32 training']['ratio'] == pytest.approx(best('bf16') / best('fp32'))
    assert rec['loader / fastest training']['ratio'] == pytest.approx(max(l['images_per_s'] for l in loader) / max(r['images_per_s'] for r in train))
    assert all(v['met'] == (v['ratio'] >= v['target']) for v in rec.values())


def test_bad_args():
    with pytest.raises(SystemExit): _bench().parse_args(['--models', 'tiny,resnet50'])
    with pytest.raises(SystemExit): _bench().parse_args(['--precisions', 'fp8'])
    with pytest.raises(SystemExit): _bench().parse_args(['--compile', 'fast'])
    a = _bench().parse_args(['--recipe'])
    assert (a.models, a.sizes, a.bs, a.compile, a.precisions) == (['base', 'densenet121'], [224], [256, 64], ['off', 'reduce-overhead'], ['fp32', 'bf16'])


def test_committed_results():
    "Every committed GPU result holds CUDA rows with the fields the scale-up notebook reads."
    files = sorted((ROOT/'benchmarks'/'results').glob('gpu_*.json'))
    for f in files:
        res = json.loads(f.read_text())
        for run in res.get('runs', [res]):               # merged runs, or the script's own output
            assert run['environment']['device'].startswith('cuda') and run['environment']['gpu']
            for r in run['rows']:
                if 'images_per_s' not in r: continue             # (skipped by the time budget, or failed)
                assert {'model', 'mode', 'size', 'precision', 'channels_last', 'bs', 'images_per_s', 'peak_mem_MiB',
                        'vs_densenet121', 'vs_fp32'} <= set(r)
