"""Throughput and memory of the MedFusionNet variants next to torchvision DenseNet-121 on a CUDA GPU; and a fastai check.

    python benchmarks/bench_gpu.py --out gpu.json                       # the full grid, on CUDA
    python benchmarks/bench_gpu.py --device cpu --quick --out q.json    # a smoke test anywhere (seconds)
    python benchmarks/bench_gpu.py --learner-only --out l.json          # only the fastai end-to-end check

Benchmark (one process, every model measured in the same run, so the ratios compare like with like):
- models: `medfusionnet_tiny`, `_small`, `_base` (image + 8 numeric tabular features, as `bench_model.py`) and
  torchvision `densenet121(weights=None, num_classes=14)`; all take ONE-channel images (DenseNet-121's first
  convolution is replaced by a 1-channel one, as `medfusionnet.learner.densenet121_baseline` does); 14 labels.
- settings: image side (`--sizes`, default 224 and 64, the size `fit_fusion` trains at by default), precision
  (`fp32`; `bf16` = `torch.autocast(bfloat16)`; `fp16` = `torch.autocast(float16)` with a `GradScaler`, as fastai's
  `to_fp16`), channels-last memory format on or off.
- training: forward + BCE-with-logits loss + backward + AdamW step; inference: forward under `torch.inference_mode`
  in eval mode. `--warmup` untimed iterations (cuDNN autotuning on), then `--runs` timed runs of `--iters`
  iterations each, `torch.cuda.synchronize()` around each run; images/s is the median over runs.
  Peak memory is `torch.cuda.max_memory_allocated` from a reset before the model is built (so it includes
  weights, gradients, optimiser state and activations).
- ratios, all from this run: each model / DenseNet-121 at the same setting, and each setting / fp32 (same
  model, same size, same memory format).
- `--time-budget` seconds: settings not started within it are recorded as skipped (the 224 px grid runs first).

fastai check (`--learner`, on by default on CUDA): writes random 96 x 96 PNGs and a CSV (2 labels, age, sex, patient
ids) to a temporary folder, loads them with `medfusionnet.data.load_csv`, trains `medfusionnet_tiny` with
`medfusionnet.learner.fit_fusion` at 64 px for 2 epochs and records whether mixed precision (fastai's
`MixedPrecision` callback, autocast on inside the forward pass), channels-last (weights and batches) and pinned
memory / loader workers were switched on, then predicts the validation rows with `predict_fusion`. No real data.
"""
from __future__ import annotations
import argparse, json, os, platform, statistics, sys, tempfile, time, traceback
from contextlib import nullcontext
from pathlib import Path

import torch, torch.nn as nn, torch.nn.functional as F, torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from medfusionnet.model import create_model, dummy_inputs, count_params

N_LABELS, N_TAB, IMG_CH = 14, 8, 1
MODELS = ('tiny', 'small', 'base', 'densenet121')
REF = 'densenet121'
COMPILE_MODES = ('off', 'default', 'reduce-overhead', 'max-autotune', 'max-autotune-no-cudagraphs')


def build(name:str, bs:int, size:int, device, seed:int=0):
    "(model, inputs tuple, targets) on `device`."
    torch.manual_seed(seed)
    y = (torch.rand(bs, N_LABELS) < 0.1).float()
    if name == 'densenet121':
        m = create_model('densenet121', N_LABELS, img_ch=IMG_CH)      # the registry's baseline (one-channel stem)
        xb = (torch.randn(bs, IMG_CH, size, size),)
    else:
        m = create_model(name, N_LABELS, modalities=('image', 'tabular'), n_num=N_TAB, img_ch=IMG_CH)
        xb = dummy_inputs(m, bs=bs, size=size)
    xb = tuple(x.to(device) if isinstance(x, torch.Tensor) else x for x in xb)
    return m.to(device), xb, y.to(device)


def _sync(device):
    if device.type == 'cuda': torch.cuda.synchronize(device)


def autocast_ctx(precision:str, device):
    if precision == 'fp32': return nullcontext()
    return torch.autocast(device.type, dtype=dict(bf16=torch.bfloat16, fp16=torch.float16)[precision])


def measure(name:str, mode:str, size:int, precision:str, channels_last:bool, bs:int, device,
            warmup:int, runs:int, iters:int, compile:str='off') -> dict:
    "images/s (median over runs) and peak memory of one model in one setting (`compile`: 'off' or a torch.compile mode)."
    cuda = device.type == 'cuda'
    if cuda: torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(device)
    if compile != 'off': torch._dynamo.reset()
    m, xb, y = build(name, bs, size, device)
    if channels_last:
        m = m.to(memory_format=torch.channels_last)
        xb = (xb[0].contiguous(memory_format=torch.channels_last), *xb[1:])
    if compile != 'off': m.compile(mode=None if compile == 'default' else compile)
    if mode == 'train':
        m.train()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4)
        scaler = torch.amp.GradScaler(device.type, enabled=precision == 'fp16')
        def step():
            opt.zero_grad(set_to_none=True)
            with autocast_ctx(precision, device): loss = F.binary_cross_entropy_with_logits(m(*xb).float(), y)
            scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
            return loss
    else:
        m.eval()
        def step():
            with torch.inference_mode(), autocast_ctx(precision, device): return m(*xb)
    out, t0 = None, time.perf_counter()
    for i in range(max(warmup, 1 if compile == 'off' else 2)):
        out = step()
        if i == 0: _sync(device); first_s = time.perf_counter() - t0     # (with compile: the compile time)
    if not torch.isfinite(out.float()).all(): raise RuntimeError(f'{name} {mode} {precision}: non-finite output')
    _sync(device)
    times = []
    for _ in range(runs):
        _sync(device); t = time.perf_counter()
        for _ in range(iters): step()
        _sync(device); times.append(time.perf_counter() - t)
    ips = sorted(bs * iters / t for t in times)
    res = dict(model=name, mode=mode, size=size, precision=precision, channels_last=channels_last, bs=bs, compile=compile,
               first_step_s=first_s, params_M=round(count_params(m) / 1e6, 3), images_per_s=statistics.median(ips),
               images_per_s_runs=ips, ms_per_batch=1000 * statistics.median(times) / iters,
               peak_mem_MiB=torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None)
    del m, xb, y, out
    if mode == 'train': del opt
    return res


def add_ratios(rows:list):
    "Per row: images/s over DenseNet-121's at the same setting, and over the same model's fp32 at the same size/format."
    key = lambda r, **kw: tuple({'compile': 'off', **r, **kw}[k] for k in ('model', 'mode', 'size', 'precision', 'channels_last', 'bs', 'compile'))
    ok = {key(r): r for r in rows if r.get('images_per_s')}
    for r in rows:
        if not r.get('images_per_s'): continue
        ref, fp32 = ok.get(key(r, model=REF)), ok.get(key(r, precision='fp32'))
        r['vs_densenet121'] = r['images_per_s'] / ref['images_per_s'] if ref else None
        r['vs_fp32'] = r['images_per_s'] / fp32['images_per_s'] if fp32 else None
        r['mem_vs_densenet121'] = (r['peak_mem_MiB'] / ref['peak_mem_MiB'] if ref and r['peak_mem_MiB'] else None)


def grid(a) -> list:
    "Every setting to measure, in order: the eager ones first, then the compiled ones (each pays its compile time)."
    specs = []
    for compiled in (False, True):
        for size in a.sizes:
            for bs in (a.bs if size >= 128 else a.bs_small):
                for precision in a.precisions:
                    for cl in a.channels_last:
                        for comp in ([c for c in a.compile if c != 'off'] if compiled else (['off'] if 'off' in a.compile else [])):
                            for mode in ('train', 'infer'):
                                if compiled and mode not in a.compile_for: continue
                                specs += [dict(model=name, mode=mode, size=size, precision=precision, channels_last=cl, bs=bs,
                                               compile=comp) for name in a.models]
    return specs


def largest_batch(name:str, size:int, precision:str, channels_last:bool, device, start:int=32, limit:int=2048,
                  mem_frac:float=0.85) -> int:
    "The largest power of two from `start` up to `limit` whose training step fits in `mem_frac` of the GPU's memory."
    total = torch.cuda.get_device_properties(device).total_memory if device.type == 'cuda' else None
    def fits(bs):
        r = measure(name, 'train', size, precision, channels_last, bs, device, warmup=1, runs=1, iters=1)
        return total is None or r['peak_mem_MiB'] * 2**20 < mem_frac * total
    from medfusionnet.learner import largest_batch_size     # (the learner's own doubling search)
    return largest_batch_size(fits, start, limit)


def run_grid(a, device, save=None, rows=None) -> list:
    "Every model x setting; `save(rows)` after each (so a run killed midway keeps what it measured)."
    rows, t0 = (rows if rows is not None else []), time.perf_counter()
    for spec in grid(a):
        if a.time_budget and time.perf_counter() - t0 > a.time_budget:
            rows.append({**spec, 'skipped': 'time budget'}); continue
        try:
            r = measure(spec['model'], spec['mode'], spec['size'], spec['precision'], spec['channels_last'], spec['bs'],
                        device, a.warmup, a.runs, a.iters, spec['compile'])
        except Exception as e:   # one failing setting (e.g. out of memory) does not end the run
            r = {**spec, 'error': f'{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ""}'}
            if device.type == 'cuda': torch.cuda.empty_cache()
        rows.append(r)
        print(fmt_row(r), flush=True)
        if save: save(rows)
    add_ratios(rows)
    return rows


def loader_images(device, size:int, bs:int, workers:list, n:int=2048, batches:int=20, folder=None) -> list:
    """Images/s of the training loader as `fit_fusion` builds it (`fusion_dls`: cached PNGs read by `workers` processes,
    pinned memory and the augmentation on `device`), from a `size` px cache of `n` images, streamed (never preloaded)."""
    import numpy as np, pandas as pd
    from PIL import Image
    from medfusionnet.data import DatasetSchema
    from medfusionnet.fusion_data import FusionPreprocessor, fusion_dls
    from medfusionnet.external import find_dataset
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(folder or tmp); (tmp/'img').mkdir(parents=True, exist_ok=True)
        try: sources = sorted(find_dataset('nih-cxr14-fullres').glob('*.png'))    # real 1024 px X-rays, cycled
        except Exception: sources = []
        if not sources:                                                            # else noise at 1024 px
            sources = [tmp/'src0.png']; Image.fromarray(rng.integers(0, 255, (1024, 1024), dtype=np.uint8)).save(sources[0])
        for i in range(n): os.symlink(sources[i % len(sources)], tmp/'img'/f'{i}.png')
        df = pd.DataFrame(dict(pid=np.arange(n), image=[f'{i}.png' for i in range(n)], y=rng.integers(0, 2, n)))
        sc = DatasetSchema('loader', 'pid', 'pid', ['y'], [], [], image_col='image', image_root=tmp/'img')
        t = time.perf_counter()
        prep = FusionPreprocessor(sc, ('image',), image_size=size, cache_folder=tmp/'cache').fit(df)
        build_s = time.perf_counter() - t
        rows = []
        for w in workers:
            dls = fusion_dls(prep, df, np.arange(n), np.arange(8), bs=bs, device=device, num_workers=w, preload=False)
            it = iter(dls.train)
            next(it)                                                 # (workers start, first batch)
            _sync(device); t = time.perf_counter(); k = 0
            for b in it:
                k += 1
                if k >= batches: break
            _sync(device)
            rows.append(dict(kind='loader', size=size, bs=bs, workers=w, pin_memory=bool(dls.train.fake_l.pin_memory),
                             batches=k, images_per_s=k * bs / (time.perf_counter() - t), n_images=n,
                             cache_build_s=build_s, sources=[str(p.name) for p in sources]))
            print(f"loader  {size:>4} px bs {bs:<4} workers {w:<2} {rows[-1]['images_per_s']:10.1f} img/s", flush=True)
            del dls, it
    return rows


def recipe_summary(rows:list, loader:list) -> dict:
    """The issue's targets, from this run's rows: bf16 / fp32 training speed of DenseNet-121 and `base` (their fastest
    settings each), `base` / DenseNet-121 under the same (fastest) recipe, and the loader's best rate / the model's."""
    ok = [r for r in rows if r.get('images_per_s') and r['mode'] == 'train']
    best = lambda **kw: max((r for r in ok if all(r.get(k) == v for k, v in kw.items())), key=lambda r: r['images_per_s'], default=None)
    out = {}
    for m in ('densenet121', 'base'):
        b, f = best(model=m, precision='bf16'), best(model=m, precision='fp32')
        if b and f: out[f'{m} bf16 / fp32 training'] = dict(ratio=b['images_per_s'] / f['images_per_s'], target=1.5,
                                                            bf16=b, fp32=f)
    top = best(model='densenet121')
    if top:
        same = best(model='base', **{k: top[k] for k in ('size', 'precision', 'channels_last', 'bs', 'compile')})
        if same: out['base / densenet121 training, same recipe'] = dict(ratio=same['images_per_s'] / top['images_per_s'],
                                                                       target=0.9, recipe={k: top[k] for k in ('size', 'precision', 'channels_last', 'bs', 'compile')})
    if loader and ok:
        lb = max(loader, key=lambda r: r['images_per_s'])
        fastest = max((r for r in ok if r['size'] == lb['size']), key=lambda r: r['images_per_s'], default=None)
        if fastest: out['loader / fastest training'] = dict(ratio=lb['images_per_s'] / fastest['images_per_s'], target=1.0,
                                                           loader_workers=lb['workers'], model=fastest['model'])
    for v in out.values():
        v['met'] = v['ratio'] >= v['target']
        for k in ('bf16', 'fp32'):
            if k in v: v[k] = {x: v[k][x] for x in ('model', 'size', 'precision', 'channels_last', 'bs', 'compile', 'images_per_s')}
    return out


def fmt_row(r) -> str:
    head = (f"{r['model']:<12} {r['mode']:<5} {r['size']:>4} {r['precision']:<4} {'CL' if r['channels_last'] else '--':<2} bs {r['bs']:<4} "
            f"{r.get('compile', 'off'):<15}")
    if 'images_per_s' not in r: return f"{head} {r.get('error') or r.get('skipped')}"
    mem = f"{r['peak_mem_MiB']:8.0f} MiB" if r['peak_mem_MiB'] is not None else '       - MiB'
    return f"{head} {r['images_per_s']:10.1f} img/s {mem}"


def table(rows:list) -> str:
    "Markdown table: one line per model x setting, training and inference side by side."
    by = {}
    for r in rows: by.setdefault((r['size'], r['bs'], r['precision'], r['channels_last'], r.get('compile', 'off'), r['model']), {})[r['mode']] = r
    f = lambda v, p=1: '-' if v is None else f'{v:.{p}f}'
    lines = ['| size | bs | precision | channels-last | compile | model | train img/s | train vs DN121 | train vs fp32 | train peak MiB '
             '| infer img/s | infer vs DN121 | infer vs fp32 | infer peak MiB |', '|' + '---|' * 14]
    for (size, bs, prec, cl, comp, model), d in by.items():
        cells = []
        for mode in ('train', 'infer'):
            r = d.get(mode, {})
            if 'images_per_s' not in r: cells += [r.get('error', r.get('skipped', '-'))[:40], '-', '-', '-']; continue
            cells += [f(r['images_per_s']), f(r.get('vs_densenet121'), 2), f(r.get('vs_fp32'), 2), f(r['peak_mem_MiB'], 0)]
        lines.append(f"| {size} | {bs} | {prec} | {'on' if cl else 'off'} | {comp} | {model} | " + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def learner_check(device, quick:bool) -> dict:
    "fit_fusion end to end on synthetic PNGs + CSV; what the learner switched on by itself."
    import numpy as np, pandas as pd
    from PIL import Image
    from medfusionnet.data import load_csv
    from medfusionnet.learner import fit_fusion, predict_fusion
    from fastai.callback.fp16 import MixedPrecision
    n, epochs = (48, 1) if quick else (512, 2)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp); (tmp/'images').mkdir()
        rows = []
        for i in range(n):
            lab = rng.random(2) < (0.3, 0.2)
            px = rng.integers(0, 200, (96, 96)).astype(np.uint8)
            if lab[0]: px[20:50, 20:50] = 255                     # something to learn
            Image.fromarray(px).save(tmp/'images'/f'im{i:04d}.png')
            rows.append(dict(image=f'im{i:04d}.png', patient=f'p{i // 2}', age=float(rng.integers(20, 90)),
                             sex=rng.choice(['F', 'M']), a=int(lab[0]), b=int(lab[1])))
        pd.DataFrame(rows).to_csv(tmp/'table.csv', index=False)
        df, schema = load_csv(tmp/'table.csv', label_cols=['a', 'b'], id_col='image', group_col='patient',
                              numeric_cols=['age'], categorical_cols=['sex'], image_col='image', image_root=tmp/'images',
                              name='synthetic')
        pid = df['patient'].str[1:].astype(int).to_numpy()
        tr, va = np.flatnonzero(pid % 4 != 0), np.flatnonzero(pid % 4 == 0)
        seen = {}
        class Probe:   # a forward pre-hook on the model: what the first training batch looks like inside fastai
            def __call__(self, mod, args):
                if seen or not mod.training: return
                img = args[0]
                seen.update(autocast=torch.is_autocast_enabled(img.device.type), device=str(img.device),
                            dtype=str(img.dtype), shape=list(img.shape), stride=list(img.stride()),
                            channels_last=bool(img.dim() == 4 and img.is_contiguous(memory_format=torch.channels_last)))
        from fastai.callback.core import Callback
        class ProbeCB(Callback):
            order = -1
            def before_fit(self): self.h = self.learn.model.register_forward_pre_hook(Probe())
            def after_fit(self): self.h.remove()
        t = time.perf_counter()
        res = fit_fusion(df, schema, tr, va, model='tiny', image_size=64, epochs=epochs, bs=32 if quick else 64,
                         run_dir=tmp/'run', cache_folder=tmp/'cache', stage1_features=None, cbs=[ProbeCB()])
        fit_s = time.perf_counter() - t
        learn, dl = res.learn, res.learn.dls.train
        convs = [p for p in learn.model.parameters() if p.dim() == 4 and p.shape[1] > 1]   # (1-channel ones are both layouts)
        p = predict_fusion(res, df, va)
        out = dict(device=str(learn.dls.device), n_train=len(tr), n_valid=len(va), epochs=epochs, fit_seconds=fit_s,
                   losses_finite=bool(np.isfinite(res.history[['train_loss', 'valid_loss']].to_numpy(float)).all()),
                   mixed_precision_callback=any(isinstance(c, MixedPrecision) for c in learn.cbs),
                   mixed_precision_mode=next((c.amp_mode.value for c in learn.cbs if isinstance(c, MixedPrecision)), None),
                   weights_channels_last=all(c.is_contiguous(memory_format=torch.channels_last) for c in convs),
                   weights_contiguous_nchw=sum(c.is_contiguous() for c in convs), n_conv_weights=len(convs),
                   pin_memory=bool(dl.fake_l.pin_memory), num_workers=int(dl.fake_l.num_workers),
                   **{f'first_batch_{k}': v for k, v in seen.items()},
                   history=res.history.to_dict(orient='records'),
                   predictions_shape=list(p.shape), predictions_finite=bool(np.isfinite(p).all()))
    if device.type == 'cuda':
        out['expected_on_cuda'] = {k: out[k] for k in ('mixed_precision_callback', 'weights_channels_last', 'pin_memory')}
        out['expected_on_cuda']['first_batch_autocast'] = out.get('first_batch_autocast')
        out['all_on'] = all(bool(v) for v in out['expected_on_cuda'].values())
    return out


def environment(device) -> dict:
    env = dict(python=platform.python_version(), torch=torch.__version__, torchvision=torchvision.__version__,
               device=str(device), cpu_count=os.cpu_count(), time=time.strftime('%Y-%m-%dT%H:%M:%S%z'))
    if device.type == 'cuda':
        pr = torch.cuda.get_device_properties(device)
        env.update(gpu=pr.name, gpu_mem_GiB=round(pr.total_memory / 2**30, 1), cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), bf16_supported=torch.cuda.is_bf16_supported())
    try: import fastai; env['fastai'] = fastai.__version__
    except ImportError: env['fastai'] = None
    return env


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--quick', action='store_true', help='tiny sizes and few iterations (smoke test, CPU)')
    p.add_argument('--models', help=f"comma-separated (default: {','.join(MODELS)}; --quick: tiny,densenet121)")
    p.add_argument('--sizes', default='224,64', help='image sides, comma-separated')
    p.add_argument('--precisions', help='comma-separated from fp32,bf16,fp16 (default: all three; --quick: fp32,bf16)')
    p.add_argument('--channels-last', default='off,on', help="'off', 'on' or both")
    p.add_argument('--bs', default='64', help="batch sizes at sides >= 128, comma-separated; 'auto': the largest power of two that fits")
    p.add_argument('--bs-small', default='256', help='batch sizes at smaller sides, comma-separated')
    p.add_argument('--compile', default='off', help="'off' and/or torch.compile modes (default, reduce-overhead, max-autotune), comma-separated")
    p.add_argument('--compile-for', default='train', help="modes measured compiled: 'train', 'infer' or both")
    p.add_argument('--loader', choices=['auto', 'on', 'off'], default='auto', help='measure the training loader (auto: on CUDA)')
    p.add_argument('--loader-workers', default='0,4,8,16', help='loader processes to try, comma-separated (capped at the CPU count)')
    p.add_argument('--loader-images', type=int, default=2048, help='cached images the loader reads')
    p.add_argument('--recipe', action='store_true', help="the GPU-recipe run of issue 15: base and DenseNet-121 at 224 px, channels-last, "
                   "fp32 and bf16, batch 256 and 64, eager and compiled (reduce-overhead), the loader, the fastai check; "
                   "prints the targets met or missed")
    p.add_argument('--warmup', type=int, default=5); p.add_argument('--runs', type=int, default=5)
    p.add_argument('--iters', type=int, default=10, help='iterations per timed run')
    p.add_argument('--time-budget', type=float, default=0, help='seconds; settings not started by then are skipped (0: none)')
    p.add_argument('--learner', choices=['auto', 'on', 'off'], default='auto', help='fastai check (auto: on CUDA)')
    p.add_argument('--learner-only', action='store_true')
    p.add_argument('--threads', type=int, default=0, help='torch CPU threads (0: leave)')
    p.add_argument('--out', help='JSON file to write')
    a = p.parse_args(argv)
    a.models = (a.models or ('tiny,densenet121' if a.quick else ','.join(MODELS))).split(',')
    a.precisions = (a.precisions or ('fp32,bf16' if a.quick else 'fp32,bf16,fp16')).split(',')
    if bad := [m for m in a.models if m not in MODELS]: p.error(f'--models: unknown {bad}; choose from {MODELS}')
    if bad := [q for q in a.precisions if q not in ('fp32', 'bf16', 'fp16')]: p.error(f'--precisions: unknown {bad}')
    if a.recipe:
        a.models, a.sizes, a.precisions, a.channels_last, a.bs = ['base', 'densenet121'], '224', ['fp32', 'bf16'], 'on', '256,64'
        a.compile, a.loader, a.time_budget = 'off,reduce-overhead', 'on', a.time_budget or 480
    a.sizes = [int(s) for s in str(a.sizes).split(',')]
    a.channels_last = [dict(off=False, on=True)[s] for s in a.channels_last.split(',')]
    a.compile, a.compile_for = a.compile.split(','), a.compile_for.split(',')
    if bad := [c for c in a.compile if c not in COMPILE_MODES]: p.error(f'--compile: unknown {bad}; choose from {COMPILE_MODES}')
    a.bs_auto = a.bs == 'auto'
    a.bs = [] if a.bs_auto else [int(b) for b in a.bs.split(',')]
    a.bs_small = [int(b) for b in a.bs_small.split(',')]
    a.loader_workers = sorted({min(int(w), os.cpu_count() or 1) for w in a.loader_workers.split(',')})
    if a.quick:
        a.sizes, a.bs, a.bs_small, a.warmup, a.runs, a.iters = [32], [2], [2], 1, 2, 1
        a.loader_images = 16
    return a


def main(argv=None) -> dict:
    a = parse_args(argv)
    device = torch.device(a.device)
    if device.type == 'cuda' and not torch.cuda.is_available(): sys.exit('bench_gpu: --device cuda but torch sees no CUDA device')
    if a.threads: torch.set_num_threads(a.threads)
    if device.type == 'cuda': torch.backends.cudnn.benchmark = True
    env = environment(device)
    print(json.dumps(env), flush=True)
    result = dict(environment=env, settings=dict(models=a.models, sizes=a.sizes, precisions=a.precisions,
                  channels_last=a.channels_last, bs=a.bs, bs_small=a.bs_small, compile=a.compile, compile_for=a.compile_for,
                  recipe=a.recipe, warmup=a.warmup, runs=a.runs, iters=a.iters,
                  img_ch=IMG_CH, n_labels=N_LABELS, n_tab=N_TAB, quick=a.quick, reference=REF), rows=[])
    def save(rows=None):
        if rows is not None: add_ratios(rows); result['rows'] = rows
        if a.out:
            Path(a.out).parent.mkdir(parents=True, exist_ok=True)
            Path(a.out).write_text(json.dumps(result, indent=1, default=str))
    loader_size = max(s_ for s_ in a.sizes)
    if not a.learner_only and (a.loader == 'on' or (a.loader == 'auto' and device.type == 'cuda')):
        lbs = (a.bs or [64])[0] if loader_size >= 128 else a.bs_small[0]
        try: result['loader'] = loader_images(device, loader_size, lbs, a.loader_workers, n=a.loader_images, batches=2 if a.quick else 20)
        except Exception as e: result['loader_error'] = f'{type(e).__name__}: {e}'
        save()
    if not a.learner_only:
        if a.bs_auto:
            a.bs = sorted({largest_batch(m, s_, a.precisions[-1], a.channels_last[-1], device) for m in a.models for s_ in a.sizes if s_ >= 128})
            result['settings']['bs_auto'] = a.bs
            print(f'largest batch sizes that fit: {a.bs}', flush=True)
        t = time.perf_counter()
        result['rows'] = run_grid(a, device, save)
        result['grid_seconds'] = time.perf_counter() - t
        print('\n' + table(result['rows']), flush=True)
        result['recipe'] = recipe_summary(result['rows'], result.get('loader', []))
        for k, v in result['recipe'].items():
            print(f"{k}: {v['ratio']:.2f} (target >= {v['target']}): {'met' if v['met'] else 'NOT met'}", flush=True)
    if a.learner == 'on' or a.learner_only or (a.learner == 'auto' and device.type == 'cuda'):
        try: result['learner_check'] = learner_check(device, a.quick)
        except Exception as e: result['learner_check'] = dict(error=f'{type(e).__name__}: {e}', traceback=traceback.format_exc())
        print('\nfit_fusion check:', json.dumps({k: v for k, v in result['learner_check'].items() if k != 'history'}, default=str))
    save()
    if a.out: print(f'wrote {a.out}')
    return result


if __name__ == '__main__': main()
