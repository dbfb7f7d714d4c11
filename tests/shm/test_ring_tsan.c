/* test_ring_tsan.c — the ring's producer/consumer stress as a plain program,
 * so it also runs under ThreadSanitizer (Criterion cannot start under TSan).
 * Threads first (what TSan checks), then two processes (what ships). */
#include "stress.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "test_ring_tsan: %s: %s\n", what, why);
    return 1;
}

static int run_threads(void)
{
    mg_ring_params rp = {.capacity = 1u << 14};
    mg_ring *p = NULL, *c = NULL;
    mg_error err = {0};
    int db_c[2], db_p[2];
    if (mg_ring_create(&rp, &p, &err) < 0 || mg_ring_attach(mg_ring_name(p), &c, &err) < 0 ||
        mg_doorbell_open(db_c, &err) < 0 || mg_doorbell_open(db_p, &err) < 0)
        return fail("threads setup", err.msg);
    mg_ring_set_notify_fd(p, db_c[1]);
    mg_ring_set_notify_fd(c, db_p[1]);
    stress_thread_arg ta = {p, db_p[0], STRESS_MESSAGES, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, stress_producer_thread, &ta)) return fail("threads", "create");
    char why[256] = "";
    uint32_t got = stress_consume(c, db_c[0], STRESS_MESSAGES, why, sizeof why);
    pthread_join(th, NULL);
    for (int i = 0; i < 2; i++) {
        close(db_c[i]);
        close(db_p[i]);
    }
    mg_ring_close(p);
    mg_ring_close(c);
    if (got != STRESS_MESSAGES) return fail("threads", why);
    if (ta.rc) return fail("threads", mg_strerror(ta.rc));
    return 0;
}

static int run_processes(void)
{
    mg_ring *c = NULL;
    mg_error err = {0};
    int db_c[2], db_p[2];
    if (mg_ring_create(NULL, &c, &err) < 0 || mg_doorbell_open(db_c, &err) < 0 ||
        mg_doorbell_open(db_p, &err) < 0)
        return fail("processes setup", err.msg);
    pid_t pid = fork();
    if (pid < 0) return fail("processes", "fork");
    if (pid == 0) {
        mg_ring *p = NULL;
        if (mg_ring_attach(mg_ring_name(c), &p, NULL) < 0) _exit(3);
        mg_ring_set_notify_fd(p, db_c[1]);
        int rc = stress_produce(p, db_p[0], STRESS_MESSAGES);
        mg_ring_close(p);
        _exit(rc ? 4 : 0);
    }
    mg_ring_set_notify_fd(c, db_p[1]);
    char why[256] = "";
    uint32_t got = stress_consume(c, db_c[0], STRESS_MESSAGES, why, sizeof why);
    int st = 0;
    waitpid(pid, &st, 0);
    mg_ring_close(c);
    if (got != STRESS_MESSAGES) return fail("processes", why);
    if (!WIFEXITED(st) || WEXITSTATUS(st)) return fail("processes", "producer failed");
    return 0;
}

int main(void)
{
    if (run_threads() || run_processes()) return 1;
    printf("test_ring_tsan: %u messages x 2 ok\n", STRESS_MESSAGES);
    return 0;
}
