/* test_errors.c — malformed model folders: each ends in one clear line that
 * names the file and the problem, never a crash (the suite also runs under
 * ASan/UBSan). Fixtures are copied to a scratch folder and damaged there. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "mg_model.h"
#include "testutil.h"

static mg_error ERR;

TestSuite(model_errors, .fini = tu_cleanup);

/* Loads dir (with an optional base folder) and expects failure `code`, with a
 * one-line message containing every string in `want` (NULL-terminated). */
static void expect_fail(const char *dir, const char *base, int code, const char *const *want)
{
    mg_model_params p = mg_model_default_params();
    p.path = dir;
    p.base_model = base;
    mg_model *m = (mg_model *)1;
    memset(&ERR, 0, sizeof ERR);
    int rc = mg_model_load(&p, &m, &ERR);
    cr_assert_eq(rc, code, "rc %d (%s), want %d: %s", rc, mg_err_name(rc), code, ERR.msg);
    cr_assert_null(m);
    cr_assert_null(strchr(ERR.msg, '\n'), "message is not one line: %s", ERR.msg);
    for (; want && *want; want++)
        cr_assert(strstr(ERR.msg, *want), "'%s' not in: %s", *want, ERR.msg);
}

static char *scratch(const char *fixture)
{
    static char d[512];
    snprintf(d, sizeof d, "%s/m", tu_tmpdir());
    tu_copy_fixture(fixture, d);
    return d;
}

static void truncate_file(const char *path, long drop)
{
    size_t n;
    uint8_t *b = tu_read(path, &n);
    tu_write(path, b, n - (size_t)drop);
    free(b);
}

Test(model_errors, truncated_safetensors)
{
    char *d = scratch("llama"), f[600];
    snprintf(f, sizeof f, "%s/model.safetensors", d);
    truncate_file(f, 100);
    expect_fail(d, NULL, MG_EFORMAT, (const char *[]){"model.safetensors", "truncated", NULL});
}

Test(model_errors, lying_header_length)
{
    char *d = scratch("llama"), f[600];
    snprintf(f, sizeof f, "%s/model.safetensors", d);
    size_t n;
    uint8_t *b = tu_read(f, &n);
    b[5] = 0x01; /* header length now ~1 TB */
    tu_write(f, b, n);
    free(b);
    expect_fail(d, NULL, MG_EFORMAT, (const char *[]){"model.safetensors", "header length", NULL});
}

Test(model_errors, lying_tensor_offsets)
{
    /* rewrite one data_offsets end inside the header (same length) */
    char *d = scratch("gemma"), f[600];
    snprintf(f, sizeof f, "%s/model.safetensors", d);
    size_t n;
    uint8_t *b = tu_read(f, &n);
    char *hit = memmem(b, n, "\"data_offsets\":[0,", 18);
    cr_assert(hit);
    hit[18] = hit[18] == '9' ? '8' : '9';
    tu_write(f, b, n);
    free(b);
    expect_fail(d, NULL, MG_EFORMAT, (const char *[]){"model.safetensors", "tensor '", NULL});
}

Test(model_errors, truncated_torch_checkpoint)
{
    char *d = scratch("llama-bin"), f[600];
    snprintf(f, sizeof f, "%s/pytorch_model.bin", d);
    truncate_file(f, 50);
    expect_fail(d, NULL, MG_EFORMAT, (const char *[]){"pytorch_model.bin", NULL});
}

Test(model_errors, corrupt_torch_storage_fails_its_crc)
{
    char *d = scratch("llama-bin"), f[600];
    snprintf(f, sizeof f, "%s/pytorch_model.bin", d);
    size_t n;
    uint8_t *b = tu_read(f, &n);
    b[n / 2] ^= 0x55;
    tu_write(f, b, n);
    free(b);
    expect_fail(d, NULL, MG_ECHECKSUM, (const char *[]){"pytorch_model.bin", "CRC", NULL});
}

Test(model_errors, unknown_pickle_global)
{
    char *d = scratch("peft-bin"), f[600];
    snprintf(f, sizeof f, "%s/adapter_model.bin", d);
    static const char pkl[] = "\x80\x02"
                              "cposix\nsystem\n"
                              "X\x04\x00\x00\x00true\x85R.";
    tz_entry e[] = {{"adapter_model/data.pkl", pkl, sizeof pkl - 1}};
    tz_write(f, e, 1);
    char base[512];
    snprintf(base, sizeof base, "%s/llama", FIX);
    expect_fail(d, base, MG_EUNSUPPORTED,
                (const char *[]){"adapter_model.bin", "posix.system", "refused", NULL});
}

Test(model_errors, missing_shard)
{
    char *d = scratch("llama-sharded"), f[600];
    snprintf(f, sizeof f, "%s/model-00003-of-00004.safetensors", d);
    cr_assert_eq(unlink(f), 0);
    expect_fail(d, NULL, MG_ENOENT,
                (const char *[]){"model-00003-of-00004.safetensors", "missing", NULL});
}

Test(model_errors, missing_bin_shard)
{
    char *d = scratch("llama-bin-sharded"), f[600];
    snprintf(f, sizeof f, "%s/pytorch_model-00002-of-00002.bin", d);
    cr_assert_eq(unlink(f), 0);
    expect_fail(d, NULL, MG_ENOENT, (const char *[]){"pytorch_model-00002-of-00002.bin", NULL});
}

Test(model_errors, adapter_that_does_not_fit_the_base)
{
    char path[512], base[512];
    snprintf(path, sizeof path, "%s/peft-lora", FIX);
    snprintf(base, sizeof base, "%s/gemma", FIX);
    /* llama's v_proj is [16, 32]; gemma's is [24, 32] */
    expect_fail(path, base, MG_ESHAPE,
                (const char *[]){"adapter_model.safetensors", "lora_B", NULL});
}

Test(model_errors, base_config_that_does_not_fit_its_weights)
{
    char *d = scratch("llama"), f[600];
    snprintf(f, sizeof f, "%s/config.json", d);
    size_t n;
    uint8_t *b = tu_read(f, &n);
    char *hit = memmem(b, n, "\"intermediate_size\": 64", 23);
    cr_assert(hit);
    memcpy(hit, "\"intermediate_size\": 65", 23);
    tu_write(f, b, n);
    free(b);
    expect_fail(
        d, NULL, MG_ESHAPE,
        (const char *[]){"model.safetensors", "gate_proj.weight", "[64, 32]", "[65, 32]", NULL});
}

/* Replaces the first `from` in dir/name by `to`. */
static void edit_file(const char *dir, const char *name, const char *from, const char *to)
{
    char f[600];
    snprintf(f, sizeof f, "%s/%s", dir, name);
    size_t n;
    uint8_t *b = tu_read(f, &n);
    b[n] = 0;
    char *hit = strstr((char *)b, from);
    cr_assert(hit, "%s not in %s", from, name);
    char *out = malloc(n + strlen(to) + 1);
    size_t pre = (size_t)(hit - (char *)b);
    memcpy(out, b, pre);
    strcpy(out + pre, to);
    strcat(out, hit + strlen(from));
    tu_write(f, out, strlen(out));
    free(out);
    free(b);
}

static void edit_config(const char *dir, const char *from, const char *to)
{
    edit_file(dir, "config.json", from, to);
}

Test(model_errors, unsupported_model_type_and_activation)
{
    char *d = scratch("llama");
    edit_config(d, "\"model_type\": \"llama\"", "\"model_type\": \"gpt2\"");
    expect_fail(d, NULL, MG_EUNSUPPORTED, (const char *[]){"config.json", "\"gpt2\"", NULL});
    d = scratch("llama");
    edit_config(d, "\"hidden_act\": \"silu\"", "\"hidden_act\": \"relu\"");
    expect_fail(d, NULL, MG_EUNSUPPORTED,
                (const char *[]){"config.json", "hidden_act \"relu\"", NULL});
    d = scratch("gemma");
    edit_config(d, "\"hidden_activation\": \"gelu_pytorch_tanh\"",
                "\"hidden_activation\": \"gelu\"");
    expect_fail(d, NULL, MG_EUNSUPPORTED, (const char *[]){"hidden_activation \"gelu\"", NULL});
    d = scratch("llama");
    edit_config(d, "\"rope_type\": \"default\"", "\"rope_type\": \"yarn\"");
    expect_fail(d, NULL, MG_EUNSUPPORTED, (const char *[]){"\"yarn\"", NULL});
}

Test(model_errors, invalid_config_json)
{
    char *d = scratch("llama");
    edit_config(d, "{", "{,");
    expect_fail(d, NULL, MG_EFORMAT, (const char *[]){"config.json", "invalid JSON", NULL});
}

Test(model_errors, nothing_to_load)
{
    const char *d = tu_tmpdir();
    expect_fail(
        d, NULL, MG_ENOENT,
        (const char *[]){d, "adapter_config.json", "model.safetensors", "pytorch_model.bin", NULL});
    expect_fail("/nonexistent/model", NULL, MG_ENOENT,
                (const char *[]){"/nonexistent/model", NULL});
    char f[600];
    snprintf(f, sizeof f, "%s/llama/config.json", FIX);
    expect_fail(f, NULL, MG_EINVAL, (const char *[]){"is a file", NULL});
}

Test(model_errors, dylora_expert_with_the_wrong_rank)
{
    char *d = scratch("dylora-best/best_model"), base[512];
    snprintf(base, sizeof base, "%s/gemma", FIX);
    edit_config(d, "\"_dylora_lora_r\": 4", "\"_dylora_lora_r\": 8");
    expect_fail(d, base, MG_ESHAPE, (const char *[]){"expert_0.pt", "rank 8", NULL});
}

Test(model_errors, missing_dylora_expert_is_a_zero_delta)
{
    char *d = scratch("dylora-best/best_model"), f[600], base[512];
    snprintf(f, sizeof f, "%s/peft_adapters/expert_1.pt", d);
    cr_assert_eq(unlink(f), 0);
    snprintf(base, sizeof base, "%s/gemma", FIX);
    mg_model_params p = mg_model_default_params();
    p.path = d;
    p.base_model = base;
    mg_model *m = NULL;
    cr_assert_eq(mg_model_load(&p, &m, &ERR), 0, "%s", ERR.msg);
    cr_assert_eq(m->n_experts, 3);
    for (int i = 0; i < 2 * MG_PROJ_COUNT; i++) cr_assert_null(m->experts[1].modules[i].A.data);
    cr_assert_not_null(m->experts[2].modules[0].A.data);
    mg_model_free(m);
}

/* X-LoRA folders: a damaged config, classifier or adapter set is one line
 * naming the file and what does not fit. */
static char *xlora_scratch(void)
{
    return scratch("xlora");
}
#define XL_BASE FIX "/llama"
#define XL_CFG  "adapter_config.json"

Test(model_errors, xlora_malformed_config)
{
    char *d = xlora_scratch();
    edit_file(d, XL_CFG, "\"xlora_depth\": 2", "\"xlora_depth\": \"2\"");
    expect_fail(d, XL_BASE, MG_EFORMAT, (const char *[]){XL_CFG, "xlora_depth", NULL});
    d = xlora_scratch();
    edit_file(d, XL_CFG, "\"enable_softmax\": true", "\"enable_softmax\": 1");
    expect_fail(d, XL_BASE, MG_EFORMAT, (const char *[]){XL_CFG, "enable_softmax", NULL});
    d = xlora_scratch();
    edit_file(d, XL_CFG, "\"softmax_temperature\": 0.7", "\"softmax_temperature\": 0");
    expect_fail(d, XL_BASE, MG_EFORMAT, (const char *[]){XL_CFG, "softmax_temperature", NULL});
    d = xlora_scratch();
    edit_file(d, XL_CFG, "\"top_k_lora\": 2", "\"top_k_lora\": 4");
    expect_fail(d, XL_BASE, MG_EFORMAT, (const char *[]){XL_CFG, "top_k_lora 4", NULL});
    d = xlora_scratch();
    edit_file(d, XL_CFG, "\"hidden_size\": 32", "\"hidden_size\": 48");
    expect_fail(d, XL_BASE, MG_ESHAPE, (const char *[]){XL_CFG, "hidden_size 48", NULL});
    d = xlora_scratch();
    edit_file(d, XL_CFG, "\"adapters\": {", "\"adapters\": [], \"x\": {");
    expect_fail(d, XL_BASE, MG_EFORMAT, (const char *[]){XL_CFG, "\"adapters\"", NULL});
}

Test(model_errors, xlora_classifier_that_does_not_fit)
{
    /* The classifier's hidden layer is 16 wide, its output 12 modules x 3. */
    char *d = xlora_scratch();
    edit_file(d, XL_CFG, "\"xlora_size\": 16", "\"xlora_size\": 8");
    expect_fail(
        d, XL_BASE, MG_ESHAPE,
        (const char *[]){"adapter_model.safetensors", "classifier layer 0", "[8, 32]", NULL});
    d = xlora_scratch();
    edit_file(d, XL_CFG, "\"layerwise_scalings\": true", "\"layerwise_scalings\": false");
    expect_fail(
        d, XL_BASE, MG_ESHAPE,
        (const char *[]){"adapter_model.safetensors", "classifier layer 3", "[3, 16]", NULL});
    d = xlora_scratch();
    edit_file(d, XL_CFG, "\"xlora_depth\": 2", "\"xlora_depth\": 3");
    expect_fail(d, XL_BASE, MG_EFORMAT,
                (const char *[]){"adapter_model", "2 linear layers", "xlora_depth says 3", NULL});
    /* One adapter fewer: the layerwise output no longer matches. */
    d = xlora_scratch();
    edit_file(d, XL_CFG, ",\n    \"2\": \"2\"", "");
    edit_file(d, XL_CFG, "\"top_k_lora\": 2", "\"top_k_lora\": 1");
    expect_fail(d, XL_BASE, MG_ESHAPE, (const char *[]){"classifier layer 3", "2 experts", NULL});
}

Test(model_errors, xlora_missing_parts)
{
    char *d = xlora_scratch(), f[600];
    snprintf(f, sizeof f, "%s/adapter_model.safetensors", d);
    cr_assert_eq(unlink(f), 0);
    expect_fail(d, XL_BASE, MG_ENOENT, (const char *[]){d, "no adapter weights", NULL});
    d = xlora_scratch();
    edit_file(d, XL_CFG, "\"2\": \"2\"", "\"two\": \"elsewhere\"");
    expect_fail(d, XL_BASE, MG_ENOENT,
                (const char *[]){XL_CFG, "adapter \"two\"", "elsewhere", NULL});
}

Test(model_errors, xlora_peft_0_21_save_is_refused)
{
    /* PEFT 0.21.2's save_pretrained strips the layer index from the keys. */
    char *d = xlora_scratch(), f[600];
    snprintf(f, sizeof f, "%s/adapter_model.safetensors", d);
    static const char hdr[] = "{\"base_model.internal_xlora_classifier.layers.weight\":"
                              "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    uint8_t buf[sizeof hdr + 16] = {0};
    uint64_t hl = sizeof hdr - 1;
    memcpy(buf, &hl, 8);
    memcpy(buf + 8, hdr, hl);
    tu_write(f, buf, 8 + hl + 4);
    expect_fail(d, XL_BASE, MG_EFORMAT,
                (const char *[]){"adapter_model.safetensors", "no layer index", "0.21.2", NULL});
}

Test(model_errors, xlora_dora_expert_is_refused)
{
    char *d = xlora_scratch(), sub[600];
    snprintf(sub, sizeof sub, "%s/dora", d);
    tu_copy_fixture("peft-dora", sub);
    edit_file(d, XL_CFG, "\"1\": \"1\"", "\"dora\": \"dora\"");
    expect_fail(d, XL_BASE, MG_EUNSUPPORTED, (const char *[]){"adapter \"dora\"", "DoRA", NULL});
}

/* Every proper prefix of a valid file is refused (never a crash), and every
 * single-byte corruption of a small one either loads or is refused. */
static void prefixes_and_flips(const char *rel, bool torch)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", FIX, rel);
    size_t n;
    uint8_t *full = tu_read(path, &n);
    for (size_t len = 0; len <= n; len++) {
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, full, len);
        mg_model_storage *s = calloc(1, sizeof *s);
        mg__tset ts = {0};
        mg__pk_arena a = {0};
        mg_error err = {0};
        int rc = torch ? mg__pt_parse(s, rel, b, len, &ts, &a, NULL, &err)
                       : mg__st_parse(s, rel, b, len, &ts, &err);
        if (len < n)
            cr_assert_lt(rc, 0, "%s: prefix of %zu/%zu bytes accepted", rel, len, n);
        else
            cr_assert_eq(rc, 0, "%s: %s", rel, err.msg);
        if (rc < 0) cr_assert(strstr(err.msg, rel), "%s: message lacks the file: %s", rel, err.msg);
        mg__pk_free_all(&a);
        mg__tset_free(&ts);
        mg__storage_free(s);
        free(b);
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t *b = malloc(n);
        memcpy(b, full, n);
        b[i] ^= (uint8_t)(0x5a + i);
        mg_model_storage *s = calloc(1, sizeof *s);
        mg__tset ts = {0};
        mg__pk_arena a = {0};
        mg_error err = {0};
        if (torch)
            (void)mg__pt_parse(s, rel, b, n, &ts, &a, NULL, &err);
        else
            (void)mg__st_parse(s, rel, b, n, &ts, &err);
        mg__pk_free_all(&a);
        mg__tset_free(&ts);
        mg__storage_free(s);
        free(b);
    }
    free(full);
}

Test(model_errors, every_truncation_and_byte_flip_of_small_files, .timeout = 60)
{
    prefixes_and_flips("dylora-checkpoint/checkpoint-10/router.safetensors", false);
    prefixes_and_flips("dylora-best/best_model/dylo_moe_state/router.pt", true);
    prefixes_and_flips("peft-regex/adapter_model.safetensors", false);
}

Test(model_errors, peft_features_that_change_the_model_are_refused)
{
    static const char *const cases[][2] = {
        {"\"layer_replication\": null", "\"layer_replication\": [[0, 2], [1, 2]]"},
        {"\"alora_invocation_tokens\": null", "\"alora_invocation_tokens\": [5, 6]"},
        {"\"modules_to_save\": null", "\"modules_to_save\": [\"lm_head\"]"},
        {"\"bias\": \"none\"", "\"bias\": \"all\""},
    };
    char base[512];
    snprintf(base, sizeof base, "%s/llama", FIX);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = scratch("peft-lora"), f[600];
        snprintf(f, sizeof f, "%s/adapter_config.json", d);
        size_t n;
        uint8_t *b = tu_read(f, &n);
        b[n] = 0;
        char *hit = strstr((char *)b, cases[i][0]);
        cr_assert(hit, "%s not in adapter_config.json", cases[i][0]);
        char *out = malloc(n + 64);
        size_t pre = (size_t)(hit - (char *)b);
        memcpy(out, b, pre);
        strcpy(out + pre, cases[i][1]);
        strcat(out, hit + strlen(cases[i][0]));
        tu_write(f, out, strlen(out));
        free(out);
        free(b);
        expect_fail(d, base, MG_EUNSUPPORTED, (const char *[]){"adapter_config.json", NULL});
    }
}
