#!/usr/bin/env bash
# The cross-validation runs behind the results page and the README, each one `medfusionnet cv` command.
# Each run's metrics.json, folds.csv and per-model extras (late weights, gated fusion's weights, the stack's weights) are
# copied to benchmarks/results/cv/<name>/ (aggregate metrics only: no per-patient rows). Runs go to runs/bench/<name>
# (git-ignored) and resume from their checkpoints when rerun (delete runs/bench/<name> to start afresh).
# Every stored run is made by one command below and shown on the results page (nbs/10_results.ipynb); runs of options
# that no longer exist are in the git history of benchmarks/results/cv/, not in the tree. (cv/cxr-sample-hidden30 is made by
# benchmarks/hidden_labels.py: two cv commands, the NIH sample with 30% of its label cells blanked and in full.)
#   bash benchmarks/run_cv_benchmarks.sh [name ...]     # default: every run below
set -euo pipefail
cd "$(dirname "$0")/.."
MFN=${MFN:-.venv/bin/medfusionnet}
declare -A RUNS=(
  # the default (the cross-fitted stack) against its single-modality parts, their blend and the baselines, same folds
  [cervical-auto]="--dataset cervical --models medfusionnet,lr,gb,rf --folds 5 --repeats 3"
  [cxr-sample-auto]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,mfn-tabular,lr,late-mfn --folds 5"
  [ham-auto]="--dataset ham10000-half --models medfusionnet,mfn-image,mfn-tabular,lr,late-mfn --folds 5"
  [iu-auto]="--dataset iu-xray-reports --models medfusionnet,tfidf --folds 5"
  # label-permutation controls: every model must score about 0.5
  [cervical-auto-permuted]="--dataset cervical --models medfusionnet,lr --folds 5 --repeats 3 --permute-labels"
  [cxr-sample-auto-permuted]="--dataset nih-cxr14-sample --models medfusionnet,lr --folds 5 --permute-labels"
  [ham-auto-permuted]="--dataset ham10000-half --models medfusionnet,lr --folds 5 --permute-labels"
  # baselines and pretrained variants on the NIH folds above
  [cxr-sample]="--dataset nih-cxr14-sample --models densenet121,late,lr,gb,mfn-attention,mfn-concat,mfn-nofpn,mfn-noqueries --folds 5"
  [iu-late]="--dataset iu-xray-reports --models tfidf,lr,late --folds 5"
  [iu-late-permuted]="--dataset iu-xray-reports --models late --folds 5 --permute-labels"
)
ORDER=(cervical-auto cxr-sample-auto ham-auto iu-auto cervical-auto-permuted cxr-sample-auto-permuted ham-auto-permuted
       cxr-sample iu-late iu-late-permuted)
names=("${@:-${ORDER[@]}}")
for n in "${names[@]}"; do
  [[ -n "${RUNS[$n]:-}" ]] || { echo "unknown run $n (choose from ${ORDER[*]})" >&2; exit 2; }
  out=runs/bench/$n; mkdir -p runs/bench
  echo "== $n: medfusionnet cv ${RUNS[$n]}"
  /usr/bin/time -f "%e s wall" $MFN cv ${RUNS[$n]} --out "$out" > "runs/bench/$n.log" 2>&1 || { tail -20 "runs/bench/$n.log"; exit 1; }
  tail -1 "runs/bench/$n.log"
  mkdir -p benchmarks/results/cv/$n
  cp "$out/metrics.json" "$out/folds.csv" benchmarks/results/cv/$n/
  for extra in "$out"/late_weights.csv "$out"/late-mfn_weights.csv "$out"/fusion_weights.csv "$out"/stack_weights_*.csv; do
    [[ -f "$extra" ]] && cp "$extra" benchmarks/results/cv/$n/ || true
  done
done
