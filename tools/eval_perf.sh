#!/usr/bin/env bash
# Times `moegen evaluate` against EvalPlus's `evalplus.evaluate` on the same
# samples with the same --parallel, alternating the two so that a change in
# machine load hits both (docs/perf/evaluate.md). Ground truth must already be
# cached for both (run each once first). Needs `pip install evalplus`.
#   tools/eval_perf.sh MOEGEN DATASET_JSONL SAMPLES.jsonl PARALLEL ROUNDS
set -euo pipefail
moegen=$1 data=$2 samples=$3 par=${4:-2} rounds=${5:-2}
ds=humaneval
case "$(basename "$data")" in Mbpp*|mbpp*) ds=mbpp ;; esac
ovr=HUMANEVAL_OVERRIDE_PATH
[ "$ds" = mbpp ] && ovr=MBPP_OVERRIDE_PATH
for r in $(seq "$rounds"); do
  rm -f "${samples%.jsonl}_eval_results.json" "${samples%.jsonl}.eval_results.json"
  t0=$(date +%s.%N)
  env "$ovr=$data" python3 -m evalplus.evaluate --dataset "$ds" --samples "$samples" \
    --parallel "$par" --min-time-limit 4 >/dev/null 2>&1
  t1=$(date +%s.%N)
  "$moegen" evaluate --dataset "$ds" --dataset-path "$data" --samples "$samples" \
    --parallel "$par" --quiet >/dev/null
  t2=$(date +%s.%N)
  printf 'round %d: evalplus %.1f s, moegen %.1f s, load %s\n' "$r" \
    "$(echo "$t1 - $t0" | bc)" "$(echo "$t2 - $t1" | bc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
done
