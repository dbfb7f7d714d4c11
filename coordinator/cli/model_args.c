/* model_args.c — see mg_cli_model.h. */
#include "mg_cli_model.h"

#include <stdlib.h>
#include <string.h>

#include "mg_cli.h"
#include "mg_sources.h"

/* Problems with what the user gave are exit 2; the rest (memory, I/O,
 * network) exit 1. */
int mg_cli_exit_for(int code)
{
    switch (code) {
    case MG_ENOENT:
    case MG_EFORMAT:
    case MG_EUNSUPPORTED:
    case MG_ESHAPE:
    case MG_EINVAL:
    case MG_ERANGE:
    case MG_EUSAGE:
    case MG_EACCES:
        return MG_EXIT_USAGE;
    default:
        return MG_EXIT_FAIL;
    }
}

int mg_cli_load_model(const char *cmd, const mg_cli_model_args *a, mg_model **out)
{
    *out = NULL;
    mg_model_params mp = mg_model_default_params();
    if (a->dtype) {
        if (!strcmp(a->dtype, "float32"))
            mp.dtype = MG_DTYPE_F32;
        else if (!strcmp(a->dtype, "bfloat16"))
            mp.dtype = MG_DTYPE_BF16;
        else if (!strcmp(a->dtype, "float16"))
            mp.dtype = MG_DTYPE_F16;
        else {
            mg_cli_error(cmd, "--dtype: '%s' is not float32, bfloat16 or float16", a->dtype);
            return MG_EXIT_USAGE;
        }
    }
    mg_error err = {0};
    char *dir = NULL;
    if (mg_source_resolve_model(a->model, a->wandb, &dir, &err) < 0) {
        mg_cli_error(cmd, "%s", err.msg);
        return mg_cli_exit_for(err.code);
    }
    mp.path = dir;
    mp.base_model = a->base;
    mp.resolve_base = mg_source_resolve_base_cb;
    int rc = mg_model_load(&mp, out, &err);
    free(dir); /* the model keeps its own copy of the path */
    if (rc < 0) {
        mg_cli_error(cmd, "%s", err.msg);
        return mg_cli_exit_for(rc);
    }
    return MG_EXIT_OK;
}

int mg_cli_device(const char *cmd, const char *arg, mg_device_kind *kind, int *index,
                  int *n_devices)
{
    mg_error err = {0};
    int n = 0, rc;
    if (n_devices) *n_devices = 1;
    if (!arg) {
        /* Automatic: a GPU when this binary can drive one and one is there. */
        *kind = MG_DEVICE_CPU;
        *index = 0;
        if (mg_engine_device_count(MG_DEVICE_CUDA, &n, NULL) == 0 && n > 0) {
            *kind = MG_DEVICE_CUDA;
            if (n_devices) *n_devices = n;
        }
        return 0;
    }
    if ((rc = mg_engine_device_parse(arg, kind, index, &err)) < 0) {
        mg_cli_error(cmd, "--device: %s", err.msg);
        return MG_EXIT_USAGE;
    }
    if (*kind == MG_DEVICE_CPU) return 0;
    if ((rc = mg_engine_device_count(MG_DEVICE_CUDA, &n, &err)) < 0) {
        mg_cli_error(cmd, "--device %s: %s", arg, err.msg);
        return MG_EXIT_USAGE;
    }
    if (n == 0) {
        const char *vis = getenv("CUDA_VISIBLE_DEVICES");
        mg_cli_error(cmd, "--device %s: no GPU visible%s%s%s%s%s", arg,
                     vis ? " (CUDA_VISIBLE_DEVICES=" : "", vis ? vis : "", vis ? ")" : "",
                     err.msg[0] ? ": " : "", err.msg);
        return MG_EXIT_FAIL;
    }
    if (*index >= n) {
        mg_cli_error(cmd, "--device %s: only %d GPU%s visible (cuda:0..cuda:%d)", arg, n,
                     n == 1 ? "" : "s", n - 1);
        return MG_EXIT_USAGE;
    }
    if (n_devices) *n_devices = n;
    return 0;
}
