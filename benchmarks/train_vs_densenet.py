"""What a new user runs first, against DenseNet-121 on the same patients (issue 13).

    .venv/bin/python benchmarks/train_vs_densenet.py [--dataset nih-cxr14-sample] [--out benchmarks/results/train_vs_densenet.json]

Runs the command line twice, as a user would, on the same patient split (`train`'s default seed and fractions):
    medfusionnet train --dataset D --out runs/bench/train-default            (no other flag)
    medfusionnet train --dataset D --variant densenet121 --out runs/bench/train-densenet121
Same epochs, learning rate, batch size and image size (the defaults). Prints and stores both models' test-patient
macro AUROC with 95% CIs (from each run's metrics.json), the paired difference with a 95% CI from resampling test
patients (1,000 resamples, both models on the same resample), and each run's seconds. The JSON holds no patient ids.
"""
import argparse, json, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(cmd, out):
    "Run `medfusionnet <cmd>` into `out` (reused when finished before); returns its metrics.json and the seconds it took."
    if (out/'metrics.json').exists(): return json.loads((out/'metrics.json').read_text()), None
    t = time.time()
    subprocess.run([sys.executable, '-m', 'medfusionnet.cli', *cmd, '--out', str(out)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return json.loads((out/'metrics.json').read_text()), time.time() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--dataset', default='nih-cxr14-sample')
    ap.add_argument('--runs', default='runs/bench', help='folder for the two run folders (reused when finished)')
    ap.add_argument('--out', default='benchmarks/results/train_vs_densenet.json')
    a = ap.parse_args()
    from medfusionnet.datasets import load_dataset
    from medfusionnet.evaluate import paired_macro_difference
    runs = ROOT/a.runs
    ours, t_ours = run(['train', '--dataset', a.dataset], runs/f'train-default-{a.dataset}')
    dn, t_dn = run(['train', '--dataset', a.dataset, '--variant', 'densenet121'], runs/f'train-densenet121-{a.dataset}')
    df, sc = load_dataset(a.dataset)
    P = {k: pd.read_csv(runs/f'train-{k}-{a.dataset}'/'predictions_test.csv') for k in ('default', 'densenet121')}
    assert P['default'][sc.id_col].astype(str).tolist() == P['densenet121'][sc.id_col].astype(str).tolist(), "the two runs' test patients differ"
    rows = df.set_index(df[sc.id_col].astype(str)).loc[P['default'][sc.id_col].astype(str)]
    Y, g = sc.labels(rows), rows[sc.group_col].to_numpy()
    prob = lambda k: P[k][[f'prob_{l}' for l in sc.label_cols]].to_numpy()
    diff, boots = paired_macro_difference(Y, prob('default'), prob('densenet121'), g, n_boot=1000)
    ci = np.nanpercentile(boots, [2.5, 97.5])
    fmt = lambda m: f"{m['macro']['auroc']:.3f} [{m['macro']['auroc_lo']:.3f}-{m['macro']['auroc_hi']:.3f}]"
    combine = ours['model'].get('combine')
    print(f"{a.dataset}, test patients: {ours['protocol']['test']['patients']} ({ours['protocol']['test']['rows']} rows)")
    print(f"  medfusionnet train (defaults: {ours['model']['model']}, combine={combine}): macro AUROC {fmt(ours['test']['metrics'])}")
    print(f"  densenet121, same split and budget:          macro AUROC {fmt(dn['test']['metrics'])}")
    print(f"  difference (ours - densenet121): {diff:+.3f}, 95% CI [{ci[0]:+.3f}, {ci[1]:+.3f}] (paired patient bootstrap)")
    per_label = {l: dict(ours=ours['test']['metrics'][l]['auroc'], densenet121=dn['test']['metrics'][l]['auroc']) for l in sc.label_cols}
    rec = dict(dataset=a.dataset, commands=[f"medfusionnet train --dataset {a.dataset}", f"medfusionnet train --dataset {a.dataset} --variant densenet121"],
               protocol=ours['protocol'], ours=dict(model=ours['model']['model'], combine=combine, macro=ours['test']['metrics']['macro'], seconds=t_ours),
               densenet121=dict(macro=dn['test']['metrics']['macro'], seconds=t_dn),
               difference=dict(macro_auroc=diff, ci=list(ci), method='paired bootstrap over test patients, 1000 resamples'),
               per_label_auroc=per_label, versions=ours.get('versions'))
    Path(ROOT/a.out).write_text(json.dumps(rec, indent=1, default=float))
    print(f"-> {a.out}")


if __name__ == '__main__': main()
