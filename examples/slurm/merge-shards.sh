#!/usr/bin/env bash
# Joins the shard files of codegen-array.sbatch into one EvalPlus file per
# strategy (and its .raw.jsonl twin): byte-identical to an unsharded run.
#
#   N_SHARDS=4 examples/slurm/merge-shards.sh
#SBATCH --job-name=moegen-merge
#SBATCH --cpus-per-task=1
#SBATCH --time=00:10:00
set -euo pipefail

MOEGEN=${MOEGEN:-./build/release/moegen}
DATASET=${DATASET:-humaneval}
ROOT=${ROOT:-evalplus_results}
N_SHARDS=${N_SHARDS:?set N_SHARDS to the array size}
dir="$ROOT/$DATASET"

shopt -s nullglob
for first in "$dir"/*_shard-0-of-"$N_SHARDS".jsonl; do
  case "$first" in *.raw.jsonl) continue ;; esac
  stem=${first%_shard-0-of-"$N_SHARDS".jsonl}
  inputs=()
  for ((i = 0; i < N_SHARDS; i++)); do inputs+=("${stem}_shard-$i-of-$N_SHARDS.jsonl"); done
  "$MOEGEN" merge --output "$stem.jsonl" "${inputs[@]}"
done
