/* test_model.c — mg_model_load on every fixture: the detected format, the
 * parsed config, where tensors came from, and the LoRA scalings PEFT would
 * use (alpha/r, rsLoRA alpha/sqrt(r), rank/alpha patterns, AdaLoRA). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"
#include "mg_model.h"
#include "testutil.h"

TestSuite(model, .fini = tu_cleanup);

static mg_model *load_ex(const char *fixture, const char *base, int dtype)
{
    char path[512], bpath[512];
    snprintf(path, sizeof path, "%s/%s", FIX, fixture);
    mg_model_params p = mg_model_default_params();
    p.path = path;
    if (base) {
        snprintf(bpath, sizeof bpath, "%s/%s", FIX, base);
        p.base_model = bpath;
    }
    p.dtype = dtype;
    mg_model *m = NULL;
    mg_error err = {0};
    int rc = mg_model_load(&p, &m, &err);
    cr_assert_eq(rc, 0, "%s: %s", fixture, err.msg);
    return m;
}
static mg_model *load(const char *fixture, const char *base)
{
    return load_ex(fixture, base, -1);
}

static bool same_bytes(const mg_tensor *a, const mg_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    size_t es = a->dtype == MG_DTYPE_F32 ? 4 : 2;
    return memcmp(a->data, b->data, (size_t)mg_tensor_numel(a) * es) == 0;
}

static void assert_same_weights(const mg_model *a, const mg_model *b)
{
    cr_assert(same_bytes(&a->embed, &b->embed));
    cr_assert(same_bytes(&a->lm_head, &b->lm_head));
    cr_assert(same_bytes(&a->final_norm, &b->final_norm));
    for (int l = 0; l < a->config.n_layers; l++) {
        cr_assert(same_bytes(&a->layers[l].attn_norm, &b->layers[l].attn_norm));
        cr_assert(same_bytes(&a->layers[l].ffn_norm, &b->layers[l].ffn_norm));
        for (int p = 0; p < MG_PROJ_COUNT; p++)
            cr_assert(same_bytes(&a->layers[l].proj[p], &b->layers[l].proj[p]), "layer %d %s", l,
                      mg_proj_name(p));
    }
}

static const mg_lora_module *mod(const mg_model *m, int e, int l, mg_proj p)
{
    return &m->experts[e].modules[l * MG_PROJ_COUNT + p];
}

Test(model, llama_merged)
{
    mg_model *m = load("llama", NULL);
    cr_assert_eq(m->format, MG_FORMAT_MERGED);
    const mg_model_config *c = &m->config;
    cr_assert_eq(c->arch, MG_ARCH_LLAMA);
    cr_assert_eq(c->vocab_size, 256);
    cr_assert_eq(c->hidden_size, 32);
    cr_assert_eq(c->n_layers, 2);
    cr_assert_eq(c->n_heads, 4);
    cr_assert_eq(c->n_kv_heads, 2);
    cr_assert_eq(c->head_dim, 8);
    cr_assert_eq(c->act, MG_ACT_SILU);
    cr_assert_not(c->tie_word_embeddings);
    cr_assert_eq(c->rope_scaling.type, MG_ROPE_DEFAULT);
    cr_assert_float_eq(c->rope_theta, 10000.0f, 0);
    cr_assert_eq(c->bos_token_id, 1);
    cr_assert_eq(c->n_eos, 1);
    cr_assert_eq(c->eos_token_ids[0], 2);
    cr_assert_neq(m->lm_head.data, m->embed.data);
    cr_assert_eq(m->layers[1].proj[MG_PROJ_K].shape[0], 16);
    cr_assert_eq(m->layers[1].proj[MG_PROJ_DOWN].shape[1], 64);
    cr_assert_null(m->layers[0].bias[MG_PROJ_Q].data);
    cr_assert_str_eq(m->embed.name, "model.embed_tokens.weight");
    cr_assert(m->tokenizer_path && strstr(m->tokenizer_path, "llama"));
    cr_assert_eq(m->n_experts, 0);
    mg_model_free(m);
}

Test(model, same_weights_in_every_container)
{
    mg_model *ref = load("llama", NULL);
    const char *others[] = {"llama-bin", "llama-bin-sharded", "llama-sharded"};
    for (int i = 0; i < 3; i++) {
        mg_model *m = load(others[i], NULL);
        assert_same_weights(ref, m);
        mg_model_free(m);
    }
    mg_model_free(ref);
}

Test(model, bf16_conversion_matches_torch_rounding)
{
    /* llama-bf16 was written by torch's .to(bfloat16): converting the fp32
     * llama at load must give the same bytes. */
    mg_model *bf = load("llama-bf16", NULL);
    cr_assert_eq(bf->embed.dtype, MG_DTYPE_BF16);
    mg_model *conv = load_ex("llama", NULL, MG_DTYPE_BF16);
    assert_same_weights(bf, conv);
    mg_model_free(conv);
    mg_model *back = load_ex("llama-bf16", NULL, MG_DTYPE_F32);
    cr_assert_eq(back->layers[0].proj[0].dtype, MG_DTYPE_F32);
    mg_model_free(back);
    mg_model *f16 = load_ex("llama", NULL, MG_DTYPE_F16);
    cr_assert_eq(f16->lm_head.dtype, MG_DTYPE_F16);
    mg_model_free(f16);
    mg_model_free(bf);
}

Test(model, gemma_config_and_tied_embeddings)
{
    mg_model *m = load("gemma", NULL);
    const mg_model_config *c = &m->config;
    cr_assert_eq(c->arch, MG_ARCH_GEMMA);
    cr_assert_eq(c->head_dim, 24);
    cr_assert_eq(c->n_kv_heads, 1);
    cr_assert_eq(c->act, MG_ACT_GELU_TANH);
    cr_assert(c->norm_add_one && c->scale_embeddings && c->tie_word_embeddings);
    cr_assert_eq(c->bos_token_id, 2);
    cr_assert_eq(c->eos_token_ids[0], 1);
    cr_assert_eq(m->lm_head.data, m->embed.data);
    cr_assert_eq(m->layers[0].proj[MG_PROJ_Q].shape[0], 48);
    cr_assert_eq(m->layers[0].proj[MG_PROJ_O].shape[1], 48);
    mg_model_free(m);
}

Test(model, qwen2_biases_and_mistral_window)
{
    mg_model *q = load("qwen2", NULL);
    cr_assert(q->config.attention_bias);
    for (int p = MG_PROJ_Q; p <= MG_PROJ_V; p++) cr_assert_not_null(q->layers[1].bias[p].data);
    cr_assert_null(q->layers[1].bias[MG_PROJ_O].data);
    cr_assert_eq(q->layers[1].bias[MG_PROJ_K].shape[0], 16);
    mg_model_free(q);
    mg_model *m = load("mistral", NULL);
    cr_assert_eq(m->config.arch, MG_ARCH_MISTRAL);
    cr_assert_eq(m->config.sliding_window, 64);
    mg_model_free(m);
}

Test(model, rope_scaling_variants)
{
    mg_model *m = load("llama-rope-llama3", NULL);
    const mg_rope_scaling *r = &m->config.rope_scaling;
    cr_assert_eq(r->type, MG_ROPE_LLAMA3);
    cr_assert_float_eq(r->factor, 8.0f, 0);
    cr_assert_float_eq(r->low_freq_factor, 1.0f, 0);
    cr_assert_float_eq(r->high_freq_factor, 4.0f, 0);
    cr_assert_eq(r->original_max_position_embeddings, 64);
    cr_assert_float_eq(m->config.rope_theta, 500000.0f, 0);
    mg_model_free(m);
    m = load("llama-rope-linear", NULL);
    cr_assert_eq(m->config.rope_scaling.type, MG_ROPE_LINEAR);
    cr_assert_float_eq(m->config.rope_scaling.factor, 2.0f, 0);
    mg_model_free(m);
}

Test(model, peft_lora_on_its_base)
{
    /* base_model_name_or_path "../llama" resolves against the adapter folder */
    mg_model *m = load("peft-lora", NULL);
    cr_assert_eq(m->format, MG_FORMAT_PEFT);
    cr_assert(strstr(m->base_path, "llama"));
    cr_assert_eq(m->n_experts, 1);
    cr_assert_eq(m->experts[0].kind, MG_EXPERT_LORA);
    for (int l = 0; l < 2; l++) {
        cr_assert_not_null(mod(m, 0, l, MG_PROJ_Q)->A.data);
        cr_assert_not_null(mod(m, 0, l, MG_PROJ_V)->B.data);
        cr_assert_null(mod(m, 0, l, MG_PROJ_K)->A.data);
        cr_assert_float_eq(mod(m, 0, l, MG_PROJ_Q)->scaling, 2.0f, 0);
        cr_assert_eq(mod(m, 0, l, MG_PROJ_V)->B.shape[0], 16);
    }
    cr_assert(m->tokenizer_path && strstr(m->tokenizer_path, "llama"));
    mg_model_free(m);
}

Test(model, rslora_and_bin_adapter_scalings)
{
    mg_model *m = load("peft-rslora", NULL);
    cr_assert(m->experts[0].use_rslora);
    cr_assert_float_eq(mod(m, 0, 1, MG_PROJ_O)->scaling, 4.0f, 1e-6); /* 8 / sqrt(4) */
    mg_model_free(m);
    m = load("peft-bin", NULL);
    cr_assert_float_eq(mod(m, 0, 0, MG_PROJ_GATE)->scaling, 4.0f, 0); /* 16 / 4 */
    cr_assert_not_null(mod(m, 0, 1, MG_PROJ_K)->A.data);
    mg_model_free(m);
}

Test(model, rank_and_alpha_patterns)
{
    mg_model *m = load("peft-patterns", NULL);
    /* rank_pattern {v_proj: 2, layers.1.self_attn.q_proj: 6},
     * alpha_pattern {down_proj: 3, model.layers.0.self_attn.q_proj: 5}, r 4, alpha 8 */
    cr_assert_eq(mod(m, 0, 0, MG_PROJ_Q)->r, 4);
    cr_assert_float_eq(mod(m, 0, 0, MG_PROJ_Q)->scaling, 5.0f / 4, 1e-7);
    cr_assert_eq(mod(m, 0, 1, MG_PROJ_Q)->r, 6);
    cr_assert_float_eq(mod(m, 0, 1, MG_PROJ_Q)->scaling, (float)(8.0 / 6), 1e-7);
    cr_assert_eq(mod(m, 0, 0, MG_PROJ_V)->r, 2);
    cr_assert_float_eq(mod(m, 0, 1, MG_PROJ_V)->scaling, 4.0f, 0);
    cr_assert_float_eq(mod(m, 0, 1, MG_PROJ_DOWN)->scaling, 0.75f, 0);
    mg_model_free(m);
}

Test(model, dora_regex_adalora)
{
    mg_model *m = load("peft-dora", NULL);
    cr_assert(m->experts[0].use_dora);
    cr_assert_not_null(mod(m, 0, 0, MG_PROJ_UP)->magnitude.data);
    cr_assert_eq(mod(m, 0, 0, MG_PROJ_UP)->magnitude.shape[0], 64);
    cr_assert_null(mod(m, 0, 0, MG_PROJ_V)->A.data);
    mg_model_free(m);
    m = load("peft-regex", NULL);
    int n = 0;
    for (int i = 0; i < 2 * MG_PROJ_COUNT; i++) n += m->experts[0].modules[i].A.data != NULL;
    cr_assert_eq(n, 2);
    cr_assert_not_null(mod(m, 0, 1, MG_PROJ_K)->A.data);
    cr_assert_not_null(mod(m, 0, 1, MG_PROJ_GATE)->A.data);
    mg_model_free(m);
    m = load("peft-adalora", NULL);
    cr_assert_eq(m->experts[0].kind, MG_EXPERT_ADALORA);
    cr_assert_eq(mod(m, 0, 0, MG_PROJ_Q)->r, 6);
    cr_assert_not_null(mod(m, 0, 0, MG_PROJ_Q)->E.data);
    cr_assert_float_eq(mod(m, 0, 0, MG_PROJ_Q)->scaling, (float)(8.0 / (double)(6.0f + 1e-5f)), 0);
    mg_model_free(m);
}

static void assert_three_experts(const mg_model *m)
{
    cr_assert_eq(m->n_experts, 3);
    for (int e = 0; e < 3; e++) {
        char n[16];
        snprintf(n, sizeof n, "expert_%d", e);
        cr_assert_str_eq(m->experts[e].name, n);
        for (int l = 0; l < 2; l++)
            for (int p = 0; p < MG_PROJ_COUNT; p++) {
                const mg_lora_module *x = mod(m, e, l, p);
                if (p <= MG_PROJ_O) {
                    cr_assert_not_null(x->A.data, "expert %d layer %d %s", e, l, mg_proj_name(p));
                    cr_assert_eq(x->r, 4);
                    cr_assert_float_eq(x->scaling, 2.0f, 0);
                } else {
                    cr_assert_null(x->A.data);
                }
            }
    }
    cr_assert_eq(mod(m, 1, 0, MG_PROJ_Q)->B.shape[0], 48);
    cr_assert_eq(mod(m, 2, 1, MG_PROJ_O)->A.shape[1], 48);
    cr_assert(m->has_router);
    cr_assert_eq(m->router.weight.shape[0], 3);
    cr_assert_eq(m->router.weight.shape[1], 32);
    cr_assert_eq(m->router.top_k, 1);
    cr_assert_float_eq(m->router.temperature, 2.0f, 0);
    cr_assert_eq(m->config.arch, MG_ARCH_GEMMA);
}

Test(model, dylora_best_model)
{
    mg_model *m = load("dylora-best/best_model", "gemma");
    cr_assert_eq(m->format, MG_FORMAT_DYLORA_BEST);
    assert_three_experts(m);
    /* the keys keep the adapter name: expert_1.pt's tensor for expert_1 */
    cr_assert(strstr(mod(m, 1, 0, MG_PROJ_K)->A.name, "lora_A.expert_1.weight"));
    mg_model_free(m);
}

Test(model, dylora_checkpoint)
{
    mg_model *m = load("dylora-checkpoint/checkpoint-10", "gemma");
    cr_assert_eq(m->format, MG_FORMAT_DYLORA_CHECKPOINT);
    assert_three_experts(m);
    cr_assert(strstr(m->experts[2].source, "expert_2/expert_2"));
    cr_assert_str_eq(m->router.weight.name, "gate.weight");
    mg_model_free(m);
}

Test(model, dylora_legacy)
{
    mg_model *m = load("dylora-legacy/results_full/best_model", "gemma");
    cr_assert_eq(m->format, MG_FORMAT_DYLORA_LEGACY);
    assert_three_experts(m);
    /* the saved, untied lm_head clone is used; it equals the embedding */
    cr_assert_neq(m->lm_head.data, m->embed.data);
    cr_assert(same_bytes(&m->lm_head, &m->embed));
    cr_assert(strstr(m->layers[0].proj[MG_PROJ_Q].name, "q_proj.base_layer.weight"));
    mg_model_free(m);
}

Test(model, base_from_the_hugging_face_cache)
{
    /* HF_HUB_CACHE/models--tiny-org--gemma/refs/main → snapshots/<rev>/ */
    const char *cache = tu_tmpdir();
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/models--tiny-org--gemma/refs %s/models--tiny-org--gemma/snapshots && "
             "printf 'abc123' > %s/models--tiny-org--gemma/refs/main && "
             "ln -s %s/gemma %s/models--tiny-org--gemma/snapshots/abc123",
             cache, cache, cache, FIX, cache);
    cr_assert_eq(system(cmd), 0);
    setenv("HF_HUB_CACHE", cache, 1);
    mg_model *m = load("dylora-best/best_model", NULL);
    cr_assert_str_eq(m->base_name, "tiny-org/gemma");
    cr_assert(strstr(m->base_path, "snapshots/abc123"), "%s", m->base_path);
    assert_three_experts(m);
    mg_model_free(m);
}

Test(model, missing_base_says_where_it_looked)
{
    setenv("HF_HUB_CACHE", "/nonexistent-cache", 1);
    char path[512];
    snprintf(path, sizeof path, "%s/dylora-checkpoint/checkpoint-10", FIX);
    mg_model_params p = mg_model_default_params();
    p.path = path;
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_model_load(&p, &m, &err), MG_ENOENT);
    cr_assert_null(m);
    cr_assert(strstr(err.msg, "tiny-org/gemma") &&
                  strstr(err.msg, "/nonexistent-cache/models--tiny-org--gemma/refs/main"),
              "%s", err.msg);
}

Test(model, adapter_path_overrides_model)
{
    char a[512];
    snprintf(a, sizeof a, "%s/peft-rslora", FIX);
    mg_model_params p = mg_model_default_params();
    p.path = "/nonexistent";
    p.adapter_path = a;
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_model_load(&p, &m, &err), 0, "%s", err.msg);
    cr_assert(m->experts[0].use_rslora);
    mg_model_free(m);
    mg_model_free(NULL);
}

Test(model, names)
{
    cr_assert_str_eq(mg_proj_name(MG_PROJ_DOWN), "down_proj");
    cr_assert_str_eq(mg_model_format_name(MG_FORMAT_DYLORA_CHECKPOINT), "dylora-moe (checkpoint)");
}

Test(model, tiny_dylora_example)
{
    /* examples/tiny-dylora: self-contained best_model layout (base in a sub-folder) */
    mg_model_params p = mg_model_default_params();
    p.path = MG_SOURCE_DIR "/examples/tiny-dylora";
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_model_load(&p, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->format, MG_FORMAT_DYLORA_BEST);
    cr_assert_eq(m->n_experts, 3);
    cr_assert_eq(m->config.vocab_size, 768);
    cr_assert_eq(m->config.n_layers, 4);
    cr_assert_eq(m->config.eos_token_ids[0], 0);
    cr_assert(m->has_router);
    cr_assert(strstr(m->tokenizer_path, "examples/tiny-dylora"));
    cr_assert(strstr(m->base_path, "tiny-dylora-base"));
    cr_assert_float_eq(m->experts[2].modules[3 * MG_PROJ_COUNT + MG_PROJ_O].scaling, 2.0f, 0);
    mg_model_free(m);
}

/* Writes `cfg` as dir/config.json. */
static void write_json(const char *dir, json_t *cfg)
{
    char f[600];
    snprintf(f, sizeof f, "%s/config.json", dir);
    cr_assert_eq(json_dump_file(cfg, f, JSON_INDENT(1)), 0);
}

static json_t *read_json(const char *path)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    cr_assert(j, "%s: %s", path, je.text);
    return j;
}

Test(model, gemma_without_hidden_activation_uses_tanh_gelu)
{
    /* CodeGemma's config.json says hidden_act "gelu" and has no
     * hidden_activation: transformers' GemmaMLP then uses gelu_pytorch_tanh. */
    char d[512];
    snprintf(d, sizeof d, "%s/g", tu_tmpdir());
    tu_copy_fixture("gemma", d);
    json_t *cfg = read_json(FIX "/gemma/config.json");
    json_object_del(cfg, "hidden_activation");
    json_object_set_new(cfg, "hidden_act", json_string("gelu"));
    write_json(d, cfg);
    json_decref(cfg);
    mg_model_params p = mg_model_default_params();
    p.path = d;
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_model_load(&p, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->config.act, MG_ACT_GELU_TANH);
    mg_model_free(m);
}

Test(model, legacy_with_a_full_config_is_self_contained)
{
    /* benchmark.py rewrites a legacy config.json in place: the base config
     * with _dylora_original_type "dylora-moe". No base model is needed. */
    char root[512], d[600];
    snprintf(root, sizeof root, "%s", tu_tmpdir());
    snprintf(d, sizeof d, "%s/best_model", root);
    tu_copy_fixture("dylora-legacy/results_full/best_model", d);
    json_t *cfg = read_json(FIX "/gemma/config.json");
    json_object_set_new(cfg, "_dylora_original_type", json_string("dylora-moe"));
    json_object_set_new(cfg, "num_experts", json_integer(3));
    json_object_set_new(cfg, "lora_r", json_integer(4));
    json_object_set_new(cfg, "lora_alpha", json_integer(8));
    json_object_set_new(cfg, "base_model_name_or_path", json_string("nowhere/to-be-found"));
    write_json(d, cfg);
    json_decref(cfg);
    mg_model_params p = mg_model_default_params();
    p.path = d;
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_model_load(&p, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->format, MG_FORMAT_DYLORA_LEGACY);
    assert_three_experts(m);
    cr_assert_str_eq(m->base_name, "nowhere/to-be-found");
    mg_model_free(m);
}

Test(model, adapter_sub_folders_are_one_expert_set)
{
    char d[512], a[600], b[600];
    snprintf(d, sizeof d, "%s/set", tu_tmpdir());
    cr_assert_eq(mkdir(d, 0755), 0);
    snprintf(a, sizeof a, "%s/beta", d);
    snprintf(b, sizeof b, "%s/alpha", d);
    tu_copy_fixture("peft-rslora", a);
    tu_copy_fixture("peft-lora", b);
    mg_model_params p = mg_model_default_params();
    p.path = d;
    p.base_model = FIX "/llama";
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_model_load(&p, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->format, MG_FORMAT_PEFT);
    cr_assert_eq(m->n_experts, 2);
    cr_assert_str_eq(m->experts[0].name, "alpha"); /* sorted by folder name */
    cr_assert_str_eq(m->experts[1].name, "beta");
    cr_assert_not(m->experts[0].use_rslora);
    cr_assert(m->experts[1].use_rslora);
    cr_assert_null(mod(m, 0, 0, MG_PROJ_K)->A.data);
    cr_assert_not_null(mod(m, 1, 0, MG_PROJ_K)->A.data);
    mg_model_free(m);
}

Test(model, dylo_moe_state_in_the_parent_folder_means_dylora)
{
    /* Oct 21 – Nov 3 saves: config.json is the base config with model_type
     * "gemma" plus _dylora_* fields; only the parent's dylo_moe_state/ says
     * this is DyLoRA-MoE (detection step 1). */
    char root[512], d[600];
    snprintf(root, sizeof root, "%s/results_full", tu_tmpdir());
    tu_copy_fixture("dylora-legacy/results_full", root);
    snprintf(d, sizeof d, "%s/best_model", root);
    json_t *cfg = read_json(FIX "/gemma/config.json");
    json_object_set_new(cfg, "_dylora_num_experts", json_integer(3));
    json_object_set_new(cfg, "_dylora_lora_r", json_integer(4));
    json_object_set_new(cfg, "_dylora_lora_alpha", json_integer(8));
    write_json(d, cfg);
    json_decref(cfg);
    mg_model_params p = mg_model_default_params();
    p.path = d;
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_model_load(&p, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->format, MG_FORMAT_DYLORA_LEGACY);
    assert_three_experts(m);
    /* the reference reads router.pt only from the model folder: the gate
     * comes from model.safetensors */
    cr_assert_str_eq(m->router.weight.name, "router.gate.weight");
    mg_model_free(m);
}

Test(model, pattern_keys_match_like_peft)
{
    /* PEFT: re.match(rf"(.*\.)?({key})$", name), first key in file order */
    json_error_t je;
    json_t *pat = json_loads("{\"q|q_pr\": 1, \"layers.1.self_attn.q_proj\": 2, \"q_proj\": 3,"
                             " \"k_proj|k_pro\": 4, \"proj\": 5}",
                             0, &je);
    cr_assert(pat);
    const json_t *v;
    mg_error err = {0};
    cr_assert_eq(mg__pattern_value(pat, "model.layers.1.self_attn.q_proj", &v, &err), 0);
    cr_assert_eq(json_integer_value(v), 2);
    cr_assert_eq(mg__pattern_value(pat, "model.layers.0.self_attn.q_proj", &v, &err), 0);
    cr_assert_eq(json_integer_value(v), 3);
    /* alternation needs backtracking to reach the end: "k_pro" fails, "k_proj" matches */
    cr_assert_eq(mg__pattern_value(pat, "model.layers.0.self_attn.k_proj", &v, &err), 0);
    cr_assert_eq(json_integer_value(v), 4);
    /* "proj" must match a whole dotted component suffix: "down_proj" is not ".proj" */
    cr_assert_eq(mg__pattern_value(pat, "model.layers.0.mlp.down_proj", &v, &err), 0);
    cr_assert_null(v);
    json_decref(pat);
}

Test(model, artifact_root_uses_its_best_model)
{
    /* a downloaded W&B artifact: results_full/{best_model,checkpoint-N,...} */
    char root[512], d[600];
    snprintf(root, sizeof root, "%s", tu_tmpdir());
    snprintf(d, sizeof d, "%s/best_model", root);
    tu_copy_fixture("dylora-best/best_model", d);
    mg_model_params p = mg_model_default_params();
    p.path = root;
    p.base_model = FIX "/gemma";
    mg_model *m = NULL;
    mg_error err = {0};
    cr_assert_eq(mg_model_load(&p, &m, &err), 0, "%s", err.msg);
    cr_assert_eq(m->format, MG_FORMAT_DYLORA_BEST);
    cr_assert(strstr(m->path, "/best_model"), "%s", m->path);
    assert_three_experts(m);
    mg_model_free(m);
}

Test(model, hub_cache_follows_hf_home_and_xdg)
{
    /* $XDG_CACHE_HOME/huggingface/hub when HF_HUB_CACHE and HF_HOME are unset */
    const char *x = tu_tmpdir();
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s/huggingface/hub/models--tiny-org--gemma/refs "
             "%s/huggingface/hub/models--tiny-org--gemma/snapshots && "
             "printf 'r1\\n' > %s/huggingface/hub/models--tiny-org--gemma/refs/main && "
             "ln -s %s/gemma %s/huggingface/hub/models--tiny-org--gemma/snapshots/r1",
             x, x, x, FIX, x);
    cr_assert_eq(system(cmd), 0);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HUGGINGFACE_HUB_CACHE");
    unsetenv("HF_HOME");
    setenv("XDG_CACHE_HOME", x, 1);
    mg_model *m = load("dylora-checkpoint/checkpoint-10", NULL);
    cr_assert(strstr(m->base_path, "huggingface/hub/models--tiny-org--gemma/snapshots/r1"), "%s",
              m->base_path);
    mg_model_free(m);
    /* HF_HOME wins over XDG_CACHE_HOME */
    char home[600];
    snprintf(home, sizeof home, "%s/huggingface", x);
    setenv("HF_HOME", home, 1);
    setenv("XDG_CACHE_HOME", "/nonexistent", 1);
    m = load("dylora-checkpoint/checkpoint-10", NULL);
    mg_model_free(m);
}

/* X-LoRA: three LoRA experts from the sub-folders in "adapters" order, the
 * classifier's Linear layers (Sequential indices 0 and 3: ReLU and Dropout
 * between them) and PEFT's numbering of the LoRA modules. */
Test(model, xlora_layerwise)
{
    mg_model *m = load("xlora", NULL); /* base "../llama" relative to the folder */
    cr_assert_eq(m->format, MG_FORMAT_XLORA);
    cr_assert_str_eq(mg_model_format_name(m->format), "x-lora");
    cr_assert_eq(m->n_experts, 3);
    cr_assert_str_eq(m->experts[2].name, "2");
    const mg_xlora *x = m->xlora;
    cr_assert_not_null(x);
    cr_assert_eq(x->n_mlp_layers, 2);
    cr_assert_eq(x->w[0].shape[0], 16);
    cr_assert_eq(x->w[0].shape[1], 32);
    cr_assert_eq(x->w[1].shape[0], 36);
    cr_assert_str_eq(x->w[1].name, "base_model.internal_xlora_classifier.layers.3.weight");
    cr_assert(x->layerwise_scalings && x->enable_softmax && x->enable_softmax_topk);
    cr_assert_eq(x->top_k_lora, 2);
    cr_assert_float_eq(x->softmax_temperature, 0.7f, 1e-7);
    cr_assert_float_eq(x->global_scaling_weight, 1.5f, 1e-7);
    cr_assert_float_eq(x->scaling_pass_value, 0.0f, 1e-7);
    /* q k v o up down are adapted by some expert, gate_proj by none. */
    cr_assert_eq(x->n_modules, 12);
    int want[MG_PROJ_COUNT] = {0, 1, 2, 3, -1, 4, 5};
    for (int p = 0; p < MG_PROJ_COUNT; p++) {
        cr_assert_eq(x->module_index[p], want[p], "layer 0 %s", mg_proj_name(p));
        cr_assert_eq(x->module_index[MG_PROJ_COUNT + p], want[p] < 0 ? -1 : want[p] + 6);
    }
    cr_assert_float_eq(mod(m, 1, 0, MG_PROJ_K)->scaling, (float)(6.0 / sqrt(3.0)), 1e-6);
    cr_assert_null(mod(m, 0, 0, MG_PROJ_K)->A.data);
    mg_model_free(m);
}

Test(model, xlora_global)
{
    mg_model *m = load("xlora-global", "llama");
    const mg_xlora *x = m->xlora;
    cr_assert_eq(x->n_mlp_layers, 1);
    cr_assert_eq(x->w[0].shape[0], 3);
    cr_assert(!x->layerwise_scalings && !x->enable_softmax && !x->enable_softmax_topk);
    cr_assert_eq(x->top_k_lora, 0);
    cr_assert_float_eq(x->scaling_pass_value, 0.4f, 1e-7);
    cr_assert_float_eq(x->global_scaling_weight, 0.8f, 1e-7);
    mg_model_free(m);
    /* --dtype converts the classifier with everything else. */
    m = load_ex("xlora-global", "llama", MG_DTYPE_BF16);
    cr_assert_eq(m->xlora->w[0].dtype, MG_DTYPE_BF16);
    mg_model_free(m);
}
