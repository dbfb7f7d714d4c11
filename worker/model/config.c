/* config.c — transformers config.json → mg_model_config, with the defaults
 * of the transformers config classes (GemmaConfig, LlamaConfig,
 * MistralConfig, Qwen2Config) for fields a file leaves out. Both the 4.x
 * spelling (rope_theta, rope_scaling, torch_dtype) and the 5.x one
 * (rope_parameters, dtype) are read. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int get_int(const json_t *o, const char *k, int dflt, bool required, const char *path,
                   int *out, mg_error *err)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (required) return mg_error_set(err, MG_EFORMAT, "%s: missing \"%s\"", path, k);
        *out = dflt;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > (1 << 30))
        return mg_error_set(err, MG_EFORMAT, "%s: \"%s\" is not a non-negative integer", path, k);
    *out = (int)json_integer_value(v);
    return 0;
}

static int get_num(const json_t *o, const char *k, double dflt, const char *path, double *out,
                   mg_error *err)
{
    const json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return 0;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return mg_error_set(err, MG_EFORMAT, "%s: \"%s\" is not a number", path, k);
    *out = json_number_value(v);
    return 0;
}

static mg_dtype parse_dtype(const json_t *v)
{
    const char *s = json_string_value(v);
    if (!s) return MG_DTYPE_F32;
    if (strcmp(s, "bfloat16") == 0) return MG_DTYPE_BF16;
    if (strcmp(s, "float16") == 0) return MG_DTYPE_F16;
    return MG_DTYPE_F32;
}

static int parse_rope(const json_t *cfg, const char *path, mg_model_config *c, mg_error *err)
{
    const json_t *params = json_object_get(cfg, "rope_parameters");
    const json_t *sc = json_object_get(cfg, "rope_scaling");
    double theta = 10000.0;
    int rc = get_num(cfg, "rope_theta", 10000.0, path, &theta, err);
    if (rc < 0) return rc;
    if (json_is_object(params)) {
        if ((rc = get_num(params, "rope_theta", theta, path, &theta, err)) < 0) return rc;
        if (!json_is_object(sc)) sc = params;
    }
    c->rope_theta = (float)theta;
    c->rope_scaling.type = MG_ROPE_DEFAULT;
    c->rope_scaling.factor = 1.0f;
    if (!json_is_object(sc)) {
        if (sc && !json_is_null(sc))
            return mg_error_set(err, MG_EFORMAT, "%s: \"rope_scaling\" is not an object", path);
        return 0;
    }
    const char *type = json_string_value(json_object_get(sc, "rope_type"));
    if (!type) type = json_string_value(json_object_get(sc, "type"));
    if (!type) type = "default";
    double f = 1.0, lo = 1.0, hi = 4.0;
    int orig = 0;
    if ((rc = get_num(sc, "factor", 1.0, path, &f, err)) < 0 ||
        (rc = get_num(sc, "low_freq_factor", 1.0, path, &lo, err)) < 0 ||
        (rc = get_num(sc, "high_freq_factor", 4.0, path, &hi, err)) < 0 ||
        (rc = get_int(sc, "original_max_position_embeddings", c->max_position_embeddings, false,
                      path, &orig, err)) < 0)
        return rc;
    if (strcmp(type, "default") == 0)
        c->rope_scaling.type = MG_ROPE_DEFAULT;
    else if (strcmp(type, "linear") == 0)
        c->rope_scaling.type = MG_ROPE_LINEAR;
    else if (strcmp(type, "dynamic") == 0)
        c->rope_scaling.type = MG_ROPE_DYNAMIC;
    else if (strcmp(type, "llama3") == 0)
        c->rope_scaling.type = MG_ROPE_LLAMA3;
    else
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "%s: rope scaling type \"%s\" is not supported (default, linear, "
                            "dynamic, llama3)",
                            path, type);
    if (c->rope_scaling.type != MG_ROPE_DEFAULT && !(f > 0))
        return mg_error_set(err, MG_EFORMAT, "%s: rope scaling factor must be > 0", path);
    c->rope_scaling.factor = (float)f;
    c->rope_scaling.low_freq_factor = (float)lo;
    c->rope_scaling.high_freq_factor = (float)hi;
    c->rope_scaling.original_max_position_embeddings = orig;
    return 0;
}

static void add_one_eos(mg_model_config *c, json_int_t id)
{
    if (id < 0 || id > (1 << 30)) return;
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_token_ids[i] == (int)id) return;
    if (c->n_eos < MG_MAX_EOS) c->eos_token_ids[c->n_eos++] = (int)id;
}

static void add_eos(mg_model_config *c, const json_t *v)
{
    if (json_is_integer(v)) {
        add_one_eos(c, json_integer_value(v));
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x) if (json_is_integer(x)) add_one_eos(c, json_integer_value(x));
    }
}

static int token_id(const json_t *cfg, const char *k)
{
    const json_t *v = json_object_get(cfg, k);
    return json_is_integer(v) ? (int)json_integer_value(v) : -1;
}

/* The config classes' defaults (LlamaConfig 2048, GemmaConfig 8192,
 * MistralConfig 4096 * 32, Qwen2Config 32768). */
static int default_max_pos(mg_arch a)
{
    switch (a) {
    case MG_ARCH_GEMMA:
        return 8192;
    case MG_ARCH_MISTRAL:
        return 4096 * 32;
    case MG_ARCH_QWEN2:
        return 32768;
    default:
        return 2048;
    }
}

int mg__config_parse(const json_t *cfg, const char *path, mg_model_config *c, mg_error *err)
{
    memset(c, 0, sizeof *c);
    const char *mt = json_string_value(json_object_get(cfg, "model_type"));
    if (!mt) return mg_error_set(err, MG_EFORMAT, "%s: missing \"model_type\"", path);
    if (strcmp(mt, "llama") == 0)
        c->arch = MG_ARCH_LLAMA;
    else if (strcmp(mt, "gemma") == 0)
        c->arch = MG_ARCH_GEMMA;
    else if (strcmp(mt, "mistral") == 0)
        c->arch = MG_ARCH_MISTRAL;
    else if (strcmp(mt, "qwen2") == 0)
        c->arch = MG_ARCH_QWEN2;
    else
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "%s: model_type \"%s\" is not supported (gemma, llama, mistral, "
                            "qwen2)",
                            path, mt);
    snprintf(c->model_type, sizeof c->model_type, "%s", mt);
    int rc;
    if ((rc = get_int(cfg, "vocab_size", 0, true, path, &c->vocab_size, err)) < 0 ||
        (rc = get_int(cfg, "hidden_size", 0, true, path, &c->hidden_size, err)) < 0 ||
        (rc = get_int(cfg, "intermediate_size", 0, true, path, &c->intermediate_size, err)) < 0 ||
        (rc = get_int(cfg, "num_hidden_layers", 0, true, path, &c->n_layers, err)) < 0 ||
        (rc = get_int(cfg, "num_attention_heads", 0, true, path, &c->n_heads, err)) < 0 ||
        (rc = get_int(cfg, "num_key_value_heads", c->n_heads, false, path, &c->n_kv_heads, err)) <
            0 ||
        (rc = get_int(cfg, "max_position_embeddings", default_max_pos(c->arch), false, path,
                      &c->max_position_embeddings, err)) < 0)
        return rc;
    if (!c->vocab_size || !c->hidden_size || !c->n_layers || !c->n_heads || !c->n_kv_heads ||
        !c->intermediate_size)
        return mg_error_set(err, MG_EFORMAT, "%s: a size (vocab, hidden, layers, heads) is 0",
                            path);
    /* Bounds far above any real model, so a hostile config cannot make the
     * loader allocate per-layer tables for a billion layers. */
    if (c->n_layers > 1024 || c->n_heads > 4096 || c->n_kv_heads > c->n_heads)
        return mg_error_set(err, MG_EFORMAT,
                            "%s: implausible num_hidden_layers %d / num_attention_heads %d / "
                            "num_key_value_heads %d",
                            path, c->n_layers, c->n_heads, c->n_kv_heads);
    if (c->n_heads % c->n_kv_heads)
        return mg_error_set(err, MG_EFORMAT,
                            "%s: num_attention_heads %d is not a multiple of "
                            "num_key_value_heads %d",
                            path, c->n_heads, c->n_kv_heads);
    int hd_default = c->hidden_size / c->n_heads;
    if ((rc = get_int(cfg, "head_dim", hd_default, false, path, &c->head_dim, err)) < 0) return rc;
    if (c->head_dim == 0 || c->head_dim % 2)
        return mg_error_set(err, MG_EFORMAT, "%s: head_dim %d must be even and > 0", path,
                            c->head_dim);
    double eps = 1e-6;
    if ((rc = get_num(cfg, "rms_norm_eps", 1e-6, path, &eps, err)) < 0) return rc;
    c->rms_norm_eps = (float)eps;
    if ((rc = parse_rope(cfg, path, c, err)) < 0) return rc;

    /* Activation: Gemma reads hidden_activation and, when it is null, uses the
     * tanh GELU whatever hidden_act says (transformers' GemmaMLP). */
    const char *act = NULL, *act_key = "hidden_act";
    if (c->arch == MG_ARCH_GEMMA) {
        act_key = "hidden_activation";
        act = json_string_value(json_object_get(cfg, "hidden_activation"));
        if (!act) act = "gelu_pytorch_tanh";
    } else {
        act = json_string_value(json_object_get(cfg, "hidden_act"));
        if (!act) act = "silu";
    }
    if (strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0)
        c->act = MG_ACT_SILU;
    else if (strcmp(act, "gelu_pytorch_tanh") == 0)
        c->act = MG_ACT_GELU_TANH;
    else
        return mg_error_set(err, MG_EUNSUPPORTED,
                            "%s: %s \"%s\" is not supported (silu, gelu_pytorch_tanh)", path,
                            act_key, act);

    const json_t *tie = json_object_get(cfg, "tie_word_embeddings");
    c->tie_word_embeddings = tie ? json_is_true(tie) : c->arch == MG_ARCH_GEMMA;
    c->attention_bias =
        c->arch == MG_ARCH_QWEN2 || json_is_true(json_object_get(cfg, "attention_bias"));
    c->norm_add_one = c->arch == MG_ARCH_GEMMA;
    c->scale_embeddings = c->arch == MG_ARCH_GEMMA;
    c->sliding_window = 0;
    const json_t *sw = json_object_get(cfg, "sliding_window");
    bool sw_on =
        c->arch == MG_ARCH_MISTRAL ||
        (c->arch == MG_ARCH_QWEN2 && json_is_true(json_object_get(cfg, "use_sliding_window")));
    if (sw_on && json_is_integer(sw) && json_integer_value(sw) > 0 &&
        json_integer_value(sw) < (1 << 30))
        c->sliding_window = (int)json_integer_value(sw);
    c->bos_token_id = token_id(cfg, "bos_token_id");
    c->pad_token_id = token_id(cfg, "pad_token_id");
    add_eos(c, json_object_get(cfg, "eos_token_id"));
    const json_t *dt = json_object_get(cfg, "torch_dtype");
    if (!dt) dt = json_object_get(cfg, "dtype");
    c->torch_dtype = parse_dtype(dt);
    return 0;
}

void mg__config_generation(mg_model_config *c, const char *dir)
{
    /* generate() stops on generation_config's ids: add them after config.json's. */
    char *p = mg__join(dir, "generation_config.json");
    json_t *g = NULL;
    if (p && mg__is_file(p) && mg__json_load(p, &g, NULL) == 0) {
        add_eos(c, json_object_get(g, "eos_token_id"));
        json_decref(g);
    }
    free(p);
}
