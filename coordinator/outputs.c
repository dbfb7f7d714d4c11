/* outputs.c — one strategy's EvalPlus sample files: resume, in-order writing
 * and the summary.
 *
 * Each record pair is the sanitized solution (<id>.jsonl) and the raw one
 * (<id>.raw.jsonl); codegen.c hands both over once the sanitizer answered.
 *
 * Records are appended in one fixed order — tasks in selection order, each
 * task's missing sample indices ascending — whatever order workers finish
 * them in; finished samples wait in `pending` until everything before them
 * is on disk. A run killed at any moment therefore leaves a prefix of the
 * final file (plus at most a torn line, which the datasets writer cuts), and
 * resuming by per-task counts continues exactly where the prefix ends. */
#include "internal.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_log.h"

/* Creates `path` if it does not exist yet; true only when this call made
 * it (O_EXCL), so "this run created the file" never depends on a stat()
 * another run can race with. */
static bool create_new(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    close(fd);
    return true;
}

static void advance(cg_output *o, size_t n_tasks, int n)
{
    while (o->cur_task < n_tasks && o->cur_sample >= n) {
        if (o->pending[o->cur_task]) {
            free(o->pending[o->cur_task]); /* its records are all written: nothing inside */
            o->pending[o->cur_task] = NULL;
        }
        if (++o->cur_task < n_tasks) o->cur_sample = o->have[o->cur_task];
    }
}

int mg__output_open(cg_output *o, const mg_codegen_params *p, const mg_dataset *ds,
                    const size_t *tasks, size_t n_tasks, mg_error *err)
{
    int rc = mg_sample_paths(p->root, p->dataset, o->id, &o->path, &o->raw_path, err);
    if (rc < 0) return rc;
    size_t pl = strlen(o->path);
    o->summary_path = malloc(pl + 16);
    if (!o->summary_path) return mg_error_set(err, MG_ENOMEM, "out of memory");
    /* "<id>.jsonl" -> "<id>.summary.json" */
    memcpy(o->summary_path, o->path, pl - strlen(".jsonl"));
    strcpy(o->summary_path + pl - strlen(".jsonl"), ".summary.json");
    o->created = create_new(o->path);
    o->created_raw = create_new(o->raw_path);
    /* Locks both files first, then parses both as records (blank lines
     * skipped, as EvalPlus's resume), and only then cuts the longer one back
     * to the common prefix; a corrupt file is an error and nothing is cut. */
    mg_sample_pair pair;
    if ((rc = mg_sample_pair_open(o->path, o->raw_path, &pair, err)) < 0) return rc;
    o->f = pair.main;
    o->raw = pair.raw;
    o->have = calloc(n_tasks ? n_tasks : 1, sizeof *o->have);
    o->pending = calloc(n_tasks ? n_tasks : 1, sizeof *o->pending);
    o->expert_hist = calloc(MG_MSG_MAX_EXPERTS + 1, sizeof *o->expert_hist);
    if (!o->have || !o->pending || !o->expert_hist)
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    int n = p->n_samples;
    for (size_t t = 0; t < n_tasks; t++) {
        const char *id = ds->tasks[tasks[t]].task_id;
        int c = mg_sample_file_count(o->f, id);
        o->have[t] = c > n ? n : c;
        o->existing += o->have[t];
    }
    o->total = (long)n * (long)n_tasks;
    o->cur_task = 0;
    o->cur_sample = n_tasks ? o->have[0] : 0;
    advance(o, n_tasks, n); /* past the tasks that are already complete */
    o->opened = true;
    return 0;
}

bool mg__output_complete(const cg_output *o, size_t n_tasks)
{
    return o->cur_task >= n_tasks;
}

int mg__output_put(cg_output *o, const mg_dataset *ds, const size_t *tasks, size_t n_tasks, int n,
                   size_t task, uint32_t sample, char *raw, char *clean, mg_error *err)
{
    if (task >= n_tasks || (int)sample < o->have[task] || (int)sample >= n) {
        free(raw);
        free(clean);
        return mg_error_set(err, MG_EPROTO, "result for task %zu sample %u was never asked for",
                            task, sample);
    }
    if (!o->pending[task]) {
        o->pending[task] = calloc((size_t)n, sizeof(cg_record));
        if (!o->pending[task]) {
            free(raw);
            free(clean);
            return mg_error_set(err, MG_ENOMEM, "out of memory");
        }
    }
    if (o->pending[task][sample].raw) {
        free(raw);
        free(clean);
        return mg_error_set(err, MG_EPROTO, "task %zu sample %u finished twice", task, sample);
    }
    o->pending[task][sample] = (cg_record){raw, clean};
    advance(o, n_tasks, n);
    while (o->cur_task < n_tasks && o->pending[o->cur_task] &&
           o->pending[o->cur_task][o->cur_sample].raw) {
        cg_record *r = &o->pending[o->cur_task][o->cur_sample];
        const char *id = ds->tasks[tasks[o->cur_task]].task_id;
        /* The pair writes sanitized then raw and takes a lone record back, and
         * opening drops a record with no twin, so both files always hold the
         * same samples in the same order. */
        mg_sample_pair pair = {o->f, o->raw};
        int rc = mg_sample_pair_append(&pair, id, r->clean, r->raw, err);
        if (rc < 0) return rc;
        free(r->raw);
        free(r->clean);
        *r = (cg_record){NULL, NULL};
        o->generated++;
        o->cur_sample++;
        advance(o, n_tasks, n);
    }
    return 0;
}

int mg__output_summary(const cg_output *o, double wall_s, int n_tasks, mg_error *err)
{
    if (!o->opened) return 0; /* open failed part-way: no histogram, nothing to sum up */
    json_t *j = json_object();
    json_t *fin = json_object(), *ex = json_object();
    if (!j || !fin || !ex) {
        json_decref(j);
        json_decref(fin);
        json_decref(ex);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    json_object_set_new(j, "strategy", json_string(o->label));
    json_object_set_new(j, "output", json_string(o->path));
    json_object_set_new(j, "tasks", json_integer(n_tasks));
    json_object_set_new(j, "samples", json_integer(o->existing + o->generated));
    json_object_set_new(j, "samples_wanted", json_integer(o->total));
    json_object_set_new(j, "samples_resumed", json_integer(o->existing));
    json_object_set_new(j, "samples_generated", json_integer(o->generated));
    json_object_set_new(j, "prompt_tokens", json_integer(o->prompt_tokens));
    json_object_set_new(j, "generated_tokens", json_integer(o->gen_tokens));
    json_object_set_new(j, "wall_seconds", json_real(wall_s));
    for (uint32_t f = MG_MSG_FINISH_EOS; f <= MG_MSG_FINISH_CANCEL; f++)
        json_object_set_new(fin, mg_msg_finish_name(f), json_integer(o->finish[f]));
    json_object_set_new(j, "finish_reasons", fin);
    for (int e = 0; e <= o->max_expert_seen; e++) {
        char k[16];
        snprintf(k, sizeof k, "%d", e);
        json_object_set_new(ex, k, json_integer(o->expert_hist[e]));
    }
    json_object_set_new(ex, "none", json_integer(o->expert_hist[MG_MSG_MAX_EXPERTS]));
    json_object_set_new(j, "experts", ex);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", o->summary_path, (long)getpid());
    int rc = json_dump_file(j, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (rc < 0 || rename(tmp, o->summary_path) < 0) {
        unlink(tmp);
        return mg_error_set(err, MG_EIO, "%s: cannot write the summary", o->summary_path);
    }
    return 0;
}

void mg__output_discard_created(cg_output *o)
{
    /* Only while we hold both locks, so no other run can be writing them,
     * and only files this run made (O_EXCL) that are still empty. */
    if (!o->opened || o->generated != 0) return;
    struct stat st;
    if (o->created && mg_sample_file_n_records(o->f) == 0 && stat(o->path, &st) == 0 &&
        st.st_size == 0)
        unlink(o->path);
    if (o->created_raw && mg_sample_file_n_records(o->raw) == 0 && stat(o->raw_path, &st) == 0 &&
        st.st_size == 0)
        unlink(o->raw_path);
}

void mg__output_close(cg_output *o, size_t n_tasks, int n)
{
    if (o->pending)
        for (size_t t = 0; t < n_tasks; t++) {
            if (!o->pending[t]) continue;
            for (int i = 0; i < n; i++) {
                free(o->pending[t][i].raw);
                free(o->pending[t][i].clean);
            }
            free(o->pending[t]);
        }
    free(o->pending);
    free(o->have);
    free(o->expert_hist);
    mg_sample_file_close(o->f);
    mg_sample_file_close(o->raw);
    free(o->strategy);
    free(o->label);
    free(o->id);
    free(o->path);
    free(o->raw_path);
    free(o->summary_path);
    memset(o, 0, sizeof *o);
}
