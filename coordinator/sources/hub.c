/* hub.c — Hugging Face Hub downloads into the shared cache layout.
 *
 * The protocol is huggingface_hub's (see docs/SOURCES.md):
 *   GET  {endpoint}/api/models/{repo}/revision/{rev}    -> {"sha", "siblings": [{"rfilename"}]}
 *   HEAD {endpoint}/{repo}/resolve/{rev}/{file}         -> X-Repo-Commit, ETag / X-Linked-Etag,
 *                                                          X-Linked-Size, Location (LFS -> CDN)
 *   GET  the Location (or the resolve URL), with Range when resuming.
 * Blobs are named by their ETag (the sha256 of LFS files, which we verify),
 * snapshots/<commit>/<file> are relative symlinks to them, refs/<rev> holds
 * the commit. */
#include "mg_sources.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "mg_log.h"

typedef struct repo_ref {
    char repo[256];     /* ORG/NAME */
    char revision[256]; /* "main" unless @REV was given */
    char folder[4400];  /* <cache>/models--ORG--NAME */
} repo_ref;

static bool name_char(int c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.';
}

bool mg_hub_is_repo_id(const char *spec)
{
    struct stat st;
    if (!spec || !*spec || stat(spec, &st) == 0) return false;
    int slashes = 0;
    const char *p = spec;
    for (; *p && *p != '@'; p++) {
        if (*p == '/')
            slashes++;
        else if (!name_char((unsigned char)*p))
            return false;
    }
    if (slashes > 1 || spec[0] == '/' || spec[0] == '.' || strstr(spec, "..") || strstr(spec, "//"))
        return false;
    return p > spec && p[-1] != '/';
}

static int parse_spec(const mg_hub_params *hp, const char *spec, repo_ref *r, mg_error *err)
{
    if (!mg_hub_is_repo_id(spec))
        return mg_error_set(
            err, MG_EINVAL,
            "'%s' is neither a local folder nor a Hub repository id (ORG/NAME[@REV])", spec);
    const char *at = strchr(spec, '@');
    size_t n = at ? (size_t)(at - spec) : strlen(spec);
    if (n >= sizeof r->repo)
        return mg_error_set(err, MG_ERANGE, "%s: repository id too long", spec);
    memcpy(r->repo, spec, n);
    r->repo[n] = 0;
    snprintf(r->revision, sizeof r->revision, "%s", at && at[1] ? at + 1 : "main");
    if (strstr(r->revision, "..") || r->revision[0] == '/')
        return mg_error_set(err, MG_EINVAL, "%s: bad revision '%s'", spec, r->revision);
    char flat[600];
    char *o = flat;
    for (const char *p = r->repo; *p; p++) {
        if (*p == '/') {
            *o++ = '-';
            *o++ = '-';
        } else
            *o++ = *p;
    }
    *o = 0;
    snprintf(r->folder, sizeof r->folder, "%s/models--%s", hp->cache_dir, flat);
    return 0;
}

/* A commit or etag becomes a file name: it must be a plain token. */
static bool safe_token(const char *s)
{
    if (!*s || strlen(s) > 128) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_') return false;
    return true;
}

static bool is_hex(const char *s, size_t n)
{
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

static void auth_header(const mg_hub_params *hp, char *out, size_t cap)
{
    out[0] = 0;
    if (hp->token[0]) snprintf(out, cap, "Authorization: Bearer %s", hp->token);
}

/* Turns an HTTP status of the Hub into one clear line (never the token). */
static int status_error(const char *repo, const char *what, const mg__http_resp *r, mg_error *err)
{
    const char *code = r->error_code;
    if (r->status == 401 || r->status == 403) {
        if (!strcmp(code, "GatedRepo"))
            return mg_error_set(
                err, MG_EACCES,
                "%s: gated repository: accept its terms on the Hub and set HF_TOKEN "
                "(HTTP %ld)",
                repo, r->status);
        return mg_error_set(err, MG_EACCES,
                            "%s: access denied (private or gated repository, or a bad token; set "
                            "HF_TOKEN) (HTTP %ld)",
                            repo, r->status);
    }
    if (r->status == 404) {
        if (!strcmp(code, "EntryNotFound"))
            return mg_error_set(err, MG_ENOENT, "%s: %s: no such file in the repository", repo,
                                what);
        if (!strcmp(code, "RevisionNotFound"))
            return mg_error_set(err, MG_ENOENT, "%s: %s: no such revision", repo, what);
        return mg_error_set(err, MG_ENOENT, "%s: repository not found (HTTP 404)", repo);
    }
    return mg_error_set(err, MG_EHTTP, "%s: %s: unexpected HTTP status %ld", repo, what, r->status);
}

static int read_ref(const repo_ref *r, const char *revision, char commit[129])
{
    if (is_hex(revision, 40)) {
        snprintf(commit, 129, "%s", revision);
        return 0;
    }
    char path[4800], *data = NULL;
    snprintf(path, sizeof path, "%s/refs/%s", r->folder, revision);
    if (mg__read_small_file(path, &data, NULL, NULL) < 0) return -1;
    data[strcspn(data, " \r\n")] = 0;
    int ok = safe_token(data);
    if (ok) snprintf(commit, 129, "%s", data);
    free(data);
    return ok ? 0 : -1;
}

static int write_ref(const repo_ref *r, const char *revision, const char *commit, mg_error *err)
{
    if (!strcmp(revision, commit)) return 0;
    char dir[4800], path[5200];
    snprintf(path, sizeof path, "%s/refs/%s", r->folder, revision);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    int rc = mg_mkdirs(dir, 0755, err);
    return rc < 0 ? rc : mg_write_file_atomic(path, commit, strlen(commit), err);
}

/* snapshots/<commit>/<file> -> ../../blobs/<etag> (one more ../ per folder in file). */
static int link_pointer(const repo_ref *r, const char *commit, const char *file, const char *etag,
                        char **pointer_out, mg_error *err)
{
    char pointer[6000], dir[6000], target[2048], tmp[6100];
    snprintf(pointer, sizeof pointer, "%s/snapshots/%s/%s", r->folder, commit, file);
    snprintf(dir, sizeof dir, "%s", pointer);
    *strrchr(dir, '/') = 0;
    int rc = mg_mkdirs(dir, 0755, err);
    if (rc < 0) return rc;
    size_t o = 0;
    o += (size_t)snprintf(target + o, sizeof target - o, "../../");
    for (const char *p = file; *p; p++)
        if (*p == '/') o += (size_t)snprintf(target + o, sizeof target - o, "../");
    snprintf(target + o, sizeof target - o, "blobs/%s", etag);
    snprintf(tmp, sizeof tmp, "%s.lnk.%ld", pointer, (long)getpid());
    unlink(tmp);
    if (symlink(target, tmp) < 0 || rename(tmp, pointer) < 0) {
        int e = errno;
        unlink(tmp);
        return mg_error_set(err, mg_err_from_errno(e), "%s: cannot link to the blob: %s", pointer,
                            strerror(e));
    }
    if (pointer_out && !(*pointer_out = strdup(pointer)))
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    return 0;
}

typedef struct file_meta {
    char commit[129];
    char etag[257];
    long long size; /* -1 unknown */
    char url[2048]; /* where the bytes are */
} file_meta;

static int head_file(const mg_hub_params *hp, const repo_ref *r, const char *revision,
                     const char *file, file_meta *m, mg_error *err)
{
    char *qrev = mg__url_quote(revision, false), *qfile = mg__url_quote(file, true);
    if (!qrev || !qfile) {
        free(qrev);
        free(qfile);
        return mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    char url[4096], auth[1100];
    snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", hp->endpoint, r->repo, qrev, qfile);
    free(qrev);
    free(qfile);
    auth_header(hp, auth, sizeof auth);
    /* Relative redirects (renamed repositories) are followed here; an
     * absolute one points at the CDN and is where the bytes are fetched. */
    for (int hop = 0; hop < 5; hop++) {
        mg__http_req req = {.url = url,
                            .method = "HEAD",
                            .auth_header = auth[0] ? auth : NULL,
                            .low_speed_secs = hp->low_speed_secs};
        mg__http_resp resp;
        int rc = mg__http(&req, &resp, err);
        if (rc < 0) return rc;
        mg__http_resp_free(&resp);
        if (resp.status >= 300 && resp.status < 400 && resp.location[0] == '/') {
            char next[4096];
            snprintf(next, sizeof next, "%s%s", hp->endpoint, resp.location);
            snprintf(url, sizeof url, "%s", next);
            continue;
        }
        if (resp.status >= 400) return status_error(r->repo, file, &resp, err);
        snprintf(m->commit, sizeof m->commit, "%s", resp.repo_commit);
        snprintf(m->etag, sizeof m->etag, "%s", resp.linked_etag[0] ? resp.linked_etag : resp.etag);
        m->size = resp.linked_size >= 0 ? resp.linked_size : resp.content_length;
        snprintf(m->url, sizeof m->url, "%s",
                 resp.status >= 300 && resp.location[0] ? resp.location : url);
        if (!safe_token(m->commit))
            return mg_error_set(err, MG_EPROTO, "%s: %s: the server sent no usable X-Repo-Commit",
                                r->repo, file);
        if (!safe_token(m->etag))
            return mg_error_set(err, MG_EPROTO, "%s: %s: the server sent no usable ETag", r->repo,
                                file);
        return 0;
    }
    return mg_error_set(err, MG_EPROTO, "%s: %s: too many redirects", r->repo, file);
}

/* Downloads m->url into blobs/<etag>, resuming blobs/<etag>.incomplete. */
static int fetch_blob(const mg_hub_params *hp, const repo_ref *r, const char *file,
                      const file_meta *m, mg_error *err)
{
    char blobs[4800], blob[5200], part[5300], lockdir[4800], lock[5200];
    snprintf(blobs, sizeof blobs, "%s/blobs", r->folder);
    snprintf(blob, sizeof blob, "%s/%s", blobs, m->etag);
    snprintf(part, sizeof part, "%s.incomplete", blob);
    snprintf(lockdir, sizeof lockdir, "%s/.locks/%s", hp->cache_dir, strrchr(r->folder, '/') + 1);
    snprintf(lock, sizeof lock, "%s/%s.lock", lockdir, m->etag);
    int rc = mg_mkdirs(blobs, 0755, err);
    if (rc == 0) rc = mg_mkdirs(lockdir, 0755, err);
    if (rc < 0) return rc;
    int lfd = mg__lock(lock, err);
    if (lfd < 0) return lfd;
    if (mg__file_size(blob) >= 0) { /* another process finished it meanwhile */
        mg__unlock(lfd);
        return 0;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        long long have = mg__file_size(part);
        if (have < 0) have = 0;
        if (m->size >= 0 && have > m->size) { /* stale partial from another version */
            unlink(part);
            have = 0;
        }
        FILE *out = fopen(part, have ? "r+b" : "wb");
        if (!out) {
            rc = mg_error_set(err, mg_err_from_errno(errno), "%s: cannot write: %s", part,
                              strerror(errno));
            break;
        }
        fseeko(out, have, SEEK_SET);
        char auth[1100];
        auth_header(hp, auth, sizeof auth);
        bool same_host = !strncmp(m->url, hp->endpoint, strlen(hp->endpoint));
        mg__http_req req = {.url = m->url,
                            .method = "GET",
                            .auth_header = auth[0] && same_host ? auth : NULL,
                            .follow_redirects = true,
                            .out = out,
                            .resume_from = have,
                            .low_speed_secs = hp->low_speed_secs,
                            .progress = hp->progress,
                            .label = file};
        mg__http_resp resp;
        rc = mg__http(&req, &resp, err);
        int closed = fclose(out);
        mg__http_resp_free(&resp);
        if (rc < 0) {
            mg_error_prefix(err, rc, "%s: %s (the partial download is kept and resumes next time)",
                            r->repo, file);
            break;
        }
        if (closed != 0) {
            rc = mg_error_set(err, MG_EIO, "%s: write failed", part);
            break;
        }
        if (resp.status == 416 && attempt == 0) { /* our partial is no prefix: start over */
            unlink(part);
            continue;
        }
        if (resp.status != 200 && resp.status != 206) {
            rc = status_error(r->repo, file, &resp, err);
            break;
        }
        long long got = mg__file_size(part);
        if (m->size >= 0 && got != m->size) {
            if (got > m->size) unlink(part);
            rc = mg_error_set(err, MG_EIO, "%s: %s: got %lld of %lld bytes%s", r->repo, file, got,
                              m->size, got < m->size ? " (resumes next time)" : "");
            break;
        }
        if (is_hex(m->etag, 64)) { /* an LFS file: the ETag is its sha256 */
            char hex[65];
            rc = mg__file_sha256_hex(part, hex, err);
            if (rc < 0) break;
            if (strcasecmp(hex, m->etag) != 0) {
                unlink(part);
                rc = mg_error_set(err, MG_ECHECKSUM,
                                  "%s: %s: sha256 mismatch (expected %s, got %s); nothing was kept",
                                  r->repo, file, m->etag, hex);
                break;
            }
        }
        if (rename(part, blob) < 0)
            rc = mg_error_set(err, mg_err_from_errno(errno), "%s: cannot rename into place: %s",
                              blob, strerror(errno));
        break;
    }
    mg__unlock(lfd);
    return rc;
}

static int hub_file(const mg_hub_params *hp, const repo_ref *r, const char *revision,
                    const char *file, char **path, mg_error *err)
{
    if (!mg__safe_relpath(file))
        return mg_error_set(err, MG_EPROTO, "%s: refusing file name '%s'", r->repo, file);
    char commit[129];
    if (read_ref(r, revision, commit) == 0) {
        char pointer[6000];
        snprintf(pointer, sizeof pointer, "%s/snapshots/%s/%s", r->folder, commit, file);
        if (access(pointer, R_OK) == 0 && (hp->offline || is_hex(revision, 40)))
            return (*path = strdup(pointer)) ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    if (hp->offline)
        return mg_error_set(err, MG_ENOENT,
                            "%s@%s: %s is not in the cache (%s) and HF_HUB_OFFLINE is set", r->repo,
                            revision, file, r->folder);
    file_meta m;
    int rc = head_file(hp, r, revision, file, &m, err);
    if (rc < 0) return rc;
    char blob[5200];
    snprintf(blob, sizeof blob, "%s/blobs/%s", r->folder, m.etag);
    if (mg__file_size(blob) < 0 && (rc = fetch_blob(hp, r, file, &m, err)) < 0) return rc;
    if ((rc = write_ref(r, revision, m.commit, err)) < 0) return rc;
    return link_pointer(r, m.commit, file, m.etag, path, err);
}

int mg_hub_file(const mg_hub_params *hp, const char *repo, const char *revision,
                const char *filename, char **path, mg_error *err)
{
    repo_ref r;
    *path = NULL;
    int rc = parse_spec(hp, repo, &r, err);
    if (rc < 0) return rc;
    return hub_file(hp, &r, revision ? revision : r.revision, filename, path, err);
}

/* The files a model folder needs; weights are picked after the listing. */
static bool wanted(const char *f)
{
    static const char *const names[] = {"config.json",
                                        "generation_config.json",
                                        "tokenizer.json",
                                        "tokenizer_config.json",
                                        "special_tokens_map.json",
                                        "tokenizer.model",
                                        "adapter_config.json",
                                        "router.safetensors",
                                        "model.safetensors.index.json",
                                        "pytorch_model.bin.index.json",
                                        NULL};
    for (const char *const *n = names; *n; n++)
        if (!strcmp(f, *n)) return true;
    /* DyLoRA-MoE folders: every expert and the router state. */
    return !strncmp(f, "peft_adapters/", 14) || !strncmp(f, "dylo_moe_state/", 15) ||
           !strncmp(f, "best_model/", 11);
}

typedef struct file_list {
    char **items;
    size_t n;
} file_list;

static int list_add(file_list *l, const char *f)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->items[i], f)) return 0;
    char **items = realloc(l->items, (l->n + 1) * sizeof *items);
    if (!items) return MG_ENOMEM;
    l->items = items;
    if (!(l->items[l->n] = strdup(f))) return MG_ENOMEM;
    l->n++;
    return 0;
}

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
}

static bool listed(json_t *siblings, const char *f)
{
    size_t i;
    json_t *s;
    json_array_foreach(siblings, i, s)
    {
        const char *name = json_string_value(json_object_get(s, "rfilename"));
        if (name && !strcmp(name, f)) return true;
    }
    return false;
}

/* Adds the shards an index.json names (its weight_map values). */
static int add_shards(const char *index_path, json_t *siblings, file_list *l, mg_error *err)
{
    json_error_t je;
    json_t *idx = json_load_file(index_path, 0, &je);
    if (!idx) return mg_error_set(err, MG_EFORMAT, "%s:%d: %s", index_path, je.line, je.text);
    json_t *map = json_object_get(idx, "weight_map");
    if (!json_is_object(map)) {
        json_decref(idx);
        return mg_error_set(err, MG_EFORMAT, "%s: no \"weight_map\" object", index_path);
    }
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(map, k, v)
    {
        const char *shard = json_string_value(v);
        if (!shard || !mg__safe_relpath(shard)) {
            rc = mg_error_set(err, MG_EFORMAT, "%s: bad shard name for '%s'", index_path, k);
            break;
        }
        if (!listed(siblings, shard)) {
            rc = mg_error_set(err, MG_ENOENT, "%s: shard %s is not in the repository", index_path,
                              shard);
            break;
        }
        if ((rc = list_add(l, shard)) < 0) break;
    }
    json_decref(idx);
    return rc;
}

/* The marker that lets a later run use a complete snapshot with no request. */
static void marker_path(const repo_ref *r, const char *commit, char *out, size_t cap)
{
    snprintf(out, cap, "%s/.moegen/%s.complete", r->folder, commit);
}

int mg_hub_snapshot(const mg_hub_params *hp, const char *spec, char **dir, mg_error *err)
{
    *dir = NULL;
    repo_ref r;
    int rc = parse_spec(hp, spec, &r, err);
    if (rc < 0) return rc;
    char commit[129], marker[5000], snap[5000];
    if (read_ref(&r, r.revision, commit) == 0) {
        marker_path(&r, commit, marker, sizeof marker);
        snprintf(snap, sizeof snap, "%s/snapshots/%s", r.folder, commit);
        if (access(marker, R_OK) == 0 || (hp->offline && access(snap, R_OK) == 0))
            return (*dir = strdup(snap)) ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
    }
    if (hp->offline)
        return mg_error_set(err, MG_ENOENT,
                            "%s@%s is not in the cache (%s) and HF_HUB_OFFLINE is set", r.repo,
                            r.revision, r.folder);

    char *qrev = mg__url_quote(r.revision, false);
    if (!qrev) return mg_error_set(err, MG_ENOMEM, "out of memory");
    char url[4096], auth[1100];
    snprintf(url, sizeof url, "%s/api/models/%s/revision/%s", hp->endpoint, r.repo, qrev);
    free(qrev);
    auth_header(hp, auth, sizeof auth);
    mg__http_req req = {.url = url,
                        .method = "GET",
                        .auth_header = auth[0] ? auth : NULL,
                        .follow_redirects = true,
                        .low_speed_secs = hp->low_speed_secs,
                        .max_body = 16u << 20};
    mg__http_resp resp;
    if ((rc = mg__http(&req, &resp, err)) < 0) return rc;
    if (resp.status != 200) {
        rc = status_error(r.repo, r.revision, &resp, err);
        mg__http_resp_free(&resp);
        return rc;
    }
    json_error_t je;
    json_t *info = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, &je);
    mg__http_resp_free(&resp);
    json_t *siblings = json_object_get(info, "siblings");
    const char *sha = json_string_value(json_object_get(info, "sha"));
    if (!info || !json_is_array(siblings) || !sha || !safe_token(sha)) {
        json_decref(info);
        return mg_error_set(err, MG_EPROTO, "%s: the model info from %s is not usable", r.repo,
                            hp->endpoint);
    }
    snprintf(commit, sizeof commit, "%s", sha);

    file_list files = {0};
    size_t i;
    json_t *s;
    bool has_st = false, has_st_index = false, has_bin_index = false;
    json_array_foreach(siblings, i, s)
    {
        const char *f = json_string_value(json_object_get(s, "rfilename"));
        if (!f) continue;
        if (wanted(f) && (rc = list_add(&files, f)) < 0) goto out;
        has_st |= !strcmp(f, "model.safetensors") || !strcmp(f, "adapter_model.safetensors");
        has_st_index |= !strcmp(f, "model.safetensors.index.json");
        has_bin_index |= !strcmp(f, "pytorch_model.bin.index.json");
    }
    /* Weights: safetensors when present, else the torch .bin files. */
    static const char *const st[] = {"model.safetensors", "adapter_model.safetensors", NULL};
    static const char *const bin[] = {"pytorch_model.bin", "adapter_model.bin", NULL};
    for (const char *const *w = (has_st || has_st_index) ? st : bin; *w; w++)
        if (listed(siblings, *w) && (rc = list_add(&files, *w)) < 0) goto out;
    if (!files.n) {
        rc = mg_error_set(err, MG_ENOENT, "%s@%s: no model files (config.json, weights) found",
                          r.repo, r.revision);
        goto out;
    }
    for (size_t k = 0; k < files.n; k++) {
        char *path = NULL;
        if ((rc = hub_file(hp, &r, commit, files.items[k], &path, err)) < 0) goto out;
        bool index = !strcmp(files.items[k], "model.safetensors.index.json") ||
                     (!has_st_index && has_bin_index &&
                      !strcmp(files.items[k], "pytorch_model.bin.index.json"));
        if (index && (rc = add_shards(path, siblings, &files, err)) < 0) {
            free(path);
            goto out;
        }
        free(path);
    }
    if ((rc = write_ref(&r, r.revision, commit, err)) < 0) goto out;
    char mdir[5000];
    snprintf(mdir, sizeof mdir, "%s/.moegen", r.folder);
    marker_path(&r, commit, marker, sizeof marker);
    if ((rc = mg_mkdirs(mdir, 0755, err)) < 0 ||
        (rc = mg_write_file_atomic(marker, "", 0, err)) < 0)
        goto out;
    snprintf(snap, sizeof snap, "%s/snapshots/%s", r.folder, commit);
    if (!(*dir = strdup(snap))) rc = mg_error_set(err, MG_ENOMEM, "out of memory");
out:
    list_free(&files);
    json_decref(info);
    return rc;
}

int mg_source_resolve(const char *spec, char **dir, mg_error *err)
{
    struct stat st;
    *dir = NULL;
    if (stat(spec, &st) == 0)
        return (*dir = strdup(spec)) ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
    if (!mg_hub_is_repo_id(spec))
        return mg_error_set(err, MG_ENOENT, "%s: no such folder (nor a Hub id ORG/NAME)", spec);
    mg_hub_params hp = mg_hub_default_params();
    mg_info("fetching %s from %s into %s", spec, hp.endpoint, hp.cache_dir);
    return mg_hub_snapshot(&hp, spec, dir, err);
}

int mg_source_resolve_model(const char *model, const char *wandb_artifact, char **dir,
                            mg_error *err)
{
    *dir = NULL;
    if (wandb_artifact) {
        mg_wandb_params wp = mg_wandb_default_params();
        mg_info("fetching W&B artifact %s from %s into %s", wandb_artifact, wp.base_url,
                wp.cache_dir);
        return mg_wandb_fetch(&wp, wandb_artifact, dir, err);
    }
    if (!model) return mg_error_set(err, MG_EUSAGE, "--model or --wandb-artifact is required");
    return mg_source_resolve(model, dir, err);
}

int mg_source_resolve_base_cb(void *ud, const char *name, char **dir, mg_error *err)
{
    (void)ud;
    if (!mg_hub_is_repo_id(name))
        return mg_error_set(err, MG_ENOENT, "'%s' is not a Hub repository id", name);
    return mg_source_resolve(name, dir, err);
}
