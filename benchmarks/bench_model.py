"""Training speed and memory of MedFusionNet variants next to torchvision DenseNet-121, on the CPU.

    .venv/bin/python benchmarks/bench_model.py [--steps 5] [--threads 2] [--skip-memory] [--skip-epoch]

1. One training step (forward + backward + Adam step) on a batch of 16 one-channel 224 x 224 images with 14 labels:
   `medfusionnet_small` (image + 8 tabular features), `medfusionnet_base` (same inputs) and torchvision
   `densenet121(weights=None, num_classes=14)` with a 1-channel first convolution. The models are timed side by
   side in one process, interleaved step by step (the order rotates each round) after a warm-up step each, and the
   median step time is reported. Other load on the machine slows every model alike; the ratios are what to read.
   Targets: small >= 1.5x DenseNet-121's images/s; base no more than 1.25x slower than DenseNet-121.
   Peak memory: each model trains 2 steps in a fresh subprocess; reported is the rise of the process's peak
   resident set size (VmHWM) over its size just before the first step (model and batch already built).
2. One training epoch of `medfusionnet_tiny` at 64 px with all three modalities (1 x 64 x 64 images, 12 tabular
   features, 32 words of text) over 799 samples (the size of the bundled ChestX-ray14 sample), batch 64: random
   tensors of the real sizes. Target: under 60 s.
"""
from __future__ import annotations
import argparse, json, os, resource, statistics, subprocess, sys, time
from pathlib import Path

import torch, torch.nn as nn, torch.nn.functional as F, torchvision

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from medfusionnet.model import create_model, dummy_inputs, count_params

BS, SIZE, N_LABELS, N_TAB = 16, 224, 14, 8
MODELS = ['medfusionnet_small', 'medfusionnet_base', 'densenet121']


def build(name:str, seed:int=0):
    "(model, inputs tuple, targets) for one benchmark entry."
    torch.manual_seed(seed)
    y = (torch.rand(BS, N_LABELS) < 0.1).float()
    if name == 'densenet121':
        m = create_model('densenet121', N_LABELS, img_ch=1)      # the registry's baseline (one-channel stem)
        return m, (torch.randn(BS, 1, SIZE, SIZE),), y
    m = create_model(name.split('_')[1], N_LABELS, modalities=('image', 'tabular'), n_num=N_TAB)
    return m, dummy_inputs(m, bs=BS, size=SIZE), y


def make_step(m, xb, y):
    opt = torch.optim.Adam(m.parameters(), lr=1e-4)
    m.train()
    def step():
        opt.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(m(*xb), y).backward()
        opt.step()
    return step


def status_kb(field:str) -> int:
    "A memory field of /proc/self/status in kB: VmRSS (now) or VmHWM (peak; unlike ru_maxrss, not inherited from a parent)."
    for line in Path('/proc/self/status').read_text().splitlines():
        if line.startswith(field + ':'): return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss if field == 'VmHWM' else 0


def memory_child(name:str, threads:int):
    "Run in a fresh process: peak RSS rise over 2 training steps."
    torch.set_num_threads(threads)
    m, xb, y = build(name)
    step = make_step(m, xb, y)
    before = status_kb('VmRSS')
    for _ in range(2): step()
    peak = status_kb('VmHWM')
    print(json.dumps(dict(model=name, peak_rise_mb=(peak - before) / 1024, peak_mb=peak / 1024)))


def time_steps(steps:int) -> dict:
    "Median seconds per training step of each model, interleaved."
    runs = {}
    for name in MODELS:
        m, xb, y = build(name)
        runs[name] = dict(step=make_step(m, xb, y), params=count_params(m), times=[])
        t = time.perf_counter(); runs[name]['step'](); print(f'  warm-up {name}: {time.perf_counter()-t:.2f} s', flush=True)
    for r in range(steps):
        order = MODELS[r % len(MODELS):] + MODELS[:r % len(MODELS)]
        for name in order:
            t = time.perf_counter(); runs[name]['step'](); runs[name]['times'].append(time.perf_counter() - t)
        print(f'  round {r+1}/{steps}: ' + ', '.join(f'{n} {runs[n]["times"][-1]:.2f} s' for n in MODELS), flush=True)
    return {n: dict(params=v['params'], median_s=statistics.median(v['times']), times=v['times']) for n, v in runs.items()}


def tiny_epoch(n:int=799, bs:int=64, size:int=64, n_tab:int=12, text_len:int=32, vocab:int=1000) -> dict:
    "Seconds for one training epoch of medfusionnet_tiny with all three modalities."
    torch.manual_seed(0)
    m = create_model('tiny', N_LABELS, n_num=n_tab, vocab_size=vocab, text_len=text_len)
    img, num, _, txt, pres = dummy_inputs(m, bs=n, size=size, text_len=text_len)
    y = (torch.rand(n, N_LABELS) < 0.1).float()
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    m.train()
    t = time.perf_counter()
    perm = torch.randperm(n)
    for i in range(0, n, bs):
        idx = perm[i:i+bs]
        opt.zero_grad(set_to_none=True)
        F.binary_cross_entropy_with_logits(m(img[idx], num[idx], None, txt[idx], pres[idx]), y[idx]).backward()
        opt.step()
    return dict(seconds=time.perf_counter() - t, batches=-(-n // bs), params=count_params(m))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--steps', type=int, default=5, help='timed training steps per model (after 1 warm-up)')
    p.add_argument('--threads', type=int, default=2, help='torch threads')
    p.add_argument('--skip-memory', action='store_true'); p.add_argument('--skip-epoch', action='store_true')
    p.add_argument('--memory-child', help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.memory_child: return memory_child(a.memory_child, a.threads)
    torch.set_num_threads(a.threads)
    print(f'torch {torch.__version__}, {a.threads} threads, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}')
    print(f'\n1. training step: batch {BS}, 1 x {SIZE} x {SIZE} images, {N_LABELS} labels, Adam '
          f'(medfusionnet: image + {N_TAB} tabular features)')
    res = time_steps(a.steps)
    mem = {}
    if not a.skip_memory:
        for name in MODELS:
            out = subprocess.run([sys.executable, __file__, '--memory-child', name, '--threads', str(a.threads)],
                                 capture_output=True, text=True, check=True)
            mem[name] = json.loads(out.stdout.strip().splitlines()[-1])
    ref = res['densenet121']['median_s']
    print(f'\n{"model":<20} {"params (M)":>10} {"s/step":>8} {"images/s":>9} {"vs DenseNet-121":>16} {"peak RSS rise (MB)":>19}')
    for name in MODELS:
        r = res[name]
        mm = f"{mem[name]['peak_rise_mb']:.0f}" if name in mem else '-'
        print(f'{name:<20} {r["params"]/1e6:>10.2f} {r["median_s"]:>8.2f} {BS/r["median_s"]:>9.1f} {ref/r["median_s"]:>15.2f}x {mm:>19}')
    fs, fb = ref / res['medfusionnet_small']['median_s'], res['medfusionnet_base']['median_s'] / ref
    print(f'\nsmall vs DenseNet-121: {fs:.2f}x faster (target >= 1.5x): {"PASS" if fs >= 1.5 else "FAIL"}')
    print(f'base  vs DenseNet-121: {fb:.2f}x slower (target <= 1.25x): {"PASS" if fb <= 1.25 else "FAIL"}')
    if not a.skip_epoch:
        print('\n2. medfusionnet_tiny, one training epoch: 799 samples, batch 64, 1 x 64 x 64 images + 12 tabular '
              'features + 32 words of text')
        e = tiny_epoch()
        print(f'   {e["seconds"]:.1f} s for {e["batches"]} batches ({799/e["seconds"]:.0f} samples/s, '
              f'{e["params"]/1e6:.2f} M parameters) (target < 60 s): {"PASS" if e["seconds"] < 60 else "FAIL"}')


if __name__ == '__main__': main()
