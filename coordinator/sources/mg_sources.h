/* mg_sources.h — where models come from when they are not on disk yet:
 * the Hugging Face Hub (ORG/NAME[@REVISION]) and Weights & Biases artifacts
 * (ENTITY/PROJECT/NAME:VERSION), both over libcurl.
 *
 * Hub downloads go into the standard Hugging Face cache layout, so Python
 * tools and moegen share one cache:
 *     $HF_HUB_CACHE | $HF_HOME/hub | ~/.cache/huggingface/hub
 *       models--ORG--NAME/blobs/<etag>            file contents
 *       models--ORG--NAME/snapshots/<commit>/<f>  relative links to blobs
 *       models--ORG--NAME/refs/<revision>         the commit a revision names
 * W&B artifacts go into $MOEGEN_CACHE/wandb/<artifact digest>/ (default
 * ~/.cache/moegen/wandb).
 *
 *     mg_hub_params hp = mg_hub_default_params();      // reads the environment
 *     char *dir = NULL;
 *     if (mg_hub_snapshot(&hp, "HuggingFaceTB/SmolLM2-135M-Instruct", &dir, &err) < 0) ...
 *     ... mg_model_load() on dir ...
 *     free(dir);
 *
 * Every download is written to a temporary `.incomplete` file beside its
 * final name, resumed with an HTTP range when one is left over, verified
 * (size; sha256 for the Hub's LFS files; MD5 for W&B files) and renamed into
 * place, under an flock so two workers never fetch the same file twice.
 * Tokens are sent as headers only and never appear in a message or log.
 */
#ifndef MG_SOURCES_H
#define MG_SOURCES_H

#include <stdbool.h>

#include "mg_error.h"

/* Strings are held by value so the struct can be copied freely. */
typedef struct mg_hub_params {
    char endpoint[1024];  /* $HF_ENDPOINT or https://huggingface.co */
    char token[1024];     /* $HF_TOKEN or the token file; "" = anonymous */
    char cache_dir[4096]; /* the hub cache folder (see above) */
    bool offline;         /* $HF_HUB_OFFLINE=1: cache only */
    bool progress;        /* progress bars on stderr (default: when it is a TTY) */
    long low_speed_secs;  /* abort a transfer slower than 1 KiB/s for this long (60) */
} mg_hub_params;

/* Fills the parameters from the environment (HF_ENDPOINT, HF_TOKEN,
 * HF_TOKEN_PATH, HF_HOME, HF_HUB_CACHE, XDG_CACHE_HOME, HF_HUB_OFFLINE). */
mg_hub_params mg_hub_default_params(void);

/* True when `spec` names a Hub repository (ORG/NAME or NAME, optional
 * @REVISION) rather than a local path that exists. */
bool mg_hub_is_repo_id(const char *spec);

/* Downloads what a model needs from ORG/NAME[@REVISION] (config, tokenizer
 * and generation files, safetensors shards through the index or else the
 * torch .bin files, PEFT adapter files, DyLoRA-MoE folders) and returns the
 * snapshot folder (malloc'd) in *dir. With offline set, only the cache is
 * used and a missing file is an error naming the cache path. */
int mg_hub_snapshot(const mg_hub_params *p, const char *spec, char **dir, mg_error *err);

/* Downloads one file of a repository and returns its path in the snapshot. */
int mg_hub_file(const mg_hub_params *p, const char *repo, const char *revision,
                const char *filename, char **path, mg_error *err);

typedef struct mg_wandb_params {
    char base_url[1024];  /* $WANDB_BASE_URL or https://api.wandb.ai */
    char api_key[1024];   /* $WANDB_API_KEY or ~/.netrc's password for the host; "" = none */
    char cache_dir[4096]; /* $MOEGEN_CACHE/wandb or ~/.cache/moegen/wandb */
    bool progress;
    long low_speed_secs;
} mg_wandb_params;

mg_wandb_params mg_wandb_default_params(void);

/* Fetches ENTITY/PROJECT/NAME:VERSION (a version "v3", "latest" or any
 * alias), every file checked against the manifest's MD5, into a folder keyed
 * by the artifact digest, and returns the folder to load: its best_model/
 * sub-folder when there is one (as the reference provider does), else the
 * artifact root. */
int mg_wandb_fetch(const mg_wandb_params *p, const char *artifact, char **dir, mg_error *err);

/* Resolves what a user typed as --model / --base-model: an existing local
 * path is returned as is; otherwise a Hub repository id is fetched. */
int mg_source_resolve(const char *spec, char **dir, mg_error *err);

/* The model a command should load: the W&B artifact when one is given
 * (--wandb-artifact), else --model resolved as above. */
int mg_source_resolve_model(const char *model, const char *wandb_artifact, char **dir,
                            mg_error *err);

/* mg_model_params.resolve_base: downloads a base-model name from the Hub
 * (unless HF_HUB_OFFLINE is set). */
int mg_source_resolve_base_cb(void *ud, const char *name, char **dir, mg_error *err);

#endif /* MG_SOURCES_H */
