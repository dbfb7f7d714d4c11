/* mg_dataset.h — EvalPlus datasets, prompts, stop strings and sample files.
 *
 * Everything here matches EvalPlus byte for byte (see ../shared/notes/evalplus.md):
 *   - reading HumanEval+ / MBPP+ / HumanEval / custom JSONL(.gz), with MBPP+'s
 *     bare NaN/Infinity tokens, and resolving where a dataset comes from
 *     (--dataset-path, *_OVERRIDE_PATH, the evalplus cache, a download);
 *   - building the direct-completion or chat prompt and the stop strings;
 *   - truncating a completion and writing `<id>.jsonl` / `<id>.raw.jsonl`
 *     records exactly as Python's json.dumps would, with torn-line repair
 *     and per-task counts for resuming.
 *
 *     mg_dataset ds;
 *     mg_dataset_params p = mg_dataset_default_params();
 *     p.name = "humaneval";
 *     if (mg_dataset_open(&p, &ds, &err) < 0) ...   // resolve + read + select
 *     for (size_t i = 0; i < ds.n_tasks; i++) use(ds.tasks[i].task_id, ds.tasks[i].prompt);
 *     mg_dataset_free(&ds);
 */
#ifndef MG_DATASET_H
#define MG_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mg_error.h"

/* ---- tasks and datasets ------------------------------------------------------ */

typedef struct mg_task {
    char *task_id;            /* "HumanEval/0", "Mbpp/2" */
    char *prompt;
    char *entry_point;        /* NULL when absent (custom files) */
    char *canonical_solution; /* NULL when absent */
    char *test;               /* NULL when absent */
    char *json;               /* the whole record as read (JSON text, NaN/Infinity kept) */
} mg_task;

typedef struct mg_dataset {
    char *name;    /* "humaneval", "mbpp", or "custom" */
    char *path;    /* file it was read from */
    char *hash;    /* MD5 hex of the decompressed file (EvalPlus's dataset hash) */
    mg_task *tasks;
    size_t n_tasks;
} mg_dataset;

typedef struct mg_dataset_params {
    const char *name;        /* "humaneval" | "mbpp" | "humaneval-orig" | "custom" */
    const char *path;        /* --dataset-path; required for "custom" */
    bool mini;               /* --mini  (HumanEval+ Mini) */
    bool noextreme;          /* --noextreme */
    const char *id_range;    /* --id-range "LO,HI": half-open, dataset order; NULL = all */
    const char *task_ids;    /* --task-ids "HumanEval/0,HumanEval/3"; NULL = all */
    bool allow_download;     /* false: fail instead of fetching */
} mg_dataset_params;

mg_dataset_params mg_dataset_default_params(void);

/* Resolves, reads and selects. Errors name the file and line, e.g.
 * "HumanEvalPlus.jsonl.gz:17: missing \"task_id\"". */
int mg_dataset_open(const mg_dataset_params *p, mg_dataset *out, mg_error *err);

/* Reads one JSONL or JSONL.gz file (detected by content, not name). */
int mg_dataset_read_file(const char *path, const char *name, mg_dataset *out, mg_error *err);

void mg_dataset_free(mg_dataset *ds);

/* ---- prompts and stop strings ------------------------------------------------ */

typedef struct mg_strlist {
    char **items;
    size_t n;
} mg_strlist;
void mg_strlist_free(mg_strlist *l);

/* Renders a chat conversation with the model's template; the tokenizer /
 * template component provides it. Returns a malloc'd string in *out. */
typedef int (*mg_chat_render_cb)(void *ud, const char *user, const char *assistant, char **out,
                                 mg_error *err);

typedef struct mg_prompt_params {
    const char *dataset;            /* "humaneval" | "mbpp" (stop strings differ) */
    bool direct_completion;         /* base model, or --force-base-prompt */
    const char *instruction_prefix; /* NULL = EvalPlus default */
    const char *response_prefix;    /* NULL = EvalPlus default */
    mg_chat_render_cb render;       /* required for chat prompts */
    void *render_ud;
} mg_prompt_params;

/* The exact prompt string EvalPlus builds for a task (malloc'd). */
int mg_prompt_build(const mg_prompt_params *p, const mg_task *task, char **prompt, mg_error *err);
/* The exact stop-string list EvalPlus uses. */
int mg_prompt_stops(const mg_prompt_params *p, mg_strlist *stops, mg_error *err);

/* Cuts at the earliest stop string, then replaces each tab by 4 spaces.
 * Returns a malloc'd string. */
char *mg_completion_truncate(const char *text, size_t len, const mg_strlist *stops);

/* ---- sample files ------------------------------------------------------------- */

/* Python json.dumps(s) with defaults (ensure_ascii=True): appends the quoted,
 * escaped form of the UTF-8 string `s` to `out`. Invalid UTF-8 is an error. */
typedef struct mg_sbuf {
    char *data;
    size_t len, cap;
} mg_sbuf;
int mg_sbuf_append(mg_sbuf *b, const void *p, size_t n);
void mg_sbuf_free(mg_sbuf *b);
int mg_json_dumps_string(mg_sbuf *out, const char *s, size_t len, mg_error *err);

/* "<model path stripped of ./ at both ends, / -> -->_<backend>_temp_<T>",
 * T printed as Python prints a float ("0.0", "0.8", "1e-05"). */
char *mg_output_id(const char *model, const char *backend, double temperature);

/* An append-only EvalPlus sample file. Opening repairs a torn last line and
 * counts samples per task (for resuming). Each append writes one whole record
 * {"task_id": ..., "solution": ...} and flushes it. */
typedef struct mg_sample_file mg_sample_file;

int mg_sample_file_open(const char *path, mg_sample_file **out, mg_error *err);
int mg_sample_file_count(const mg_sample_file *f, const char *task_id); /* samples already there */
int mg_sample_file_append(mg_sample_file *f, const char *task_id, const char *solution,
                          mg_error *err);
void mg_sample_file_close(mg_sample_file *f);

#endif /* MG_DATASET_H */
