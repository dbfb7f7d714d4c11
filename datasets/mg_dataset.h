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
#include "mg_hash.h" /* mg_md5: the dataset hash */

/* ---- tasks and datasets ------------------------------------------------------ */

typedef struct mg_task {
    char *task_id; /* "HumanEval/0", "Mbpp/2" */
    char *prompt;
    char *entry_point;        /* NULL when absent (custom files) */
    char *canonical_solution; /* NULL when absent */
    char *test;               /* NULL when absent */
    char *json;               /* the whole record as read (JSON text, NaN/Infinity kept) */
} mg_task;

typedef struct mg_dataset {
    char *name; /* "humaneval", "mbpp", or "custom" */
    char *path; /* file it was read from */
    char *hash; /* MD5 hex of the decompressed file (EvalPlus's dataset hash) */
    mg_task *tasks;
    size_t n_tasks;
} mg_dataset;

typedef struct mg_dataset_params {
    const char *name;     /* "humaneval" | "mbpp" | "humaneval-orig" | "custom" */
    const char *path;     /* --dataset-path; required for "custom" */
    bool mini;            /* --mini  (HumanEval+ Mini) */
    bool noextreme;       /* --noextreme */
    const char *id_range; /* --id-range "LO,HI": half-open, dataset order; NULL = all */
    const char *task_ids; /* --task-ids "HumanEval/0,HumanEval/3"; NULL = all */
    bool allow_download;  /* false: fail instead of fetching */
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

/* Cuts at the earliest stop string (or after MG_EVALPLUS_HF_MAX_CHARS code
 * points, as EvalPlus's HF backend), then replaces each tab by 4 spaces.
 * Returns a malloc'd string (NULL on ENOMEM). */
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

/* An append-only EvalPlus sample file. Opening takes an exclusive lock
 * (MG_EAGAIN when another process holds it), repairs a torn last line and
 * counts samples per task (for resuming). Each append writes one whole record
 * {"task_id": ..., "solution": ...} with one write(2) (no stdio buffering);
 * invalid UTF-8 in the solution is MG_EFORMAT naming the task. */
typedef struct mg_sample_file mg_sample_file;

int mg_sample_file_open(const char *path, mg_sample_file **out, mg_error *err);
int mg_sample_file_count(const mg_sample_file *f, const char *task_id); /* samples already there */
int mg_sample_file_append(mg_sample_file *f, const char *task_id, const char *solution,
                          mg_error *err);
void mg_sample_file_close(mg_sample_file *f);

/* ---- additions (datasets engineer) ------------------------------------------------ */

/* EvalPlus constants, exactly as evalplus/codegen.py and provider/utility.py spell them. */
#define MG_EVALPLUS_MAGIC "-[[]]-this-is-really-our-highest-priority-[[]]-"
#define MG_EVALPLUS_INSTRUCTION_PREFIX                                                             \
    "Please provide a self-contained Python script that solves the following problem in a "        \
    "markdown code block:"
#define MG_EVALPLUS_RESPONSE_PREFIX                                                                \
    "Below is a Python script with a self-contained function that solves the problem and "         \
    "passes corresponding tests:"
/* HF backend: `min_index = 10000` before the stop search, so a completion with no
 * stop string is cut at 10,000 characters (code points). */
#define MG_EVALPLUS_HF_MAX_CHARS 10000

/* Environment variable that replaces "https://github.com" in the release URLs
 * (tests point it at a local server). */
#define MG_EVALPLUS_RELEASE_URL_ENV "MOEGEN_EVALPLUS_RELEASE_URL"

/* Where a dataset comes from, without reading it: --dataset-path, then
 * HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH, then the evalplus cache; when the
 * cache file is missing *path is the cache path it would be downloaded to and
 * *url the URL (both malloc'd; *url is NULL when no download is needed).
 * *expected_md5 is the known hash of the release file (static string) or NULL. */
int mg_dataset_resolve(const mg_dataset_params *p, char **path, char **url,
                       const char **expected_md5, mg_error *err);

/* "$XDG_CACHE_HOME/evalplus" or "$HOME/.cache/evalplus" (malloc'd). */
char *mg_evalplus_cache_dir(void);

/* Downloads a .jsonl.gz from `url`, checks that it decompresses, parses as a
 * dataset and (when expected_md5 != NULL) that the MD5 of the decompressed
 * bytes matches, then stores the decompressed file at `cache_path` atomically
 * (temporary file + rename). Nothing is left behind on failure. */
int mg_dataset_download(const char *url, const char *cache_path, const char *expected_md5,
                        mg_error *err);

/* Keeps only the tasks selected by id_range / task_ids (either may be NULL).
 * id_range is EvalPlus's: the task is kept when LO <= int(task_id.split("/")[1]) < HI. */
int mg_dataset_select(mg_dataset *ds, const char *id_range, const char *task_ids, mg_error *err);

/* Python's str.strip(): the [start, end) byte range of `s` without leading and
 * trailing Unicode whitespace (str.isspace). `s` is UTF-8. */
void mg_py_strip(const char *s, size_t len, size_t *start, size_t *end);

/* Cuts at the earliest stop string or after max_chars code points, whichever
 * comes first, then replaces tabs by 4 spaces (malloc'd; NULL on ENOMEM).
 * mg_completion_truncate() is this with MG_EVALPLUS_HF_MAX_CHARS. */
char *mg_completion_truncate_n(const char *text, size_t len, const mg_strlist *stops,
                               size_t max_chars);

/* mg_output_id() for a temperature as typed on the command line, the way
 * EvalPlus (python-fire) sees it: an integer literal stays an int ("1" ->
 * "_temp_1", "+2" -> "_temp_2", "1_0" -> "_temp_10"), anything else is
 * float(text) printed with repr ("1.0" -> "1.0", "1e-5" -> "1e-05", ".50" ->
 * "0.5"). NULL when the text is neither (or on ENOMEM). */
char *mg_output_id_arg(const char *model, const char *backend, const char *temperature_arg);

/* Python repr(float) / str(float): "0.0", "0.8", "1e-05", "1e+16", "inf", "nan". */
char *mg_py_float_repr(double v);

/* One sample-file line: {"task_id": ..., "solution": ...} + "\n", as
 * json.dumps(...) + "\n". Invalid UTF-8 in the solution is an error naming the task. */
int mg_json_dumps_record(mg_sbuf *out, const char *task_id, const char *solution,
                         size_t solution_len, mg_error *err);

/* `<root>/<dataset>/<id>.jsonl` and its raw twin (target.replace(".jsonl",
 * ".raw.jsonl"), every occurrence, as EvalPlus). Creates the folders. Both
 * malloc'd. */
int mg_sample_paths(const char *root, const char *dataset, const char *id, char **path,
                    char **raw_path, mg_error *err);

/* Keeps only the first `keep` records (cuts the file after them). */
int mg_sample_file_truncate_records(mg_sample_file *f, size_t keep, mg_error *err);
/* The task id of record i (file order), NULL past the end. */
const char *mg_sample_file_record_task(const mg_sample_file *f, size_t i);

/* The sanitized `<id>.jsonl` and raw `<id>.raw.jsonl` files of one run, kept
 * record for record in step. Opening checks that both hold the same task
 * sequence (else MG_EFORMAT) and drops records that have no twin (a crash
 * between the two appends of one sample), so resume counts — taken from
 * `main`, as EvalPlus reads the sanitized file — match both files. */
typedef struct mg_sample_pair {
    mg_sample_file *main; /* sanitized solutions */
    mg_sample_file *raw;  /* raw solutions */
} mg_sample_pair;
int mg_sample_pair_open(const char *path, const char *raw_path, mg_sample_pair *out, mg_error *err);
/* Appends the sanitized record then the raw one; if the raw write fails the
 * sanitized record is taken back. */
int mg_sample_pair_append(mg_sample_pair *p, const char *task_id, const char *solution,
                          const char *raw_solution, mg_error *err);
void mg_sample_pair_close(mg_sample_pair *p);

/* Number of task ids with at least one sample, and total records. */
size_t mg_sample_file_n_tasks(const mg_sample_file *f);
size_t mg_sample_file_n_records(const mg_sample_file *f);

/* Reads a whole file, gunzipping it when it starts with the gzip magic
 * (several members and zero padding allowed, as Python's gzip). *data is
 * malloc'd and NUL-terminated (the NUL is not counted in *len). */
int mg_read_maybe_gz(const char *path, char **data, size_t *len, mg_error *err);
/* The same on a buffer in memory (`what` names it in errors). */
int mg_gunzip_maybe(const char *what, const void *in, size_t in_len, char **data, size_t *len,
                    mg_error *err);
/* Parses decompressed JSONL text into tasks (what = file name for errors). */
int mg_dataset_parse(const char *what, const char *name, const char *text, size_t len,
                     mg_dataset *out, mg_error *err);

#endif /* MG_DATASET_H */
