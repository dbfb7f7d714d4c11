/* wandb.c — Weights & Biases model artifacts (ENTITY/PROJECT/NAME:VERSION).
 *
 * The protocol is the wandb SDK's (see docs/SOURCES.md):
 *   POST {base}/graphql   project(name, entityName) { artifact(name: "NAME:VERSION")
 *                           { id digest state currentManifest { file { directUrl } } } }
 *   GET  directUrl        -> the manifest: {"version": 1, "storagePolicy":
 *                           "wandb-storage-policy-v1", "storagePolicyConfig": {...},
 *                           "contents": {path: {"digest": base64 MD5, "size", "birthArtifactID"}}}
 *   GET  {base}/artifactsV2/{region}/{entity}/{birthArtifactID}/{md5 hex}   (layout V2)
 *        {base}/artifacts/{entity}/{md5 hex}                                 (layout V1)
 * Authentication is HTTP Basic with user "api" and the API key as password.
 * Files land in <cache>/<digest>/ once every one matched its MD5. */
#include "mg_sources.h"

#include <ctype.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct artifact_ref {
    char entity[256], project[256], name[256], version[256];
} artifact_ref;

static bool plain(const char *s)
{
    if (!*s) return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_.", *s)) return false;
    return true;
}

static int parse_artifact(const char *spec, artifact_ref *a, mg_error *err)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
        return mg_error_set(err, MG_ERANGE, "--wandb-artifact: too long");
    char *colon = strrchr(buf, ':');
    snprintf(a->version, sizeof a->version, "%s", colon ? colon + 1 : "latest");
    if (colon) *colon = 0;
    char *s1 = strchr(buf, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || strchr(s2 + 1, '/'))
        return mg_error_set(err, MG_EINVAL,
                            "--wandb-artifact '%s': expected ENTITY/PROJECT/NAME[:VERSION]", spec);
    *s1 = *s2 = 0;
    snprintf(a->entity, sizeof a->entity, "%s", buf);
    snprintf(a->project, sizeof a->project, "%s", s1 + 1);
    snprintf(a->name, sizeof a->name, "%s", s2 + 1);
    if (!plain(a->entity) || !plain(a->project) || !plain(a->name) || !plain(a->version))
        return mg_error_set(
            err, MG_EINVAL,
            "--wandb-artifact '%s': names may use letters, digits, '-', '_' and '.'", spec);
    return 0;
}

static void basic_auth(const mg_wandb_params *p, char *out, size_t cap)
{
    out[0] = 0;
    if (!p->api_key[0]) return;
    char raw[1100];
    int n = snprintf(raw, sizeof raw, "api:%s", p->api_key);
    char b64[1500];
    mg__base64(raw, (size_t)n, b64);
    snprintf(out, cap, "Authorization: Basic %s", b64);
}

static int status_error(const char *spec, const char *what, long status, mg_error *err)
{
    if (status == 401 || status == 403)
        return mg_error_set(err, MG_EACCES,
                            "%s: W&B refused access to %s (HTTP %ld): set WANDB_API_KEY or log in "
                            "(~/.netrc)",
                            spec, what, status);
    if (status == 404)
        return mg_error_set(err, MG_ENOENT, "%s: %s not found (HTTP 404)", spec, what);
    return mg_error_set(err, MG_EHTTP, "%s: %s: unexpected HTTP status %ld", spec, what, status);
}

/* GET or POST into memory, with the key sent only to the W&B server itself. */
static int fetch_json(const mg_wandb_params *p, const char *spec, const char *what, const char *url,
                      const char *post, json_t **out, mg_error *err)
{
    char auth[1600];
    basic_auth(p, auth, sizeof auth);
    bool ours = !strncmp(url, p->base_url, strlen(p->base_url));
    mg__http_req req = {.url = url,
                        .method = post ? "POST" : "GET",
                        .auth_header = auth[0] && ours ? auth : NULL,
                        .content_type = post ? "application/json" : NULL,
                        .body = post,
                        .follow_redirects = true,
                        .low_speed_secs = p->low_speed_secs,
                        .max_body = 64u << 20};
    mg__http_resp resp;
    int rc = mg__http(&req, &resp, err);
    if (rc < 0) return rc;
    if (resp.status != 200) {
        rc = status_error(spec, what, resp.status, err);
        mg__http_resp_free(&resp);
        return rc;
    }
    json_error_t je;
    *out = json_loadb(resp.body ? resp.body : "", resp.body_len, 0, &je);
    mg__http_resp_free(&resp);
    if (!*out)
        return mg_error_set(err, MG_EPROTO, "%s: %s is not valid JSON (%s)", spec, what, je.text);
    return 0;
}

static const char *QUERY =
    "query ArtifactByName($entityName: String!, $projectName: String!, $name: String!) { "
    "project(name: $projectName, entityName: $entityName) { artifact(name: $name) { "
    "id digest state currentManifest { file { directUrl } } } } }";

typedef struct resolved {
    char id[256], digest[256], manifest_url[2048];
} resolved;

static int resolve(const mg_wandb_params *p, const char *spec, const artifact_ref *a, resolved *r,
                   mg_error *err)
{
    char full[600];
    snprintf(full, sizeof full, "%s:%s", a->name, a->version);
    json_t *body = json_pack("{s:s, s:{s:s, s:s, s:s}}", "query", QUERY, "variables", "entityName",
                             a->entity, "projectName", a->project, "name", full);
    char *post = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!post) return mg_error_set(err, MG_ENOMEM, "out of memory");
    char url[1200];
    snprintf(url, sizeof url, "%s/graphql", p->base_url);
    json_t *res = NULL;
    int rc = fetch_json(p, spec, "the artifact query", url, post, &res, err);
    free(post);
    if (rc < 0) return rc;
    json_t *errors = json_object_get(res, "errors");
    json_t *art =
        json_object_get(json_object_get(json_object_get(res, "data"), "project"), "artifact");
    if (json_array_size(errors) > 0) {
        const char *m = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
        rc = mg_error_set(err, MG_EPROTO, "%s: W&B says: %s", spec, m ? m : "an error");
    } else if (!json_is_object(art)) {
        rc = mg_error_set(err, MG_ENOENT, "%s: no such artifact (or no access to it)", spec);
    } else {
        const char *id = json_string_value(json_object_get(art, "id"));
        const char *digest = json_string_value(json_object_get(art, "digest"));
        const char *state = json_string_value(json_object_get(art, "state"));
        const char *murl = json_string_value(json_object_get(
            json_object_get(json_object_get(art, "currentManifest"), "file"), "directUrl"));
        if (!id || !digest || !plain(digest) || !murl)
            rc = mg_error_set(err, MG_EPROTO, "%s: the artifact record lacks id/digest/manifest",
                              spec);
        else if (state && strcmp(state, "COMMITTED") != 0)
            rc = mg_error_set(err, MG_EINVAL, "%s: artifact is %s, not COMMITTED", spec, state);
        else {
            snprintf(r->id, sizeof r->id, "%s", id);
            snprintf(r->digest, sizeof r->digest, "%s", digest);
            snprintf(r->manifest_url, sizeof r->manifest_url, "%s", murl);
        }
    }
    json_decref(res);
    return rc;
}

static int b64_to_hex(const char *b64, char hex[33])
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t d[18];
    int n = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (const char *p = b64; *p && *p != '='; p++) {
        const char *q = strchr(tbl, *p);
        if (!q || !*p) return -1;
        acc = acc << 6 | (uint32_t)(q - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= 18) return -1;
            d[n++] = (uint8_t)(acc >> bits);
        }
    }
    if (n != 16) return -1;
    for (int i = 0; i < 16; i++) sprintf(hex + 2 * i, "%02x", d[i]);
    return 0;
}

/* Downloads one manifest entry into staging/<path>, resuming a .part file. */
static int fetch_entry(const mg_wandb_params *p, const char *spec, const artifact_ref *a,
                       json_t *policy_cfg, const char *staging, const char *path, json_t *entry,
                       mg_error *err)
{
    if (!mg__safe_relpath(path))
        return mg_error_set(err, MG_EPROTO, "%s: refusing manifest path '%s'", spec, path);
    if (json_object_get(entry, "ref"))
        return mg_error_set(
            err, MG_EUNSUPPORTED,
            "%s: %s is a reference to external storage, which moegen does not fetch", spec, path);
    const char *digest = json_string_value(json_object_get(entry, "digest"));
    json_t *jsize = json_object_get(entry, "size");
    char md5hex[33];
    if (!digest || b64_to_hex(digest, md5hex) < 0 || !json_is_integer(jsize) ||
        json_integer_value(jsize) < 0)
        return mg_error_set(err, MG_EPROTO, "%s: manifest entry '%s' lacks a digest or size", spec,
                            path);
    long long size = json_integer_value(jsize);
    const char *layout = json_string_value(json_object_get(policy_cfg, "storageLayout"));
    const char *region = json_string_value(json_object_get(policy_cfg, "storageRegion"));
    const char *birth = json_string_value(json_object_get(entry, "birthArtifactID"));
    char url[3000];
    if (layout && !strcmp(layout, "V2")) {
        char *qb = mg__url_quote(birth ? birth : "", false);
        if (!qb) return mg_error_set(err, MG_ENOMEM, "out of memory");
        snprintf(url, sizeof url, "%s/artifactsV2/%s/%s/%s/%s", p->base_url,
                 region && plain(region) ? region : "default", a->entity, qb, md5hex);
        free(qb);
    } else
        snprintf(url, sizeof url, "%s/artifacts/%s/%s", p->base_url, a->entity, md5hex);

    char dst[6000], part[6100], dir[6000];
    snprintf(dst, sizeof dst, "%s/%s", staging, path);
    snprintf(part, sizeof part, "%s.part", dst);
    snprintf(dir, sizeof dir, "%s", dst);
    *strrchr(dir, '/') = 0;
    int rc = mg_mkdirs(dir, 0755, err);
    if (rc < 0) return rc;
    if (mg__file_size(dst) == size) { /* finished by an earlier, interrupted run */
        char b64[32];
        if (mg__file_md5_b64(dst, b64, NULL) == 0 && !strcmp(b64, digest)) return 0;
        unlink(dst);
    }
    long long have = mg__file_size(part);
    if (have < 0 || have > size) {
        unlink(part);
        have = 0;
    }
    FILE *out = fopen(part, have ? "r+b" : "wb");
    if (!out)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot write: %s", part,
                            strerror(errno));
    fseeko(out, have, SEEK_SET);
    char auth[1600];
    basic_auth(p, auth, sizeof auth);
    mg__http_req req = {.url = url,
                        .method = "GET",
                        .auth_header = auth[0] ? auth : NULL,
                        .follow_redirects = true,
                        .out = out,
                        .resume_from = have,
                        .low_speed_secs = p->low_speed_secs,
                        .progress = p->progress,
                        .label = path};
    mg__http_resp resp;
    rc = mg__http(&req, &resp, err);
    int closed = fclose(out);
    mg__http_resp_free(&resp);
    if (rc < 0) return mg_error_prefix(err, rc, "%s: %s (resumes next time)", spec, path);
    if (closed != 0) return mg_error_set(err, MG_EIO, "%s: write failed", part);
    if (resp.status == 416) {
        unlink(part);
        return mg_error_set(err, MG_EHTTP, "%s: %s: range refused; restart the download", spec,
                            path);
    }
    if (resp.status != 200 && resp.status != 206) return status_error(spec, path, resp.status, err);
    long long got = mg__file_size(part);
    if (got != size) {
        if (got > size) unlink(part);
        return mg_error_set(err, MG_EIO, "%s: %s: got %lld of %lld bytes", spec, path, got, size);
    }
    char b64[32];
    if ((rc = mg__file_md5_b64(part, b64, err)) < 0) return rc;
    if (strcmp(b64, digest) != 0) {
        unlink(part);
        return mg_error_set(err, MG_ECHECKSUM,
                            "%s: %s: MD5 mismatch (manifest %s, got %s); nothing was kept", spec,
                            path, digest, b64);
    }
    if (rename(part, dst) < 0)
        return mg_error_set(err, mg_err_from_errno(errno), "%s: cannot rename: %s", dst,
                            strerror(errno));
    return 0;
}

static int pick_folder(const char *root, char **dir, mg_error *err)
{
    char best[5000];
    struct stat st;
    snprintf(best, sizeof best, "%s/best_model", root);
    *dir = strdup(stat(best, &st) == 0 && S_ISDIR(st.st_mode) ? best : root);
    return *dir ? 0 : mg_error_set(err, MG_ENOMEM, "out of memory");
}

/* aliases/<entity>/<project>/<name>:<version> remembers which digest a
 * version resolved to, so a later run needs no request at all. */
static void alias_path(const mg_wandb_params *p, const artifact_ref *a, char *out, size_t cap)
{
    snprintf(out, cap, "%s/aliases/%s/%s/%s:%s", p->cache_dir, a->entity, a->project, a->name,
             a->version);
}

int mg_wandb_fetch(const mg_wandb_params *p, const char *spec, char **dir, mg_error *err)
{
    *dir = NULL;
    artifact_ref a;
    int rc = parse_artifact(spec, &a, err);
    if (rc < 0) return rc;
    char alias[5000], root[5000];
    alias_path(p, &a, alias, sizeof alias);
    char *known = NULL;
    const char *refresh = getenv("MOEGEN_WANDB_REFRESH");
    if ((!refresh || strcmp(refresh, "1") != 0) &&
        mg__read_small_file(alias, &known, NULL, NULL) == 0) {
        known[strcspn(known, "\r\n")] = 0;
        snprintf(root, sizeof root, "%s/%s", p->cache_dir, known);
        struct stat st;
        bool ok = plain(known) && stat(root, &st) == 0;
        free(known);
        if (ok) return pick_folder(root, dir, err);
    }

    resolved r;
    if ((rc = resolve(p, spec, &a, &r, err)) < 0) return rc;
    snprintf(root, sizeof root, "%s/%s", p->cache_dir, r.digest);
    struct stat st;
    if (stat(root, &st) != 0) {
        char staging[5100], lock[5100];
        snprintf(staging, sizeof staging, "%s.incomplete", root);
        snprintf(lock, sizeof lock, "%s.lock", root);
        if ((rc = mg_mkdirs(p->cache_dir, 0755, err)) < 0) return rc;
        int lfd = mg__lock(lock, err);
        if (lfd < 0) return lfd;
        json_t *manifest = NULL;
        if (stat(root, &st) == 0) goto done; /* another process finished it */
        if ((rc = fetch_json(p, spec, "the manifest", r.manifest_url, NULL, &manifest, err)) < 0)
            goto done;
        json_t *contents = json_object_get(manifest, "contents");
        const char *policy = json_string_value(json_object_get(manifest, "storagePolicy"));
        if (json_integer_value(json_object_get(manifest, "version")) != 1 ||
            !json_is_object(contents)) {
            rc = mg_error_set(err, MG_EPROTO, "%s: unsupported manifest (version must be 1)", spec);
            goto done;
        }
        if (policy && strcmp(policy, "wandb-storage-policy-v1") != 0) {
            rc = mg_error_set(err, MG_EUNSUPPORTED, "%s: storage policy '%s' is not supported",
                              spec, policy);
            goto done;
        }
        json_t *cfg = json_object_get(manifest, "storagePolicyConfig");
        const char *path;
        json_t *entry;
        json_object_foreach(contents, path, entry)
        {
            if ((rc = fetch_entry(p, spec, &a, cfg, staging, path, entry, err)) < 0) goto done;
        }
        if ((rc = mg_mkdirs(staging, 0755, err)) < 0) goto done;
        if (rename(staging, root) < 0)
            rc = mg_error_set(err, mg_err_from_errno(errno), "%s: cannot rename into place: %s",
                              root, strerror(errno));
    done:
        json_decref(manifest);
        mg__unlock(lfd);
        if (rc < 0) return rc;
    }
    char adir[5000];
    snprintf(adir, sizeof adir, "%s", alias);
    *strrchr(adir, '/') = 0;
    if ((rc = mg_mkdirs(adir, 0755, err)) < 0 ||
        (rc = mg_write_file_atomic(alias, r.digest, strlen(r.digest), err)) < 0)
        return rc;
    return pick_folder(root, dir, err);
}
