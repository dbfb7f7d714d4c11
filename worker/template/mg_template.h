/* mg_template.h — a Jinja2-compatible renderer for Hugging Face chat templates.
 *
 * The target is Python Jinja2 3.x configured as transformers configures it for
 * `apply_chat_template`: ImmutableSandboxedEnvironment, trim_blocks and
 * lstrip_blocks on, loop controls (break/continue), the `{% generation %}` tag
 * (renders its body), transformers' `tojson` (json.dumps semantics),
 * `raise_exception(msg)`, `strftime_now(fmt)`, keep_trailing_newline off and the
 * default Undefined. Values follow Python: printing gives True/False/None,
 * lists and dicts print as their repr, floats as Python's shortest repr.
 *
 * Generic use:
 *
 *     mg_jinja *t = NULL;
 *     mg_error err = {0};
 *     if (mg_jinja_parse(src, len, &t, &err) < 0) report(err.msg);   // "3:17: ..."
 *     mg_jinja_options o = mg_jinja_default_options();
 *     char *out; size_t n;
 *     if (mg_jinja_render(t, context_json, &o, &out, &n, &err) < 0) report(err.msg);
 *     fwrite(out, 1, n, stdout); free(out);
 *     mg_jinja_free(t);
 *
 * Chat helper over a model folder (what a prompt builder calls):
 *
 *     mg_chat_template *ct = NULL;
 *     if (mg_chat_template_load("models/x", &ct, &err) < 0) report(err.msg);
 *     if (ct) {   // NULL: the folder has no chat template
 *         const char *roles[] = {"user"}, *contents[] = {"def f():"};
 *         char *prompt;
 *         mg_chat_template_render(ct, roles, contents, 1, true, &prompt, &err);
 *     }
 *     mg_chat_template_free(ct);
 *
 * Thread-safety: a parsed mg_jinja / mg_chat_template is immutable; several
 * threads may render it at once (each render has its own memory arena).
 */
#ifndef MG_TEMPLATE_H
#define MG_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mg_error.h"

typedef struct mg_jinja mg_jinja; /* a parsed template */

/* Render limits and the clock. Hostile templates (recursion, huge loops,
 * exponential string growth) stop with MG_ERANGE and a message, never hang. */
typedef struct mg_jinja_options {
    bool fixed_now;     /* true: strftime_now uses `now` (UTC broken-down time) */
    int64_t now;        /* seconds since the epoch, used when fixed_now */
    size_t max_output;  /* bytes of rendered text (default 64 MiB) */
    size_t max_memory;  /* bytes the render may allocate (default 512 MiB) */
    uint64_t max_steps; /* loop iterations + macro calls + filter items (default 10^7) */
    int max_depth;      /* nesting of macro calls / recursive loops (default 200) */
} mg_jinja_options;

/* Defaults: real clock (local time, as Python's datetime.now()), limits above. */
mg_jinja_options mg_jinja_default_options(void);

/* Parses a template (UTF-8). On error returns MG_EFORMAT (syntax error, unknown
 * tag/filter/test) with "LINE:COL: message" in err, and *out stays NULL.
 * The caller frees *out with mg_jinja_free(). */
int mg_jinja_parse(const char *src, size_t len, mg_jinja **out, mg_error *err);

/* Renders with `context` (a JSON object, may be NULL for an empty context;
 * not modified, not retained). `opt` may be NULL for the defaults. On success
 * *out is a malloc'd, NUL-terminated string of *out_len bytes (out_len may be
 * NULL) that the caller frees. Errors: MG_EFORMAT for template runtime errors
 * (type errors, undefined attribute access, raise_exception) with
 * "LINE:COL: message", MG_ERANGE when a limit is hit, MG_ENOMEM. */
int mg_jinja_render(const mg_jinja *t, const json_t *context, const mg_jinja_options *opt,
                    char **out, size_t *out_len, mg_error *err);

/* Same, with the context given as JSON text (parsed as Python's json.loads:
 * unlike jansson it accepts object keys containing NUL bytes). The text must
 * hold an object; errors in it are MG_EFORMAT "context JSON LINE:COL: ...". */
int mg_jinja_render_json(const mg_jinja *t, const char *json, size_t len,
                         const mg_jinja_options *opt, char **out, size_t *out_len, mg_error *err);

/* Frees a parsed template; accepts NULL. */
void mg_jinja_free(mg_jinja *t);

/* ---- chat templates over a model folder ---------------------------------- */

typedef struct mg_chat_template mg_chat_template;

/* Reads MODEL_DIR/tokenizer_config.json: `chat_template` as a string or a list
 * of {name, template} (the one named "default" is used) — replaced, as
 * transformers does, by MODEL_DIR/chat_template.jinja and
 * additional_chat_templates/NAME.jinja when any exists (several files and no
 * default: MG_EFORMAT, where apply_chat_template raises) — and the special
 * tokens bos/eos/unk/pad (strings or AddedToken objects {"content": ...}),
 * falling back to special_tokens_map.json for tokens the config lacks.
 * When the folder has no chat template, *out = NULL and 0 is returned.
 * Errors: -ENOENT (no tokenizer_config.json), MG_EFORMAT (bad JSON, template
 * syntax error), each naming the file. */
int mg_chat_template_load(const char *model_dir, mg_chat_template **out, mg_error *err);

/* Like mg_chat_template_load, from an already-parsed tokenizer_config.json
 * object (`where` names it in error messages). */
int mg_chat_template_from_config(const json_t *config, const char *where, mg_chat_template **out,
                                 mg_error *err);

/* Renders `n` messages {role, content} as transformers' apply_chat_template(
 * messages, tokenize=False, add_generation_prompt=...) does: the context holds
 * messages, add_generation_prompt, tools=None, documents=None and the special
 * tokens (bos_token, eos_token, unk_token, pad_token) that are set. The clock
 * for strftime_now is the real one. *out is malloc'd (caller frees). */
int mg_chat_template_render(const mg_chat_template *t, const char *const *roles,
                            const char *const *contents, size_t n, bool add_generation_prompt,
                            char **out, mg_error *err);

/* Same, with explicit render options (clock, limits); opt may be NULL. */
int mg_chat_template_render_opts(const mg_chat_template *t, const char *const *roles,
                                 const char *const *contents, size_t n, bool add_generation_prompt,
                                 const mg_jinja_options *opt, char **out, mg_error *err);

/* The raw template source (owned by t). */
const char *mg_chat_template_source(const mg_chat_template *t);

/* Frees; accepts NULL. */
void mg_chat_template_free(mg_chat_template *t);

#endif /* MG_TEMPLATE_H */
