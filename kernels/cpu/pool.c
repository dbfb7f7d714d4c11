/* pool.c — the kernel thread pool: a fixed set of workers that claim indices
 * of a parallel loop from a shared counter, the calling thread working
 * alongside them.
 *
 * Two costs shape it. A decode step runs a few hundred small matmuls, so
 * waking workers must be cheap: they spin briefly on the generation counter
 * before sleeping on the condition variable. And cores may be oversubscribed
 * (other processes, a VM's shared vCPUs): the caller therefore waits only for
 * items that a worker actually claimed, never for a worker that has not been
 * scheduled yet — a late worker finds the job finished and goes back to sleep.
 * The claim counter carries the generation in its high half, so a late worker
 * can never take an index of a newer job with the function of an older one. */
#include "mg_kernels.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

/* Spin iterations (pause instructions) before sleeping or yielding. */
#define MG_KPOOL_SPIN 4096

struct mg_kpool {
    int n_threads; /* including the caller */
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv_start;
    atomic_uint gen; /* bumped once per mg_kpool_run, under mu */
    atomic_bool stop;
    /* The current job; written under mu before gen is bumped. */
    void (*fn)(int i, void *arg);
    void *arg;
    int n_items;
    _Atomic uint64_t work; /* (gen << 32) | next unclaimed index */
    atomic_int done;       /* items of the current job finished */
    atomic_flag busy;      /* a job is being dispatched (by any thread) */
};

/* Set while this thread runs pool items: a kernel called from inside an item
 * (nested parallelism) runs inline instead of re-entering the pool, which
 * would otherwise wait on itself. */
static _Thread_local bool in_pool_item;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims and runs items of generation g until none are left or the job has
 * moved on. */
static void run_items(mg_kpool *p, unsigned g, int n_items, void (*fn)(int, void *), void *arg)
{
    uint64_t cur = atomic_load_explicit(&p->work, memory_order_acquire);
    for (;;) {
        if ((unsigned)(cur >> 32) != g) return;
        uint32_t idx = (uint32_t)cur;
        if (idx >= (uint32_t)n_items) return;
        if (!atomic_compare_exchange_weak_explicit(&p->work, &cur, cur + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* cur was reloaded */
        in_pool_item = true;
        fn((int)idx, arg);
        in_pool_item = false;
        atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
        cur = atomic_load_explicit(&p->work, memory_order_acquire);
    }
}

static void *worker_main(void *vp)
{
    mg_kpool *p = vp;
    unsigned seen = 0;
    for (;;) {
        for (int s = 0; s < MG_KPOOL_SPIN; s++) {
            if (atomic_load_explicit(&p->gen, memory_order_acquire) != seen ||
                atomic_load_explicit(&p->stop, memory_order_relaxed))
                break;
            cpu_relax();
        }
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->gen, memory_order_relaxed) == seen &&
               !atomic_load_explicit(&p->stop, memory_order_relaxed))
            pthread_cond_wait(&p->cv_start, &p->mu);
        if (atomic_load_explicit(&p->stop, memory_order_relaxed)) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = atomic_load_explicit(&p->gen, memory_order_relaxed);
        void (*fn)(int, void *) = p->fn;
        void *arg = p->arg;
        int n_items = p->n_items;
        pthread_mutex_unlock(&p->mu);
        run_items(p, seen, n_items, fn, arg);
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
    atomic_init(&p->gen, 0);
    atomic_init(&p->stop, false);
    atomic_init(&p->work, 0);
    atomic_init(&p->done, 0);
    atomic_flag_clear(&p->busy);
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
        atomic_store(&p->stop, true);
        pthread_cond_broadcast(&p->cv_start);
        pthread_mutex_unlock(&p->mu);
        for (int t = 0; t < p->n_threads - 1; t++) pthread_join(p->threads[t], NULL);
        free(p->threads);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_start);
    free(p);
}

int mg_kpool_size(const mg_kpool *p)
{
    return p ? p->n_threads : 1;
}

void mg_kpool_run(mg_kpool *p, int n, void (*fn)(int i, void *arg), void *arg)
{
    if (n <= 0) return;
    /* Inline when there is nothing to share, when called from inside an
     * item, or when another thread is dispatching on this pool right now
     * (a pool serves one job at a time; the second caller still gets a
     * correct result, on its own thread). */
    if (!p || p->n_threads <= 1 || n == 1 || in_pool_item ||
        atomic_flag_test_and_set_explicit(&p->busy, memory_order_acquire)) {
        for (int i = 0; i < n; i++) fn(i, arg);
        return;
    }
    pthread_mutex_lock(&p->mu);
    unsigned g = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
    p->fn = fn;
    p->arg = arg;
    p->n_items = n;
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    atomic_store_explicit(&p->work, (uint64_t)g << 32, memory_order_release);
    atomic_store_explicit(&p->gen, g, memory_order_release);
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);

    run_items(p, g, n, fn, arg);

    /* Every item is claimed; wait for the ones still running elsewhere. */
    for (int s = 0; atomic_load_explicit(&p->done, memory_order_acquire) < n; s++) {
        if (s < MG_KPOOL_SPIN)
            cpu_relax();
        else
            sched_yield();
    }
    atomic_flag_clear_explicit(&p->busy, memory_order_release);
}
