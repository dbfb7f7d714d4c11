/* cmd_detokenize.c — `moegen detokenize`: JSON lines {"ids": [...]} on stdin
 * to {"text": ...} lines on stdout through mg_tokenizer_decode. The text is
 * written with JSON escapes (\u0000 included), so any string round-trips.
 * Output is written only once every input line has been decoded. */
#include "mg_cli.h"
#include "mg_tokenizer.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run(int argc, char **argv)
{
    const char *dir = NULL;
    bool skip = false;
    const mg_opt opts[] = {
        {"tokenizer", MG_OPT_STRING, &dir, "DIR", "folder with tokenizer.json; required"},
        {"skip-special-tokens", MG_OPT_FLAG, &skip, NULL,
         "leave out special added tokens; default off"},
        {0}};
    int rc = mg_cli_parse("detokenize", "--tokenizer DIR [--skip-special-tokens] < in.jsonl", opts,
                          argc, argv, NULL);
    if (rc) return rc > 0 ? MG_EXIT_OK : MG_EXIT_USAGE;
    if (!dir) {
        mg_cli_error("detokenize", "--tokenizer: required");
        return MG_EXIT_USAGE;
    }
    mg_error err = {0};
    mg_tokenizer *tok;
    if ((rc = mg_tokenizer_load(dir, &tok, &err)) < 0) {
        mg_cli_error("detokenize", "--tokenizer %s: %s", dir, err.msg);
        return rc == -ENOENT || rc == MG_EFORMAT || rc == MG_EUNSUPPORTED ? MG_EXIT_USAGE
                                                                          : MG_EXIT_FAIL;
    }
    char *line = NULL, *out = NULL;
    size_t cap = 0, out_len = 0;
    FILE *mem = open_memstream(&out, &out_len);
    int status = mem ? MG_EXIT_OK : MG_EXIT_FAIL;
    int32_t *ids = NULL;
    ssize_t n;
    long lineno = 0;
    while (status == MG_EXIT_OK && (n = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
        json_t *arr = json_object_get(j, "ids");
        const char *bad = !j                    ? je.text
                          : !json_is_array(arr) ? "expected an object with an \"ids\" array"
                                                : NULL;
        size_t k = json_array_size(arr);
        if (!bad) {
            int32_t *p = realloc(ids, (k ? k : 1) * sizeof *p);
            if (!p)
                bad = "out of memory";
            else
                ids = p;
        }
        for (size_t i = 0; !bad && i < k; i++) {
            json_t *v = json_array_get(arr, i);
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > INT32_MAX)
                bad = "ids must be integers in [0, 2^31)";
            else
                ids[i] = (int32_t)json_integer_value(v);
        }
        if (bad) {
            mg_cli_error("detokenize", "stdin:%ld: %s", lineno, bad);
            json_decref(j);
            status = MG_EXIT_USAGE;
            break;
        }
        json_decref(j);
        char *text;
        size_t len;
        if (mg_tokenizer_decode(tok, ids, k, skip, &text, &len, &err) < 0) {
            mg_cli_error("detokenize", "stdin:%ld: %s", lineno, err.msg);
            status = MG_EXIT_FAIL;
            break;
        }
        json_t *o = json_pack("{s:s%}", "text", text, len);
        char *dump = o ? json_dumps(o, JSON_COMPACT) : NULL;
        free(text);
        json_decref(o);
        if (!dump) {
            mg_cli_error("detokenize", "stdin:%ld: cannot encode the text as JSON", lineno);
            status = MG_EXIT_FAIL;
            break;
        }
        fputs(dump, mem);
        fputc('\n', mem);
        free(dump);
    }
    free(line);
    free(ids);
    if (mem && fclose(mem) != 0) status = MG_EXIT_FAIL;
    if (status == MG_EXIT_OK && out_len && fwrite(out, 1, out_len, stdout) != out_len)
        status = MG_EXIT_FAIL;
    if (status == MG_EXIT_OK && fflush(stdout) != 0) status = MG_EXIT_FAIL;
    free(out);
    mg_tokenizer_free(tok);
    return status;
}

const mg_command mg_cmd_detokenize = {"detokenize", "decode JSON lines {\"ids\"} to {\"text\"}",
                                      run};
