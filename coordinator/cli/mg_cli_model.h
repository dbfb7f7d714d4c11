/* mg_cli_model.h — the model flags several subcommands share (--model,
 * --wandb-artifact, --base-model, --dtype), turned into a loaded mg_model:
 * a Hub id or W&B artifact is fetched first (coordinator/sources), and a
 * base model the cache lacks is fetched through the store's hook. */
#ifndef MG_CLI_MODEL_H
#define MG_CLI_MODEL_H

#include "mg_engine.h"
#include "mg_model.h"

typedef struct mg_cli_model_args {
    const char *model; /* --model: folder or ORG/NAME[@REV] */
    const char *wandb; /* --wandb-artifact, or NULL */
    const char *base;  /* --base-model, or NULL */
    const char *dtype; /* --dtype float32|bfloat16|float16, or NULL */
} mg_cli_model_args;

/* Loads the model, or prints one line "moegen <cmd>: ..." and returns the exit
 * status (2 for bad input, 1 for other failures); 0 on success. */
int mg_cli_load_model(const char *cmd, const mg_cli_model_args *a, mg_model **out);

/* Resolves --device into kind and index: "cpu", "cuda" (GPU 0), "cuda:N",
 * or NULL = automatic: cuda when this binary has the CUDA backend
 * (moegen-cuda) and a GPU is visible, else cpu. *n_devices (may be NULL)
 * gets the GPUs visible to CUDA for cuda (CUDA_VISIBLE_DEVICES honoured),
 * 1 for cpu. On failure (cuda asked of the CPU-only `moegen`, no GPU, an
 * index past the last GPU) prints one line "moegen <cmd>: --device ..." and
 * returns the exit status; 0 on success. */
int mg_cli_device(const char *cmd, const char *arg, mg_device_kind *kind, int *index,
                  int *n_devices);

/* The exit status for an MG_E* code: 2 when the user's input is at fault
 * (missing or malformed file, bad value, refused access), else 1. */
int mg_cli_exit_for(int code);

#endif /* MG_CLI_MODEL_H */
