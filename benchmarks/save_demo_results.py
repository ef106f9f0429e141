"""Keep the aggregate part of `make demo`'s metrics.json for the results page.

    .venv/bin/python benchmarks/save_demo_results.py [runs/demo]

Writes benchmarks/results/demo/metrics.json: settings, timings, metrics with CIs, calibration and risk-level tables.
Per-patient content (the ids of the explained patients) is dropped: nothing that identifies a row is committed.
"""
import json, sys
from pathlib import Path

src = Path(sys.argv[1] if len(sys.argv) > 1 else 'runs/demo')/'metrics.json'
if not src.exists(): sys.exit(f"{src} not found: run `make demo` first")
m = json.loads(src.read_text())
for d in m['datasets'].values(): d.pop('explained', None)
dst = Path(__file__).parent/'results'/'demo'/'metrics.json'
dst.parent.mkdir(parents=True, exist_ok=True)
dst.write_text(json.dumps(m, indent=1))
print(f"{src} -> {dst}")
