/* test_sandbox.c — hostile samples fail cleanly, within their limits, and
 * nothing escapes. The probes use the raw `posix`/`_socket`/ctypes layers, so
 * they go past the Python-level guard EvalPlus also applies and test the
 * sandbox itself (namespaces, seccomp, rlimits). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ev_test_util.h"

static bool have_namespaces(void)
{
    return !strcmp(mg_sandbox_mode(), "namespaces");
}

Test(sandbox, canonical_and_wrong_answers)
{
    ev_run r;
    ev_run_f(&r, "def f(x):\n    return x if x != 2 else 0\n", NULL);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "fail");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "plus_status"), "pass");
    char *ft =
        json_dumps(json_object_get(ev_rec(&r, "HumanEval/0", 0), "base_fail_tests"), JSON_COMPACT);
    cr_assert_str_eq(ft, "[[2]]");
    free(ft);
    ev_run_free(&r);
}

Test(sandbox, infinite_loop_hits_the_per_input_limit)
{
    ev_run r;
    ev_run_f(&r, "def f(x):\n    while True:\n        pass\n", NULL);
    /* SIGALRM raises inside the call: EvalPlus counts that as a failed input. */
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "fail");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "plus_status"), "fail");
    cr_assert_lt(r.seconds, 30.0);
    ev_run_free(&r);
}

Test(sandbox, loop_that_swallows_the_alarm_is_killed)
{
    ev_run r;
    ev_run_f(&r,
             "def f(x):\n    while True:\n        try:\n            while True:\n"
             "                pass\n        except BaseException:\n            pass\n",
             NULL);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "timeout");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "plus_status"), "timeout");
    /* base: 2 x 1 s + 2; plus in a fresh process: 3 x 1 s + 2. */
    cr_assert_lt(r.seconds, 40.0);
    ev_run_free(&r);
}

Test(sandbox, top_level_loop_is_a_timeout)
{
    ev_run r;
    ev_run_f(&r, "while True:\n    pass\n", NULL);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "timeout");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "plus_status"), "timeout");
    ev_run_free(&r);
}

static void mem_512m(mg_evaluate_params *p)
{
    p->min_time_limit = 1.0;
    p->max_memory = 512ll << 20;
}

Test(sandbox, memory_bomb_fails)
{
    ev_run r;
    ev_run_f(
        &r, "def f(x):\n    keep = []\n    while True:\n        keep.append(bytearray(64 << 20))\n",
        mem_512m);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "fail");
    cr_assert_lt(r.seconds, 30.0);
    ev_run_free(&r);
}

Test(sandbox, fork_bomb_cannot_fork)
{
    ev_run r;
    /* Returns x only when every way of making a process was refused. */
    ev_run_f(&r,
             "def f(x):\n"
             "    import posix, ctypes\n"
             "    refused = 0\n"
             "    try:\n        posix.fork()\n    except OSError:\n        refused += 1\n"
             "    libc = ctypes.CDLL(None, use_errno=True)\n"
             "    for _ in range(50):\n"
             "        if libc.fork() == -1:\n            refused += 1\n"
             "    return x if refused == 51 else -1\n",
             NULL);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "plus_status"), "pass");
    ev_run_free(&r);
}

Test(sandbox, deep_recursion_fails)
{
    ev_run r;
    ev_run_f(&r,
             "import sys\nsys.setrecursionlimit(10**9)\n"
             "def r(n):\n    return r(n + 1) + 1\n"
             "def f(x):\n    return r(0)\n",
             mem_512m);
    const char *b = ev_status(&r, "HumanEval/0", 0, "base_status");
    cr_assert(strcmp(b, "pass") != 0);
    cr_assert_lt(r.seconds, 40.0);
    ev_run_free(&r);
}

Test(sandbox, writing_outside_the_temp_folder_fails)
{
    if (!strcmp(mg_sandbox_mode(), "seccomp"))
        cr_skip_test(
            "no user namespaces and no Landlock: files can be written (docs/EVALUATION.md)");
    char dir[] = "/tmp/mg-evtest-victim-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char code[2048];
    snprintf(code, sizeof code,
             "def f(x):\n"
             "    import posix\n"
             "    for p in ('%s/escape', '/tmp/mg-evtest-escape', 'local.txt'):\n"
             "        try:\n"
             "            fd = posix.open(p, posix.O_WRONLY | posix.O_CREAT, 0o644)\n"
             "            posix.write(fd, b'x')\n"
             "            posix.close(fd)\n"
             "        except OSError:\n"
             "            pass\n"
             "    # the working folder itself is writable\n"
             "    fd = posix.open('local.txt', posix.O_RDONLY)\n"
             "    return x if posix.read(fd, 1) == b'x' else -1\n",
             dir);
    ev_run r;
    ev_run_f(&r, code, NULL);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    char esc[128];
    snprintf(esc, sizeof esc, "%s/escape", dir);
    cr_assert_eq(access(esc, F_OK), -1, "%s was created", esc);
    cr_assert_eq(access("/tmp/mg-evtest-escape", F_OK), -1);
    rmdir(dir);
    ev_run_free(&r);
}

Test(sandbox, deleting_files_fails)
{
    char dir[] = "/tmp/mg-evtest-victim-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char victim[128];
    snprintf(victim, sizeof victim, "%s/victim", dir);
    FILE *vf = fopen(victim, "w");
    cr_assert_not_null(vf);
    fputs("keep me", vf);
    fclose(vf);
    char code[2048];
    snprintf(
        code, sizeof code,
        "def f(x):\n"
        "    import posix\n"
        "    for call in (lambda: posix.unlink('%s'), lambda: posix.rename('%s', '%s.moved'),\n"
        "                 lambda: posix.truncate('%s', 0), lambda: posix.rmdir('%s')):\n"
        "        try:\n            call()\n        except OSError:\n            pass\n"
        "    return x\n",
        victim, victim, victim, victim, dir);
    ev_run r;
    ev_run_f(&r, code, NULL);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    struct stat st;
    cr_assert_eq(stat(victim, &st), 0, "the file was deleted or moved");
    cr_assert_eq(st.st_size, 7, "the file was truncated");
    unlink(victim);
    rmdir(dir);
    ev_run_free(&r);
}

Test(sandbox, network_connections_fail)
{
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    cr_assert_geq(ls, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(ls, 8), 0);
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    char code[2048];
    snprintf(code, sizeof code,
             "def f(x):\n"
             "    import _socket\n"
             "    try:\n"
             "        s = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)\n"
             "        s.settimeout(0.5)\n"
             "        s.connect(('127.0.0.1', %d))\n"
             "        s.send(b'leak')\n"
             "        return -1\n"
             "    except OSError:\n"
             "        return x\n",
             ntohs(a.sin_port));
    ev_run r;
    ev_run_f(&r, code, NULL);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    int c = accept(ls, NULL, NULL);
    cr_assert_eq(c, -1, "the sample connected to the host");
    close(ls);
    ev_run_free(&r);
}

Test(sandbox, environment_secrets_are_not_visible)
{
    /* The secret is in our environment and in the initial environment of a
     * process that lives during the run (what /proc/PID/environ shows). */
    setenv("MOEGEN_TEST_SECRET", "s3cr3t-token-4711", 1);
    pid_t holder = fork();
    if (holder == 0) {
        char *argv[] = {"sleep", "60", NULL};
        char *envp[] = {"MOEGEN_TEST_SECRET=s3cr3t-token-4711", NULL};
        execve("/bin/sleep", argv, envp);
        _exit(127);
    }
    cr_assert_gt(holder, 0);
    /* Without namespaces, a process of the same user stays readable through
     * /proc (docs/EVALUATION.md); the scrubbed environment is checked anyway. */
    char code[2048];
    snprintf(code, sizeof code,
             "def f(x):\n"
             "    import os, posix\n"
             "    if any('s3cr3t' in v for v in os.environ.values()):\n"
             "        return -1\n"
             "    for pid in ('self', '1', '%ld', '%ld', str(posix.getppid())):\n"
             "        try:\n"
             "            fd = posix.open('/proc/%%s/environ' %% pid, posix.O_RDONLY)\n"
             "            if b's3cr3t' in posix.read(fd, 1 << 20):\n"
             "                return -1\n"
             "        except OSError:\n"
             "            pass\n"
             "    return x\n",
             (long)getpid(), have_namespaces() ? (long)holder : 0L);
    ev_run r;
    ev_run_f(&r, code, NULL);
    unsetenv("MOEGEN_TEST_SECRET");
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "plus_status"), "pass");
    ev_run_free(&r);
}

Test(sandbox, killing_the_parent_fails)
{
    char code[2048];
    snprintf(code, sizeof code,
             "def f(x):\n"
             "    import posix\n"
             "    for pid in (%ld, posix.getppid(), 1):\n"
             "        for sig in (15, 9):\n"
             "            try:\n"
             "                posix.kill(pid, sig)\n"
             "            except OSError:\n"
             "                pass\n"
             "    return x\n",
             (long)getpid());
    ev_run r;
    ev_run_f(&r, code, NULL);
    /* We are still here, and the sample's own process survived its attempts. */
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "plus_status"), "pass");
    ev_run_free(&r);
}

Test(sandbox, stdin_is_closed_and_output_is_swallowed)
{
    ev_run r;
    ev_run_f(&r,
             "def f(x):\n"
             "    import posix\n"
             "    for _ in range(200):\n"
             "        posix.write(1, b'y' * 65536)\n"
             "        print('noise')\n"
             "    return x if posix.read(0, 10) == b'' else -1\n",
             NULL);
    cr_assert_str_eq(ev_status(&r, "HumanEval/0", 0, "base_status"), "pass");
    ev_run_free(&r);
}
