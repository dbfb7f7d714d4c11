/* mg_worker.h — the worker process: rings in, streamed text out.
 *
 * `moegen worker` (coordinator/cli/cmd_worker.c) fills mg_worker_params from
 * the flags the coordinator gives it and calls mg_worker_run, which:
 *   1. attaches the request and result rings (inherited fds), sends HELLO;
 *   2. loads the model and tokenizer once and creates the engine, sends READY
 *      (or ERROR with the load failure and returns it);
 *   3. loops: decodes REQUESTs (one per task x strategy, several sample
 *      slots), tokenizes the prompt, submits one engine request per slot, and
 *      steps the engine while anything is active (continuous batching: new
 *      requests join between steps); every generated token is detokenized
 *      incrementally and sent as TEXT; the accumulated text is searched for
 *      the request's stop strings and the sample is cancelled in the engine
 *      as soon as one appears; each sample ends with DONE (finish reason,
 *      token counts, experts used). CANCEL ends samples early; SHUTDOWN or
 *      EOF on the doorbell (the coordinator is gone) ends the loop.
 *
 * The worker never writes files and never decides what a sample's final text
 * is: the coordinator truncates at the earliest stop string. Only main()
 * (cmd_worker) exits; this returns.
 */
#ifndef MG_WORKER_H
#define MG_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "mg_error.h"

typedef struct mg_worker_params {
    int index;              /* worker number (logs, HELLO) */
    int req_fd;             /* inherited shm fd of the request ring (we consume) */
    int res_fd;             /* inherited shm fd of the result ring (we produce) */
    int doorbell_fd;        /* read end of our doorbell (the coordinator rings it) */
    int peer_doorbell_fd;   /* write end of the coordinator's doorbell */
    const char *model;      /* --model */
    const char *base_model; /* --base-model or NULL */
    const char *device;     /* "cpu", "cuda" (GPU index mod visible GPUs) or "cuda:N";
                               cuda needs the CUDA backend (moegen-cuda) */
    int n_threads;          /* engine threads; 0 = all cores */
    int max_batch;          /* sequences decoded together */
    int max_seq_len;        /* KV length per sequence; 0 = engine default */
    /* Optional: set when a failure was reported to the coordinator as an
     * ERROR message (so main need not print it again). */
    bool *error_sent;
} mg_worker_params;

mg_worker_params mg_worker_default_params(void);

/* Runs until SHUTDOWN or the coordinator goes away (returns 0), or a fatal
 * error (returns it; an ERROR message was sent when the rings were up). */
int mg_worker_run(const mg_worker_params *p, mg_error *err);

#endif /* MG_WORKER_H */
