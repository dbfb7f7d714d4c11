/* internal.h — private declarations shared by the model store's files.
 *
 * Data flow: files on disk are opened by the container readers (safetensors.c,
 * zip.c + pickle.c → torchfile.c), each of which appends named tensors to a
 * tensor set (tset.c). The loaders (load.c, peft.c, dylora.c) then look
 * tensors up by name, check shapes against the config (config.c) and fill
 * the public mg_model. Everything a tensor points to is owned by the
 * mg_model_storage (mappings and heap buffers), freed by mg_model_free().
 */
#ifndef MG_MODEL_INTERNAL_H
#define MG_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "mg_model.h"

/* ---- storage: everything the model's tensors point into ------------------- */

struct mg_model_storage {
    struct mg__mapping {
        void *addr;
        size_t len;
    } * maps;
    int n_maps, cap_maps;
    void **bufs; /* malloc'd: tensor data, strings */
    int n_bufs, cap_bufs;
};

/* Maps a whole file read-only. Empty files map to a non-NULL dummy. */
int mg__map_file(mg_model_storage *s, const char *path, const uint8_t **data, size_t *len,
                 mg_error *err);
/* Keeps `p` (malloc'd) alive until the storage is freed; returns p, or NULL
 * (and frees p) when out of memory. */
void *mg__keep(mg_model_storage *s, void *p);
char *mg__keep_str(mg_model_storage *s, const char *str);
/* Drops the pages of [p, p + len) from the resident set when they lie in a
 * mapped file (after --dtype copied a tensor out, it would otherwise count
 * twice in RSS); anything else is left alone. */
void mg__storage_drop_range(mg_model_storage *s, const void *p, size_t len);
void mg__storage_free(mg_model_storage *s);

/* ---- tensor sets ------------------------------------------------------------ */

/* One named tensor from a file. `dtype_name` is the stored dtype as the file
 * spells it; `supported` is false for dtypes mg_dtype lacks (U16, F8_*, ...),
 * which validate but cannot be used as weights. */
typedef struct mg__tentry {
    mg_tensor t;
    const char *dtype_name;
    bool supported;
    size_t nbytes;
    const char *file; /* path, for messages */
} mg__tentry;

typedef struct mg__tset {
    mg__tentry *e;
    int n, cap;
    bool sorted;
} mg__tset;

/* Appends e. A tensor whose data is not aligned to its element size (a zip
 * without torch's 64-byte padding, a hand-made safetensors header) is copied
 * into an aligned buffer kept by s, so consumers may read it as float[]. */
int mg__tset_add(mg_model_storage *s, mg__tset *ts, const mg__tentry *e, mg_error *err);
/* Sorts by name and rejects duplicate names (a name in two shards). */
int mg__tset_finish(mg__tset *ts, mg_error *err);
const mg__tentry *mg__tset_find(const mg__tset *ts, const char *name);
void mg__tset_free(mg__tset *ts);

/* dtype helpers (the model store does not need the kernels library). */
size_t mg__dtype_size(mg_dtype t);
const char *mg__dtype_name(mg_dtype t);
bool mg__dtype_is_float(mg_dtype t);
/* Converts n elements between float dtypes (F32/F16/BF16/F64), rounding to
 * nearest even as torch does. */
void mg__convert(void *dst, mg_dtype dt, const void *src, mg_dtype st, size_t n);

/* ---- containers -------------------------------------------------------------- */

/* Validates a safetensors buffer as strictly as the reference crate and
 * appends its tensors (data pointing into `buf`) to ts. `name` is used in
 * messages. Tensor names are copied into the storage. */
int mg__st_parse(mg_model_storage *s, const char *name, const uint8_t *buf, size_t len,
                 mg__tset *ts, mg_error *err);
/* Maps `path` and parses it. */
int mg__st_load(mg_model_storage *s, const char *path, mg__tset *ts, mg_error *err);

/* A zip archive (torch.save's container) read from a buffer. */
typedef struct mg__zip_entry {
    char *name;
    uint16_t method; /* 0 stored, 8 deflated */
    uint64_t csize, usize;
    uint64_t data_off; /* offset of the (compressed) data in the buffer */
    uint32_t crc;
} mg__zip_entry;

typedef struct mg__zip {
    const uint8_t *buf;
    size_t len;
    mg__zip_entry *e;
    int n;
} mg__zip;

int mg__zip_open(mg__zip *z, const char *name, const uint8_t *buf, size_t len, mg_error *err);
void mg__zip_close(mg__zip *z);
const mg__zip_entry *mg__zip_find(const mg__zip *z, const char *name);
/* The entry's bytes: a pointer into the buffer for stored entries, else an
 * inflated copy kept in the storage. */
int mg__zip_read(mg_model_storage *s, const mg__zip *z, const mg__zip_entry *e,
                 const uint8_t **data, size_t *len, mg_error *err);

/* Pickle values: what a state dict is made of. */
typedef enum mg__pk_kind {
    MG__PK_NONE,
    MG__PK_BOOL,
    MG__PK_INT,
    MG__PK_FLOAT,
    MG__PK_STR,
    MG__PK_BYTES,
    MG__PK_LIST,
    MG__PK_TUPLE,
    MG__PK_DICT,
    MG__PK_GLOBAL,  /* one of the allowed globals, before it is called */
    MG__PK_STORAGE, /* a persistent-id storage reference */
    MG__PK_TENSOR,
    MG__PK_MARK /* internal */
} mg__pk_kind;

typedef enum mg__pk_global {
    MG__G_ORDERED_DICT,
    MG__G_REBUILD_TENSOR_V2,
    MG__G_REBUILD_PARAMETER,
    MG__G_REBUILD_PARAMETER_WITH_STATE,
    MG__G_FLOAT_STORAGE,
    MG__G_HALF_STORAGE,
    MG__G_BFLOAT16_STORAGE,
    MG__G_DOUBLE_STORAGE,
    MG__G_LONG_STORAGE,
    MG__G_INT_STORAGE,
    MG__G_SHORT_STORAGE,
    MG__G_CHAR_STORAGE,
    MG__G_BYTE_STORAGE,
    MG__G_BOOL_STORAGE
} mg__pk_global;

typedef struct mg__pk mg__pk;
struct mg__pk {
    mg__pk_kind kind;
    int64_t i;      /* INT, BOOL; GLOBAL: mg__pk_global */
    double f;       /* FLOAT */
    char *s;        /* STR/BYTES (NUL-terminated copy), STORAGE: key */
    size_t slen;    /* STR/BYTES length */
    mg__pk **items; /* LIST/TUPLE items; DICT: keys and values interleaved */
    int n, cap;
    /* STORAGE: dtype; TENSOR: dtype, shape, offset (elements), storage key */
    mg_dtype dtype;
    int ndim;
    int64_t shape[MG_MAX_DIMS];
    int64_t stride[MG_MAX_DIMS];
    int64_t offset;
    mg__pk *storage;
    int64_t numel_storage;
};

/* Runs the pickle program in buf (protocols 2–5, the opcodes state dicts use,
 * only the allowed globals; nothing is executed). Values live in an arena
 * freed by mg__pk_free_all. */
typedef struct mg__pk_arena {
    mg__pk **all;
    int n, cap;
} mg__pk_arena;
int mg__pk_parse(mg__pk_arena *a, const char *name, const uint8_t *buf, size_t len, mg__pk **out,
                 mg_error *err);
void mg__pk_free_all(mg__pk_arena *a);
/* DICT lookup by string key, NULL when absent. */
mg__pk *mg__pk_get(const mg__pk *dict, const char *key);

/* Reads a torch.save'd zip checkpoint: every tensor reachable through nested
 * dicts is added to ts under its dotted key path ("gate_state_dict.weight").
 * `root` (may be NULL) receives the top-level pickle value, valid until the
 * arena is freed. */
int mg__pt_load(mg_model_storage *s, const char *path, mg__tset *ts, mg__pk_arena *arena,
                mg__pk **root, mg_error *err);
/* The same on a buffer the caller keeps alive (`file` names it in messages). */
int mg__pt_parse(mg_model_storage *s, const char *file, const uint8_t *buf, size_t len,
                 mg__tset *ts, mg__pk_arena *arena, mg__pk **root, mg_error *err);

/* ---- configs and files ---------------------------------------------------------- */

int mg__json_load(const char *path, json_t **out, mg_error *err);
bool mg__is_dir(const char *path);
bool mg__is_file(const char *path);
char *mg__join(const char *a, const char *b); /* malloc'd "a/b" */
/* Whether dir/name is a regular file / a folder. They allocate nothing, so an
 * existence check cannot be mistaken for absence under memory pressure. */
bool mg__file_in(const char *dir, const char *name);
bool mg__dir_in(const char *dir, const char *name);

/* Parses a transformers config.json object (`path` for messages). */
int mg__config_parse(const json_t *cfg, const char *path, mg_model_config *out, mg_error *err);
/* Appends generation_config.json's eos ids (in dir) not already listed. */
void mg__config_generation(mg_model_config *c, const char *dir);

/* Resolves a base-model name or path to a local folder (malloc'd). */
int mg__resolve_base(const char *name, char **out_dir, mg_error *err);

/* Loads the base weights of `c` from ts. `prefix` is prepended to every name
 * ("" or "foundation_model.base_model.model."); with `wrapped`, LoRA-wrapped
 * projections may be stored as "<module>.base_layer.weight". */
int mg__load_base(mg_model *m, const mg__tset *ts, const char *prefix, bool wrapped, mg_error *err);
/* Adds every tensor of the merged model in dir (single or sharded, safetensors
 * or .bin) to ts. Returns MG_ENOENT when dir holds none. */
int mg__load_merged_files(mg_model_storage *s, const char *dir, mg__tset *ts, mg_error *err);

/* ---- experts --------------------------------------------------------------------- */

/* How to read one expert's tensors from a set. */
typedef struct mg__lora_src {
    const mg__tset *ts;
    const char *adapter;          /* name infix (".lora_A.<adapter>.weight"), or NULL */
    const json_t *adapter_config; /* PEFT adapter_config.json, or NULL */
    float alpha;
    int r;
    bool use_rslora;
    bool adalora;
    bool require_r; /* DyLoRA: tensors must have rank r (the model is built with it) */
} mg__lora_src;

/* Allocates e->modules and fills them from src, checking shapes against the
 * base weights of m. */
int mg__expert_fill(mg_model *m, mg_expert *e, const mg__lora_src *src, mg_error *err);
/* Loads a PEFT adapter folder (adapter_config.json + weights) as one expert. */
int mg__peft_load_expert(mg_model *m, const char *dir, const char *name, mg_expert *e, mg__tset *ts,
                         json_t **cfg_out, mg_error *err);

int mg__dylora_load(mg_model *m, const mg_model_params *p, const char *dir, json_t *cfg,
                    mg_error *err);
bool mg__dir_has_tokenizer(const char *dir);
/* Sets m->tokenizer_path to dir when it has tokenizer.json and none is set. */
int mg__set_tokenizer(mg_model *m, const char *dir, mg_error *err);
/* Reads dir/adapter_model.safetensors, else dir/adapter_model.bin, into ts. */
int mg__peft_load_weights(mg_model_storage *s, const char *dir, mg__tset *ts, mg_error *err);
/* Loads an X-LoRA folder (xlora.c): `acfg` is its adapter_config.json. */
int mg__xlora_load(mg_model *m, const mg_model_params *p, const char *dir, const json_t *acfg,
                   mg_error *err);
/* Number of sub-folders holding adapter_config.json (an expert set). */
int mg__peft_has_subadapters(const char *dir);
int mg__peft_load(mg_model *m, const mg_model_params *p, const char *dir, mg_error *err);

/* Finds the base model name the way the reference provider does and loads
 * its config (and, when want_weights, its weights). */
int mg__base_open(mg_model *m, const mg_model_params *p, const json_t *model_cfg,
                  const json_t *adapter_cfg, bool want_weights, mg__tset *ts, mg_error *err);

/* PEFT get_pattern_key over oniguruma (Python syntax): *out = the value of
 * the first key of `patterns` (object, in file order) with
 * re.match(r"(.*\.)?(key)$", s), NULL when none. <0 for a key too long. */
int mg__pattern_value(const json_t *patterns, const char *s, const json_t **out, mg_error *err);

#endif /* MG_MODEL_INTERNAL_H */
