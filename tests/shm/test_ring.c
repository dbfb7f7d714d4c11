/* test_ring.c — the shared-memory ring: unit tests (wrap, full, empty,
 * oversize, corrupt input, wake-ups), a two-process stress test with
 * checksummed random-size messages, a threaded variant for ThreadSanitizer,
 * and a kill-the-child test that checks /dev/shm is left clean. */
#include "mg_ring.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static bool shm_exists(const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    struct stat st;
    return stat(path, &st) == 0;
}

/* Counts /dev/shm entries made by this process (names carry the pid). */
static int shm_leftovers(pid_t pid)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "moegen-%ld-", (long)pid);
    DIR *d = opendir("/dev/shm");
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix))) n++;
    closedir(d);
    return n;
}

static mg_ring *make_ring(uint32_t cap)
{
    mg_ring_params p = {.capacity = cap};
    mg_ring *r = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_ring_create(&p, &r, &err), 0, "%s", err.msg);
    return r;
}

/* A producer and a consumer handle on one segment (as two processes would have). */
static void make_pair(uint32_t cap, mg_ring **prod, mg_ring **cons)
{
    *prod = make_ring(cap);
    mg_error err = {0};
    cr_assert_eq(mg_ring_attach(mg_ring_name(*prod), cons, &err), 0, "%s", err.msg);
    cr_assert(!shm_exists(mg_ring_name(*prod)), "attach unlinks the name");
}

Test(shm_ring, create_rejects_bad_capacity)
{
    mg_ring *r = NULL;
    mg_error err = {0};
    mg_ring_params p = {.capacity = 5000};
    cr_assert_eq(mg_ring_create(&p, &r, &err), MG_EINVAL);
    cr_assert_null(r);
    cr_assert(strstr(err.msg, "power of two"), "%s", err.msg);
    p.capacity = 1024;
    cr_assert_eq(mg_ring_create(&p, &r, &err), MG_EINVAL);
}

Test(shm_ring, empty_then_roundtrip)
{
    mg_ring *p, *c;
    make_pair(4096, &p, &c);
    mg_ring_msg m;
    mg_error err = {0};
    cr_assert_eq(mg_ring_peek(c, &m, &err), 0);
    cr_assert_eq(mg_ring_write(p, 7, "hello", 5), 0);
    cr_assert_eq(mg_ring_write(p, 8, NULL, 0), 0);
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1, "%s", err.msg);
    cr_assert_eq(m.type, 7);
    cr_assert_eq(m.len, 5);
    cr_assert_arr_eq(m.data, "hello", 5);
    mg_ring_release(c);
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    cr_assert_eq(m.type, 8);
    cr_assert_eq(m.len, 0);
    mg_ring_release(c);
    cr_assert_eq(mg_ring_peek(c, &m, &err), 0);
    mg_ring_close(p);
    mg_ring_close(c);
    cr_assert_eq(shm_leftovers(getpid()), 0);
}

Test(shm_ring, wraps_at_capacity)
{
    mg_ring *p, *c;
    make_pair(4096, &p, &c);
    unsigned char buf[1500], want[1500];
    uint32_t next_write = 0, next_read = 0;
    mg_error err = {0};
    /* Sizes chosen so frames land at every alignment and straddle the end
     * many times; the ring is kept partly full to exercise both index orders. */
    for (int round = 0; round < 5000; round++) {
        size_t len = (size_t)(round * 37 % 1400);
        for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)(next_write + i);
        memcpy(buf, &next_write, len >= 4 ? 4 : 0);
        int rc = mg_ring_write(p, 1 + (next_write % 100), buf, len);
        if (rc == MG_EAGAIN) {
            round--;
        } else {
            cr_assert_eq(rc, 0);
            next_write++;
        }
        if (rc == MG_EAGAIN || round % 3 == 0) {
            mg_ring_msg m;
            int got = mg_ring_peek(c, &m, &err);
            cr_assert_geq(got, 0, "%s", err.msg);
            if (got) {
                cr_assert_eq(m.type, 1 + (next_read % 100));
                for (size_t i = 0; i < m.len; i++) want[i] = (unsigned char)(next_read + i);
                memcpy(want, &next_read, m.len >= 4 ? 4 : 0);
                cr_assert_arr_eq(m.data, want, m.len, "message %u", next_read);
                mg_ring_release(c);
                next_read++;
            }
        }
    }
    mg_ring_msg m;
    while (mg_ring_peek(c, &m, &err) == 1) {
        cr_assert_eq(m.type, 1 + (next_read % 100));
        mg_ring_release(c);
        next_read++;
    }
    cr_assert_eq(next_read, next_write);
    mg_ring_close(p);
    mg_ring_close(c);
}

Test(shm_ring, full_gives_backpressure)
{
    mg_ring *p, *c;
    make_pair(4096, &p, &c);
    char buf[100] = {0};
    int n = 0;
    while (mg_ring_write(p, 1, buf, sizeof buf) == 0) n++;
    /* 100-byte payload -> 128-byte frame; 4096/128 = 32 frames. */
    cr_assert_eq(n, 32);
    cr_assert_eq(mg_ring_write(p, 1, buf, sizeof buf), MG_EAGAIN);
    cr_assert(mg_ring_producer_sleep_ok(p, sizeof buf), "full ring: producer may sleep");
    mg_ring_msg m;
    mg_error err = {0};
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    mg_ring_release(c);
    cr_assert_eq(mg_ring_write(p, 1, buf, sizeof buf), 0);
    mg_ring_close(p);
    mg_ring_close(c);
}

Test(shm_ring, oversize_is_refused)
{
    mg_ring *p, *c;
    make_pair(4096, &p, &c);
    cr_assert_eq(mg_ring_max_payload(p), 4096 - MG_RING_FRAME);
    static char big[8192];
    cr_assert_eq(mg_ring_write(p, 1, big, 4096 - MG_RING_FRAME + 1), MG_ERANGE);
    cr_assert_eq(mg_ring_write(p, 1, big, 4096 - MG_RING_FRAME), 0, "the largest payload fits");
    mg_ring_msg m;
    mg_error err = {0};
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    cr_assert_eq(m.len, 4096 - MG_RING_FRAME);
    mg_ring_release(c);
    /* Now at offset 0 again; a max message after a small one must wrap via a pad. */
    cr_assert_eq(mg_ring_write(p, 1, big, 10), 0);
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    mg_ring_release(c);
    cr_assert_eq(mg_ring_write(p, 1, big, 4096 - MG_RING_FRAME), MG_EAGAIN,
                 "pad published alone first");
    cr_assert_eq(mg_ring_peek(c, &m, &err), 0, "the pad is consumed silently");
    cr_assert_eq(mg_ring_write(p, 1, big, 4096 - MG_RING_FRAME), 0);
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    cr_assert_eq(m.len, 4096 - MG_RING_FRAME);
    mg_ring_release(c);
    mg_ring_close(p);
    mg_ring_close(c);
}

/* A second writable view of the segment, as a buggy peer would have. */
static unsigned char *scribble_view(mg_ring *r, size_t *size)
{
    *size = 256 + mg_ring_capacity(r);
    unsigned char *v = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED, mg_ring_fd(r), 0);
    cr_assert_neq(v, MAP_FAILED);
    return v;
}

Test(shm_ring, corrupt_frame_header_is_rejected)
{
    mg_ring *p, *c;
    make_pair(4096, &p, &c);
    size_t size;
    unsigned char *v = scribble_view(p, &size);
    mg_error err = {0};
    mg_ring_msg m;

    /* Length field grown past the published bytes. */
    cr_assert_eq(mg_ring_write(p, 3, "abc", 3), 0);
    uint32_t huge = 100000;
    memcpy(v + 256, &huge, 4);
    cr_assert_eq(mg_ring_peek(c, &m, &err), MG_EPROTO);
    cr_assert(strstr(err.msg, "check word"), "%s", err.msg);
    munmap(v, size);
    mg_ring_close(p);
    mg_ring_close(c);
}

Test(shm_ring, corrupt_indices_are_rejected)
{
    mg_ring *p, *c;
    make_pair(4096, &p, &c);
    size_t size;
    unsigned char *v = scribble_view(p, &size);
    mg_error err = {0};
    mg_ring_msg m;
    uint64_t tail = 1u << 20; /* more than a capacity ahead of head */
    memcpy(v + 64, &tail, 8);
    cr_assert_eq(mg_ring_peek(c, &m, &err), MG_EPROTO);
    cr_assert(strstr(err.msg, "corrupt indices"), "%s", err.msg);
    /* A head beyond the tail makes the producer refuse too. */
    uint64_t head = 1u << 20;
    memcpy(v + 128, &head, 8);
    char big[3000] = {0};
    cr_assert_eq(mg_ring_write(p, 1, big, sizeof big), 0);
    cr_assert_eq(mg_ring_write(p, 1, big, sizeof big), MG_EPROTO);
    munmap(v, size);
    mg_ring_close(p);
    mg_ring_close(c);
}

Test(shm_ring, attach_checks_header)
{
    mg_ring *p = make_ring(4096);
    size_t size;
    unsigned char *v = scribble_view(p, &size);
    mg_error err = {0};
    mg_ring *c = NULL;

    uint32_t version = 99;
    memcpy(v + 8, &version, 4);
    int fd = dup(mg_ring_fd(p));
    cr_assert_eq(mg_ring_attach_fd(fd, &c, &err), MG_EPROTO);
    cr_assert(strstr(err.msg, "version 99"), "%s", err.msg);
    version = MG_RING_VERSION;
    memcpy(v + 8, &version, 4);

    uint64_t magic = 0x1234;
    memcpy(v, &magic, 8);
    fd = dup(mg_ring_fd(p));
    cr_assert_eq(mg_ring_attach_fd(fd, &c, &err), MG_EPROTO);
    cr_assert(strstr(err.msg, "bad magic"), "%s", err.msg);
    magic = MG_RING_MAGIC;
    memcpy(v, &magic, 8);

    uint32_t cap = 8192; /* header claims more than the segment holds */
    memcpy(v + 16, &cap, 4);
    fd = dup(mg_ring_fd(p));
    cr_assert_eq(mg_ring_attach_fd(fd, &c, &err), MG_EPROTO);
    cr_assert(strstr(err.msg, "segment is"), "%s", err.msg);
    cap = 4096;
    memcpy(v + 16, &cap, 4);

    fd = dup(mg_ring_fd(p));
    cr_assert_eq(mg_ring_attach_fd(fd, &c, &err), 0, "%s", err.msg);
    mg_ring_close(c);
    cr_assert_neq(mg_ring_attach("/moegen-no-such-ring", &c, &err), 0);
    cr_assert_eq(mg_ring_attach("no-slash", &c, &err), MG_EINVAL);
    munmap(v, size);
    mg_ring_close(p);
    cr_assert_eq(shm_leftovers(getpid()), 0);
}

Test(shm_ring, wakes_only_a_sleeping_reader)
{
    mg_ring *p, *c;
    make_pair(4096, &p, &c);
    int db_c[2], db_p[2];
    mg_error err = {0};
    cr_assert_eq(mg_doorbell_open(db_c, &err), 0);
    cr_assert_eq(mg_doorbell_open(db_p, &err), 0);
    mg_ring_set_notify_fd(p, db_c[1]);
    mg_ring_set_notify_fd(c, db_p[1]);

    /* Reader awake: no system call, nothing in the pipe. */
    cr_assert_eq(mg_ring_write(p, 1, "x", 1), 0);
    cr_assert_eq(mg_doorbell_wait(db_c[0], 0), 0);
    cr_assert_not(mg_ring_consumer_sleep_ok(c), "data pending: do not sleep");
    mg_ring_msg m;
    cr_assert_eq(mg_ring_peek(c, &m, &err), 1);
    mg_ring_release(c);
    cr_assert_eq(mg_doorbell_wait(db_p[0], 0), 0, "producer was not asleep");

    /* Reader armed: the next write rings exactly once. */
    cr_assert(mg_ring_consumer_sleep_ok(c));
    cr_assert_eq(mg_ring_write(p, 1, "y", 1), 0);
    cr_assert_eq(mg_ring_write(p, 1, "z", 1), 0);
    cr_assert_eq(mg_doorbell_wait(db_c[0], 0), 1);
    cr_assert_eq(mg_doorbell_wait(db_c[0], 0), 0, "flag was cleared by the first ring");

    /* EOF on the doorbell means the peer is gone. */
    close(db_c[1]);
    cr_assert_eq(mg_doorbell_drain(db_c[0]), MG_EPIPE);
    close(db_c[0]);
    close(db_p[0]);
    close(db_p[1]);
    mg_ring_close(p);
    mg_ring_close(c);
}

#include "stress.h"

Test(shm_ring, two_process_stress, .timeout = 120)
{
    mg_ring *c = make_ring(1u << 16);
    int db_c[2], db_p[2];
    mg_error err = {0};
    cr_assert_eq(mg_doorbell_open(db_c, &err), 0);
    cr_assert_eq(mg_doorbell_open(db_p, &err), 0);
    char name[64];
    snprintf(name, sizeof name, "%s", mg_ring_name(c));
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        mg_ring *p = NULL;
        if (mg_ring_attach(name, &p, NULL) < 0) _exit(3);
        mg_ring_set_notify_fd(p, db_c[1]);
        if (stress_produce(p, db_p[0], STRESS_MESSAGES) < 0) _exit(5);
        mg_ring_close(p);
        _exit(0);
    }
    mg_ring_set_notify_fd(c, db_p[1]);
    char why[256] = "";
    cr_assert_eq(stress_consume(c, db_c[0], STRESS_MESSAGES, why, sizeof why), STRESS_MESSAGES,
                 "%s", why);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer status %d", st);
    mg_ring_msg m;
    cr_assert_eq(mg_ring_peek(c, &m, &err), 0, "nothing extra");
    mg_ring_close(c);
    cr_assert_eq(shm_leftovers(getpid()), 0);
}

Test(shm_ring, threaded_stress, .timeout = 120)
{
    mg_ring *p, *c;
    make_pair(1u << 14, &p, &c); /* small ring: lots of full/empty transitions */
    int db_c[2], db_p[2];
    mg_error err = {0};
    cr_assert_eq(mg_doorbell_open(db_c, &err), 0);
    cr_assert_eq(mg_doorbell_open(db_p, &err), 0);
    mg_ring_set_notify_fd(p, db_c[1]);
    mg_ring_set_notify_fd(c, db_p[1]);
    stress_thread_arg ta = {p, db_p[0], STRESS_MESSAGES, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, stress_producer_thread, &ta), 0);
    char why[256] = "";
    cr_assert_eq(stress_consume(c, db_c[0], STRESS_MESSAGES, why, sizeof why), STRESS_MESSAGES,
                 "%s", why);
    pthread_join(th, NULL);
    cr_assert_eq(ta.rc, 0);
    for (int i = 0; i < 2; i++) {
        close(db_c[i]);
        close(db_p[i]);
    }
    mg_ring_close(p);
    mg_ring_close(c);
}

Test(shm_ring, killed_peer_leaves_no_segment, .timeout = 30)
{
    pid_t me = getpid();
    /* The child creates the ring (its name carries the child's pid), the
     * parent attaches and so unlinks it; then the child dies mid-stream. */
    int db[2], ready[2];
    mg_error err = {0};
    cr_assert_eq(mg_doorbell_open(db, &err), 0);
    cr_assert_eq(pipe(ready), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        mg_ring *p = NULL;
        if (mg_ring_create(NULL, &p, NULL) < 0) _exit(3);
        char name[64];
        snprintf(name, sizeof name, "%s", mg_ring_name(p));
        if (write(ready[1], name, sizeof name) != (ssize_t)sizeof name) _exit(4);
        mg_ring_set_notify_fd(p, db[1]);
        char buf[64] = {0};
        for (;;) (void)mg_ring_write(p, 1, buf, sizeof buf); /* until killed */
    }
    char name[64];
    cr_assert_eq(read(ready[0], name, sizeof name), (ssize_t)sizeof name);
    mg_ring *c = NULL;
    cr_assert_eq(mg_ring_attach(name, &c, &err), 0, "%s", err.msg);
    mg_ring_msg m;
    int got = 0;
    while (got < 100) {
        int rc = mg_ring_peek(c, &m, &err);
        cr_assert_geq(rc, 0, "%s", err.msg);
        if (rc) {
            mg_ring_release(c);
            got++;
        }
    }
    kill(pid, SIGKILL);
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st));
    cr_assert_eq(shm_leftovers(pid), 0, "the dead creator's segment was unlinked at attach");
    while (mg_ring_peek(c, &m, &err) == 1) mg_ring_release(c); /* still mapped, still valid */
    mg_ring_close(c);
    cr_assert_eq(shm_leftovers(me), 0);
    cr_assert_eq(shm_leftovers(pid), 0);
}
