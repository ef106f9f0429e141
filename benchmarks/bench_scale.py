"""A full-size ChestX-ray14 rehearsal without the 42 GB download: every step a user runs, timed, with its peak memory,
at several sizes, and how each step's cost grows with the number of rows.

    .venv/bin/python benchmarks/bench_scale.py [--sizes 2000,20000,112120] [--image-size 64] [--batches 20]

For each size N it writes a ChestX-ray14 folder under runs/bench/scale/ (git-ignored; derived from the shared data,
never committed): the first N rows of the real official metadata (`nih-cxr14-metadata`, 112,120 rows of 30,805
patients; whole patients, in a seeded random order), `train_val_list.txt` / `test_list.txt` from a patient-grouped
77/23 split (the real lists ship only with the full download), and one image per row: the 799 real sample PNGs
(64 px) cycled under the official file names as symbolic links. Then, as a user runs them:
  load (+ validate, every image file checked)  split (official lists, patient-disjointness checks)  stage 1
  cache build (resize every image)  cache reuse  preprocessor fit  preprocessor transform
  train: `fit_fusion` of `tiny`, one epoch cut after --batches batches (its set-up included; img/s of those batches)
  predict (the test list)  evaluate (per-label AUROC/AUPRC with 1,000 patient-bootstrap resamples)  risk (fit)
  explain (3 patients)
  cv: `cv_run` of the logistic-regression baseline, 5 patient folds, risk levels, --cv-boot resamples of the pooled
      out-of-fold predictions (what `medfusionnet cv --models lr` runs)
  cache build 224 px: every row's stand-in resized to 224 px (the size of a full-scale run)
  train 224 px: `fit_fusion` at 224 px, cut after --batches-224 batches: above 1 GiB of training images the dataset reads
      them from the cache batch by batch (streamed), below it keeps them in memory
  cache build from 1024 px: the 2 real full-resolution ChestX-ray14 PNGs (`nih-cxr14-fullres`) cycled under the first
      rows' names and resized to 224 px, the decoding cost of the real download; only up to --fullres-rows rows (the
      time at full size is projected from the measured rate)
Printed per step: seconds, peak resident memory (MB, sampled every 10 ms; the process's, so it includes what earlier
steps still hold), and the growth exponent between consecutive sizes (log t2/t1 over log N2/N1: 1 is linear).
The table is stored in benchmarks/results/scale_<date>.json and shown on the scale-up page.
"""
import argparse, json, os, platform, resource, shutil, sys, tempfile, threading, time, warnings
from pathlib import Path
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from medfusionnet.external import dataset_path
from medfusionnet.data import load_chestxray14
from medfusionnet.splits import patient_split
from medfusionnet.select import UnivariateThresholdSelector
from medfusionnet.images import ResizeCache
from medfusionnet.fusion_data import FusionPreprocessor
from medfusionnet.learner import fit_fusion, predict_fusion
from medfusionnet.evaluate import evaluate_predictions
from medfusionnet.risk import RiskStratifier
from medfusionnet.core import versions, machine


class Peak:
    "Peak resident memory of this process while the block runs, sampled every `dt` seconds from /proc."
    def __init__(self, dt=0.01): self.dt = dt
    @staticmethod
    def rss() -> int:
        with open('/proc/self/statm') as f: return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    def _run(self):
        while not self.stop.is_set(): self.peak = max(self.peak, self.rss()); time.sleep(self.dt)
    def __enter__(self):
        self.peak, self.stop = self.rss(), threading.Event()
        self.t = threading.Thread(target=self._run, daemon=True); self.t.start(); return self
    def __exit__(self, *a):
        self.stop.set(); self.t.join(); self.peak = max(self.peak, self.rss())


def make_folder(meta:pd.DataFrame, n:int, folder:Path, sample_images:list, seed:int=0) -> dict:
    "A ChestX-ray14 folder of the first `n` rows (whole patients, seeded order) with official-style lists and images."
    if folder.exists(): shutil.rmtree(folder)
    (folder/'images').mkdir(parents=True)
    pats = meta['Patient ID'].drop_duplicates().to_numpy()
    order = np.random.default_rng(seed).permutation(pats)
    cum = meta.groupby('Patient ID').size().loc[order].cumsum().to_numpy()
    keep = set(order[:int(np.searchsorted(cum, n)) + 1])          # whole patients, until there are >= n rows
    rows = meta[meta['Patient ID'].isin(keep)]
    rows.to_csv(folder/'Data_Entry_2017_v2020.csv', index=False)
    p = rows['Patient ID'].drop_duplicates().to_numpy()
    test_p = set(np.random.default_rng(seed + 1).permutation(p)[:int(round(0.23 * len(p)))])
    is_test = rows['Patient ID'].isin(test_p).to_numpy()
    (folder/'test_list.txt').write_text('\n'.join(rows['Image Index'][is_test]) + '\n')
    (folder/'train_val_list.txt').write_text('\n'.join(rows['Image Index'][~is_test]) + '\n')
    for i, name in enumerate(rows['Image Index']): os.symlink(sample_images[i % len(sample_images)], folder/'images'/name)
    return dict(rows=len(rows), patients=int(rows['Patient ID'].nunique()), test_rows=int(is_test.sum()))


def rehearse(folder:Path, work:Path, image_size:int, batches:int, bs:int, n_boot:int, cv_boot:int=200, batches_224:int=5,
             fullres:list=(), fullres_rows:int=20000) -> dict:
    "Every step on one folder: {step: (seconds, peak MB)} and the facts of the run."
    out, facts = {}, {}
    def step(name, f):
        t0 = time.perf_counter()
        with Peak() as pk: r = f()
        out[name] = dict(seconds=round(time.perf_counter() - t0, 3), peak_mb=round(pk.peak / 2**20, 1))
        print(f"  {name:<22} {out[name]['seconds']:9.2f} s {out[name]['peak_mb']:9.0f} MB", flush=True)
        return r
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        df, sc = step('load', lambda: load_chestxray14(folder))
        sp = step('split', lambda: patient_split(df, sc, valid=0.1, seed=0))
        tr, va, te = sp['train'], sp['valid'], sp['test']
        step('stage 1', lambda: UnivariateThresholdSelector(5).fit(df.iloc[tr][sc.numeric_cols], df.iloc[tr][sc.label_cols]))
        cache = work/'cache'
        paths = list(sc.image_paths(df))
        step('cache build', lambda: ResizeCache(image_size, folder=cache).build(paths, progress=False))
        step('cache reuse', lambda: ResizeCache(image_size, folder=cache).build(paths, progress=False))
        prep = step('prep fit', lambda: FusionPreprocessor(sc, image_size=image_size, cache_folder=cache).fit(df.iloc[tr]))
        step('prep transform', lambda: prep.transform(df))
        from fastai.callback.core import Callback, CancelTrainException
        class StopAfter(Callback):
            "End the training part of the epoch after `n` batches; record their images/s."
            def __init__(self, n, tag=''): self.n, self.tag = n, tag
            def before_batch(self):
                if self.training and self.iter == 1: self.t1 = time.perf_counter()   # (batch 0 warms up)
            def after_batch(self):
                if self.training and self.iter + 1 >= self.n: raise CancelTrainException
            def after_train(self):                # (after the n-th batch, or the epoch's last when it has fewer)
                if self.iter >= 1: facts[f'train{self.tag}_images_per_s'] = round(self.iter * bs / (time.perf_counter() - self.t1), 1)
                ds = self.learn.dls.train.dataset
                facts[f'train{self.tag}_streamed'] = ds.images is None and ds.files is not None
        va_fixed = va[:1024]                     # the same validation work at every size
        res = step('train', lambda: fit_fusion(df, sc, tr, va_fixed, model='tiny', image_size=image_size, epochs=1, bs=bs,
                                              cache_folder=cache, run_dir=work/'run', cbs=[StopAfter(batches)]))
        P = step('predict', lambda: predict_fusion(res, df, te))
        Y, g = sc.labels(df)[te], df[sc.group_col].to_numpy()[te]
        step('evaluate', lambda: evaluate_predictions(Y, P, sc.label_cols, groups=g, n_boot=n_boot))
        step('risk', lambda: RiskStratifier().fit(Y, P, sc.label_cols, groups=g))
        from medfusionnet.interpret import explain_patients
        ids = df[sc.id_col].iloc[te[:3]].tolist()
        step('explain', lambda: explain_patients(res, df, sc, ids, work/'explain', background=df.iloc[tr[:200]]))
        from medfusionnet.run import cv_run
        from medfusionnet.settings import TrainSettings
        step('cv (lr, 5 folds)', lambda: cv_run(df, sc, work/'cv', ['lr'], TrainSettings(), folds=5, n_boot=cv_boot, progress=False))
        del res, prep, P
        big = work/'cache224'
        step('cache build 224 px', lambda: ResizeCache(224, folder=big).build(paths, progress=False))
        step('train 224 px', lambda: fit_fusion(df, sc, tr, va[:256], model='tiny', image_size=224, epochs=1, bs=bs,
                                                cache_folder=big, run_dir=work/'run224', cbs=[StopAfter(batches_224, '_224')]))
        shutil.rmtree(big, ignore_errors=True)
        if fullres and len(df) <= fullres_rows:
            (folder/'images1024').mkdir(exist_ok=True)
            srcs = []
            for i, name in enumerate(df[sc.id_col]):
                (folder/'images1024'/name).symlink_to(fullres[i % len(fullres)]); srcs.append(folder/'images1024'/name)
            r = step('cache build from 1024 px', lambda: ResizeCache(224, folder=work/'cache1024').build(srcs, progress=False))
            facts['fullres_images_per_s'] = round(len(r) / out['cache build from 1024 px']['seconds'], 1)
            shutil.rmtree(work/'cache1024', ignore_errors=True)
    facts.update(rows=len(df), train_rows=len(tr), test_rows=len(te), patients=int(df[sc.group_col].nunique()))
    return dict(steps=out, facts=facts)


def scale_table(results:dict) -> pd.DataFrame:
    "Seconds and peak MB per step and size, and the growth exponent between consecutive sizes ('-': step not run there)."
    ns = sorted(int(n) for n in results)
    get = lambda n, k: (results.get(n) or results[str(n)])['steps'].get(k)
    steps = list(dict.fromkeys(k for n in ns for k in (results.get(n) or results[str(n)])['steps']))
    t = pd.DataFrame({f'{n:,} rows': [f"{get(n, k)['seconds']:.2f} s, {get(n, k)['peak_mb']:.0f} MB" if get(n, k) else '-'
                                      for k in steps] for n in ns}, index=steps)
    for n1, n2 in zip(ns, ns[1:]):
        t[f'exponent {n1:,} to {n2:,}'] = [round(np.log(max(get(n2, k)['seconds'], 1e-3) / max(get(n1, k)['seconds'], 1e-3)) / np.log(n2 / n1), 2)
                                           if get(n1, k) and get(n2, k) else np.nan for k in steps]
    return t


def scale_facts(results:dict) -> list:
    "Sentences from the facts of each size: training rates, streamed or in memory, the projected full-resolution cache build."
    ns = sorted(int(n) for n in results)
    f = lambda n: (results.get(n) or results[str(n)])['facts']
    lines = ['training images/s at 64 px: ' + ', '.join(f"{n:,} rows {f(n).get('train_images_per_s')}" for n in ns)]
    if any(f(n).get('train_224_images_per_s') for n in ns):
        lines.append('training images/s at 224 px: ' + ', '.join(f"{n:,} rows {f(n).get('train_224_images_per_s')} "
                     f"({'streamed from the cache' if f(n).get('train_224_streamed') else 'in memory'})" for n in ns))
    rated = [n for n in ns if f(n).get('fullres_images_per_s')]
    if rated:
        r = f(rated[-1])['fullres_images_per_s']
        lines.append(f"cache build from the 1024 px originals: {r} images/s at {rated[-1]:,} rows; "
                     f"{ns[-1]:,} images would take {ns[-1] / r / 60:.0f} min on this machine")
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--sizes', default='2000,20000,112120', help='row counts, comma-separated')
    ap.add_argument('--image-size', type=int, default=64)
    ap.add_argument('--batches', type=int, default=20, help='training batches timed per size')
    ap.add_argument('--bs', type=int, default=64)
    ap.add_argument('--n-boot', type=int, default=1000)
    ap.add_argument('--cv-boot', type=int, default=200, help="bootstrap resamples of the cv step's pooled predictions")
    ap.add_argument('--batches-224', type=int, default=5, help='training batches timed at 224 px')
    ap.add_argument('--fullres-rows', type=int, default=20000, help='largest size at which the cache is built from the 1024 px images')
    ap.add_argument('--work', default=str(ROOT/'runs'/'bench'/'scale'), help='folder for the generated data (git-ignored)')
    ap.add_argument('--save', default=str(ROOT/'benchmarks'/'results'/f"scale_{time.strftime('%Y-%m-%d')}.json"))
    a = ap.parse_args()
    import fastprogress.fastprogress as fpb; fpb.NO_BAR = True       # (fastai's epoch table only)
    meta = pd.read_csv(dataset_path('nih-cxr14-metadata')/'Data_Entry_2017_v2020.csv.gz')
    sample = sorted((dataset_path('nih-cxr14-sample')/'images').glob('*.png'))
    try: fullres = sorted(dataset_path('nih-cxr14-fullres').glob('*.png'))
    except Exception: fullres = []
    sizes = [int(s) for s in a.sizes.split(',')]
    results = {}
    for n in sizes:
        work = Path(a.work)/f'n{n}'
        t0 = time.time()
        made = make_folder(meta, n, work/'data', sample)
        print(f"N = {made['rows']:,} rows, {made['patients']:,} patients ({made['test_rows']:,} in the test list); "
              f"folder written in {time.time() - t0:.1f} s", flush=True)
        for d in ('cache', 'run', 'explain'): shutil.rmtree(work/d, ignore_errors=True)
        results[made['rows']] = rehearse(work/'data', work, a.image_size, a.batches, a.bs, a.n_boot, a.cv_boot, a.batches_224,
                                         fullres, a.fullres_rows)
        print(f"  facts: {results[made['rows']]['facts']}", flush=True)
        shutil.rmtree(work, ignore_errors=True)        # (the cache and the links: up to ~0.5 GB at full size)
    pd.set_option('display.width', 240)
    print(f"\nimage size {a.image_size} px, {a.batches} training batches of {a.bs}, {a.n_boot} bootstrap resamples; "
          f"peak RSS of the process, sampled")
    print(scale_table(results).to_string())
    for line in scale_facts(results): print(line)
    Path(a.save).parent.mkdir(parents=True, exist_ok=True)
    Path(a.save).write_text(json.dumps(dict(image_size=a.image_size, batches=a.batches, bs=a.bs, n_boot=a.n_boot,
                                            cv_boot=a.cv_boot, batches_224=a.batches_224, fullres_rows=a.fullres_rows,
                                            results={str(n): r for n, r in results.items()}, machine=machine(),
                                            versions=versions(), command=' '.join(sys.argv)), indent=1))
    print(f"saved {a.save}")


if __name__ == '__main__': main()
