/* cmd_bench.c — `moegen bench`: prefill and decode throughput of the engine
 * on synthetic prompts, plus peak resident memory (VmHWM).
 *
 * B requests of P pseudo-random prompt tokens are submitted together; the
 * prefill phase lasts until every request has its first token, the decode
 * phase until each has G tokens (eos ignored, so every run does the same
 * work). Speed is measured here, never in tests. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mg_cli.h"
#include "mg_engine.h"
#include "mg_kernels.h"
#include "mg_model.h"
#include "mg_cli_model.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Peak resident set size in MiB from /proc/self/status (-1 when unknown). */
static double vm_hwm_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = atof(line + 6);
    fclose(f);
    return kb < 0 ? -1 : kb / 1024.0;
}

/* The machine's limits with `threads` threads, the same measurements as
 * bench-kernels': read bandwidth (mg_k_membw, best of 20 sweeps over 256 MiB)
 * and the fp32 FMA peak (mg_k_peak_gflops); -1 when unknown. */
static void machine_limits(int threads, double *read_gbs, double *peak_gflops)
{
    mg_kpool *pool = NULL;
    mg_k_membw_result r;
    *read_gbs = *peak_gflops = -1;
    if (mg_kpool_new(threads, &pool, NULL) < 0) return;
    if (mg_k_membw(pool, (size_t)256 << 20, 20, &r, NULL) == 0) *read_gbs = r.read_gbs;
    *peak_gflops = mg_k_peak_gflops(pool);
    mg_kpool_free(pool);
}

/* Bytes of weights one decode step reads, and the matmul FLOPs per token
 * (2 per weight of the projections and lm_head; attention and the
 * elementwise ops are left out, so the compute bound is an upper bound):
 * every layer's projections and norms, the final norm and lm_head
 * (embedding rows are negligible). */
static double weight_bytes(const mg_model *m, double *flops_per_token)
{
    double b = 0, f = 0;
    for (int l = 0; l < m->config.n_layers; l++) {
        const mg_layer_weights *lw = &m->layers[l];
        for (int p = 0; p < MG_PROJ_COUNT; p++) {
            b += (double)mg_tensor_numel(&lw->proj[p]) * mg_dtype_size(lw->proj[p].dtype);
            f += 2.0 * (double)mg_tensor_numel(&lw->proj[p]);
        }
        b += (double)mg_tensor_numel(&lw->attn_norm) * mg_dtype_size(lw->attn_norm.dtype) * 2;
    }
    b += (double)mg_tensor_numel(&m->lm_head) * mg_dtype_size(m->lm_head.dtype);
    f += 2.0 * (double)mg_tensor_numel(&m->lm_head);
    *flops_per_token = f;
    return b;
}

static const char *usage =
    "--model PATH [--base-model B] [--strategy S] [--batch B] "
    "[--prompt-tokens P] [--gen-tokens G] [--prefill-chunk N] [--threads T] [--device DEV] "
    "[--dtype D] "
    "[--merge] [--bandwidth] [--json]";

static int run(int argc, char **argv)
{
    const char *wandb = NULL, *device = NULL;
    const char *model = NULL, *base = NULL, *strategy = NULL, *dtype = NULL;
    long batch = 1, prompt_tokens = 128, gen_tokens = 64, threads = 0, prefill_chunk = 0;
    bool json = false, merge = false, bandwidth = false;
    mg_opt opts[] = {
        {"model", MG_OPT_STRING, &model, "PATH",
         "model folder or Hub id ORG/NAME[@REV] (required unless --wandb-artifact)"},
        {"wandb-artifact", MG_OPT_STRING, &wandb, "E/P/N:V",
         "a W&B model artifact (its best_model/ when present) instead of --model"},
        {"base-model", MG_OPT_STRING, &base, "B", "base model (default: from the model)"},
        {"strategy", MG_OPT_STRING, &strategy, "S",
         "routing strategy (default: router, or base for a model without experts)"},
        {"batch", MG_OPT_INT, &batch, "B", "sequences decoded together (default 1)"},
        {"prompt-tokens", MG_OPT_INT, &prompt_tokens, "P", "prompt length (default 128)"},
        {"gen-tokens", MG_OPT_INT, &gen_tokens, "G", "tokens generated per sequence (default 64)"},
        {"prefill-chunk", MG_OPT_INT, &prefill_chunk, "N",
         "prompt tokens per engine step, shared by the batch (default 0 = B*P up to 2048: the "
         "whole batch prefills together, as transformers does)"},
        {"threads", MG_OPT_INT, &threads, "T", "CPU threads (default 0 = all cores)"},
        {"device", MG_OPT_STRING, &device, "DEV",
         "cpu, cuda or cuda:N (cuda needs moegen-cuda; default: cuda when moegen-cuda sees a "
         "GPU, else cpu)"},
        {"dtype", MG_OPT_STRING, &dtype, "D", "float32|bfloat16|float16 (default: as stored)"},
        {"merge", MG_OPT_FLAG, &merge, NULL, "merge the expert of single:N into the base weights"},
        {"bandwidth", MG_OPT_FLAG, &bandwidth, NULL,
         "also measure read bandwidth (512 MiB) and the batch-1 decode bound"},
        {"json", MG_OPT_FLAG, &json, NULL, "print one JSON object"},
        {NULL, 0, NULL, NULL, NULL}};
    int pr = mg_cli_parse("bench", usage, opts, argc, argv, NULL);
    if (pr == 1) return MG_EXIT_OK;
    if (pr < 0) return MG_EXIT_USAGE;
    if (!model && !wandb) {
        mg_cli_error("bench", "--model or --wandb-artifact is required");
        return MG_EXIT_USAGE;
    }
    const mg_cli_range ranges[] = {{"batch", batch, 1, 1024},
                                   {"prompt-tokens", prompt_tokens, 1, 100000},
                                   {"gen-tokens", gen_tokens, 2, 100000},
                                   {"prefill-chunk", prefill_chunk, 0, 65536},
                                   {"threads", threads, 0, 1024}};
    if (mg_cli_check_ranges("bench", ranges, sizeof ranges / sizeof ranges[0]) < 0)
        return MG_EXIT_USAGE;
    mg_error err = {0};
    mg_strategy strat;
    if (mg_strategy_parse(strategy ? strategy : "router", &strat, &err) < 0) {
        mg_cli_error("bench", "--strategy: %s", err.msg);
        return MG_EXIT_USAGE;
    }
    mg_device_kind dev_kind;
    int dev_index, dev_rc = mg_cli_device("bench", device, &dev_kind, &dev_index, NULL);
    if (dev_rc != 0) return dev_rc;
    if (merge && strat.kind != MG_STRATEGY_SINGLE) {
        mg_cli_error("bench", "--merge needs --strategy single:N");
        return MG_EXIT_USAGE;
    }
    int rc = MG_EXIT_FAIL, r;
    mg_model *m = NULL;
    mg_engine *e = NULL;
    int32_t *ids = NULL;
    double t_load = now_s();
    const mg_cli_model_args ma = {model, wandb, base, dtype};
    if ((rc = mg_cli_load_model("bench", &ma, &m)) != MG_EXIT_OK) return rc;
    rc = MG_EXIT_FAIL;
    t_load = now_s() - t_load;
    if (!strategy && m->n_experts == 0) strat.kind = MG_STRATEGY_BASE;
    if (mg_strategy_check(&strat, m, &err) < 0) {
        mg_cli_error("bench", "--strategy: %s", err.msg);
        rc = MG_EXIT_USAGE;
        goto done;
    }
    mg_engine_params ep = mg_engine_default_params();
    ep.device = dev_kind;
    ep.device_index = dev_index;
    ep.n_threads = (int)threads;
    ep.max_batch = (int)batch;
    if (prefill_chunk == 0)
        prefill_chunk = batch * prompt_tokens < 2048 ? batch * prompt_tokens : 2048;
    ep.prefill_chunk = (int)prefill_chunk;
    ep.merge_single = merge;
    ep.merge_expert = strat.expert;
    if ((r = mg_engine_new(m, &ep, &e, &err)) < 0) {
        mg_cli_error("bench", "%s", err.msg);
        goto done;
    }
    int V = m->config.vocab_size;
    ids = malloc(sizeof(int32_t) * (size_t)prompt_tokens * batch);
    if (!ids) goto done;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (long i = 0; i < prompt_tokens * batch; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ids[i] = (int32_t)(x % (uint64_t)V);
    }
    /* Warm-up, untimed: one short request of its own touches every weight
     * page (mmapped files fault in on first use) and starts the threads, so
     * the timed phases measure the engine, not the page cache. */
    {
        int32_t wu[16];
        int nw = prompt_tokens < 16 ? (int)prompt_tokens : 16;
        for (int i = 0; i < nw; i++) wu[i] = (int32_t)((7919u * (unsigned)(i + 1)) % (unsigned)V);
        mg_request rq = {.id = (uint64_t)batch + 1,
                         .prompt_ids = wu,
                         .n_prompt = nw,
                         .max_new_tokens = 2,
                         .strategy = strat,
                         .sampling = {.greedy = true},
                         .ignore_eos = true};
        mg_token_event wev[4];
        int ne = 0;
        if ((r = mg_engine_submit(e, &rq, &err)) < 0) {
            mg_cli_error("bench", "%s", err.msg);
            goto done;
        }
        while (mg_engine_active(e) > 0)
            if ((r = mg_engine_step(e, wev, 4, &ne, &err)) < 0) {
                mg_cli_error("bench", "%s", err.msg);
                goto done;
            }
    }
    for (long b = 0; b < batch; b++) {
        if (m->config.bos_token_id >= 0) ids[b * prompt_tokens] = m->config.bos_token_id;
        mg_request rq = {.id = (uint64_t)b + 1,
                         .prompt_ids = ids + b * prompt_tokens,
                         .n_prompt = (int)prompt_tokens,
                         .max_new_tokens = (int)gen_tokens,
                         .strategy = strat,
                         .sampling = {.greedy = true},
                         .sample_index = (uint32_t)b,
                         .ignore_eos = true};
        if ((r = mg_engine_submit(e, &rq, &err)) < 0) {
            mg_cli_error("bench", "%s", err.msg);
            goto done;
        }
    }
    /* Prefill: until every sequence has its first token. */
    long firsts = 0, decoded = 0;
    double t0 = now_s(), t_prefill = 0;
    mg_token_event *ev = malloc(sizeof(*ev) * (size_t)batch * 2);
    if (!ev) goto done;
    while (mg_engine_active(e) > 0) {
        int ne = 0;
        if ((r = mg_engine_step(e, ev, (int)batch * 2, &ne, &err)) < 0) {
            mg_cli_error("bench", "%s", err.msg);
            free(ev);
            goto done;
        }
        for (int i = 0; i < ne; i++) {
            if (ev[i].token < 0) continue;
            if (ev[i].n_generated == 1)
                firsts++;
            else
                decoded++;
        }
        if (firsts == batch && t_prefill == 0) {
            t_prefill = now_s() - t0;
            t0 = now_s();
        }
    }
    double t_decode = now_s() - t0;
    free(ev);
    double pre_tps = (double)batch * prompt_tokens / t_prefill;
    double dec_tps = decoded / t_decode;
    double hwm = vm_hwm_mib();
    double flops_tok, wbytes = weight_bytes(m, &flops_tok);
    double bw = -1, peak = -1;
    if (bandwidth) machine_limits((int)threads, &bw, &peak);
    double bound = bw > 0 ? bw * 1e9 / wbytes * batch : -1;
    double cbound = peak > 0 ? peak * 1e9 / flops_tok : -1;
    char sbuf[32], dbuf[32];
    mg_strategy_format(&strat, sbuf, sizeof sbuf);
    if (dev_kind == MG_DEVICE_CUDA)
        snprintf(dbuf, sizeof dbuf, "cuda:%d", dev_index);
    else
        snprintf(dbuf, sizeof dbuf, "cpu");
    if (json) {
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "model",
                      model, "strategy", sbuf, "device", dbuf, "batch", (int)batch, "prompt_tokens",
                      (int)prompt_tokens, "gen_tokens", (int)gen_tokens, "prefill_chunk",
                      (int)prefill_chunk, "threads", (int)threads, "load_s", t_load, "prefill_s",
                      t_prefill, "prefill_tok_s", pre_tps, "decode_s", t_decode, "decode_tok_s",
                      dec_tps, "peak_rss_mib", hwm, "weight_mib_per_step", wbytes / 1048576.0);
        if (o && bw > 0) {
            json_object_set_new(o, "read_gbs", json_real(bw));
            json_object_set_new(o, "decode_bound_tok_s", json_real(bound));
        }
        if (o && peak > 0) {
            json_object_set_new(o, "peak_gflops", json_real(peak));
            json_object_set_new(o, "compute_bound_tok_s", json_real(cbound));
        }
        char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (s) printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("model %s  strategy %s  device %s  batch %ld  prompt %ld  gen %ld\n", model, sbuf,
               dbuf, batch, prompt_tokens, gen_tokens);
        printf("load     %8.2f s\n", t_load);
        printf("prefill  %8.1f tok/s  (%.3f s)\n", pre_tps, t_prefill);
        printf("decode   %8.1f tok/s  (%.3f s, %ld tokens)\n", dec_tps, t_decode, decoded);
        printf("peak rss %8.1f MiB (VmHWM)\n", hwm);
        printf("weights  %8.1f MiB read per decode step\n", wbytes / 1048576.0);
        if (bw > 0)
            printf("read bw  %8.2f GB/s -> decode bound %.1f tok/s at this batch\n", bw, bound);
        if (peak > 0)
            printf("fp32 peak %7.1f GFLOP/s -> compute bound %.1f tok/s (%.0f MFLOP per token)\n",
                   peak, cbound, flops_tok / 1e6);
    }
    rc = MG_EXIT_OK;
done:
    free(ids);
    mg_engine_free(e);
    mg_model_free(m);
    return rc;
}

const mg_command mg_cmd_bench = {"bench", "prefill/decode tokens per second and peak memory", run};
