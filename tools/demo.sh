#!/usr/bin/env bash
# The README's first command: installs the Debian dependencies, builds moegen
# (Release) and runs the main job — a routing-strategy sweep over the embedded
# default, a tiny DyLoRA-MoE model (examples/tiny-dylora, random weights) on
# eight tasks written for the project (examples/tasks.jsonl) — offline, then
# scores every strategy in the sandbox (--evaluate).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target moegen
out=${MOEGEN_DEMO_ROOT:-evalplus_results}
./build/release/moegen codegen --model examples/tiny-dylora \
  --dataset custom --dataset-path examples/tasks.jsonl \
  --strategies router,single:0,single:1,best,ensemble,round_robin \
  --n-samples 2 --temperature 0.8 --seed 1 --workers 2 --max-new-tokens 96 \
  --root "$out" --evaluate "$@"
echo "samples, results and a pass@1 chart under $out/custom/ (random weights: expect 0)" >&2
