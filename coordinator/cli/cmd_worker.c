/* cmd_worker.c — `moegen worker`: the process `moegen codegen` spawns (one per
 * GPU or CPU slice). Not for direct use: it expects the rings and doorbells
 * the coordinator passes as inherited file descriptors. See mg_worker.h. */
#include "mg_cli.h"
#include "mg_worker.h"

#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

#define USAGE                                                                                      \
    "--req-fd 3 --res-fd 4 --doorbell-fd 5 --peer-doorbell-fd 6 --model M [options]\n"             \
    "Internal: started by `moegen codegen`, talks to it over shared-memory rings."

static int run(int argc, char **argv)
{
    mg_worker_params p = mg_worker_default_params();
    long index = 0, req = -1, res = -1, db = -1, peer = -1, threads = 0, batch = p.max_batch,
         parent = 0;
    const mg_opt opts[] = {
        {"index", MG_OPT_INT, &index, "I", "worker number (default 0)"},
        {"req-fd", MG_OPT_INT, &req, "FD", "request ring shm fd (required)"},
        {"res-fd", MG_OPT_INT, &res, "FD", "result ring shm fd (required)"},
        {"doorbell-fd", MG_OPT_INT, &db, "FD", "read end of this worker's doorbell (required)"},
        {"peer-doorbell-fd", MG_OPT_INT, &peer, "FD",
         "write end of the coordinator's doorbell (required)"},
        {"parent-pid", MG_OPT_INT, &parent, "PID", "exit if this process is gone (default none)"},
        {"model", MG_OPT_STRING, &p.model, "M", "model folder (required)"},
        {"base-model", MG_OPT_STRING, &p.base_model, "B", "base model folder"},
        {"device", MG_OPT_STRING, &p.device, "DEV",
         "cpu, cuda (GPU index mod GPUs) or cuda:N (default cpu)"},
        {"threads", MG_OPT_INT, &threads, "T", "engine threads (default all cores)"},
        {"batch-size", MG_OPT_INT, &batch, "B", "sequences decoded together (default 8)"},
        {0}};
    int rc = mg_cli_parse("worker", USAGE, opts, argc, argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    if (req < 0 || res < 0 || db < 0 || peer < 0 || !p.model) {
        mg_cli_error("worker", "--req-fd, --res-fd, --doorbell-fd, --peer-doorbell-fd and --model "
                               "are required (this command is started by `moegen codegen`)");
        return MG_EXIT_USAGE;
    }
    if (threads < 0 || threads > 4096 || batch < 1 || batch > 4096) {
        mg_cli_error("worker", "--threads/--batch-size out of range");
        return MG_EXIT_USAGE;
    }
    /* Die with the coordinator (even SIGKILLed), and leave Ctrl-C to it: the
     * terminal signals the whole process group, the coordinator decides. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (parent > 0 && getppid() != (pid_t)parent) return MG_EXIT_FAIL; /* already orphaned */
    signal(SIGINT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    p.index = (int)index;
    p.req_fd = (int)req;
    p.res_fd = (int)res;
    p.doorbell_fd = (int)db;
    p.peer_doorbell_fd = (int)peer;
    p.n_threads = (int)threads;
    p.max_batch = (int)batch;
    mg_error err = {0};
    bool sent = false;
    p.error_sent = &sent;
    rc = mg_worker_run(&p, &err);
    if (rc < 0) {
        /* The coordinator prints what it was told; otherwise say it here. */
        if (sent) return MG_EXIT_FAIL;
        fprintf(stderr, "moegen worker %d: %s (%s)\n", p.index, err.msg, mg_err_name(rc));
        return MG_EXIT_FAIL;
    }
    return MG_EXIT_OK;
}

const mg_command mg_cmd_worker = {"worker", "(internal) a codegen worker process", run};
