/* cmd_generate.c — `moegen generate`: one prompt through the engine, one JSON
 * object out. The quickest way to try a model, and what outside checks use:
 * --prompt-ids are used exactly as given (no BOS added) and need no
 * tokenizer; --dump-logits writes the scores of the first generated position
 * as little-endian float32. */
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mg_cli.h"
#include "mg_engine.h"
#include "mg_model.h"
#include "mg_cli_model.h"
#if __has_include("mg_tokenizer.h")
#include "mg_tokenizer.h"
#define HAVE_TOKENIZER 1
#endif

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

static const char *usage =
    "--model PATH [--base-model B] (--prompt TEXT | --prompt-ids 1,2,3) "
    "[--strategy S] [--max-new-tokens N] [--greedy | --temperature T "
    "--seed S] [--top-p P] [--top-k K] [--dtype D] [--threads T] [--device DEV] "
    "[--dump-logits FILE]";

/* Errors in what the user gave us (files, values) exit 2; the rest exit 1. */
static int parse_ids(const char *s, int32_t **out, int *n)
{
    int cap = 16, k = 0;
    int32_t *ids = malloc(sizeof(int32_t) * cap);
    if (!ids) return -1;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 0 || v > INT32_MAX || (*end && *end != ',')) {
            free(ids);
            return -1;
        }
        if (k == cap) {
            int32_t *q = realloc(ids, sizeof(int32_t) * (cap *= 2));
            if (!q) {
                free(ids);
                return -1;
            }
            ids = q;
        }
        ids[k++] = (int32_t)v;
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p) {
            free(ids);
            return -1;
        }
    }
    if (!k) {
        free(ids);
        return -1;
    }
    *out = ids;
    *n = k;
    return 0;
}

static int write_logits(const char *path, const float *v, int n)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    /* Little-endian float32: the host order on every platform we build for. */
    size_t w = fwrite(v, sizeof(float), (size_t)n, f);
    if (fclose(f) != 0 || w != (size_t)n || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int run(int argc, char **argv)
{
    const char *wandb = NULL, *device = NULL;
    const char *model = NULL, *base = NULL, *prompt = NULL, *prompt_ids = NULL;
    const char *strategy = NULL, *dtype = NULL, *dump = NULL;
    long max_new = 768, seed = 0, top_k = 50, threads = 0, sample_index = 0;
    double temperature = 0, top_p = 1.0;
    bool greedy = false, have_temp = false;
    mg_opt opts[] = {
        {"model", MG_OPT_STRING, &model, "PATH",
         "model folder or Hub id ORG/NAME[@REV] (required unless --wandb-artifact)"},
        {"wandb-artifact", MG_OPT_STRING, &wandb, "E/P/N:V",
         "a W&B model artifact (its best_model/ when present) instead of --model"},
        {"base-model", MG_OPT_STRING, &base, "B",
         "base model folder or name (default: from the model)"},
        {"prompt", MG_OPT_STRING, &prompt, "TEXT",
         "prompt text, encoded with the model's tokenizer"},
        {"prompt-ids", MG_OPT_STRING, &prompt_ids, "IDS",
         "comma-separated token ids, used as given"},
        {"strategy", MG_OPT_STRING, &strategy, "S",
         "routing strategy (default: router; xlora for an X-LoRA model, base without experts)"},
        {"max-new-tokens", MG_OPT_INT, &max_new, "N", "tokens to generate at most (default 768)"},
        {"greedy", MG_OPT_FLAG, &greedy, NULL,
         "argmax decoding (the default without --temperature)"},
        {"temperature", MG_OPT_FLOAT, &temperature, "T",
         "sampling temperature (> 0 samples; default greedy)"},
        {"seed", MG_OPT_INT, &seed, "S", "sampling seed (default 0)"},
        {"sample-index", MG_OPT_INT, &sample_index, "I",
         "sample index: RNG key and round_robin expert (default 0)"},
        {"top-p", MG_OPT_FLOAT, &top_p, "P", "nucleus sampling mass (default 1.0 = off)"},
        {"top-k", MG_OPT_INT, &top_k, "K", "top-k sampling (default 50, 0 = off)"},
        {"dtype", MG_OPT_STRING, &dtype, "D", "float32|bfloat16|float16 (default: as stored)"},
        {"threads", MG_OPT_INT, &threads, "T", "CPU threads (default 0 = all cores)"},
        {"device", MG_OPT_STRING, &device, "DEV",
         "cpu, cuda or cuda:N (cuda needs moegen-cuda; default: cuda when moegen-cuda sees a "
         "GPU, else cpu)"},
        {"dump-logits", MG_OPT_STRING, &dump, "FILE", "write first-position logits (float32 LE)"},
        {NULL, 0, NULL, NULL, NULL}};
    int pr = mg_cli_parse("generate", usage, opts, argc, argv, NULL);
    if (pr == 1) return MG_EXIT_OK;
    if (pr < 0) return MG_EXIT_USAGE;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--temperature", 13)) have_temp = true;

    if (!model && !wandb) {
        mg_cli_error("generate", "--model or --wandb-artifact is required");
        return MG_EXIT_USAGE;
    }
    if (!!prompt == !!prompt_ids) {
        mg_cli_error("generate", "give exactly one of --prompt and --prompt-ids");
        return MG_EXIT_USAGE;
    }
    if (greedy && have_temp && temperature > 0) {
        mg_cli_error("generate", "--greedy and --temperature exclude each other");
        return MG_EXIT_USAGE;
    }
    if (have_temp && temperature < 0) {
        mg_cli_error("generate", "--temperature must be >= 0");
        return MG_EXIT_USAGE;
    }
    if (max_new < 1 || max_new > 1000000) {
        mg_cli_error("generate", "--max-new-tokens must be in 1..1000000");
        return MG_EXIT_USAGE;
    }
    if (!(top_p > 0 && top_p <= 1)) {
        mg_cli_error("generate", "--top-p must be in (0, 1]");
        return MG_EXIT_USAGE;
    }
    const mg_cli_range ranges[] = {{"top-k", top_k, 0, INT32_MAX},
                                   {"threads", threads, 0, 1024},
                                   {"sample-index", sample_index, 0, (long)UINT32_MAX}};
    if (mg_cli_check_ranges("generate", ranges, sizeof ranges / sizeof ranges[0]) < 0)
        return MG_EXIT_USAGE;
    mg_error err = {0};
    mg_strategy strat;
    if (mg_strategy_parse(strategy ? strategy : "router", &strat, &err) < 0) {
        mg_cli_error("generate", "--strategy: %s", err.msg);
        return MG_EXIT_USAGE;
    }
    mg_device_kind dev_kind;
    int dev_index, dev_rc = mg_cli_device("generate", device, &dev_kind, &dev_index, NULL);
    if (dev_rc != 0) return dev_rc;
    int32_t *ids = NULL;
    int n_ids = 0;
    if (prompt_ids && parse_ids(prompt_ids, &ids, &n_ids) < 0) {
        mg_cli_error("generate", "--prompt-ids: '%s' is not a comma-separated list of ids",
                     prompt_ids);
        return MG_EXIT_USAGE;
    }

    int rc = MG_EXIT_FAIL;
    mg_model *m = NULL;
    mg_engine *e = NULL;
    float *first = NULL;
    int32_t *out = NULL;
    json_t *res = NULL;
#ifdef HAVE_TOKENIZER
    mg_tokenizer *tok = NULL;
#endif
    int r;
    const mg_cli_model_args ma = {model, wandb, base, dtype};
    if ((rc = mg_cli_load_model("generate", &ma, &m)) != MG_EXIT_OK) goto done;
    rc = MG_EXIT_FAIL;
    if (!strategy && m->n_experts == 0) strat.kind = MG_STRATEGY_BASE;
    if (!strategy && m->xlora) strat.kind = MG_STRATEGY_XLORA; /* the model's own mixing */
    if ((r = mg_strategy_check(&strat, m, &err)) < 0) {
        mg_cli_error("generate", "--strategy: %s", err.msg);
        rc = MG_EXIT_USAGE;
        goto done;
    }
#ifdef HAVE_TOKENIZER
    if (m->tokenizer_path && (r = mg_tokenizer_load(m->tokenizer_path, &tok, &err)) < 0) {
        mg_cli_error("generate", "%s", err.msg);
        rc = mg_cli_exit_for(r);
        goto done;
    }
    if (prompt) {
        if (!tok) {
            mg_cli_error("generate", "--prompt: %s has no tokenizer.json (use --prompt-ids)",
                         model);
            rc = MG_EXIT_USAGE;
            goto done;
        }
        size_t n = 0;
        if ((r = mg_tokenizer_encode_prompt(tok, prompt, strlen(prompt), &ids, &n, &err)) < 0) {
            mg_cli_error("generate", "--prompt: %s", err.msg);
            rc = mg_cli_exit_for(r);
            goto done;
        }
        n_ids = (int)n;
    }
#else
    if (prompt) {
        mg_cli_error("generate", "--prompt: this build has no tokenizer (use --prompt-ids)");
        rc = MG_EXIT_USAGE;
        goto done;
    }
#endif
    mg_engine_params ep = mg_engine_default_params();
    ep.device = dev_kind;
    ep.device_index = dev_index;
    ep.n_threads = (int)threads;
    ep.max_batch = 1;
    if ((r = mg_engine_new(m, &ep, &e, &err)) < 0) {
        mg_cli_error("generate", "%s", err.msg);
        rc = mg_cli_exit_for(r);
        goto done;
    }
    first = malloc(sizeof(float) * m->config.vocab_size);
    out = malloc(sizeof(int32_t) * (size_t)max_new);
    if (!first || !out) {
        mg_cli_error("generate", "out of memory");
        goto done;
    }
    mg_request rq = {.id = 1,
                     .prompt_ids = ids,
                     .n_prompt = n_ids,
                     .max_new_tokens = (int)max_new,
                     .strategy = strat,
                     .task_key = 0,
                     .sample_index = (uint32_t)sample_index,
                     .first_logits = first};
    rq.sampling = (mg_sampling){.greedy = !(temperature > 0),
                                .temperature = (float)temperature,
                                .top_k = (int)top_k,
                                .top_p = (float)top_p,
                                .seed = (uint64_t)seed};
    if ((r = mg_engine_submit(e, &rq, &err)) < 0) {
        mg_cli_error("generate", "%s", err.msg);
        rc = mg_cli_exit_for(r);
        goto done;
    }
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    int n_out = 0, expert = -1;
    mg_finish fin = MG_FINISH_NONE;
    while (mg_engine_active(e) > 0 && !interrupted) {
        mg_token_event ev[4];
        int ne = 0;
        if ((r = mg_engine_step(e, ev, 4, &ne, &err)) < 0) break;
        for (int i = 0; i < ne; i++) {
            if (ev[i].token >= 0 && n_out < max_new) out[n_out++] = ev[i].token;
            if (ev[i].finish) {
                fin = ev[i].finish;
                expert = ev[i].expert;
            }
        }
    }
    sigaction(SIGINT, &old, NULL);
    if (interrupted) {
        rc = MG_EXIT_INTERRUPTED;
        goto done;
    }
    if (r < 0) {
        mg_cli_error("generate", "%s", err.msg);
        goto done;
    }
    if (dump && write_logits(dump, first, m->config.vocab_size) < 0) {
        mg_cli_error("generate", "--dump-logits: cannot write %s: %s", dump, strerror(errno));
        goto done;
    }
    res = json_object();
    json_t *ja = json_array(), *je = json_array();
    for (int i = 0; i < n_out; i++) json_array_append_new(ja, json_integer(out[i]));
    json_object_set_new(res, "ids", ja);
#ifdef HAVE_TOKENIZER
    if (tok) {
        char *text = NULL;
        size_t tl = 0;
        if ((r = mg_tokenizer_decode(tok, out, (size_t)n_out, true, &text, &tl, &err)) < 0) {
            mg_cli_error("generate", "decode: %s", err.msg);
            goto done;
        }
        json_object_set_new(res, "text", json_stringn(text, tl));
        free(text);
    }
#endif
    if (strat.kind == MG_STRATEGY_ENSEMBLE || strat.kind == MG_STRATEGY_MIX) {
        for (int i = 0; i < m->n_experts; i++) json_array_append_new(je, json_integer(i));
    } else if (expert >= 0) {
        json_array_append_new(je, json_integer(expert));
    }
    json_object_set_new(res, "experts", je);
    char sbuf[32];
    json_object_set_new(res, "strategy", json_string(mg_strategy_format(&strat, sbuf, 32)));
    json_object_set_new(res, "finish", json_string(fin == MG_FINISH_EOS ? "eos" : "length"));
    json_object_set_new(res, "n_prompt", json_integer(n_ids));
    char *s = json_dumps(res, JSON_COMPACT);
    if (!s) goto done;
    printf("%s\n", s);
    free(s);
    rc = MG_EXIT_OK;
done:
    json_decref(res);
#ifdef HAVE_TOKENIZER
    mg_tokenizer_free(tok);
#endif
    free(out);
    free(first);
    free(ids);
    mg_engine_free(e);
    mg_model_free(m);
    return rc;
}

const mg_command mg_cmd_generate = {"generate", "run one prompt through the engine, print JSON",
                                    run};
