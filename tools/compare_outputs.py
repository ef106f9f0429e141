"""Prove a refactor preserved behaviour: compare two output folders of the same commands, run before and after.

    python tools/compare_outputs.py BEFORE AFTER

Every `metrics.json` is compared key by key (timings, machine, versions and the command aside; NaN equals NaN), and
every CSV byte for byte (a training log's `time` column aside: fastai's epoch durations). Prints one line with the counts, then one line per difference; exits 1 when any is found.
"""
from __future__ import annotations
import filecmp, json, math, sys
from pathlib import Path

SKIP = {'seconds', 'total', 'machine', 'versions', 'time', 'command'}   # (the command differs in its --out)


def _walk(a, b, path:str, out:list):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k in SKIP: continue
            if k not in a or k not in b: out.append(f"{path}/{k}: only in {'after' if k not in a else 'before'}")
            else: _walk(a[k], b[k], f"{path}/{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)): _walk(x, y, f"{path}[{i}]", out)
    elif a != b and not (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        out.append(f"{path}: {str(a)[:80]!r} != {str(b)[:80]!r}")


def _untimed(fn:Path) -> list:
    "A CSV's lines without its `time` column (fastai's epoch durations in history.csv), or as they are when it has none."
    lines = fn.read_text().splitlines()
    head = lines[0].split(',') if lines else []
    if 'time' not in head: return lines
    k = head.index('time')
    return [','.join(c for i, c in enumerate(l.split(',')) if i != k) for l in lines]


def compare(before, after) -> tuple:
    "`(n_json, n_csv, differences)` between two output folders."
    A, B = Path(before), Path(after)
    n_json = n_csv = 0; diffs = []
    for f in sorted(A.rglob('*')):
        g = B/f.relative_to(A)
        if f.name == 'metrics.json':
            n_json += 1
            if not g.exists(): diffs.append(f"missing after: {g.relative_to(B)}")
            else: _walk(json.loads(f.read_text()), json.loads(g.read_text()), str(f.relative_to(A)), diffs)
        elif f.suffix == '.csv':
            n_csv += 1
            if not g.exists(): diffs.append(f"missing after: {g.relative_to(B)}")
            elif not filecmp.cmp(f, g, shallow=False) and _untimed(f) != _untimed(g): diffs.append(f"CSV differs: {f.relative_to(A)}")
    diffs += [f"only after: {g.relative_to(B)}" for g in sorted(B.rglob('*'))
              if (g.suffix == '.csv' or g.name == 'metrics.json') and not (A/g.relative_to(B)).exists()]
    return n_json, n_csv, diffs


if __name__ == '__main__':
    if len(sys.argv) != 3: sys.exit(__doc__)
    n_json, n_csv, diffs = compare(*sys.argv[1:])
    print(f"{n_json} metrics.json compared key by key, {n_csv} CSV files byte for byte: {len(diffs)} difference(s)")
    for d in diffs: print('  ', d)
    sys.exit(1 if diffs else 0)
