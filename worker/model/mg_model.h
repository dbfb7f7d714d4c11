/* mg_model.h — the model store: one in-memory description of a model folder.
 *
 * Given --model PATH (and optionally --base-model, --adapter-path), the store
 * detects the format (DyLoRA-MoE layouts, PEFT adapters, X-LoRA, merged
 * models), finds the base model, and produces an `mg_model`: architecture,
 * base weights, a set of LoRA experts and an optional router or X-LoRA
 * classifier. The engine reads these fields directly (public struct, as
 * libuv's handles); everything behind `storage` is private.
 *
 *     mg_model_params p = mg_model_default_params();
 *     p.path = "runs/best_model";
 *     mg_model *m = NULL;
 *     mg_error err = {0};
 *     if (mg_model_load(&p, &m, &err) < 0) { report(err.msg); }
 *     ... engine uses m->layers[l].proj[MG_PROJ_Q], m->experts[e] ...
 *     mg_model_free(m);
 *
 * Tensors are borrowed views: `data` points into a read-only mmap of the file
 * (safetensors) or into a buffer the model owns (torch checkpoints, dtype
 * conversions). They stay valid until mg_model_free(). Weights keep their
 * stored dtype unless params.dtype asks for a conversion at load.
 *
 * Guarantees the engine may rely on (worker/model, docs/MODELS.md):
 *   - every `data` is aligned to its element size and row-major contiguous
 *     (a misaligned or strided stored tensor is copied at load);
 *   - every shape was checked against the config: proj[p] is [out, in] for
 *     the projection, LoRA A [r, in], B [out, r], E [r, 1], magnitude [out];
 *   - lm_head.data == embed.data when the model ties them (the DyLoRA-MoE
 *     legacy layout instead stores an untied clone, which is used as saved);
 *   - a mg_model is read-only after load and may be shared between threads.
 * Errors: mg_model_load returns a negative MG_E* code and one line naming the
 * file and problem (MG_EFORMAT malformed, MG_ESHAPE shapes that do not fit,
 * MG_EUNSUPPORTED a feature moegen lacks, MG_ENOENT a missing file or base
 * model, MG_ECHECKSUM a zip CRC mismatch). Recoverable surprises (a missing
 * DyLoRA expert file, the codegemma fallback) are mg_log warnings.
 * mg_model_load may run in several threads at once (for different models).
 */
#ifndef MG_MODEL_H
#define MG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mg_error.h"
#include "mg_kernels.h" /* mg_dtype */

/* ---- tensors ------------------------------------------------------------ */

#define MG_MAX_DIMS 4

/* A row-major, contiguous view. shape[0] is the slowest dimension:
 * a Linear weight is [out, in], as PyTorch stores it. */
typedef struct mg_tensor {
    const char *name; /* name in the file it came from; NULL for an absent tensor */
    mg_dtype dtype;
    int ndim;
    int64_t shape[MG_MAX_DIMS];
    const void *data; /* NULL when the tensor is absent (e.g. no bias) */
} mg_tensor;

static inline int64_t mg_tensor_numel(const mg_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* ---- architecture --------------------------------------------------------- */

typedef enum mg_arch { MG_ARCH_LLAMA, MG_ARCH_GEMMA, MG_ARCH_MISTRAL, MG_ARCH_QWEN2 } mg_arch;
typedef enum mg_act { MG_ACT_SILU, MG_ACT_GELU_TANH } mg_act;
typedef enum mg_rope_type {
    MG_ROPE_DEFAULT,
    MG_ROPE_LINEAR,
    MG_ROPE_DYNAMIC,
    MG_ROPE_LLAMA3
} mg_rope_type;

typedef struct mg_rope_scaling {
    mg_rope_type type;
    float factor;                         /* linear, dynamic, llama3 */
    float low_freq_factor;                /* llama3 */
    float high_freq_factor;               /* llama3 */
    int original_max_position_embeddings; /* llama3 (dynamic uses max_position_embeddings) */
} mg_rope_scaling;

#define MG_MAX_EOS 8

typedef struct mg_model_config {
    mg_arch arch;
    char model_type[32]; /* as in config.json: "gemma", "llama", "mistral", "qwen2" */
    int vocab_size;
    int hidden_size;
    int intermediate_size;
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;
    int max_position_embeddings;
    float rms_norm_eps;
    float rope_theta;
    mg_rope_scaling rope_scaling;
    mg_act act; /* hidden_act / hidden_activation */
    bool tie_word_embeddings;
    bool attention_bias;   /* q/k/v (and o for some archs) carry biases */
    bool norm_add_one;     /* Gemma RMSNorm: x * (1 + w) */
    bool scale_embeddings; /* Gemma: embeddings * sqrt(hidden_size), rounded to the dtype */
    int sliding_window;    /* 0 when none */
    int bos_token_id;      /* -1 when unknown */
    int pad_token_id;      /* -1 when unknown */
    int n_eos;
    int eos_token_ids[MG_MAX_EOS]; /* config.json, then generation_config.json */
    mg_dtype torch_dtype;          /* as declared in config.json (informational) */
} mg_model_config;

/* ---- base weights ---------------------------------------------------------- */

/* The seven projections of a decoder layer, in a fixed order. LoRA target
 * modules are identified by the same index. */
typedef enum mg_proj {
    MG_PROJ_Q,
    MG_PROJ_K,
    MG_PROJ_V,
    MG_PROJ_O,
    MG_PROJ_GATE,
    MG_PROJ_UP,
    MG_PROJ_DOWN,
    MG_PROJ_COUNT
} mg_proj;

const char *mg_proj_name(mg_proj p); /* "q_proj", ..., "down_proj" */

typedef struct mg_layer_weights {
    mg_tensor attn_norm;           /* input_layernorm.weight [H] */
    mg_tensor ffn_norm;            /* post_attention_layernorm.weight [H] */
    mg_tensor proj[MG_PROJ_COUNT]; /* weight [out, in] */
    mg_tensor bias[MG_PROJ_COUNT]; /* [out]; data NULL when absent */
} mg_layer_weights;

/* ---- LoRA experts ------------------------------------------------------------ */

/* One adapter on one projection of one layer. Absent (A.data == NULL) when
 * the expert does not adapt that module. The delta PEFT adds is
 *     y += scaling * B (A x)                (plain LoRA, rsLoRA: scaling differs)
 *     y += scaling * B ((A * E) x) / ...    (AdaLoRA: E [r,1], scaling = alpha/ranknum)
 * and DoRA rescales the merged weight by magnitude / ||W + scaling*B A||_row.
 *
 * `scaling` is exactly what PEFT multiplies by, computed in double and
 * rounded to float: lora_alpha / r, lora_alpha / sqrt(r) with use_rslora,
 * with r and alpha per module after rank_pattern / alpha_pattern. For AdaLoRA
 * PEFT computes (x (A*E)^T B^T) * lora_alpha / (ranknum + 1e-5) with ranknum
 * = r as an fp32 tensor; `scaling` is lora_alpha / ((float)r + 1e-5f). */
typedef struct mg_lora_module {
    mg_tensor A;         /* [r, in]  (transposed at load when fan_in_fan_out) */
    mg_tensor B;         /* [out, r] */
    mg_tensor E;         /* AdaLoRA lora_E [r, 1]; data NULL otherwise */
    mg_tensor magnitude; /* DoRA lora_magnitude_vector [out]; data NULL otherwise */
    int r;
    float scaling; /* alpha/r, alpha/sqrt(r) (rsLoRA), alpha/ranknum (AdaLoRA) */
} mg_lora_module;

typedef enum mg_expert_kind { MG_EXPERT_LORA, MG_EXPERT_ADALORA } mg_expert_kind;

typedef struct mg_expert {
    char *name; /* "expert_0", or the adapter folder name */
    mg_expert_kind kind;
    int r;       /* default rank (rank_pattern may differ per module) */
    float alpha; /* default alpha */
    bool use_rslora;
    bool use_dora;
    char *source; /* file it was read from, for inspect */
    /* modules[layer * MG_PROJ_COUNT + proj] */
    mg_lora_module *modules;
} mg_expert;

/* DyLoRA-MoE router: logits = h @ weight^T + bias over final-norm states. */
typedef struct mg_router {
    mg_tensor weight; /* [E, H] */
    mg_tensor bias;   /* [E] */
    int top_k;        /* 1 in every saved model */
    float temperature;
} mg_router;

/* X-LoRA classifier (PEFT's XLoraClassifier): an MLP over the final-norm
 * hidden states of a scaling pass, giving each token one scaling per expert
 * for every LoRA module (layerwise) or one set shared by all modules.
 * Linear layers w[0..n_mlp_layers) with ReLU between them; bias always
 * present (PEFT builds them with bias=True). PEFT numbers the LoRA modules
 * in the base model's module order (layer by layer, q k v o gate up down),
 * counting a module when any expert adapts it: module_index maps
 * (layer, proj) to that number. */
#define MG_XLORA_MAX_LAYERS 8
typedef struct mg_xlora {
    int n_mlp_layers;                 /* xlora_depth: linear layers in the classifier */
    mg_tensor w[MG_XLORA_MAX_LAYERS]; /* [out, in] */
    mg_tensor b[MG_XLORA_MAX_LAYERS]; /* [out] */
    int n_modules;                    /* LoRA modules (PEFT's classifier "n_layers") */
    int *module_index;        /* [n_layers * MG_PROJ_COUNT]: PEFT's number of module, or -1 */
    bool layerwise_scalings;  /* output is [n_modules * n_experts], else [n_experts] */
    bool enable_softmax;      /* softmax(logits / softmax_temperature) over the experts */
    bool enable_softmax_topk; /* after top-k: softmax over the non-zero scalings */
    int top_k_lora;           /* 0 = none: keep every expert */
    float softmax_temperature;
    float scaling_pass_value;    /* every expert's scaling in the scaling pass */
    float global_scaling_weight; /* multiplies every adapter's output (both passes) */
    bool use_trainable_adapters;
} mg_xlora;

/* ---- the model --------------------------------------------------------------- */

typedef enum mg_model_format {
    MG_FORMAT_MERGED,            /* model.safetensors / pytorch_model.bin (+ index) */
    MG_FORMAT_PEFT,              /* adapter_config.json: LoRA or AdaLoRA */
    MG_FORMAT_XLORA,             /* adapter_config.json with peft_type XLORA */
    MG_FORMAT_DYLORA_BEST,       /* best_model/: peft_adapters/expert_K.pt + router.pt */
    MG_FORMAT_DYLORA_CHECKPOINT, /* checkpoint-N/: nested PEFT adapters + router.safetensors */
    MG_FORMAT_DYLORA_LEGACY      /* one model.safetensors with foundation_model.* */
} mg_model_format;

const char *mg_model_format_name(mg_model_format f); /* "dylora-moe (best_model)", ... */

typedef struct mg_model_storage mg_model_storage; /* private: mappings, owned buffers */

typedef struct mg_model {
    mg_model_format format;
    char *path;           /* --model as given, resolved to a folder */
    char *base_path;      /* folder the base weights came from */
    char *base_name;      /* the name it was resolved from ("google/codegemma-2b") */
    char *tokenizer_path; /* folder with tokenizer.json, or NULL */
    mg_model_config config;

    mg_tensor embed;          /* embed_tokens.weight [vocab, H] */
    mg_tensor final_norm;     /* norm.weight [H] */
    mg_tensor lm_head;        /* [vocab, H]; equals embed when tied */
    mg_layer_weights *layers; /* [n_layers] */

    int n_experts;      /* 0 for a plain merged model */
    mg_expert *experts; /* [n_experts] */
    bool has_router;
    mg_router router;
    mg_xlora *xlora; /* non-NULL for X-LoRA models */

    mg_model_storage *storage;
} mg_model;

typedef struct mg_model_params {
    const char *path;         /* --model */
    const char *base_model;   /* --base-model, or NULL */
    const char *adapter_path; /* --adapter-path, or NULL */
    int dtype;                /* -1 keep stored dtypes; else an mg_dtype (F32, F16, BF16) */
    /* Called when a base-model name is neither a local folder nor in the
     * Hugging Face cache, e.g. to download it (the CLI passes the Hub client
     * of coordinator/sources); it returns a malloc'd folder in *dir. NULL:
     * such a name is an error saying where moegen looked. */
    int (*resolve_base)(void *ud, const char *name, char **dir, mg_error *err);
    void *resolve_ud;
} mg_model_params;

mg_model_params mg_model_default_params(void);

/* Loads a model. On failure *out is NULL and err names the file and problem. */
int mg_model_load(const mg_model_params *params, mg_model **out, mg_error *err);
void mg_model_free(mg_model *m); /* NULL is fine */

#endif /* MG_MODEL_H */
