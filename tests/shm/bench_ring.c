/* bench_ring.c — messages/s and GB/s through the shm ring, a pipe and a Unix
 * stream socket, between two processes, in one run on one machine.
 *
 *   mg_bench_shm [messages] [payload-bytes ...]
 *
 * Every transport moves the same stream: `messages` messages of one payload
 * size, each a 4-byte length prefix + payload for the byte streams (the ring
 * frames them itself). The consumer touches every payload byte (sums it) so
 * no transport gets credit for data nobody read. Results go to stdout as a
 * markdown table (docs/perf/shm.md). */
#include "mg_ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return -1;
        }
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Byte-stream transports: fds[0] read end in the parent, fds[1] write end in the child. */
static double run_stream(int rfd, int wfd, long count, size_t size, unsigned long *sum)
{
    char *buf = calloc(1, size + 4);
    for (size_t i = 0; i < size; i++) buf[4 + i] = (char)i;
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        close(rfd);
        uint32_t len = (uint32_t)size;
        memcpy(buf, &len, 4);
        for (long i = 0; i < count; i++)
            if (write_all(wfd, buf, size + 4) < 0) _exit(1);
        _exit(0);
    }
    close(wfd);
    unsigned long s = 0;
    for (long i = 0; i < count; i++) {
        uint32_t len;
        if (read_all(rfd, &len, 4) < 0 || len != size || read_all(rfd, buf, len) < 0) {
            fprintf(stderr, "stream broke at %ld\n", i);
            exit(1);
        }
        for (size_t k = 0; k < len; k++) s += (unsigned char)buf[k];
    }
    double dt = now() - t0;
    waitpid(pid, NULL, 0);
    close(rfd);
    free(buf);
    *sum = s;
    return dt;
}

static double run_ring(long count, size_t size, unsigned long *sum)
{
    mg_ring_params rp = mg_ring_default_params();
    mg_ring *c = NULL;
    mg_error err = {0};
    int db_c[2], db_p[2];
    if (mg_ring_create(&rp, &c, &err) < 0 || mg_doorbell_open(db_c, &err) < 0 ||
        mg_doorbell_open(db_p, &err) < 0) {
        fprintf(stderr, "ring: %s\n", err.msg);
        exit(1);
    }
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        mg_ring *p = NULL;
        if (mg_ring_attach(mg_ring_name(c), &p, NULL) < 0) _exit(1);
        mg_ring_set_notify_fd(p, db_c[1]);
        char *src = malloc(size + 1);
        for (size_t k = 0; k < size; k++) src[k] = (char)k;
        for (long i = 0; i < count; i++) {
            void *dst;
            int rc;
            while ((rc = mg_ring_reserve(p, size, &dst)) == MG_EAGAIN)
                if (mg_ring_producer_sleep_ok(p, size)) mg_doorbell_wait(db_p[0], 100);
            if (rc < 0) _exit(2);
            memcpy(dst, src, size); /* the streams write(2) a prepared buffer too */
            mg_ring_commit(p, 1, size);
        }
        mg_ring_close(p);
        free(src);
        _exit(0);
    }
    mg_ring_set_notify_fd(c, db_p[1]);
    unsigned long s = 0;
    for (long i = 0; i < count;) {
        mg_ring_msg m;
        int got = mg_ring_peek(c, &m, &err);
        if (got < 0) {
            fprintf(stderr, "ring: %s\n", err.msg);
            exit(1);
        }
        if (!got) {
            if (mg_ring_consumer_sleep_ok(c)) mg_doorbell_wait(db_c[0], 100);
            continue;
        }
        const unsigned char *d = m.data;
        for (size_t k = 0; k < m.len; k++) s += d[k];
        mg_ring_release(c);
        i++;
    }
    double dt = now() - t0;
    waitpid(pid, NULL, 0);
    mg_ring_close(c);
    for (int i = 0; i < 2; i++) {
        close(db_c[i]);
        close(db_p[i]);
    }
    *sum = s;
    return dt;
}

int main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 1000000;
    size_t sizes_default[] = {64, 1024, 16384};
    size_t sizes[16];
    int n_sizes = 0;
    for (int i = 2; i < argc && n_sizes < 16; i++) sizes[n_sizes++] = (size_t)atol(argv[i]);
    if (!n_sizes)
        for (; n_sizes < 3; n_sizes++) sizes[n_sizes] = sizes_default[n_sizes];
    printf("| payload | transport | messages | seconds | messages/s | GB/s |\n");
    printf("|---:|---|---:|---:|---:|---:|\n");
    for (int si = 0; si < n_sizes; si++) {
        size_t size = sizes[si];
        long n = count;
        if (size >= 16384) n = count / 10; /* keep big payloads to a few GB */
        for (int t = 0; t < 3; t++) {
            unsigned long sum = 0;
            double dt;
            const char *name;
            if (t == 0) {
                name = "shm ring";
                dt = run_ring(n, size, &sum);
            } else if (t == 1) {
                int fds[2];
                if (pipe(fds) < 0) return 1;
                name = "pipe";
                dt = run_stream(fds[0], fds[1], n, size, &sum);
            } else {
                int sv[2];
                if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 1;
                name = "unix socket";
                dt = run_stream(sv[0], sv[1], n, size, &sum);
            }
            unsigned long want = 0;
            for (size_t k = 0; k < size; k++) want += (unsigned char)(char)k;
            if (sum != want * (unsigned long)n) {
                fprintf(stderr, "%s: checksum mismatch\n", name);
                return 1;
            }
            printf("| %zu | %s | %ld | %.3f | %.0f | %.2f |\n", size, name, n, dt, (double)n / dt,
                   (double)n * (double)size / dt / 1e9);
            fflush(stdout);
        }
    }
    return 0;
}
