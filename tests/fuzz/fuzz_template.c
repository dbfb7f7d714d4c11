/* fuzz_template.c — libFuzzer harness for the Jinja renderer (worker/template):
 * mg_jinja_parse on the input, then mg_jinja_render_json. The input is
 * TEMPLATE, or TEMPLATE '\0' CONTEXT-JSON to fuzz the context parser too.
 * Render limits are small so hostile inputs stop fast instead of timing out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mg_template.h"

static const char DEFAULT_CTX[] =
    "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": "
    "\"hi <b> ü\"}, {\"role\": \"assistant\", \"content\": \"yo\", \"tool_calls\": [{\"name\": "
    "\"f\", \"arguments\": {\"a\": 1.5}}]}], \"bos_token\": \"<s>\", \"eos_token\": \"</s>\", "
    "\"add_generation_prompt\": true, \"tools\": [{\"type\": \"function\"}], \"n\": null}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    const char *ctx = nul ? (const char *)nul + 1 : DEFAULT_CTX;
    size_t clen = nul ? size - tlen - 1 : sizeof DEFAULT_CTX - 1;

    mg_error err = {0};
    mg_jinja *t = NULL;
    if (mg_jinja_parse(src, tlen, &t, &err) < 0) {
        if (!err.msg[0]) abort(); /* every error has a message */
        return 0;
    }
    mg_jinja_options o = mg_jinja_default_options();
    o.fixed_now = true;
    o.now = 1752148800;
    o.max_steps = 100000;
    o.max_output = 1 << 20;
    o.max_memory = 64 << 20;
    o.max_depth = 40;
    char *out = NULL;
    size_t n = 0;
    if (mg_jinja_render_json(t, ctx, clen, &o, &out, &n, &err) == 0) {
        if (!out || out[n] != 0) abort(); /* NUL-terminated result */
        free(out);
    } else if (!err.msg[0])
        abort();
    mg_jinja_free(t);
    return 0;
}
