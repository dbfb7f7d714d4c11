/* pool.c — the kernel thread pool: a fixed set of workers that take indices
 * of a parallel loop from a shared atomic counter, the calling thread working
 * alongside them. A decode step runs a few hundred small matmuls, so waking
 * the workers must be cheap: they spin briefly on the generation counter
 * before sleeping on the condition variable (the cost of a futex wake is
 * comparable to a whole small matvec). */
#include "mg_kernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Spin iterations before sleeping; ~tens of microseconds on current CPUs. */
#define MG_KPOOL_SPIN 4096

struct mg_kpool {
    int n_threads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv_start;
    pthread_cond_t cv_done;
    atomic_uint gen; /* bumped once per mg_kpool_run */
    bool stop;
    /* The current job; written under mu before gen is bumped. */
    void (*fn)(int i, void *arg);
    void *arg;
    int n_items;
    atomic_int next;
    atomic_int active; /* workers still inside the current job */
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void run_items(mg_kpool *p)
{
    for (;;) {
        int i = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (i >= p->n_items) break;
        p->fn(i, p->arg);
    }
}

static void *worker_main(void *vp)
{
    mg_kpool *p = vp;
    unsigned seen = 0;
    for (;;) {
        for (int s = 0; s < MG_KPOOL_SPIN; s++) {
            if (atomic_load_explicit(&p->gen, memory_order_acquire) != seen) break;
            cpu_relax();
        }
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->gen, memory_order_relaxed) == seen && !p->stop)
            pthread_cond_wait(&p->cv_start, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load_explicit(&p->gen, memory_order_relaxed);
        pthread_mutex_unlock(&p->mu);

        run_items(p);

        if (atomic_fetch_sub_explicit(&p->active, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

int mg_kpool_new(int n_threads, mg_kpool **out, mg_error *err)
{
    *out = NULL;
    if (n_threads < 0)
        return mg_error_set(err, MG_EINVAL, "kernel pool: negative thread count %d", n_threads);
    if (n_threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = c > 0 ? (int)(c > 1024 ? 1024 : c) : 1;
    }
    mg_kpool *p = calloc(1, sizeof *p);
    if (!p) return mg_error_set(err, MG_ENOMEM, "kernel pool: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->next, 0);
    atomic_init(&p->active, 0);
    if (n_threads > 1) {
        p->threads = calloc((size_t)n_threads - 1, sizeof *p->threads);
        if (!p->threads) {
            mg_kpool_free(p);
            return mg_error_set(err, MG_ENOMEM, "kernel pool: out of memory");
        }
        for (int t = 0; t < n_threads - 1; t++) {
            int rc = pthread_create(&p->threads[t], NULL, worker_main, p);
            if (rc != 0) {
                p->n_threads = t + 1; /* only the threads that exist get joined */
                mg_kpool_free(p);
                return mg_error_set(err, mg_err_from_errno(rc),
                                    "kernel pool: cannot start thread %d of %d", t + 1, n_threads);
            }
        }
    }
    *out = p;
    return 0;
}

void mg_kpool_free(mg_kpool *p)
{
    if (!p) return;
    if (p->threads) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_broadcast(&p->cv_start);
        pthread_mutex_unlock(&p->mu);
        for (int t = 0; t < p->n_threads - 1; t++) pthread_join(p->threads[t], NULL);
        free(p->threads);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_start);
    pthread_cond_destroy(&p->cv_done);
    free(p);
}

int mg_kpool_size(const mg_kpool *p)
{
    return p ? p->n_threads : 1;
}

void mg_kpool_run(mg_kpool *p, int n, void (*fn)(int i, void *arg), void *arg)
{
    if (n <= 0) return;
    if (!p || p->n_threads <= 1 || n == 1) {
        for (int i = 0; i < n; i++) fn(i, arg);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n_items = n;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->active, p->n_threads - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);

    run_items(p);

    for (int s = 0; s < MG_KPOOL_SPIN; s++) {
        if (atomic_load_explicit(&p->active, memory_order_acquire) == 0) return;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->active, memory_order_acquire) > 0)
        pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
