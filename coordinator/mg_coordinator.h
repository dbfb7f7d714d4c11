/* mg_coordinator.h — `moegen codegen`: the libuv loop that reads a dataset,
 * fans prompts out to worker processes through shared-memory rings and
 * writes EvalPlus sample files; and `moegen merge` for sharded runs.
 *
 *     mg_codegen_params p = mg_codegen_default_params();
 *     p.model = "examples/tiny-dylora"; p.dataset = "humaneval"; ...
 *     mg_codegen_result res;
 *     int rc = mg_codegen_run(&p, &res, &err);   // 0, MG_EINTERRUPTED, or an error
 *
 * Output (per strategy): <root>/<dataset>/<id>.jsonl (each solution through
 * EvalPlus's sanitizer, for chat and base prompts alike, as evalplus.codegen
 * writes it) and <id>.raw.jsonl (the solution as generated), with
 * records written per task in dataset order and per sample in index order,
 * whatever order the workers finish them in. So with --seed the files are
 * byte-identical whatever the number of workers, the batch size, shards
 * (after merge) or interruptions: a killed run leaves a prefix of the final
 * file, and a rerun counts each task's records (as EvalPlus does) and
 * generates only the missing sample indices. See docs/PIPELINE.md.
 *
 * Not thread-safe; runs its own uv loop and returns when it is done. The
 * caller (cmd_codegen) installs nothing: the loop owns SIGINT/SIGTERM while
 * it runs.
 */
#ifndef MG_COORDINATOR_H
#define MG_COORDINATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "mg_error.h"

typedef struct mg_codegen_params {
    const char *model;              /* folder the workers load (required) */
    const char *model_name;         /* names the output files; NULL = model (EvalPlus
                                       names them after --model as typed, e.g. a Hub id) */
    const char *base_model;         /* --base-model */
    const char *dataset;            /* "humaneval" | "mbpp" */
    const char *dataset_path;       /* --dataset-path */
    const char *root;               /* --root (default "evalplus_results") */
    int n_samples;                  /* --n-samples (default 1) */
    double temperature;             /* --temperature (default 0.0) */
    bool greedy;                    /* --greedy */
    const char *id_range;           /* --id-range "LO,HI" */
    const char *task_ids;           /* --task-ids "A,B" */
    const char *backend;            /* --backend: only names the output (default "hf") */
    bool force_base_prompt;         /* --force-base-prompt */
    const char *instruction_prefix; /* NULL = EvalPlus default */
    const char *response_prefix;
    const char *const *strategies; /* NULL = the model's default, and no strategy in the id */
    int n_strategies;
    int n_workers;                /* --workers (default 1) */
    const char *device;           /* "cpu" */
    int n_threads;                /* per worker; 0 = cores / workers */
    int batch_size;               /* sequences per worker batch (default 8) */
    int max_new_tokens;           /* default 768 */
    uint64_t seed;                /* --seed (default 0) */
    int shard_index, shard_count; /* --shard I/N (default 0/1) */
    int max_crashes;              /* worker crashes in a row before giving up (default 3) */
    const char *exe;              /* program to spawn as `<exe> worker ...`; NULL = this one */
    bool quiet;                   /* no progress lines */
    const char *python;           /* interpreter for the sanitizer; NULL = python3 on PATH */
    double sanitize_timeout_s;    /* one sample's sanitizing may take this long before the
                                     run stops as hung; 0 = MG_SANITIZE_TIMEOUT_S */
    /* --temperature as typed: names the output as EvalPlus (python-fire) does,
     * an integer literal staying an int ("1" -> "_temp_1"); NULL = from
     * `temperature` ("_temp_1.0"). */
    const char *temperature_arg;
} mg_codegen_params;

mg_codegen_params mg_codegen_default_params(void);

typedef struct mg_codegen_result {
    int n_outputs; /* output files written (one per strategy) */
    long samples_written;
    long samples_total; /* including the ones found on disk */
} mg_codegen_result;

/* Runs the whole job. Returns 0 when every selected sample is on disk,
 * MG_EINTERRUPTED after SIGINT/SIGTERM (finished samples flushed), or an
 * error (bad input: MG_EUSAGE/MG_EFORMAT/-ENOENT...; worker failures:
 * MG_ECHILD). `res` may be NULL. */
int mg_codegen_run(const mg_codegen_params *p, mg_codegen_result *res, mg_error *err);

/* The output id of one strategy: mg_output_id's "<model>_<backend>_temp_<T>",
 * with "--<strategy>" (':' -> '-') appended to the model part when
 * `strategy` is non-NULL, and "_shard-<I>-of-<N>" when shard_count > 1.
 * malloc'd. */
char *mg_codegen_output_id(const mg_codegen_params *p, const char *strategy);

/* Joins shard files (given in shard order 0..N-1, as written by
 * --shard I/N) into one EvalPlus file in the unsharded order: shard i holds
 * the tasks at positions i, i+N, ... of the selection. Also merges the
 * .raw.jsonl twins when every input has one. The output is written to a
 * temporary file and renamed, so nothing is half-written. */
int mg_merge_shards(const char *out_path, const char *const *inputs, int n_inputs, mg_error *err);

#endif /* MG_COORDINATOR_H */
