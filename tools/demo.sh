#!/usr/bin/env bash
# The README's first command: installs the Debian dependencies, builds moegen
# (Release) and runs the main job — a routing-strategy sweep over the embedded
# default, a tiny DyLoRA-MoE model (examples/tiny-dylora, random weights) on
# eight tasks written for the project (examples/tasks.jsonl) — offline.
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
  --root "$out" "$@"
echo "samples written under $out/custom/ (one .jsonl and .raw.jsonl per strategy)" >&2
# Score one strategy, sandboxed, with each task's own tests (random weights:
# expect pass@1 = 0; a real model is the point of the real commands).
./build/release/moegen evaluate --dataset custom --dataset-path examples/tasks.jsonl \
  --samples "$out/custom/examples--tiny-dylora--router_hf_temp_0.8.jsonl" --i-just-wanna-run
