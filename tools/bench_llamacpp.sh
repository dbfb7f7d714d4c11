#!/usr/bin/env bash
# llama.cpp on the same model, batch, prompt length and generated tokens as
# `moegen bench` (issue #5; docs/perf/engine.md), f32 and bf16 GGUF:
#
#   LLAMA_CPP_DIR=/tmp/llama.cpp tools/bench_llamacpp.sh [options] MODEL.gguf...
#     --batches 1,16        sequences decoded together, one process each (default 1,16)
#     --prompt-tokens 64    prompt length P (default 64)
#     --gen-tokens 16       tokens generated per sequence G, as moegen bench (default 16)
#     --threads 2           threads for prefill and decode (default 2)
#     --reps 3              repetitions; the table shows the median (default 3)
#     --kv f32              KV cache type (default f32, as moegen and HF fp32)
#     --omp-wait POLICY     OMP_WAIT_POLICY for llama.cpp's OpenMP threads, active|passive
#                           (default: the environment's, normally unset = as llama.cpp ships)
#     --out DIR             keep the raw JSON lines and logs there (default: a temp dir)
#
# What is timed, and how it maps onto `moegen bench --batch B --prompt-tokens P
# --gen-tokens G` (prefill = until every sequence has its first token, decode
# = the G-1 further steps, B*(G-1) tokens):
#  - llama-batched-bench -npp P -ntg G-1 -npl B (one process per B): B
#    sequences, each its own P random prompt ids, prefilled in one llama_decode
#    (split into n_ubatch=512-token micro-batches), logits for each sequence's
#    last prompt token: S_PP = B*P / T_PP. Then G-1 steps, each one token for
#    each of the B sequences with logits for all: S_TG = B*(G-1) / T_TG. Input
#    ids are random (no sampling), so the work per step is moegen's, minus the
#    argmax. Its warm-up (16 tokens) is untimed. No repetitions of its own: the
#    script runs it --reps times.
#  - llama-bench (batch 1 only, llama.cpp's own numbers, -r reps, mean ± sd):
#    pp P at depth 0, and tg G-1 at depth P (the KV cache already holds a
#    P-token prompt, as in moegen's decode).
#  - peak RSS: /usr/bin/time's maximum resident set of each batched-bench
#    process (the weights are mmapped, so touched pages count). llama.cpp pads
#    each sequence's KV cache to 256 positions and clears it at creation, so
#    at batch 16 the RSS holds 16*256 KV positions (189 MiB in f32), where
#    moegen allocates P+G per sequence.
# Load: when more threads are runnable than there are cores, OpenMP's active
# wait (and ggml's spinning barriers) collapse llama.cpp's 2-thread speed: on
# 2 cores at load average 14, batch-1 decode gave 1.5 tok/s by default and
# 26.6 tok/s with OMP_WAIT_POLICY=passive (1 thread: 8.7). Quote numbers from
# a quiet machine; --omp-wait passive shows how much of a gap is the load.
# llama.cpp defaults otherwise: n_batch 2048, n_ubatch 512, flash attention
# "auto", threads busy-poll (--poll 50), its OpenMP thread pool.
#
# llama.cpp itself is not built by anything in this repository: the numbers
# in docs/perf/engine.md used ggml-org/llama.cpp@0c1e57098bba43ac29e6e3b677cdceebdd22334f
# (the sources vendored in the llama-cpp-python 0.3.36 sdist on PyPI), a
# CPU-only Release build with GGML_NATIVE, gcc 12.2, and GGUF files made from
# the fp32 HF folder (~/.cache/moegen/smollm2) by its convert_hf_to_gguf.py
# with --outtype f32 and bf16 (bf16 keeps the norms in f32, as the converter
# does for every model).
# Greedy check: build/bin/llama-simple -m MODEL.gguf -n 24 "def fibonacci(n):"
set -euo pipefail

die() { echo "bench_llamacpp.sh: $*" >&2; exit 2; }

batches=1,16 P=64 G=16 threads=2 reps=3 kv=f32 out=
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --batches) batches=${2:?}; shift 2 ;;
    --prompt-tokens) P=${2:?}; shift 2 ;;
    --gen-tokens) G=${2:?}; shift 2 ;;
    --threads) threads=${2:?}; shift 2 ;;
    --reps) reps=${2:?}; shift 2 ;;
    --kv) kv=${2:?}; shift 2 ;;
    --omp-wait) export OMP_WAIT_POLICY=${2:?}; shift 2 ;;
    --out) out=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) models+=("$1"); shift ;;
  esac
done
for v in "$P" "$G" "$threads" "$reps"; do
  [[ "$v" =~ ^[0-9]+$ ]] || die "numeric option expected, got '$v'"
done
[[ "$batches" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--batches takes a list such as 1,16, got '$batches'"
[ "$G" -ge 2 ] || die "--gen-tokens must be at least 2 (the first token comes from prefill)"
{ [ "$P" -ge 1 ] && [ "$reps" -ge 1 ] && [ "$threads" -ge 1 ]; } || die "--prompt-tokens, --reps, --threads must be >= 1"
[ ${#models[@]} -gt 0 ] || die "no GGUF model given (see --help)"
[ -n "${LLAMA_CPP_DIR:-}" ] || die "set LLAMA_CPP_DIR to a llama.cpp source tree built into build/ (see the header)"
bin=$LLAMA_CPP_DIR/build/bin
for b in llama-batched-bench llama-bench; do
  [ -x "$bin/$b" ] || die "$bin/$b not found: build it first (see the header)"
done
for m in "${models[@]}"; do [ -r "$m" ] || die "cannot read model $m"; done
[ -x /usr/bin/time ] || die "/usr/bin/time (Debian package 'time') is needed for peak RSS"
[ -n "$out" ] || out=$(mktemp -d /tmp/bench_llamacpp.XXXXXX)
mkdir -p "$out"
ntg=$((G - 1))
# llama-bench parses no f32 KV type: it then keeps its default, f16 (its
# table shows type_k); batched-bench takes f32.
bench_kv=(-ctk "$kv" -ctv "$kv")
[ "$kv" = f32 ] && bench_kv=()

commit=$(cat "$LLAMA_CPP_DIR/COMMIT" 2>/dev/null || echo unknown)
echo "# llama.cpp $commit ($bin), raw output in $out"
echo "# $(date -u '+%F %T UTC'), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# P=$P G=$G (decode steps $ntg) threads=$threads reps=$reps kv=$kv OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}"

for m in "${models[@]}"; do
  tag=$(basename "$m" .gguf)
  IFS=, read -ra bs <<<"$batches"
  for B in "${bs[@]}"; do
    # Exactly the KV positions the run needs (B sequences of P+G-1), as
    # moegen sizes its rows; batched-bench skips a size that does not fit,
    # which the parser below reports as an error.
    ctx=$((B * (P + ntg)))
    for r in $(seq "$reps"); do
      log=$out/$tag.b$B.r$r
      /usr/bin/time -f '%M' -o "$log.rss" "$bin/llama-batched-bench" -m "$m" -t "$threads" \
        -tb "$threads" -c "$ctx" -npp "$P" -ntg "$ntg" -npl "$B" -ctk "$kv" -ctv "$kv" \
        --output-format jsonl >"$log.jsonl" 2>"$log.err" ||
        die "llama-batched-bench failed on $m, batch $B (see $log.err)"
    done
  done
  if [[ ",$batches," == *,1,* ]]; then
    "$bin/llama-bench" -m "$m" -t "$threads" -r "$reps" "${bench_kv[@]}" \
      -p "$P" -n 0 -o jsonl >"$out/$tag.bench-pp.jsonl" 2>"$out/$tag.bench-pp.err" ||
      die "llama-bench (pp) failed on $m (see $out/$tag.bench-pp.err)"
    "$bin/llama-bench" -m "$m" -t "$threads" -r "$reps" "${bench_kv[@]}" \
      -p 0 -n "$ntg" -d "$P" -o jsonl >"$out/$tag.bench-tg.jsonl" 2>"$out/$tag.bench-tg.err" ||
      die "llama-bench (tg) failed on $m (see $out/$tag.bench-tg.err)"
  fi
done
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$out" "$batches" "$reps" "${models[@]}" <<'EOF'
import json, os, statistics, sys

out, batches, reps, models = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3]), sys.argv[4:]


FA = {-1: "auto", 0: "off", 1: "on"}


def jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.lstrip().startswith("{")]


print("\n| system | batch | prefill tok/s | decode tok/s | peak RSS |")
print("|---|---|---|---|---|")
bench_rows = []
for m in models:
    tag = os.path.basename(m)[: -len(".gguf")] if m.endswith(".gguf") else os.path.basename(m)
    for b in batches:
        pp, tg, rss = [], [], []
        for r in range(1, reps + 1):
            base = f"{out}/{tag}.b{b}.r{r}"
            rows = [x for x in jsonl(base + ".jsonl") if x.get("pl") == int(b)]
            if not rows:
                sys.exit(f"bench_llamacpp.sh: no result for {tag} batch {b} "
                         f"(context too small, or see {base}.err)")
            pp.append(rows[0]["speed_pp"])
            tg.append(rows[0]["speed_tg"])
            with open(base + ".rss") as f:
                rss.append(int(f.read().split()[-1]) / 1024)
        spread = lambda v: f" ({min(v):.1f}–{max(v):.1f})" if len(v) > 1 else ""
        print(f"| llama.cpp batched-bench, {tag} | {b} | {statistics.median(pp):.1f}{spread(pp)} "
              f"| {statistics.median(tg):.1f}{spread(tg)} | {max(rss):.0f} MiB |")
    for kind in ("pp", "tg"):
        p = f"{out}/{tag}.bench-{kind}.jsonl"
        if os.path.exists(p):
            for x in jsonl(p):
                bench_rows.append((tag, x))
if bench_rows:
    print("\nllama-bench (batch 1; mean ± sd over the repetitions):\n")
    print("| model | test | tok/s | type_k | flash_attn | n_ubatch | build |")
    print("|---|---|---|---|---|---|---|")
    for tag, x in bench_rows:
        test = f"pp{x['n_prompt']}" if x["n_prompt"] else f"tg{x['n_gen']}"
        if x.get("n_depth"):
            test += f" @ d{x['n_depth']}"
        print(f"| {tag} | {test} | {x['avg_ts']:.1f} ± {x['stddev_ts']:.1f} | {x.get('type_k')} "
              f"| {FA.get(x.get('flash_attn'), x.get('flash_attn'))} "
              f"| {x.get('n_ubatch')} | {x.get('build_commit')} |")
EOF
