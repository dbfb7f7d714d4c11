/* cmd_tokenize.c — `moegen tokenize`: JSON lines {"text": ...} on stdin to
 * {"ids": [...]} lines on stdout, through mg_tokenizer (the inspection and
 * test interface of the tokenizer). Output is written only once every input
 * line has been read and encoded, so bad input leaves stdout empty. */
#include "mg_cli.h"
#include "mg_tokenizer.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run(int argc, char **argv)
{
    const char *dir = NULL;
    bool add_special = false, transformers = false;
    const mg_opt opts[] = {
        {"tokenizer", MG_OPT_STRING, &dir, "DIR",
         "folder with tokenizer.json (+ tokenizer_config.json); required"},
        {"add-special-tokens", MG_OPT_FLAG, &add_special, NULL,
         "run the tokenizer.json post-processor (BOS/EOS); default off"},
        {"transformers", MG_OPT_FLAG, &transformers, NULL,
         "encode as transformers' tokenizer.encode(text) does (config add_bos_token...); "
         "default off"},
        {0}};
    int rc = mg_cli_parse("tokenize", "--tokenizer DIR [--add-special-tokens] < in.jsonl", opts,
                          argc, argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    if (!dir) {
        mg_cli_error("tokenize", "--tokenizer: required");
        return MG_EXIT_USAGE;
    }
    mg_error err = {0};
    mg_tokenizer *tok;
    if ((rc = mg_tokenizer_load(dir, &tok, &err)) < 0) {
        mg_cli_error("tokenize", "--tokenizer %s: %s", dir, err.msg);
        return rc == -ENOENT || rc == MG_EFORMAT || rc == MG_EUNSUPPORTED ? MG_EXIT_USAGE
                                                                          : MG_EXIT_FAIL;
    }
    char *line = NULL, *out = NULL;
    size_t cap = 0, out_len = 0;
    FILE *mem = open_memstream(&out, &out_len);
    int status = mem ? MG_EXIT_OK : MG_EXIT_FAIL;
    ssize_t n;
    long lineno = 0;
    while (status == MG_EXIT_OK && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
        json_t *text = json_object_get(j, "text");
        if (!j || !json_is_string(text)) {
            mg_cli_error("tokenize", "stdin:%ld: %s", lineno,
                         j ? "expected an object with a \"text\" string" : je.text);
            json_decref(j);
            status = MG_EXIT_USAGE;
            break;
        }
        int32_t *ids;
        size_t n_ids;
        const char *s = json_string_value(text);
        size_t len = json_string_length(text);
        rc = transformers ? mg_tokenizer_encode_prompt(tok, s, len, &ids, &n_ids, &err)
                          : mg_tokenizer_encode(tok, s, len, add_special, &ids, &n_ids, &err);
        json_decref(j);
        if (rc < 0) {
            mg_cli_error("tokenize", "stdin:%ld: %s", lineno, err.msg);
            status = MG_EXIT_FAIL;
            break;
        }
        fputs("{\"ids\":[", mem);
        for (size_t i = 0; i < n_ids; i++) fprintf(mem, i ? ",%d" : "%d", (int)ids[i]);
        fputs("]}\n", mem);
        free(ids);
    }
    free(line);
    if (mem && fclose(mem) != 0) status = MG_EXIT_FAIL;
    if (status == MG_EXIT_OK && out_len && fwrite(out, 1, out_len, stdout) != out_len)
        status = MG_EXIT_FAIL;
    if (status == MG_EXIT_OK && fflush(stdout) != 0) status = MG_EXIT_FAIL;
    free(out);
    mg_tokenizer_free(tok);
    return status;
}

const mg_command mg_cmd_tokenize = {"tokenize", "encode JSON lines {\"text\"} to {\"ids\"}", run};
