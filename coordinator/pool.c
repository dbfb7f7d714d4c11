/* pool.c — the worker processes of a run: spawning `moegen worker` with its
 * two rings and doorbells, pumping its results, dispatching chunks to it,
 * and restarting it (re-queueing what it had not finished) when it dies.
 *
 * File descriptors a worker inherits (uv_spawn stdio slots):
 *   3 request ring (shm)    4 result ring (shm)
 *   5 its doorbell (read end; we hold the write end)
 *   6 our doorbell (write end; we poll the read end)
 * The shm names are unlinked before the spawn: the fds are all a worker
 * needs, so nothing is ever left in /dev/shm, whoever crashes. */
#include "internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mg_log.h"

#define RING_CAPACITY (1u << 20)

struct cg_proc {
    cg_worker *w;
    uv_process_t process;
    uv_poll_t poll;
    mg_ring *req, *res;
    int my_db_r;    /* our doorbell, read end (polled) */
    int child_db_w; /* the worker's doorbell, write end */
    int handles_open;
    bool exited;
    bool poll_on;
    bool shutdown_sent;
    bool failed; /* protocol error: killed, counts as a crash */
    char last_error[1024];
};

static void on_exit_cb(uv_process_t *h, int64_t status, int term_signal);
static void on_poll(uv_poll_t *h, int status, int events);

/* ---- lifetime of one incarnation ---------------------------------------------------------- */

static void proc_free(cg_proc *pr)
{
    mg_ring_close(pr->req);
    mg_ring_close(pr->res);
    if (pr->my_db_r >= 0) close(pr->my_db_r);
    if (pr->child_db_w >= 0) close(pr->child_db_w);
    free(pr);
}

static void on_handle_closed(uv_handle_t *h)
{
    cg_proc *pr = h->data;
    if (--pr->handles_open > 0) return;
    cg_run *run = pr->w->run;
    proc_free(pr);
    run->n_procs--;
    mg__run_maybe_finish(run);
}

static void kill_proc(cg_proc *pr, int sig)
{
    if (!pr->exited) uv_process_kill(&pr->process, sig);
}

void mg__pool_kill(cg_proc *pr)
{
    kill_proc(pr, SIGKILL);
}

int mg__pool_start_worker(cg_run *run, cg_worker *w, mg_error *err)
{
    const mg_codegen_params *p = run->p;
    cg_proc *pr = calloc(1, sizeof *pr);
    if (!pr) return mg_error_set(err, MG_ENOMEM, "out of memory");
    pr->w = w;
    pr->my_db_r = pr->child_db_w = -1;
    int my_db[2] = {-1, -1}, child_db[2] = {-1, -1};
    mg_ring_params rp = {.capacity = RING_CAPACITY};
    int rc = mg_ring_create(&rp, &pr->req, err);
    if (rc == 0) rc = mg_ring_create(&rp, &pr->res, err);
    if (rc == 0) rc = mg_doorbell_open(my_db, err);
    if (rc == 0) rc = mg_doorbell_open(child_db, err);
    if (rc < 0) goto fail;
    mg_ring_unlink(pr->req);
    mg_ring_unlink(pr->res);
    pr->my_db_r = my_db[0];
    pr->child_db_w = child_db[1];
    mg_ring_set_notify_fd(pr->req, pr->child_db_w);
    mg_ring_set_notify_fd(pr->res, pr->child_db_w);
    /* We sleep in the loop from the start: the worker must ring for HELLO. */
    mg_ring_consumer_sleep_ok(pr->res);

    char idx[16], threads[16], batch[16], ppid[24];
    snprintf(idx, sizeof idx, "%d", w->index);
    int nt = p->n_threads;
    if (nt <= 0) {
        nt = (int)uv_available_parallelism() / (run->n_workers > 0 ? run->n_workers : 1);
        if (nt < 1) nt = 1;
    }
    snprintf(threads, sizeof threads, "%d", nt);
    snprintf(batch, sizeof batch, "%d", p->batch_size);
    snprintf(ppid, sizeof ppid, "%ld", (long)getpid());
    char *args[32];
    int a = 0;
    args[a++] = run->exe;
    args[a++] = "worker";
    args[a++] = "--index", args[a++] = idx;
    args[a++] = "--req-fd", args[a++] = "3";
    args[a++] = "--res-fd", args[a++] = "4";
    args[a++] = "--doorbell-fd", args[a++] = "5";
    args[a++] = "--peer-doorbell-fd", args[a++] = "6";
    args[a++] = "--parent-pid", args[a++] = ppid;
    args[a++] = "--model", args[a++] = (char *)p->model;
    if (p->base_model) args[a++] = "--base-model", args[a++] = (char *)p->base_model;
    args[a++] = "--device", args[a++] = (char *)(p->device ? p->device : "cpu");
    args[a++] = "--threads", args[a++] = threads;
    args[a++] = "--batch-size", args[a++] = batch;
    args[a] = NULL;

    uv_stdio_container_t stdio[7];
    stdio[0].flags = UV_IGNORE;
    stdio[1].flags = UV_INHERIT_FD; /* workers never print results; their stdout is our stderr */
    stdio[1].data.fd = 2;
    stdio[2].flags = UV_INHERIT_FD;
    stdio[2].data.fd = 2;
    stdio[3].flags = UV_INHERIT_FD;
    stdio[3].data.fd = mg_ring_fd(pr->req);
    stdio[4].flags = UV_INHERIT_FD;
    stdio[4].data.fd = mg_ring_fd(pr->res);
    stdio[5].flags = UV_INHERIT_FD;
    stdio[5].data.fd = child_db[0];
    stdio[6].flags = UV_INHERIT_FD;
    stdio[6].data.fd = my_db[1];
    uv_process_options_t opt = {0};
    opt.file = run->exe;
    opt.args = args;
    opt.exit_cb = on_exit_cb;
    opt.stdio = stdio;
    opt.stdio_count = 7;
    pr->process.data = pr;
    run->n_procs++;
    int urc = uv_spawn(run->loop, &pr->process, &opt);
    /* The child has its copies now (or there is no child): drop the ends we
     * must not hold, so EOF tells each side the other is gone. */
    close(child_db[0]);
    close(my_db[1]);
    child_db[0] = my_db[1] = -1;
    if (urc < 0) {
        /* libuv: a failed spawn still needs uv_close on the handle. */
        pr->handles_open = 1;
        pr->exited = true;
        uv_close((uv_handle_t *)&pr->process, on_handle_closed);
        return mg_error_set(err, MG_ECHILD, "cannot start worker %d (%s worker): %s", w->index,
                            run->exe, uv_strerror(urc));
    }
    pr->handles_open = 1;
    uv_poll_init(run->loop, &pr->poll, pr->my_db_r);
    pr->poll.data = pr;
    pr->handles_open = 2;
    uv_poll_start(&pr->poll, UV_READABLE, on_poll);
    pr->poll_on = true;
    w->proc = pr;
    w->ready = false;
    return 0;

fail:
    for (int i = 0; i < 2; i++) {
        if (my_db[i] >= 0) close(my_db[i]);
        if (child_db[i] >= 0) close(child_db[i]);
    }
    pr->my_db_r = pr->child_db_w = -1;
    proc_free(pr);
    return rc;
}

/* ---- in-flight bookkeeping ---------------------------------------------------------------- */

static cg_req *find_req(cg_worker *w, uint64_t id, int *at)
{
    for (int i = 0; i < w->n_inflight; i++)
        if (w->inflight[i]->req_id == id) {
            *at = i;
            return w->inflight[i];
        }
    return NULL;
}

static void req_free(cg_req *rq)
{
    for (int i = 0; i < rq->chunk->n; i++) mg_sbuf_free(&rq->slot[i].text);
    free(rq->chunk);
    free(rq);
}

static void remove_req(cg_worker *w, int at)
{
    req_free(w->inflight[at]);
    w->inflight[at] = w->inflight[--w->n_inflight];
}

/* The worker is gone: its unfinished samples go back to the front of the queue. */
static void requeue_all(cg_worker *w)
{
    cg_run *run = w->run;
    while (w->n_inflight) {
        cg_req *rq = w->inflight[w->n_inflight - 1];
        int left = rq->chunk->n - rq->n_done;
        if (left > 0 && !run->stopping) {
            cg_chunk *c = malloc(sizeof *c + sizeof(uint32_t) * (size_t)left);
            if (c) {
                c->task = rq->chunk->task;
                c->out = rq->chunk->out;
                c->n = 0;
                for (int i = 0; i < rq->chunk->n; i++)
                    if (!rq->slot[i].done) c->idx[c->n++] = rq->chunk->idx[i];
                mg__run_push_front(run, c);
            } else {
                mg__run_fail(run, MG_ENOMEM, "out of memory re-queueing samples");
            }
        }
        remove_req(w, w->n_inflight - 1);
    }
    w->inflight_samples = 0;
}

/* ---- messages from a worker --------------------------------------------------------------- */

static bool text_has_stop(cg_run *run, const mg_sbuf *t, size_t old)
{
    size_t from = run->max_stop && old > run->max_stop - 1 ? old - (run->max_stop - 1) : 0;
    for (size_t i = 0; i < run->stops.n; i++) {
        size_t sl = strlen(run->stops.items[i]);
        if (sl && t->len >= from && memmem(t->data + from, t->len - from, run->stops.items[i], sl))
            return true;
    }
    return false;
}

static int handle(cg_proc *pr, const mg_ring_msg *m, mg_error *err)
{
    cg_worker *w = pr->w;
    cg_run *run = w->run;
    int rc, at;
    switch (m->type) {
    case MG_MSG_HELLO: {
        mg_msg_hello h;
        return mg_msg_decode_hello(m, &h, err);
    }
    case MG_MSG_READY: {
        mg_msg_ready r;
        if ((rc = mg_msg_decode_ready(m, &r, err)) < 0) return rc;
        if (!run->prompts_ready) {
            if ((rc = mg__run_prepare_prompts(run, r.tokenizer_dir, err)) < 0) {
                mg__run_fail(run, rc, "%s", err->msg);
                return 0;
            }
            if (!run->p->quiet) mg_info("moegen codegen: model %s (%s)", run->p->model, r.desc);
        }
        w->ready = true;
        return 0;
    }
    case MG_MSG_TEXT: {
        mg_msg_text t;
        if ((rc = mg_msg_decode_text(m, &t, err)) < 0) return rc;
        cg_req *rq = find_req(w, t.req_id, &at);
        if (!rq || t.slot >= (uint32_t)rq->chunk->n || rq->slot[t.slot].done)
            return mg_error_set(err, MG_EPROTO, "TEXT for unknown request %llu slot %u",
                                (unsigned long long)t.req_id, t.slot);
        cg_slot *s = &rq->slot[t.slot];
        size_t old = s->text.len;
        if (mg_sbuf_append(&s->text, t.text, t.len) < 0)
            return mg_error_set(err, MG_ENOMEM, "out of memory");
        if (!s->cancel_sent && text_has_stop(run, &s->text, old)) {
            /* The worker stops by itself too; this only saves a step or two. */
            mg_msg_cancel c = {t.req_id, t.slot};
            if (mg_msg_send_cancel(pr->req, &c) == 0) s->cancel_sent = true;
        }
        return 0;
    }
    case MG_MSG_DONE: {
        mg_msg_done d;
        if ((rc = mg_msg_decode_done(m, &d, err)) < 0) return rc;
        cg_req *rq = find_req(w, d.req_id, &at);
        if (!rq || d.slot >= (uint32_t)rq->chunk->n || rq->slot[d.slot].done)
            return mg_error_set(err, MG_EPROTO, "DONE for unknown request %llu slot %u",
                                (unsigned long long)d.req_id, d.slot);
        rq->slot[d.slot].done = true;
        rq->n_done++;
        w->inflight_samples--;
        w->samples_done++;
        w->tokens_done += d.n_generated;
        w->crashes_in_row = 0;
        mg__run_sample_done(run, w, rq, d.slot, &d);
        if (rq->n_done == rq->chunk->n) remove_req(w, at);
        return 0;
    }
    case MG_MSG_ERROR: {
        mg_msg_error e;
        if ((rc = mg_msg_decode_error(m, &e, err)) < 0) return rc;
        snprintf(pr->last_error, sizeof pr->last_error, "%s", e.msg);
        /* A worker reports only what it cannot get past (the model does not
         * load, a strategy does not fit it): restarting would not help. */
        mg__run_fail(run, e.code ? e.code : MG_ECHILD, "worker %d: %s", w->index, e.msg);
        return 0;
    }
    default:
        return mg_error_set(err, MG_EPROTO, "unexpected message type %u", m->type);
    }
}

/* Reads every result the worker has published. */
static void pump(cg_proc *pr)
{
    mg_error err = {0};
    for (;;) {
        mg_ring_msg m;
        int got;
        while ((got = mg_ring_peek(pr->res, &m, &err)) == 1) {
            int rc = handle(pr, &m, &err);
            mg_ring_release(pr->res);
            if (rc < 0) {
                got = rc;
                break;
            }
        }
        if (got < 0) {
            mg_warn("worker %d: %s; restarting it", pr->w->index, err.msg);
            snprintf(pr->last_error, sizeof pr->last_error, "%s", err.msg);
            pr->failed = true;
            kill_proc(pr, SIGKILL);
            return;
        }
        if (pr->exited || mg_ring_consumer_sleep_ok(pr->res)) return;
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    cg_proc *pr = h->data;
    if (status < 0 || mg_doorbell_drain(pr->my_db_r) == MG_EPIPE) {
        /* The worker's end is closed: it is exiting; on_exit_cb cleans up. */
        uv_poll_stop(&pr->poll);
        pr->poll_on = false;
    }
    pump(pr);
    if (!pr->failed && pr->w->proc == pr) mg__pool_dispatch(pr->w->run, pr->w);
}

static void on_exit_cb(uv_process_t *h, int64_t status, int term_signal)
{
    cg_proc *pr = h->data;
    cg_worker *w = pr->w;
    cg_run *run = w->run;
    pr->exited = true;
    if (!pr->failed) pump(pr); /* results it published before dying still count */
    requeue_all(w);
    w->proc = NULL;
    w->ready = false;
    if (pr->poll_on) uv_poll_stop(&pr->poll);
    pr->poll_on = false;
    uv_close((uv_handle_t *)&pr->process, on_handle_closed);
    uv_close((uv_handle_t *)&pr->poll, on_handle_closed);
    if (run->stopping) return;

    char how[64];
    if (term_signal)
        snprintf(how, sizeof how, "was killed by signal %d", term_signal);
    else
        snprintf(how, sizeof how, "exited with status %lld", (long long)status);
    w->crashes_in_row++;
    w->restarts++;
    if (w->crashes_in_row >= run->p->max_crashes) {
        mg__run_fail(run, MG_ECHILD,
                     "worker %d %s, %d times in a row without finishing a sample%s%s", w->index,
                     how, w->crashes_in_row, pr->last_error[0] ? "; last error: " : "",
                     pr->last_error);
        return;
    }
    mg_warn("moegen codegen: worker %d %s; restarting it and re-queueing its samples", w->index,
            how);
    mg_error err = {0};
    if (mg__pool_start_worker(run, w, &err) < 0) mg__run_fail(run, err.code, "%s", err.msg);
}

/* ---- dispatch and stopping ---------------------------------------------------------------- */

static cg_req *make_req(cg_run *run, cg_chunk *c)
{
    cg_req *rq = calloc(1, sizeof *rq + sizeof(cg_slot) * (size_t)c->n);
    if (!rq) return NULL;
    rq->req_id = ++run->next_req_id;
    rq->chunk = c;
    return rq;
}

void mg__pool_dispatch(cg_run *run, cg_worker *w)
{
    cg_proc *pr = w->proc;
    const mg_codegen_params *p = run->p;
    while (pr && w->ready && !run->stopping && run->prompts_ready &&
           w->inflight_samples < run->per_worker_cap) {
        cg_chunk *c = mg__run_pop_chunk(run);
        if (!c) return;
        const mg_task *task = &run->ds.tasks[run->tasks[c->task]];
        cg_output *o = &run->outputs[c->out];
        mg_msg_request m = {.task_id = task->task_id,
                            .prompt = run->prompts[c->task],
                            .prompt_len = (uint32_t)strlen(run->prompts[c->task]),
                            .stops = run->stops.items,
                            .n_stops = (uint32_t)run->stops.n,
                            .strategy = o->strategy,
                            .greedy = run->p->greedy || p->temperature == 0,
                            .temperature = (float)p->temperature,
                            .top_p = 0.95f,
                            .top_k = 50,
                            .seed = p->seed,
                            .max_new_tokens = p->max_new_tokens,
                            .task_key = mg_msg_task_key(task->task_id),
                            .sample_index = c->idx,
                            .n_samples = (uint32_t)c->n};
        if (m.greedy) m.temperature = 0, m.top_p = 1.0f, m.top_k = 0;
        size_t need = mg_msg_request_size(&m);
        if (need > mg_ring_max_payload(pr->req)) {
            free(c);
            mg__run_fail(run, MG_ERANGE, "%s: prompt of %u bytes does not fit the %u-byte ring",
                         task->task_id, m.prompt_len, mg_ring_capacity(pr->req));
            return;
        }
        if (w->n_inflight == w->cap_inflight) {
            int cap = w->cap_inflight ? 2 * w->cap_inflight : 8;
            cg_req **t = realloc(w->inflight, sizeof *t * (size_t)cap);
            if (!t) {
                mg__run_push_front(run, c);
                mg__run_fail(run, MG_ENOMEM, "out of memory");
                return;
            }
            w->inflight = t;
            w->cap_inflight = cap;
        }
        m.req_id = run->next_req_id + 1;
        int rc = mg_msg_send_request(pr->req, &m);
        if (rc == MG_EAGAIN) {
            mg__run_push_front(run, c);
            /* Full: the worker rings our doorbell once it has consumed some;
             * on_poll then dispatches again. */
            if (mg_ring_producer_sleep_ok(pr->req, need)) return;
            continue;
        }
        cg_req *rq = rc == 0 ? make_req(run, c) : NULL;
        if (!rq) {
            free(c);
            mg__run_fail(run, rc < 0 ? rc : MG_ENOMEM, "sending a request to worker %d failed",
                         w->index);
            return;
        }
        w->inflight[w->n_inflight++] = rq;
        w->inflight_samples += c->n;
    }
}

static void on_kill_timer(uv_timer_t *t)
{
    cg_run *run = t->data;
    for (int i = 0; i < run->n_workers; i++)
        if (run->workers[i].proc) kill_proc(run->workers[i].proc, SIGKILL);
}

void mg__pool_stop_all(cg_run *run)
{
    for (int i = 0; i < run->n_workers; i++) {
        cg_proc *pr = run->workers[i].proc;
        if (!pr || pr->shutdown_sent) continue;
        pr->shutdown_sent = true;
        if (mg_msg_send_shutdown(pr->req) < 0) kill_proc(pr, SIGTERM);
    }
    if (!run->kill_timer_on && !mg__pool_all_gone(run)) {
        /* A worker deep in a long step may take a moment; after that it is
         * killed (it holds nothing that needs a clean exit). */
        run->kill_timer_on = true;
        uv_timer_start(&run->kill_timer, on_kill_timer, 3000, 0);
    }
}

bool mg__pool_all_gone(const cg_run *run)
{
    for (int i = 0; i < run->n_workers; i++)
        if (run->workers[i].proc) return false;
    return true;
}
