/* cmd_codegen.c — `moegen codegen`: EvalPlus code generation with worker
 * processes (flags as evalplus.codegen spells them, plus strategies,
 * workers, shards and seeds). The work is in coordinator/ (mg_coordinator.h). */
#include "mg_cli.h"
#include "mg_cli_model.h"
#include "mg_coordinator.h"
#include "mg_dataset.h"
#include "mg_evaluate.h"
#include "mg_dataset.h"
#include "mg_model.h"
#include "mg_sources.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE                                                                                      \
    "(--model M | --wandb-artifact E/P/N:V) --dataset humaneval|mbpp|custom [options]\n"           \
    "Generates EvalPlus samples: <root>/<dataset>/<id>.jsonl (sanitized) and .raw.jsonl per\n"     \
    "strategy, resuming from what is already there."

/* "I/N" -> index, count */
static int parse_shard(const char *s, int *i, int *n)
{
    char *end;
    long a = strtol(s, &end, 10);
    if (end == s || *end != '/') return -1;
    const char *b = end + 1;
    long c = strtol(b, &end, 10);
    if (end == b || *end || c < 1 || c > 100000 || a < 0 || a >= c) return -1;
    *i = (int)a;
    *n = (int)c;
    return 0;
}

/* --temperature as python-fire reads it: the text must name the output the
 * way EvalPlus does (mg_output_id_arg accepts it: an int or float literal,
 * underscores between digits allowed) and be a finite number >= 0. */
static int parse_temperature(const char *text, double *out)
{
    char *id = mg_output_id_arg("m", "b", text);
    if (!id) return -1;
    free(id);
    char buf[128];
    size_t k = 0;
    for (const char *s = text; *s && k + 1 < sizeof buf; s++)
        if (*s != '_') buf[k++] = *s;
    buf[k] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (errno || end == buf || (*end && strspn(end, " \t\n\r\f\v") != strlen(end)) ||
        !isfinite(v) || !(v >= 0))
        return -1;
    *out = v;
    return 0;
}

/* Finds what the workers load before any starts: --model as a folder or a
 * Hub id, or --wandb-artifact, downloaded once here rather than in every
 * worker; the model is loaded once (weights are mmapped) so a base model the
 * store cannot find is fetched from the Hub too, and a broken folder is
 * reported before workers spawn. Outputs keep the name as typed. */
static int resolve_model(mg_codegen_params *p, const char *wandb, char **model_dir, char **base_dir,
                         mg_error *err)
{
    if (!p->model && !wandb) return mg_error_set(err, MG_EUSAGE, "--model is required");
    int rc = mg_source_resolve_model(p->model, wandb, model_dir, err);
    if (rc < 0) return rc;
    p->model_name = wandb ? wandb : p->model;
    p->model = *model_dir;
    mg_model_params mp = mg_model_default_params();
    mp.path = *model_dir;
    mp.base_model = p->base_model;
    mp.resolve_base = mg_source_resolve_base_cb;
    mg_model *m = NULL;
    if ((rc = mg_model_load(&mp, &m, err)) < 0) return rc;
    if (m->format != MG_FORMAT_MERGED && m->base_path) {
        if (!(*base_dir = strdup(m->base_path))) rc = mg_error_set(err, MG_ENOMEM, "out of memory");
        p->base_model = *base_dir;
    }
    mg_model_free(m);
    return rc;
}

/* --evaluate: scores each strategy's .jsonl as `moegen evaluate` would, prints
 * EvalPlus's pass@k table per strategy and a one-line-per-strategy summary,
 * and draws pass@1 per strategy into <root>/<dataset>/<id>.pass_at_1.svg. */
static int evaluate_outputs(const mg_codegen_params *p)
{
    int n = p->n_strategies > 0 ? p->n_strategies : 1, status = MG_EXIT_OK;
    double *base = calloc((size_t)n, sizeof *base), *plus = calloc((size_t)n, sizeof *plus);
    const char **labels = calloc((size_t)n, sizeof *labels);
    bool have_plus = true;
    mg_error err = {0};
    if (!base || !plus || !labels) {
        mg_cli_error("codegen", "--evaluate: out of memory");
        status = MG_EXIT_FAIL;
        goto done;
    }
    printf("\n%-24s %10s %10s  results\n", "strategy", "pass@1", "pass@1+");
    for (int i = 0; i < n; i++) {
        const char *strategy = p->n_strategies > 0 ? p->strategies[i] : NULL;
        labels[i] = strategy ? strategy : "default";
        char *id = mg_codegen_output_id(p, strategy), *path = NULL, *raw = NULL;
        int rc = id ? mg_sample_paths(p->root, p->dataset, id, &path, &raw, &err)
                    : mg_error_set(&err, MG_ENOMEM, "out of memory");
        mg_evaluate_summary s = {0};
        if (rc == 0) {
            mg_evaluate_params ep = mg_evaluate_default_params();
            ep.dataset = p->dataset;
            ep.dataset_path = p->dataset_path;
            ep.samples = path;
            ep.overwrite = true; /* the samples may have changed since a results file */
            ep.quiet = p->quiet;
            ep.python = p->python;
            rc = mg_evaluate_file(&ep, &s, &err);
        }
        if (rc < 0) {
            mg_cli_error("codegen", "--evaluate %s: %s", labels[i], err.msg);
            status = rc == MG_EUSAGE || rc == MG_EFORMAT || rc == MG_ENOENT ? MG_EXIT_USAGE
                                                                            : MG_EXIT_FAIL;
        } else {
            base[i] = s.n_base > 0 ? s.base[0].value : 0.0;
            plus[i] = s.n_plus > 0 ? s.plus[0].value : 0.0;
            have_plus = have_plus && s.n_plus > 0;
            char pl[16] = "-";
            if (s.n_plus > 0) snprintf(pl, sizeof pl, "%.3f", plus[i]);
            printf("%-24s %10.3f %10s  %s\n", labels[i], base[i], pl, s.results_path);
        }
        mg_evaluate_summary_free(&s);
        free(id);
        free(path);
        free(raw);
        if (rc < 0) goto done;
    }
    char *id = mg_codegen_output_id(p, NULL), *path = NULL, *raw = NULL;
    if (id && mg_sample_paths(p->root, p->dataset, id, &path, &raw, &err) == 0) {
        size_t len = strlen(path);
        char *svg = malloc(len + 16);
        if (svg) {
            memcpy(svg, path, len - 6); /* drop ".jsonl" */
            strcpy(svg + len - 6, ".pass_at_1.svg");
            if (mg_evaluate_svg_chart(svg, id, labels, base, have_plus ? plus : NULL, (size_t)n,
                                      &err) < 0) {
                mg_cli_error("codegen", "--evaluate: %s", err.msg);
                status = MG_EXIT_FAIL;
            } else if (!p->quiet)
                fprintf(stderr, "moegen codegen: pass@1 chart in %s\n", svg);
            free(svg);
        }
    }
    free(id);
    free(path);
    free(raw);
done:
    free(base);
    free(plus);
    free(labels);
    return status;
}

static int run(int argc, char **argv)
{
    mg_codegen_params p = mg_codegen_default_params();
    const char *shard = NULL, *seed = NULL, *wandb = NULL;
    char *model_dir = NULL, *base_dir = NULL;
    long n_samples = p.n_samples, workers = p.n_workers, threads = 0, batch = p.batch_size,
         max_new = p.max_new_tokens;
    const char *temperature = NULL;
    bool quiet = false, evaluate = false;
    mg_cli_list strategies = {0};
    const mg_opt opts[] = {
        {"model", MG_OPT_STRING, &p.model, "M",
         "model folder or Hub id ORG/NAME[@REV] (required unless --wandb-artifact)"},
        {"wandb-artifact", MG_OPT_STRING, &wandb, "E/P/N:V",
         "a W&B model artifact (its best_model/ when present) instead of --model"},
        {"base-model", MG_OPT_STRING, &p.base_model, "B",
         "base model folder or Hub id for adapters (default: from the model's config)"},
        {"dataset", MG_OPT_STRING, &p.dataset, "D", "humaneval, mbpp or custom (required)"},
        {"dataset-path", MG_OPT_STRING, &p.dataset_path, "P",
         "dataset file (default: EvalPlus's resolution)"},
        {"root", MG_OPT_STRING, &p.root, "DIR", "output root (default evalplus_results)"},
        {"n-samples", MG_OPT_INT, &n_samples, "N", "samples per task (default 1)"},
        {"temperature", MG_OPT_STRING, &temperature, "T", "sampling temperature (default 0.0)"},
        {"greedy", MG_OPT_FLAG, &p.greedy, NULL,
         "greedy decoding; forces one sample (default off)"},
        {"id-range", MG_OPT_STRING, &p.id_range, "LO,HI", "task numbers LO <= n < HI"},
        {"task-ids", MG_OPT_STRING, &p.task_ids, "IDS", "comma-separated task ids"},
        {"backend", MG_OPT_STRING, &p.backend, "NAME", "name in the output id (default hf)"},
        {"force-base-prompt", MG_OPT_FLAG, &p.force_base_prompt, NULL,
         "direct completion even with a chat template"},
        {"instruction-prefix", MG_OPT_STRING, &p.instruction_prefix, "S",
         "chat instruction prefix (default EvalPlus's)"},
        {"response-prefix", MG_OPT_STRING, &p.response_prefix, "S",
         "chat response prefix (default EvalPlus's)"},
        {"strategies", MG_OPT_LIST, &strategies, "S,...",
         "routing strategies, one output file each (default: the model's own)"},
        {"workers", MG_OPT_INT, &workers, "N",
         "worker processes (default 1 on the CPU, one per visible GPU with cuda)"},
        {"device", MG_OPT_STRING, &p.device, "DEV",
         "cpu, cuda or cuda:N (cuda needs moegen-cuda; default: cuda when moegen-cuda sees a "
         "GPU, else cpu)"},
        {"threads", MG_OPT_INT, &threads, "T", "threads per worker (default cores / workers)"},
        {"batch-size", MG_OPT_INT, &batch, "B", "sequences per worker batch (default 8)"},
        {"max-new-tokens", MG_OPT_INT, &max_new, "N", "tokens per sample (default 768)"},
        {"seed", MG_OPT_STRING, &seed, "S", "sampling seed (default 0)"},
        {"shard", MG_OPT_STRING, &shard, "I/N", "run tasks i with i % N == I (default 0/1)"},
        {"quiet", MG_OPT_FLAG, &quiet, NULL, "no progress on stderr"},
        {"python", MG_OPT_STRING, &p.python, "PATH",
         "python3 for the sanitizer (and --evaluate) (default python3 on PATH)"},
        {"evaluate", MG_OPT_FLAG, &evaluate, NULL,
         "score each strategy's file afterwards (moegen evaluate), print pass@k per strategy and "
         "write a pass@1 bar chart (SVG) (default off)"},
        {0}};
    int rc = mg_cli_parse("codegen", USAGE, opts, argc, argv, NULL);
    if (rc) {
        mg_cli_list_free(&strategies);
        return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    }
    int status = MG_EXIT_USAGE;
    if (shard && parse_shard(shard, &p.shard_index, &p.shard_count) < 0) {
        mg_cli_error("codegen", "--shard %s: expected I/N with 0 <= I < N", shard);
        goto out;
    }
    /* The backend is part of the output file name: a '/' would name a folder. */
    if (p.backend && (!*p.backend || strchr(p.backend, '/'))) {
        mg_cli_error("codegen",
                     "--backend '%s': must be a non-empty name without '/' (it is "
                     "part of the output file name)",
                     p.backend);
        goto out;
    }
    if (seed) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(seed, &end, 10);
        if (end == seed || *end || errno || seed[0] == '-') {
            mg_cli_error("codegen", "--seed %s: expected a non-negative integer", seed);
            goto out;
        }
        p.seed = v;
    }
    const mg_cli_range ranges[] = {{"n-samples", n_samples, 1, 100000},
                                   {"workers", workers, 1, 256},
                                   {"threads", threads, 0, 4096},
                                   {"batch-size", batch, 1, 4096},
                                   {"max-new-tokens", max_new, 1, 1000000}};
    if (mg_cli_check_ranges("codegen", ranges, sizeof ranges / sizeof ranges[0]) < 0) goto out;
    if (temperature && parse_temperature(temperature, &p.temperature) < 0) {
        mg_cli_error("codegen", "--temperature '%s': expected a finite number >= 0", temperature);
        goto out;
    }
    p.temperature_arg = temperature;
    if (p.task_ids && p.task_ids[strspn(p.task_ids, ", \t")] == '\0') {
        mg_cli_error("codegen", "--task-ids '%s': no task id given", p.task_ids);
        goto out;
    }
    /* --device: cuda gives one worker per visible GPU unless --workers is
     * given (worker i takes GPU i mod GPUs); cuda:N pins every worker. */
    mg_device_kind dev_kind;
    int dev_index, n_dev = 1;
    if ((status = mg_cli_device("codegen", p.device, &dev_kind, &dev_index, &n_dev)) != 0) goto out;
    status = MG_EXIT_USAGE;
    bool workers_given = false;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--workers", 9)) workers_given = true;
    if (dev_kind == MG_DEVICE_CUDA) {
        if (!p.device) p.device = "cuda";
        if (!workers_given) workers = strchr(p.device, ':') ? 1 : n_dev;
    } else {
        p.device = "cpu";
    }
    p.n_samples = (int)n_samples;
    p.n_workers = (int)workers;
    p.n_threads = (int)threads;
    p.batch_size = (int)batch;
    p.max_new_tokens = (int)max_new;
    p.quiet = quiet;
    p.strategies = strategies.items;
    p.n_strategies = strategies.n;
    if (evaluate && (p.shard_count > 1 || p.id_range || p.task_ids)) {
        mg_cli_error("codegen", "--evaluate scores whole datasets: drop --shard/--id-range/"
                                "--task-ids, or run moegen evaluate after moegen merge");
        goto out;
    }
    mg_error err = {0};
    if ((rc = resolve_model(&p, wandb, &model_dir, &base_dir, &err)) < 0) {
        mg_cli_error("codegen", "%s", err.msg);
        status = rc == MG_ENOMEM || rc == MG_EIO || rc == MG_EHTTP || rc == MG_ETIMEDOUT
                     ? MG_EXIT_FAIL
                     : MG_EXIT_USAGE;
        goto out;
    }
    /* A dead worker's doorbell must give EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    mg_codegen_result res;
    rc = mg_codegen_run(&p, &res, &err);
    if (rc == 0) {
        status = evaluate ? evaluate_outputs(&p) : MG_EXIT_OK;
    } else if (rc == MG_EINTERRUPTED) {
        fprintf(stderr, "moegen codegen: interrupted; finished samples are on disk, rerun the "
                        "same command to resume\n");
        status = MG_EXIT_INTERRUPTED;
    } else {
        mg_cli_error("codegen", "%s (%s)", err.msg, mg_err_name(rc));
        status = (rc == MG_EUSAGE || rc == MG_EFORMAT || rc == MG_ENOENT || rc == MG_EINVAL ||
                  rc == MG_EUNSUPPORTED)
                     ? MG_EXIT_USAGE
                     : MG_EXIT_FAIL;
    }
out:
    mg_cli_list_free(&strategies);
    free(model_dir);
    free(base_dir);
    return status;
}

const mg_command mg_cmd_codegen = {"codegen", "generate EvalPlus samples with worker processes",
                                   run};
