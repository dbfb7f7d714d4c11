/* sandbox.c — one untrusted python3 process, isolated.
 *
 * Process tree (namespace mode):
 *   moegen ── A: setsid, unshare(user|mount|pid|net|ipc|uts), uid map,
 *                 read-only remount of everything, tmpfs on the working folder
 *              └─ B: PID 1 of the new pid namespace; mounts a fresh /proc and
 *                    reaps; when it exits the kernel kills the whole namespace
 *                 └─ C: rlimits, no_new_privs, seccomp, chdir, execve(python)
 * Fallback (the kernel refuses user namespaces, e.g. some containers): A alone
 * does C's part, in a host folder that moegen removes afterwards.
 *
 * Between fork and execve only async-signal-safe calls are made: everything
 * (argv, env, seccomp program, map strings) is prepared before the fork.
 */
#include "ev_internal.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mg_log.h"

#if defined(__x86_64__)
#define EV_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define EV_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define EV_NS_FLAGS                                                                                \
    (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

/* ---- seccomp ------------------------------------------------------------------- */

/* Deny list: no new processes (threads are fine), no sockets, no signals to
 * anyone but itself, no namespace/mount/tracing/kernel-module calls. Python
 * and numpy need none of these; EvalPlus disables the Python-level wrappers of
 * most of them anyway. */
static const int ev_denied[] = {
#ifdef __NR_fork
    __NR_fork,
#endif
#ifdef __NR_vfork
    __NR_vfork,
#endif
    __NR_socket,
    __NR_socketpair,
    __NR_ptrace,
    __NR_mount,
    __NR_umount2,
    __NR_unshare,
    __NR_setns,
    __NR_pivot_root,
    __NR_chroot,
    __NR_bpf,
    __NR_perf_event_open,
    __NR_process_vm_readv,
    __NR_process_vm_writev,
    __NR_keyctl,
    __NR_add_key,
    __NR_request_key,
    __NR_init_module,
    __NR_finit_module,
    __NR_delete_module,
    __NR_kexec_load,
    __NR_reboot,
    __NR_swapon,
    __NR_swapoff,
    __NR_acct,
    __NR_setsid,
    __NR_setpgid,
    __NR_userfaultfd,
    __NR_io_uring_setup,
    __NR_pidfd_send_signal,
    __NR_pidfd_getfd,
    __NR_open_tree,
    __NR_move_mount,
    __NR_fsopen,
    __NR_fsconfig,
    __NR_fsmount,
    __NR_fspick,
    __NR_mount_setattr,
    __NR_sethostname,
    __NR_setdomainname,
    __NR_tkill,
};

/* Fallback only (no read-only mounts): nothing may be deleted, renamed or
 * re-permissioned. EvalPlus sets os.remove/unlink/rename/chmod... to None. */
static const int ev_denied_fs[] = {
#ifdef __NR_unlink
    __NR_unlink,   __NR_rmdir,    __NR_rename,    __NR_link,     __NR_symlink,
    __NR_chmod,    __NR_chown,    __NR_lchown,    __NR_truncate,
#endif
    __NR_unlinkat, __NR_renameat, __NR_renameat2, __NR_linkat,   __NR_symlinkat,
    __NR_fchmodat, __NR_fchownat, __NR_truncate,
};

#define EV_BPF_MAX 256

typedef struct ev_bpf {
    struct sock_filter ins[EV_BPF_MAX];
    unsigned short n;
} ev_bpf;

static void bpf_add(ev_bpf *f, unsigned short code, unsigned char jt, unsigned char jf,
                    unsigned int k)
{
    MG_ASSERT(f->n < EV_BPF_MAX);
    f->ins[f->n++] = (struct sock_filter){code, jt, jf, k};
}

#define ARG_LO(i)    ((unsigned)offsetof(struct seccomp_data, args) + 8u * (i))
#define ARG_HI(i)    (ARG_LO(i) + 4u)
#define RET_ERRNO(e) (SECCOMP_RET_ERRNO | ((e)&SECCOMP_RET_DATA))

/* `self` is the child's pid as it sees itself (in its pid namespace). */
static void build_filter(ev_bpf *f, pid_t self, bool deny_fs)
{
    f->n = 0;
#ifdef EV_AUDIT_ARCH
    bpf_add(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, arch));
    bpf_add(f, BPF_JMP | BPF_JEQ | BPF_K, 1, 0, EV_AUDIT_ARCH);
    bpf_add(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_KILL_PROCESS);
#endif
    bpf_add(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
    /* x32 system calls would bypass the numbers below. */
    bpf_add(f, BPF_JMP | BPF_JGE | BPF_K, 0, 1, 0x40000000u);
    bpf_add(f, BPF_RET | BPF_K, 0, 0, RET_ERRNO(EPERM));
#endif
    for (size_t i = 0; i < sizeof ev_denied / sizeof ev_denied[0]; i++) {
        bpf_add(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (unsigned)ev_denied[i]);
        bpf_add(f, BPF_RET | BPF_K, 0, 0, RET_ERRNO(EPERM));
    }
    if (deny_fs)
        for (size_t i = 0; i < sizeof ev_denied_fs / sizeof ev_denied_fs[0]; i++) {
            bpf_add(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, (unsigned)ev_denied_fs[i]);
            bpf_add(f, BPF_RET | BPF_K, 0, 0, RET_ERRNO(EPERM));
        }
    /* clone3 hides its flags in memory: ENOSYS makes glibc fall back to clone. */
    bpf_add(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, __NR_clone3);
    bpf_add(f, BPF_RET | BPF_K, 0, 0, RET_ERRNO(ENOSYS));
    /* clone: threads only, and no new namespaces. */
    bpf_add(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 5, __NR_clone);
    bpf_add(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(0));
    bpf_add(f, BPF_JMP | BPF_JSET | BPF_K, 0, 2, CLONE_THREAD);
    bpf_add(f, BPF_JMP | BPF_JSET | BPF_K, 1, 0, EV_NS_FLAGS | CLONE_NEWCGROUP);
    bpf_add(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
    bpf_add(f, BPF_RET | BPF_K, 0, 0, RET_ERRNO(EPERM));
    /* kill / tgkill / rt_(tg)sigqueueinfo: first argument must be itself. */
    static const int sig_calls[] = {__NR_kill, __NR_tgkill, __NR_rt_sigqueueinfo,
                                    __NR_rt_tgsigqueueinfo};
    for (size_t i = 0; i < 4; i++) {
        bpf_add(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 6, (unsigned)sig_calls[i]);
        bpf_add(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_LO(0));
        bpf_add(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 3, (unsigned)self);
        bpf_add(f, BPF_LD | BPF_W | BPF_ABS, 0, 0, ARG_HI(0));
        bpf_add(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
        bpf_add(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
        bpf_add(f, BPF_RET | BPF_K, 0, 0, RET_ERRNO(EPERM));
    }
    bpf_add(f, BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW);
}

/* ---- landlock (fallback only) ------------------------------------------------------ */

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* Everything that changes the file system: allowed beneath the working folder
 * only. Returns 0 when applied, -1 when the kernel has no Landlock. */
static int landlock_workdir(const char *workdir)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) return -1;
    unsigned long long fs = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |
                            LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                            LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                            LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                            LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2) fs |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
    struct {
        unsigned long long handled_access_fs;
    } ra = {fs};
    int rfd = (int)syscall(SYS_landlock_create_ruleset, &ra, sizeof ra, 0);
    if (rfd < 0) return -1;
    int dfd = open(workdir, O_PATH | O_CLOEXEC);
    struct landlock_path_beneath_attr pb = {.allowed_access = fs, .parent_fd = dfd};
    int ok = dfd >= 0 &&
             syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) == 0 &&
             syscall(SYS_landlock_restrict_self, rfd, 0) == 0;
    if (dfd >= 0) close(dfd);
    close(rfd);
    return ok ? 0 : -1;
}

/* ---- child side (async-signal-safe only) ------------------------------------------ */

typedef struct ev_child_ctx {
    const ev_sbx_params *p;
    char *const *envp;
    int devnull, out_w, ev_w, in_fd;
    pid_t moegen;
    bool ns, landlock;
    char uid_map[64], gid_map[64], tmpfs_opts[96];
} ev_child_ctx;

static _Noreturn void die(int code)
{
    _exit(code);
}

static int write_file(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, s, strlen(s));
    close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

static void set_limit(int res, rlim_t v)
{
    struct rlimit rl = {v, v};
    setrlimit(res, &rl);
}

/* Arranges fds 0..4 (stdin /dev/null, 1+2 output, 3 input, 4 events) and
 * closes everything else. */
static void child_fds(const ev_child_ctx *c)
{
    if (dup2(c->devnull, 0) < 0 || dup2(c->out_w, 1) < 0 || dup2(c->out_w, 2) < 0 ||
        dup2(c->in_fd >= 0 ? c->in_fd : c->devnull, 3) < 0 || dup2(c->ev_w, 4) < 0)
        die(120);
    for (int fd = 0; fd <= 4; fd++) fcntl(fd, F_SETFD, 0);
    syscall(SYS_close_range, 5u, ~0u, 0u);
}

/* The last step, in the process that becomes python. */
static _Noreturn void child_exec(const ev_child_ctx *c)
{
    const ev_sbx_params *p = c->p;
    if (chdir(p->workdir) < 0) die(121);
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_CPU, (rlim_t)p->cpu_seconds);
    set_limit(RLIMIT_FSIZE, (rlim_t)p->file_bytes);
    set_limit(RLIMIT_NOFILE, 1024);
    if (p->mem_bytes > 0) {
        set_limit(RLIMIT_AS, (rlim_t)p->mem_bytes);
        set_limit(RLIMIT_DATA, (rlim_t)p->mem_bytes);
    }
    /* Counted per user namespace, so only meaningful (and harmless) there. */
    if (c->ns) set_limit(RLIMIT_NPROC, 256);
    if (!c->ns && geteuid() == 0) {
        /* Fallback as root: keep uid 0 (the interpreter may live under
         * /root) but give up every capability for good, so file access is
         * the owner's only and execve cannot restore them. */
        if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                         SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED) <
            0)
            die(117);
        for (int cap = 0; cap <= 63; cap++) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof d);
        if (syscall(SYS_capset, &h, d) < 0) die(118);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die(122);
    /* The fallback's file-system fence (the namespace mode has read-only
     * mounts); the parent probed that it works before promising it. */
    if (!c->ns && c->landlock && landlock_workdir(p->workdir) < 0) die(116);
    ev_bpf f;
    build_filter(&f, getpid(), !c->ns);
    struct sock_fprog prog = {f.n, f.ins};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0) die(123);
    execve(p->python, p->argv, c->envp);
    die(127);
}

static int relay_status(int st)
{
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return 126;
}

/* B: init of the pid namespace. Mounts its /proc, starts C, reaps, exits with
 * C's status (which kills anything C left behind). */
static _Noreturn void child_init(const ev_child_ctx *c)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        /* A /proc we may not mount (masked in containers): hide it instead. */
        if (mount("none", "/proc", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k") < 0)
            die(124);
    pid_t kid = fork();
    if (kid < 0) die(125);
    if (kid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        child_exec(c);
    }
    for (int fd = 0; fd <= 4; fd++) close(fd);
    for (;;) {
        int st = 0;
        pid_t w = waitpid(-1, &st, 0);
        if (w == kid) die(relay_status(st));
        if (w < 0 && errno != EINTR) die(126);
    }
}

/* A: set up the namespaces, then become the parent of B. */
static _Noreturn void child_main(ev_child_ctx *c)
{
    setsid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != c->moegen) die(119);
    signal(SIGPIPE, SIG_DFL);
    child_fds(c);
    if (!c->ns) child_exec(c);
    if (unshare(EV_NS_FLAGS) < 0) die(110);
    if (write_file("/proc/self/setgroups", "deny") < 0 ||
        write_file("/proc/self/uid_map", c->uid_map) < 0 ||
        write_file("/proc/self/gid_map", c->gid_map) < 0)
        die(111);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die(112);
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID};
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof attr) < 0) die(113);
    if (mount("none", c->p->workdir, "tmpfs", MS_NOSUID | MS_NODEV, c->tmpfs_opts) < 0) die(114);
    pid_t b = fork();
    if (b < 0) die(115);
    if (b == 0) child_init(c);
    for (int fd = 0; fd <= 4; fd++) close(fd);
    for (;;) {
        int st = 0;
        pid_t w = waitpid(b, &st, 0);
        if (w == b) die(relay_status(st));
        if (w < 0 && errno != EINTR) die(126);
    }
}

/* ---- parent side ------------------------------------------------------------------ */

static int probe_state = -1; /* -1 unknown, 0 fallback, 1 namespaces */
static int landlock_state = -1;

/* Landlock in a throwaway child (restrict_self cannot be undone). */
static bool probe_landlock(void)
{
    if (landlock_state >= 0) return landlock_state == 1;
    pid_t pid = fork();
    if (pid == 0) {
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) _exit(1);
        _exit(landlock_workdir("/tmp") == 0 ? 0 : 1);
    }
    int st = 0;
    landlock_state =
        pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    return landlock_state == 1;
}

static char *const ev_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin",
                               "LANG=C.UTF-8",
                               "LC_ALL=C.UTF-8",
                               "OMP_NUM_THREADS=1",
                               "OPENBLAS_NUM_THREADS=1",
                               "MKL_NUM_THREADS=1",
                               "HOME=/nonexistent",
                               NULL};

static void fill_maps(ev_child_ctx *c)
{
    /* Inside, the sandbox is uid/gid 1000 (never 0, so execve drops every
     * capability the namespace gave); outside it is still the caller. */
    snprintf(c->uid_map, sizeof c->uid_map, "1000 %u 1\n", (unsigned)geteuid());
    snprintf(c->gid_map, sizeof c->gid_map, "1000 %u 1\n", (unsigned)getegid());
    long long sz = c->p->file_bytes > 0 ? c->p->file_bytes : 64ll << 20;
    snprintf(c->tmpfs_opts, sizeof c->tmpfs_opts, "size=%lld,mode=0700,uid=1000,gid=1000", sz);
}

/* Tries the namespace setup once in a throwaway child. */
static bool probe(void)
{
    if (probe_state >= 0) return probe_state == 1;
    const char *force = getenv("MOEGEN_SANDBOX");
    if (force && !strcmp(force, "seccomp")) {
        /* Tests and users can ask for the fallback explicitly. */
        probe_state = 0;
        return false;
    }
    char dir[] = "/tmp/moegen-probe-XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char buf[4096];
    char *d = NULL;
    if (tmp && *tmp) {
        snprintf(buf, sizeof buf, "%s/moegen-probe-XXXXXX", tmp);
        d = mkdtemp(buf);
    }
    if (!d) d = mkdtemp(dir);
    if (!d) {
        probe_state = 0;
        return false;
    }
    ev_sbx_params p = {.workdir = d, .file_bytes = 1 << 20};
    ev_child_ctx c = {.p = &p};
    fill_maps(&c);
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(EV_NS_FLAGS) < 0) _exit(1);
        if (write_file("/proc/self/setgroups", "deny") < 0 ||
            write_file("/proc/self/uid_map", c.uid_map) < 0 ||
            write_file("/proc/self/gid_map", c.gid_map) < 0)
            _exit(2);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) _exit(3);
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID};
        if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &attr, sizeof attr) < 0)
            _exit(4);
        if (mount("none", d, "tmpfs", MS_NOSUID | MS_NODEV, c.tmpfs_opts) < 0) _exit(5);
        pid_t b = fork();
        if (b == 0) {
            if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
                mount("none", "/proc", "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k") < 0)
                _exit(7);
            _exit(0);
        }
        int st = 0;
        if (b < 0 || waitpid(b, &st, 0) != b || !WIFEXITED(st)) _exit(6);
        _exit(WEXITSTATUS(st));
    }
    int st = 0;
    bool ok = pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    rmdir(d);
    probe_state = ok ? 1 : 0;
    if (!ok)
        mg_warn("evaluate: the kernel refused user namespaces (step %d); samples run with "
                "seccomp and rlimits only: the file system stays writable where the user "
                "may write, see docs/EVALUATION.md",
                pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return ok;
}

bool ev_sbx_namespaces(void)
{
    return probe();
}

const char *mg_sandbox_mode(void)
{
    if (probe()) return "namespaces";
    return probe_landlock() ? "seccomp+landlock" : "seccomp";
}

int ev_sbx_spawn(const ev_sbx_params *p, ev_proc *out, mg_error *err)
{
    bool ns = probe();
    int outp[2] = {-1, -1}, evp[2] = {-1, -1}, inp[2] = {-1, -1}, in_fd = -1, devnull = -1;
    out->pid = -1;
    out->ev_fd = out->out_fd = out->in_fd = -1;
    if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(evp, O_CLOEXEC) < 0) goto sys_fail;
    devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) goto sys_fail;
    if (p->input_pipe) {
        /* A long-lived child fed as it goes; only we hold the write end. */
        if (pipe2(inp, O_CLOEXEC) < 0) goto sys_fail;
        in_fd = inp[0];
    } else if (p->input) {
        /* A memfd: any size, no pipe to keep fed. */
        in_fd = memfd_create("moegen-input", MFD_CLOEXEC);
        if (in_fd < 0) goto sys_fail;
        size_t off = 0;
        while (off < p->input_len) {
            ssize_t n = write(in_fd, (const char *)p->input + off, p->input_len - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) goto sys_fail;
            off += (size_t)n;
        }
        if (lseek(in_fd, 0, SEEK_SET) < 0) goto sys_fail;
    }
    ev_child_ctx c = {.p = p,
                      .envp = ev_env,
                      .devnull = devnull,
                      .out_w = outp[1],
                      .ev_w = evp[1],
                      .in_fd = in_fd,
                      .moegen = getpid(),
                      .ns = ns,
                      .landlock = !ns && probe_landlock()};
    fill_maps(&c);
    pid_t pid = fork();
    if (pid < 0) goto sys_fail;
    if (pid == 0) child_main(&c);
    /* Also set here: the group exists before the parent's first kill. */
    setpgid(pid, pid);
    close(outp[1]);
    close(evp[1]);
    close(devnull);
    if (in_fd >= 0) close(in_fd);
    fcntl(outp[0], F_SETFL, O_NONBLOCK);
    fcntl(evp[0], F_SETFL, O_NONBLOCK);
    if (inp[1] >= 0) fcntl(inp[1], F_SETFL, O_NONBLOCK);
    out->pid = pid;
    out->ev_fd = evp[0];
    out->out_fd = outp[0];
    out->in_fd = inp[1];
    return 0;
sys_fail : {
    int e = errno;
    int fds[] = {outp[0], outp[1], evp[0], evp[1], in_fd, inp[1], devnull};
    for (int i = 0; i < 7; i++)
        if (fds[i] >= 0) close(fds[i]);
    return mg_error_set(err, mg_err_from_errno(e), "evaluate: starting a sandbox: %s", strerror(e));
}
}

void ev_sbx_kill(const ev_proc *p)
{
    if (p->pid > 0) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
    }
}

int ev_sbx_reap(ev_proc *p)
{
    int st = 0;
    if (p->pid > 0) {
        pid_t w;
        while ((w = waitpid(p->pid, &st, WNOHANG)) < 0 && errno == EINTR) {
        }
        if (w != p->pid) {
            /* Still running: it and anything of its group go (the group
             * cannot be reused before the leader is reaped). */
            kill(-p->pid, SIGKILL);
            kill(p->pid, SIGKILL);
            while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
            }
        }
    }
    if (p->ev_fd >= 0) close(p->ev_fd);
    if (p->out_fd >= 0) close(p->out_fd);
    if (p->in_fd >= 0) close(p->in_fd);
    p->pid = -1;
    p->ev_fd = p->out_fd = p->in_fd = -1;
    return st;
}
