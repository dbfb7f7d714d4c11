/* cmd_prompts.c — `moegen prompts`: the exact prompt and stop strings EvalPlus
 * would give a model for every selected task, one JSON line per task.
 *
 * The whole dataset is read and every prompt built before anything is
 * printed, so bad input gives one error line and no partial output. */
#include "mg_cli.h"
#include "mg_dataset.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The chat-template renderer (worker/template) is linked when it is built;
 * without it, models that have a chat template are refused. */
#if defined(__has_include)
#if __has_include("mg_template.h")
#include "mg_template.h"
#define MG_PROMPTS_HAVE_TEMPLATE 1
#endif
#endif

static const char CMD[] = "prompts";

static int exit_for(int code)
{
    /* Problems with what the user gave us are usage errors (2); the rest
     * (network, memory, I/O) are failures (1). */
    switch (code) {
    case MG_EFORMAT:
    case MG_ENOENT:
    case MG_EUSAGE:
    case MG_EINVAL:
    case MG_ECHECKSUM:
    case MG_EACCES:
    case MG_EUNSUPPORTED:
        return MG_EXIT_USAGE;
    default:
        return MG_EXIT_FAIL;
    }
}

#ifdef MG_PROMPTS_HAVE_TEMPLATE
static int render_chat(void *ud, const char *user, const char *assistant, char **out, mg_error *err)
{
    const char *roles[] = {"user", "assistant"};
    const char *contents[] = {user, assistant};
    return mg_chat_template_render(ud, roles, contents, 2, false, out, err);
}
#else
/* Whether MODEL_DIR/tokenizer_config.json names a chat template. */
static int has_chat_template(const char *dir, bool *has, mg_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    json_error_t je;
    /* model_max_length is often 1e30-ish: read integers as doubles. */
    json_t *cfg = json_load_file(path, JSON_DECODE_INT_AS_REAL, &je);
    if (!cfg) {
        FILE *f = fopen(path, "rb");
        if (!f) return mg_error_set(err, MG_ENOENT, "%s: %s", path, strerror(errno));
        fclose(f);
        return mg_error_set(err, MG_EFORMAT, "%s:%d: %s", path, je.line, je.text);
    }
    json_t *t = json_is_object(cfg) ? json_object_get(cfg, "chat_template") : NULL;
    *has = t && !json_is_null(t);
    json_decref(cfg);
    return 0;
}
#endif

static int put_json(mg_sbuf *out, const char *s, mg_error *err)
{
    return mg_json_dumps_string(out, s, strlen(s), err);
}

static int run(int argc, char **argv)
{
    const char *dataset = NULL, *path = NULL, *id_range = NULL, *model = NULL;
    const char *ip = NULL, *rp = NULL;
    bool mini = false, noextreme = false, force_base = false, no_download = false;
    mg_cli_list task_ids = {0};
    const mg_opt opts[] = {
        {"dataset", MG_OPT_STRING, &dataset, "NAME",
         "humaneval, mbpp or humaneval-orig (required; also picks the stop strings)"},
        {"dataset-path", MG_OPT_STRING, &path, "PATH",
         "read this JSONL(.gz) instead of the EvalPlus release (default: resolve as EvalPlus)"},
        {"mini", MG_OPT_FLAG, &mini, NULL, "HumanEval+ Mini (default off)"},
        {"noextreme", MG_OPT_FLAG, &noextreme, NULL, "the NoExtreme variant (default off)"},
        {"id-range", MG_OPT_STRING, &id_range, "LO,HI",
         "tasks whose number is in [LO, HI) (default: all)"},
        {"task-ids", MG_OPT_LIST, &task_ids, "ID,...", "only these task ids (default: all)"},
        {"model", MG_OPT_STRING, &model, "DIR",
         "model folder; its chat template makes chat prompts (default: base prompts)"},
        {"force-base-prompt", MG_OPT_FLAG, &force_base, NULL,
         "direct-completion prompts even when the model has a chat template"},
        {"instruction-prefix", MG_OPT_STRING, &ip, "S", "chat instruction prefix (EvalPlus's)"},
        {"response-prefix", MG_OPT_STRING, &rp, "S", "chat response prefix (EvalPlus's)"},
        {"no-download", MG_OPT_FLAG, &no_download, NULL,
         "fail instead of downloading a dataset missing from the cache"},
        {0}};
    int rc = mg_cli_parse(CMD, "--dataset humaneval|mbpp [options]", opts, argc, argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;

    int status = MG_EXIT_OK;
    mg_error err = {0};
    mg_dataset ds = {0};
    mg_sbuf out = {0}, ids = {0};
    mg_strlist stops = {0};
#ifdef MG_PROMPTS_HAVE_TEMPLATE
    mg_chat_template *ct = NULL;
#endif
    if (!dataset) {
        mg_cli_error(CMD, "--dataset is required (humaneval or mbpp)");
        status = MG_EXIT_USAGE;
        goto done;
    }
    if (strcmp(dataset, "humaneval") && strcmp(dataset, "mbpp") &&
        strcmp(dataset, "humaneval-orig")) {
        mg_cli_error(CMD, "--dataset: unknown dataset '%s' (humaneval, mbpp or humaneval-orig)",
                     dataset);
        status = MG_EXIT_USAGE;
        goto done;
    }
    for (int i = 0; i < task_ids.n; i++)
        if ((i && mg_sbuf_append(&ids, ",", 1) < 0) ||
            mg_sbuf_append(&ids, task_ids.items[i], strlen(task_ids.items[i])) < 0) {
            mg_cli_error(CMD, "out of memory");
            status = MG_EXIT_FAIL;
            goto done;
        }

    mg_prompt_params pp = {.dataset = dataset,
                           .direct_completion = true,
                           .instruction_prefix = ip,
                           .response_prefix = rp};
    if (model && !force_base) {
#ifdef MG_PROMPTS_HAVE_TEMPLATE
        rc = mg_chat_template_load(model, &ct, &err);
        if (rc < 0) {
            mg_cli_error(CMD, "--model: %s", err.msg);
            status = exit_for(rc == -ENOENT ? MG_ENOENT : rc);
            goto done;
        }
        if (ct) {
            pp.direct_completion = false;
            pp.render = render_chat;
            pp.render_ud = ct;
        }
#else
        bool has = false;
        rc = has_chat_template(model, &has, &err);
        if (rc < 0) {
            mg_cli_error(CMD, "--model: %s", err.msg);
            status = MG_EXIT_USAGE;
            goto done;
        }
        if (has) {
            mg_cli_error(CMD,
                         "--model %s has a chat template: chat templates are not supported in "
                         "this build yet (use --force-base-prompt for direct-completion prompts)",
                         model);
            status = MG_EXIT_FAIL;
            goto done;
        }
#endif
    }

    mg_dataset_params dp = mg_dataset_default_params();
    dp.name = dataset;
    dp.path = path;
    dp.mini = mini;
    dp.noextreme = noextreme;
    dp.id_range = id_range;
    dp.task_ids = task_ids.n ? ids.data : NULL;
    dp.allow_download = !no_download;
    rc = mg_dataset_open(&dp, &ds, &err);
    if (rc < 0) {
        mg_cli_error(CMD, "%s", err.msg);
        status = exit_for(rc);
        goto done;
    }
    rc = mg_prompt_stops(&pp, &stops, &err);
    mg_sbuf stop_json = {0};
    if (rc == 0) rc = mg_sbuf_append(&stop_json, "[", 1);
    for (size_t i = 0; rc == 0 && i < stops.n; i++) {
        if (i) rc = mg_sbuf_append(&stop_json, ", ", 2);
        if (rc == 0) rc = put_json(&stop_json, stops.items[i], &err);
    }
    if (rc == 0) rc = mg_sbuf_append(&stop_json, "]}\n", 3);
    /* Build everything first: a template error on task N must not leave N-1
     * lines on stdout. */
    for (size_t i = 0; rc == 0 && i < ds.n_tasks; i++) {
        char *prompt = NULL;
        rc = mg_prompt_build(&pp, &ds.tasks[i], &prompt, &err);
        if (rc == 0) rc = mg_sbuf_append(&out, "{\"task_id\": ", 12);
        if (rc == 0) rc = put_json(&out, ds.tasks[i].task_id, &err);
        if (rc == 0) rc = mg_sbuf_append(&out, ", \"prompt\": ", 12);
        if (rc == 0) rc = put_json(&out, prompt, &err);
        if (rc == 0) rc = mg_sbuf_append(&out, ", \"stop\": ", 10);
        if (rc == 0) rc = mg_sbuf_append(&out, stop_json.data, stop_json.len);
        free(prompt);
    }
    mg_sbuf_free(&stop_json);
    if (rc < 0) {
        if (rc == MG_ENOMEM) mg_error_set(&err, rc, "out of memory");
        mg_cli_error(CMD, "%s", err.msg);
        status = exit_for(rc);
        goto done;
    }
    if (out.len && (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0)) {
        mg_cli_error(CMD, "writing stdout: %s", strerror(errno));
        status = MG_EXIT_FAIL;
    }
done:
#ifdef MG_PROMPTS_HAVE_TEMPLATE
    mg_chat_template_free(ct);
#endif
    mg_strlist_free(&stops);
    mg_dataset_free(&ds);
    mg_sbuf_free(&out);
    mg_sbuf_free(&ids);
    mg_cli_list_free(&task_ids);
    return status;
}

const mg_command mg_cmd_prompts = {
    "prompts", "print the exact EvalPlus prompt and stop strings for each task (JSON lines)", run};
