/* codegen.c — one `moegen codegen` run: dataset and task selection, output
 * files and resume, the job queue, prompts, the sanitizer, the libuv loop
 * with its signals and progress timer, and the final summary. Worker
 * processes live in pool.c, sample files in outputs.c. */
#include "internal.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mg_evaluate.h"
#include "mg_log.h"
#include "mg_template.h"

mg_codegen_params mg_codegen_default_params(void)
{
    return (mg_codegen_params){.root = "evalplus_results",
                               .n_samples = 1,
                               .temperature = 0.0,
                               .backend = "hf",
                               .n_workers = 1,
                               .device = "cpu",
                               .batch_size = 8,
                               .max_new_tokens = 768,
                               .shard_index = 0,
                               .shard_count = 1,
                               .max_crashes = 3};
}

double mg__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

char *mg_codegen_output_id(const mg_codegen_params *p, const char *strategy)
{
    /* The strategy joins the model part before mg_output_id turns '/' into
     * "--", so "m" + "single:1" names "m--single-1_hf_temp_0.0". */
    const char *name = p->model_name ? p->model_name : p->model;
    size_t ml = strlen(name);
    while (ml && (name[ml - 1] == '/' || name[ml - 1] == '.')) ml--;
    mg_sbuf m = {0};
    int rc = mg_sbuf_append(&m, name, ml);
    if (rc == 0 && strategy) {
        rc = mg_sbuf_append(&m, "/", 1);
        for (const char *s = strategy; rc == 0 && *s; s++)
            rc = mg_sbuf_append(&m, *s == ':' || *s == '/' ? "-" : s, 1);
    }
    if (rc == 0) rc = mg_sbuf_append(&m, "", 1);
    char *id = NULL;
    if (rc == 0)
        id = p->temperature_arg ? mg_output_id_arg(m.data, p->backend, p->temperature_arg)
                                : mg_output_id(m.data, p->backend, p->temperature);
    mg_sbuf_free(&m);
    if (id && p->shard_count > 1) {
        size_t n = strlen(id) + 48;
        char *s = malloc(n);
        if (s) snprintf(s, n, "%s_shard-%d-of-%d", id, p->shard_index, p->shard_count);
        free(id);
        id = s;
    }
    return id;
}

/* ---- the job queue (a deque: re-queued chunks go first) ------------------------------------ */

static int queue_grow(cg_run *run)
{
    size_t cap = run->q_cap ? 2 * run->q_cap : 64;
    cg_chunk **q = malloc(cap * sizeof *q);
    if (!q) return MG_ENOMEM;
    for (size_t i = 0; i < run->q_len; i++) q[i] = run->queue[(run->q_head + i) % run->q_cap];
    free(run->queue);
    run->queue = q;
    run->q_cap = cap;
    run->q_head = 0;
    return 0;
}

static int push_back(cg_run *run, cg_chunk *c)
{
    if (run->q_len == run->q_cap && queue_grow(run) < 0) return MG_ENOMEM;
    run->queue[(run->q_head + run->q_len++) % run->q_cap] = c;
    return 0;
}

void mg__run_push_front(cg_run *run, cg_chunk *c)
{
    if (run->q_len == run->q_cap && queue_grow(run) < 0) {
        free(c);
        mg__run_fail(run, MG_ENOMEM, "out of memory");
        return;
    }
    run->q_head = (run->q_head + run->q_cap - 1) % run->q_cap;
    run->queue[run->q_head] = c;
    run->q_len++;
}

cg_chunk *mg__run_pop_chunk(cg_run *run)
{
    if (!run->q_len) return NULL;
    cg_chunk *c = run->queue[run->q_head];
    run->q_head = (run->q_head + 1) % run->q_cap;
    run->q_len--;
    return c;
}

/* ---- prompts -------------------------------------------------------------------------------- */

static int render_cb(void *ud, const char *user, const char *assistant, char **out, mg_error *err)
{
    const char *roles[2] = {"user", "assistant"};
    const char *contents[2] = {user, assistant};
    return mg_chat_template_render(ud, roles, contents, 2, false, out, err);
}

int mg__run_prepare_prompts(cg_run *run, const char *tokenizer_dir, mg_error *err)
{
    const mg_codegen_params *p = run->p;
    mg_chat_template *ct = NULL;
    if (!p->force_base_prompt && tokenizer_dir[0]) {
        int rc = mg_chat_template_load(tokenizer_dir, &ct, err);
        if (rc < 0 && rc != MG_ENOENT) return mg_error_prefix(err, rc, "chat template");
    }
    /* EvalPlus: direct completion when forced or the tokenizer has no template. */
    run->direct = ct == NULL;
    mg_prompt_params pp = {.dataset = strcmp(p->dataset, "mbpp") ? "humaneval" : "mbpp",
                           .direct_completion = run->direct,
                           .instruction_prefix = p->instruction_prefix,
                           .response_prefix = p->response_prefix,
                           .render = render_cb,
                           .render_ud = ct};
    run->prompts = calloc(run->n_tasks ? run->n_tasks : 1, sizeof *run->prompts);
    int rc = run->prompts ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
    for (size_t t = 0; t < run->n_tasks && rc == 0; t++)
        rc = mg_prompt_build(&pp, &run->ds.tasks[run->tasks[t]], &run->prompts[t], err);
    if (rc == 0) rc = mg_prompt_stops(&pp, &run->stops, err);
    for (size_t i = 0; rc == 0 && i < run->stops.n; i++) {
        size_t l = strlen(run->stops.items[i]);
        if (l > run->max_stop) run->max_stop = l;
    }
    mg_chat_template_free(ct);
    if (rc == 0) run->prompts_ready = true;
    return rc;
}

/* ---- ending -----------------------------------------------------------------------------------
 */

static void on_run_handle_closed(uv_handle_t *h)
{
    cg_run *run = h->data;
    run->open_handles--;
}

void mg__run_maybe_finish(cg_run *run)
{
    if (!run->stopping || run->n_procs > 0 || run->closing || !run->loop) return;
    run->closing = true;
    uv_close((uv_handle_t *)&run->sigint, on_run_handle_closed);
    uv_close((uv_handle_t *)&run->sigterm, on_run_handle_closed);
    uv_close((uv_handle_t *)&run->progress, on_run_handle_closed);
    uv_close((uv_handle_t *)&run->kill_timer, on_run_handle_closed);
    if (run->san_polls) {
        uv_close((uv_handle_t *)&run->san_rd, on_run_handle_closed);
        uv_close((uv_handle_t *)&run->san_wr, on_run_handle_closed);
    }
}

static void begin_stop(cg_run *run)
{
    run->stopping = true;
    mg__pool_stop_all(run);
    mg__run_maybe_finish(run);
}

void mg__run_fail(cg_run *run, int code, const char *fmt, ...)
{
    if (run->result == 0) {
        va_list ap;
        va_start(ap, fmt);
        mg_error_vset(&run->fatal, code < 0 ? code : MG_ECHILD, fmt, ap);
        va_end(ap);
        run->result = run->fatal.code;
    }
    begin_stop(run);
}

/* ---- the sanitizer ---------------------------------------------------------------------------
 * EvalPlus's codegen writes sanitize(solution, entry_point) to <id>.jsonl and
 * the solution itself to <id>.raw.jsonl, for chat and base prompts alike.
 * Each finished sample goes to one long-lived sanitizer process; answers come
 * back in submit order, and only then is the sample handed to outputs.c,
 * which writes the pair in the fixed order. A sample still at the sanitizer
 * when the run stops is simply not on disk yet: resume generates it again,
 * so the files stay a prefix of an uninterrupted run's. */

static void san_pump(cg_run *run);

static void on_san_event(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    san_pump(h->data);
}

/* Writes what it can, takes every answer that is in, and watches the request
 * pipe only while requests wait to be written. */
static void san_pump(cg_run *run)
{
    if (run->closing) return;
    mg_error err = {0};
    if (mg_sanitizer_io(run->san, &err) < 0) {
        mg__run_fail(run, err.code, "%s", err.msg);
        return;
    }
    char *clean;
    while (mg_sanitizer_next(run->san, &clean) == 1) {
        cg_sanreq *r = run->sq_head;
        MG_ASSERT(r != NULL); /* the sanitizer checks it never answers more than was asked */
        run->sq_head = r->next;
        if (!run->sq_head) run->sq_tail = NULL;
        int rc = mg__output_put(&run->outputs[r->out], &run->ds, run->tasks, run->n_tasks, run->n,
                                r->task, r->sample, r->raw, clean, &err);
        free(r);
        if (rc < 0) {
            mg__run_fail(run, err.code, "%s", err.msg);
            return;
        }
        if (--run->samples_left == 0 && !run->stopping) begin_stop(run);
        if (run->closing) return;
    }
    bool want = mg_sanitizer_want_write(run->san);
    if (want != run->san_wr_on) {
        if (want)
            uv_poll_start(&run->san_wr, UV_WRITABLE, on_san_event);
        else
            uv_poll_stop(&run->san_wr);
        run->san_wr_on = want;
    }
}

/* Hands a finished sample (raw solution, owned) to the sanitizer. */
static void san_submit(cg_run *run, int out, size_t task, uint32_t sample, char *raw)
{
    cg_sanreq *r = malloc(sizeof *r);
    mg_error err = {0};
    const char *entry_point = run->ds.tasks[run->tasks[task]].entry_point;
    int rc = r ? mg_sanitizer_submit(run->san, raw, entry_point, &err)
               : mg_error_set(&err, MG_ENOMEM, "out of memory");
    if (rc < 0) {
        free(r);
        free(raw);
        mg__run_fail(run, err.code, "%s", err.msg);
        return;
    }
    *r = (cg_sanreq){NULL, out, task, sample, raw};
    if (run->sq_tail)
        run->sq_tail->next = r;
    else
        run->sq_head = r;
    run->sq_tail = r;
    san_pump(run);
}

/* The watchdog (from the progress timer): a sanitizer that stopped answering. */
static void san_check_hung(cg_run *run)
{
    double limit =
        run->p->sanitize_timeout_s > 0 ? run->p->sanitize_timeout_s : MG_SANITIZE_TIMEOUT_S;
    if (!run->san || run->stopping || !run->sq_head || mg_sanitizer_waiting_s(run->san) <= limit)
        return;
    const cg_sanreq *r = run->sq_head;
    mg__run_fail(run, MG_ETIMEDOUT,
                 "sanitize: the python sanitizer gave no answer in %.0f s for %s sample %u (%s); "
                 "the samples before it are on disk",
                 limit, run->ds.tasks[run->tasks[r->task]].task_id, r->sample,
                 run->outputs[r->out].label);
}

/* python3 is needed only when there is something to generate (EvalPlus, too,
 * loads nothing when every sample is cached). */
static int san_open(cg_run *run, mg_error *err)
{
    int rc = mg_sanitizer_open(run->p->python, &run->san, err);
    if (rc == MG_ENOENT || rc == MG_EUSAGE) {
        const char *py = run->p->python;
        char what[600];
        if (py)
            snprintf(what, sizeof what, "--python %.500s is not a working python3", py);
        else
            snprintf(what, sizeof what, "no working python3 on PATH");
        rc = mg_error_set(err, rc,
                          "%s: codegen writes EvalPlus's sanitized solutions to <id>.jsonl, which "
                          "needs python3 (standard library only); install it or give --python PATH",
                          what);
    }
    return rc;
}

void mg__run_sample_done(cg_run *run, cg_worker *w, cg_req *rq, uint32_t slot, const mg_msg_done *d)
{
    cg_chunk *c = rq->chunk;
    cg_output *o = &run->outputs[c->out];
    const mg_sbuf *t = &rq->slot[slot].text;
    char *impl = mg_completion_truncate(t->data ? t->data : "", t->len, &run->stops);
    char *sol = NULL;
    if (impl && run->direct) {
        /* Base models: the solution is the prompt followed by the completion. */
        size_t pl = strlen(run->prompts[c->task]), il = strlen(impl);
        sol = malloc(pl + il + 1);
        if (sol) {
            memcpy(sol, run->prompts[c->task], pl);
            memcpy(sol + pl, impl, il + 1);
        }
        free(impl);
    } else {
        sol = impl;
    }
    if (!sol) {
        mg__run_fail(run, MG_ENOMEM, "out of memory");
        return;
    }
    o->prompt_tokens += d->n_prompt;
    o->gen_tokens += d->n_generated;
    run->gen_tokens_total += d->n_generated;
    if (d->finish < 5) o->finish[d->finish]++;
    if (d->n_experts == 0) o->expert_hist[MG_MSG_MAX_EXPERTS]++;
    for (uint32_t i = 0; i < d->n_experts; i++) {
        int e = d->experts[i];
        if (e < 0 || e >= MG_MSG_MAX_EXPERTS) continue;
        o->expert_hist[e]++;
        if (e > o->max_expert_seen) o->max_expert_seen = e;
    }
    san_submit(run, c->out, c->task, c->idx[slot], sol);
}

/* ---- signals and progress ------------------------------------------------------------------- */

static void on_signal(uv_signal_t *h, int signum)
{
    cg_run *run = h->data;
    if (run->stopping) {
        /* Second signal: do not wait for workers to finish their step. */
        for (int i = 0; i < run->n_workers; i++)
            if (run->workers[i].proc) mg__pool_kill(run->workers[i].proc);
        return;
    }
    if (run->result == 0) {
        run->result = MG_EINTERRUPTED;
        mg_error_set(&run->fatal, MG_EINTERRUPTED, "interrupted by signal %d", signum);
    }
    begin_stop(run);
}

static void fmt_time(char *buf, size_t cap, double s)
{
    if (!(s >= 0) || s > 1e7) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)s;
    if (t >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

static void print_progress(cg_run *run, bool final)
{
    double now = mg__now(), el = now - run->t0;
    long total = 0, done = 0;
    size_t tasks_done = run->n_tasks;
    for (int i = 0; i < run->n_outputs; i++) {
        total += run->outputs[i].total;
        done += run->outputs[i].existing + run->outputs[i].generated;
        if (run->outputs[i].cur_task < tasks_done) tasks_done = run->outputs[i].cur_task;
    }
    long new_done = done, left = run->samples_left;
    for (int i = 0; i < run->n_outputs; i++) new_done -= run->outputs[i].existing;
    double tps = el > 0 ? (double)run->gen_tokens_total / el : 0;
    char e1[32], e2[32];
    fmt_time(e1, sizeof e1, el);
    fmt_time(e2, sizeof e2, new_done > 0 ? el / (double)new_done * (double)left : -1);
    char line[1024];
    int n = snprintf(line, sizeof line,
                     "codegen: tasks %zu/%zu, samples %ld/%ld, %.1f tok/s, elapsed %s, ETA %s%s",
                     tasks_done, run->n_tasks, done, total, tps, e1, e2, final ? "" : " |");
    for (int i = 0; !final && i < run->n_workers && n < (int)sizeof line - 40; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " w%d:%s%d", i,
                      run->workers[i].ready ? "" : "(starting)", run->workers[i].inflight_samples);
    if (run->tty)
        fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else
        fprintf(stderr, "moegen %s\n", line);
    fflush(stderr);
}

static void on_progress(uv_timer_t *t)
{
    cg_run *run = t->data;
    san_check_hung(run);
    if (!run->p->quiet) print_progress(run, false);
}

/* ---- setup ----------------------------------------------------------------------------------- */

static int check_params(const mg_codegen_params *p, mg_error *err)
{
    if (!p->model || !*p->model) return mg_error_set(err, MG_EUSAGE, "--model is required");
    if (!p->dataset) return mg_error_set(err, MG_EUSAGE, "--dataset is required");
    if (strcmp(p->dataset, "humaneval") && strcmp(p->dataset, "mbpp") &&
        strcmp(p->dataset, "custom"))
        return mg_error_set(err, MG_EUSAGE, "--dataset %s: expected humaneval, mbpp or custom",
                            p->dataset);
    if (!strcmp(p->dataset, "custom") && !p->dataset_path)
        return mg_error_set(err, MG_EUSAGE, "--dataset custom needs --dataset-path");
    if (p->n_samples < 1) return mg_error_set(err, MG_EUSAGE, "--n-samples must be >= 1");
    if (!(p->temperature >= 0) || !isfinite(p->temperature))
        return mg_error_set(err, MG_EUSAGE, "--temperature must be >= 0");
    if (p->n_workers < 1 || p->n_workers > 256)
        return mg_error_set(err, MG_EUSAGE, "--workers must be in [1, 256]");
    if (p->batch_size < 1) return mg_error_set(err, MG_EUSAGE, "--batch-size must be >= 1");
    if (p->max_new_tokens < 1) return mg_error_set(err, MG_EUSAGE, "--max-new-tokens must be >= 1");
    if (p->shard_count < 1 || p->shard_index < 0 || p->shard_index >= p->shard_count)
        return mg_error_set(err, MG_EUSAGE, "--shard %d/%d: expected I/N with 0 <= I < N",
                            p->shard_index, p->shard_count);
    /* The CLI resolved it (moegen-cuda for cuda); workers check the index. */
    if (p->device && strcmp(p->device, "cpu") && strncmp(p->device, "cuda", 4))
        return mg_error_set(err, MG_EUSAGE, "--device %s: expected cpu, cuda or cuda:N", p->device);
    for (int i = 0; i < p->n_strategies; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(p->strategies[i], p->strategies[j]))
                return mg_error_set(err, MG_EUSAGE, "--strategies: '%s' given twice",
                                    p->strategies[i]);
    return 0;
}

static int setup(cg_run *run, mg_error *err)
{
    const mg_codegen_params *p = run->p;
    int rc = check_params(p, err);
    if (rc < 0) return rc;
    /* EvalPlus's --greedy override: one sample; the id keeps the temperature given. */
    run->n = p->greedy ? 1 : p->n_samples;
    mg_dataset_params dp = mg_dataset_default_params();
    dp.name = p->dataset;
    dp.path = p->dataset_path;
    dp.id_range = p->id_range;
    dp.task_ids = p->task_ids;
    dp.allow_download = true;
    if ((rc = mg_dataset_open(&dp, &run->ds, err)) < 0) return rc;
    run->tasks = malloc((run->ds.n_tasks ? run->ds.n_tasks : 1) * sizeof *run->tasks);
    if (!run->tasks) return mg_error_set(err, MG_ENOMEM, "out of memory");
    for (size_t i = 0; i < run->ds.n_tasks; i++)
        if ((int)(i % (size_t)p->shard_count) == p->shard_index) run->tasks[run->n_tasks++] = i;

    run->n_outputs = p->n_strategies ? p->n_strategies : 1;
    run->outputs = calloc((size_t)run->n_outputs, sizeof *run->outputs);
    if (!run->outputs) return mg_error_set(err, MG_ENOMEM, "out of memory");
    for (int i = 0; i < run->n_outputs; i++) {
        cg_output *o = &run->outputs[i];
        const char *s = p->n_strategies ? p->strategies[i] : NULL;
        o->strategy = strdup(s ? s : "default");
        o->label = strdup(s ? s : "default");
        o->id = mg_codegen_output_id(p, s);
        if (!o->strategy || !o->label || !o->id)
            return mg_error_set(err, MG_ENOMEM, "out of memory");
        if ((rc = mg__output_open(o, p, &run->ds, run->tasks, run->n_tasks, err)) < 0) return rc;
    }
    /* Chunks: task-major so every output file advances together. */
    int per = p->batch_size;
    for (size_t t = 0; t < run->n_tasks; t++)
        for (int i = 0; i < run->n_outputs; i++)
            for (int s = run->outputs[i].have[t]; s < run->n; s += per) {
                int k = run->n - s < per ? run->n - s : per;
                cg_chunk *c = malloc(sizeof *c + sizeof(uint32_t) * (size_t)k);
                if (!c || push_back(run, c) < 0) {
                    free(c);
                    return mg_error_set(err, MG_ENOMEM, "out of memory");
                }
                c->task = t;
                c->out = i;
                c->n = k;
                for (int j = 0; j < k; j++) c->idx[j] = (uint32_t)(s + j);
                run->samples_left += k;
            }
    run->per_worker_cap = 2 * p->batch_size;
    return 0;
}

static void print_table(cg_run *run, double wall)
{
    printf("%-24s %9s %9s %11s %11s %8s %6s %6s %6s %6s  %s\n", "strategy", "samples", "new",
           "prompt_tok", "gen_tok", "tok/s", "eos", "length", "stop", "cancel", "experts");
    for (int i = 0; i < run->n_outputs; i++) {
        cg_output *o = &run->outputs[i];
        char hist[512] = "";
        int n = 0;
        for (int e = 0; e <= o->max_expert_seen && n < (int)sizeof hist - 32; e++)
            if (o->expert_hist[e])
                n += snprintf(hist + n, sizeof hist - (size_t)n, "%s%d:%ld", n ? " " : "", e,
                              o->expert_hist[e]);
        if (o->expert_hist[MG_MSG_MAX_EXPERTS] && n < (int)sizeof hist - 32)
            snprintf(hist + n, sizeof hist - (size_t)n, "%snone:%ld", n ? " " : "",
                     o->expert_hist[MG_MSG_MAX_EXPERTS]);
        char samples[32];
        snprintf(samples, sizeof samples, "%ld/%ld", o->existing + o->generated, o->total);
        printf("%-24s %9s %9ld %11ld %11ld %8.1f %6ld %6ld %6ld %6ld  %s\n", o->label, samples,
               o->generated, o->prompt_tokens, o->gen_tokens,
               wall > 0 ? (double)o->gen_tokens / wall : 0.0, o->finish[MG_MSG_FINISH_EOS],
               o->finish[MG_MSG_FINISH_LENGTH], o->finish[MG_MSG_FINISH_STOP],
               o->finish[MG_MSG_FINISH_CANCEL], hist[0] ? hist : "-");
    }
    printf("wall time %.1f s, %d worker(s); summaries: <output>.summary.json\n", wall,
           run->n_workers);
    fflush(stdout);
}

static int run_loop(cg_run *run, mg_error *err)
{
    uv_loop_t loop;
    int urc = uv_loop_init(&loop);
    if (urc < 0) return mg_error_set(err, MG_EIO, "uv_loop_init: %s", uv_strerror(urc));
    run->loop = &loop;
    uv_signal_init(&loop, &run->sigint);
    uv_signal_init(&loop, &run->sigterm);
    uv_timer_init(&loop, &run->progress);
    uv_timer_init(&loop, &run->kill_timer);
    run->sigint.data = run->sigterm.data = run->progress.data = run->kill_timer.data = run;
    run->open_handles = 4;
    uv_signal_start(&run->sigint, on_signal, SIGINT);
    uv_signal_start(&run->sigterm, on_signal, SIGTERM);
    uv_timer_start(&run->progress, on_progress, run->tty ? 500 : 5000, run->tty ? 500 : 5000);
    if (run->san) {
        int prc = uv_poll_init(&loop, &run->san_rd, mg_sanitizer_fd(run->san, false));
        if (prc == 0) {
            run->san_rd.data = run;
            run->open_handles++;
            prc = uv_poll_init(&loop, &run->san_wr, mg_sanitizer_fd(run->san, true));
            if (prc < 0) uv_close((uv_handle_t *)&run->san_rd, on_run_handle_closed);
        }
        if (prc == 0) {
            run->san_wr.data = run;
            run->open_handles++;
            run->san_polls = true;
            uv_poll_start(&run->san_rd, UV_READABLE, on_san_event);
        } else {
            mg__run_fail(run, MG_EIO, "sanitize: cannot watch the sanitizer's pipes: %s",
                         uv_strerror(prc));
        }
    }

    run->workers = calloc((size_t)run->n_workers, sizeof *run->workers);
    if (!run->workers) mg__run_fail(run, MG_ENOMEM, "out of memory");
    for (int i = 0; run->workers && i < run->n_workers && !run->stopping; i++) {
        run->workers[i].run = run;
        run->workers[i].index = i;
        mg_error e = {0};
        if (mg__pool_start_worker(run, &run->workers[i], &e) < 0)
            mg__run_fail(run, e.code, "%s", e.msg);
    }
    mg__run_maybe_finish(run);
    uv_run(&loop, UV_RUN_DEFAULT);
    int crc = uv_loop_close(&loop);
    MG_ASSERT(crc == 0); /* every handle was closed */
    run->loop = NULL;
    return 0;
}

int mg_codegen_run(const mg_codegen_params *p, mg_codegen_result *res, mg_error *err)
{
    cg_run run = {.p = p, .n_workers = p->n_workers};
    run.tty = isatty(2);
    run.t0 = mg__now();
    if (res) memset(res, 0, sizeof *res);
    int rc = setup(&run, err);
    if (rc == 0 && run.samples_left == 0) {
        if (!p->quiet) fprintf(stderr, "All samples are already cached. Skipping codegen.\n");
    } else if (rc == 0) {
        if (p->exe) {
            snprintf(run.exe, sizeof run.exe, "%s", p->exe);
        } else {
            size_t n = sizeof run.exe;
            if (uv_exepath(run.exe, &n) < 0)
                rc = mg_error_set(err, MG_EIO, "cannot find my own executable");
        }
        if (rc == 0) rc = san_open(&run, err);
        if (rc == 0) rc = run_loop(&run, err);
        if (rc == 0 && run.result) rc = mg_error_set(err, run.result, "%s", run.fatal.msg);
        if (!p->quiet && (rc == 0 || rc == MG_EINTERRUPTED)) print_progress(&run, true);
    }
    double wall = mg__now() - run.t0;
    bool failed = rc < 0 && rc != MG_EINTERRUPTED;
    for (int i = 0; failed && run.outputs && i < run.n_outputs; i++) {
        /* A run that failed before writing anything leaves no empty files. */
        cg_output *o = &run.outputs[i];
        if (o->opened && o->created && o->generated == 0) {
            mg__output_discard_created(o);
            free(o->summary_path);
            o->summary_path = NULL;
        }
    }
    if (run.outputs) {
        for (int i = 0; i < run.n_outputs; i++) {
            mg_error serr = {0};
            if (run.outputs[i].summary_path &&
                mg__output_summary(&run.outputs[i], wall, (int)run.n_tasks, &serr) < 0 && rc == 0)
                rc = mg_error_set(err, serr.code, "%s", serr.msg);
        }
        if (run.outputs[0].summary_path && (rc == 0 || rc == MG_EINTERRUPTED))
            print_table(&run, wall);
    }
    if (rc == 0)
        for (int i = 0; i < run.n_outputs; i++)
            if (!mg__output_complete(&run.outputs[i], run.n_tasks))
                rc = mg_error_set(err, MG_EIO, "%s: incomplete after the run", run.outputs[i].path);
    if (res) {
        res->n_outputs = run.n_outputs;
        for (int i = 0; run.outputs && i < run.n_outputs; i++) {
            res->samples_written += run.outputs[i].generated;
            res->samples_total += run.outputs[i].existing + run.outputs[i].generated;
        }
    }
    /* cleanup */
    mg_sanitizer_close(run.san);
    while (run.sq_head) {
        cg_sanreq *r = run.sq_head;
        run.sq_head = r->next;
        free(r->raw);
        free(r);
    }
    while (run.q_len) free(mg__run_pop_chunk(&run));
    free(run.queue);
    if (run.workers) {
        for (int i = 0; i < run.n_workers; i++) {
            cg_worker *w = &run.workers[i];
            MG_ASSERT(w->proc == NULL);
            free(w->inflight);
        }
        free(run.workers);
    }
    for (int i = 0; run.outputs && i < run.n_outputs; i++)
        mg__output_close(&run.outputs[i], run.n_tasks, run.n);
    free(run.outputs);
    if (run.prompts)
        for (size_t t = 0; t < run.n_tasks; t++) free(run.prompts[t]);
    free(run.prompts);
    mg_strlist_free(&run.stops);
    free(run.tasks);
    mg_dataset_free(&run.ds);
    return rc;
}
