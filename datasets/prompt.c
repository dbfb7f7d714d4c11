/* prompt.c — EvalPlus prompts, stop strings and completion truncation
 * (evalplus/codegen.py, provider/utility.py, provider/hf.py). */
#include "ds_internal.h"
#include "mg_dataset.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int mg_ds__py_isspace(uint32_t c)
{
    /* Python's str.isspace(): bidi class WS/B/S or category Zs. */
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

void mg_py_strip(const char *s, size_t len, size_t *start, size_t *end)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t a = 0, b = len;
    uint32_t cp;
    while (a < b) {
        size_t n = mg_ds__utf8_decode(p + a, b - a, &cp);
        if (!n || !mg_ds__py_isspace(cp)) break;
        a += n;
    }
    while (b > a) {
        size_t k = b - 1; /* back up to the lead byte of the last character */
        while (k > a && (p[k] & 0xc0) == 0x80 && b - k < 4) k--;
        size_t n = mg_ds__utf8_decode(p + k, b - k, &cp);
        if (n != b - k || !mg_ds__py_isspace(cp)) break;
        b = k;
    }
    *start = a;
    *end = b;
}

void mg_strlist_free(mg_strlist *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static const char *const EOS[] = {"<|endoftext|>", "<|endofmask|>", "</s>",
                                  "\nif __name__", "\ndef main(",   "\nprint("};
static const char *const EXTRA_HUMANEVAL[] = {"\ndef ", "\nclass ", "\nimport ", "\nfrom ",
                                              "\nassert "};
static const char *const EXTRA_MBPP[] = {"\n\"\"\"", "\nassert"};
static const char *const EXTRA_CHAT[] = {"\n```\n"};

static int is_humaneval(const char *d)
{
    /* extra_eos_for_direct_completion lowercases the name. */
    return !strcasecmp(d, "humaneval") || !strcasecmp(d, "humaneval-orig");
}

int mg_prompt_stops(const mg_prompt_params *p, mg_strlist *stops, mg_error *err)
{
    const char *const *extra;
    size_t n_extra;
    stops->items = NULL;
    stops->n = 0;
    if (!p->direct_completion) {
        extra = EXTRA_CHAT, n_extra = 1;
    } else if (p->dataset && is_humaneval(p->dataset)) {
        extra = EXTRA_HUMANEVAL, n_extra = 5;
    } else if (p->dataset && !strcasecmp(p->dataset, "mbpp")) {
        extra = EXTRA_MBPP, n_extra = 2;
    } else {
        return mg_error_set(err, MG_EINVAL,
                            "unknown dataset '%s' for direct-completion stop strings "
                            "(humaneval or mbpp)",
                            p->dataset ? p->dataset : "(null)");
    }
    size_t n = 6 + n_extra;
    stops->items = calloc(n, sizeof *stops->items);
    if (!stops->items) return mg_error_set(err, MG_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const char *s = i < 6 ? EOS[i] : extra[i - 6];
        stops->items[i] = mg_ds__strndup(s, strlen(s));
        if (!stops->items[i]) {
            stops->n = i;
            mg_strlist_free(stops);
            return mg_error_set(err, MG_ENOMEM, "out of memory");
        }
    }
    stops->n = n;
    return 0;
}

int mg_prompt_build(const mg_prompt_params *p, const mg_task *task, char **prompt, mg_error *err)
{
    *prompt = NULL;
    size_t a, b;
    mg_py_strip(task->prompt, strlen(task->prompt), &a, &b);
    mg_sbuf s = {0};
    int rc = 0;
    if (p->direct_completion) {
        /* codegen.py: prompt = task["prompt"].strip() + "\n" */
        rc = mg_sbuf_append(&s, task->prompt + a, b - a);
        if (rc == 0) rc = mg_sbuf_append(&s, "\n", 1);
        if (rc < 0) goto oom;
        *prompt = s.data;
        return 0;
    }
    if (!p->render)
        return mg_error_set(err, MG_EINVAL, "%s: chat prompt needs a chat-template renderer",
                            task->task_id);
    /* make_raw_chat_prompt: a two-turn conversation whose assistant turn ends in
     * the magic splitter; the rendered text is cut there. */
    const char *ip = p->instruction_prefix ? p->instruction_prefix : MG_EVALPLUS_INSTRUCTION_PREFIX;
    const char *rp = p->response_prefix ? p->response_prefix : MG_EVALPLUS_RESPONSE_PREFIX;
    mg_sbuf user = {0}, asst = {0};
    rc = mg_sbuf_append(&user, ip, strlen(ip));
    if (rc == 0) rc = mg_sbuf_append(&user, "\n```\n", 5);
    if (rc == 0) rc = mg_sbuf_append(&user, task->prompt + a, b - a);
    if (rc == 0) rc = mg_sbuf_append(&user, "\n```\n", 5);
    if (rc == 0) rc = mg_sbuf_append(&asst, rp, strlen(rp));
    if (rc == 0)
        rc = mg_sbuf_append(&asst, "\n```python\n" MG_EVALPLUS_MAGIC "\n```\n",
                            11 + strlen(MG_EVALPLUS_MAGIC) + 5);
    if (rc < 0) {
        mg_sbuf_free(&user);
        mg_sbuf_free(&asst);
        goto oom;
    }
    char *full = NULL;
    rc = p->render(p->render_ud, user.data, asst.data, &full, err);
    mg_sbuf_free(&user);
    mg_sbuf_free(&asst);
    if (rc < 0) {
        free(full);
        return mg_error_prefix(err, rc, "%s: chat template", task->task_id);
    }
    if (!full)
        return mg_error_set(err, MG_EINVAL, "%s: chat template rendered nothing", task->task_id);
    char *cut = strstr(full, MG_EVALPLUS_MAGIC); /* .split(MAGIC)[0] */
    if (cut) *cut = '\0';
    *prompt = full;
    return 0;
oom:
    mg_sbuf_free(&s);
    return mg_error_set(err, MG_ENOMEM, "out of memory");
}

char *mg_completion_truncate_n(const char *text, size_t len, const mg_strlist *stops,
                               size_t max_chars)
{
    /* hf.py: min_index = 10000; for eos: if eos in s: min_index = min(..., s.index(eos)).
     * Byte and character positions order the same way, so search bytes and
     * convert the character cap to a byte offset. */
    size_t cut = len;
    size_t chars = 0, i = 0;
    const unsigned char *p = (const unsigned char *)text;
    while (i < len && chars < max_chars) {
        uint32_t cp;
        size_t n = mg_ds__utf8_decode(p + i, len - i, &cp);
        i += n ? n : 1;
        chars++;
    }
    if (i < len) cut = i;
    for (size_t k = 0; stops && k < stops->n; k++) {
        const char *st = stops->items[k];
        size_t sl = strlen(st);
        /* A stop may start before the cap and run past it, so search everything. */
        const char *hit = memmem(text, len, st, sl);
        if (hit && (size_t)(hit - text) < cut) cut = (size_t)(hit - text);
    }
    size_t tabs = 0;
    for (size_t j = 0; j < cut; j++) tabs += text[j] == '\t';
    char *out = malloc(cut + 3 * tabs + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t j = 0; j < cut; j++) {
        if (text[j] == '\t') {
            memcpy(out + o, "    ", 4);
            o += 4;
        } else {
            out[o++] = text[j];
        }
    }
    out[o] = '\0';
    return out;
}

char *mg_completion_truncate(const char *text, size_t len, const mg_strlist *stops)
{
    return mg_completion_truncate_n(text, len, stops, MG_EVALPLUS_HF_MAX_CHARS);
}
