#!/usr/bin/env python3
"""A local stand-in for the Hugging Face Hub and W&B endpoints moegen uses,
for tests only (127.0.0.1, random port, standard library only).

    fake_services.py --log LOG --hub ORG/NAME=DIR ... --wandb E/P/N:V=DIR ... [--fault KIND:TARGET] ...

Prints "PORT <n>" on stdout once listening. Every request is appended to LOG
as "<METHOD> <path> range=<Range header or ->".

Hub:   GET  /api/models/<repo>/revision/<rev>   {"sha", "siblings"}
       HEAD/GET /<repo>/resolve/<rev>/<file>    small files: 200 with ETag (git sha1);
                                                 LFS files (weights, > 1 KiB): 302 to /cdn/<sha256>
                                                 with X-Linked-Etag / X-Linked-Size
       GET  /cdn/<sha256>                        the bytes, with Range support
W&B:   POST /graphql                             artifact query (Basic api:<key>)
       GET  /manifests/<id>                      manifest v1, storage layout V2
       GET  /artifactsV2/default/<entity>/<id>/<md5 hex>
Special repositories: "test/gated" needs "Authorization: Bearer hf_secret"
(else 401 + X-Error-Code: GatedRepo); unknown repositories give 404 RepoNotFound.
W&B needs the key "wb_secret". Faults:
  cut:<repo>/<file>:<n>    first GET of the blob sends n bytes, then closes
  wrongsha:<repo>/<file>   X-Linked-Etag advertises a wrong sha256
  slow:<repo>/<file>       the blob trickles 1 byte per second
  wrongmd5:<entity/project/name:version>/<path>   manifest lists a wrong MD5
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

A = argparse.ArgumentParser()
A.add_argument("--log", required=True)
A.add_argument("--hub", action="append", default=[])
A.add_argument("--wandb", action="append", default=[])
A.add_argument("--fault", action="append", default=[])
ARGS = A.parse_args()

LOCK = threading.Lock()


def files_of(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root).replace(os.sep, "/")
            with open(full, "rb") as f:
                out[rel] = f.read()
    return out


def is_lfs(name, data):
    return len(data) > 1024 or name.endswith((".safetensors", ".bin", ".pt"))


REPOS = {}
for spec in ARGS.hub:
    repo, d = spec.split("=", 1)
    REPOS[repo] = {"files": files_of(d), "sha": hashlib.sha1(repo.encode()).hexdigest()}
BLOBS = {}  # sha256 -> (repo, file, bytes)
for repo, r in REPOS.items():
    for f, data in r["files"].items():
        BLOBS[hashlib.sha256(data).hexdigest()] = (repo, f, data)

FAULTS = {}
for f in ARGS.fault:
    kind, target = f.split(":", 1)
    FAULTS.setdefault(kind, []).append(target)
CUT_DONE = set()

ARTIFACTS = {}
for spec in ARGS.wandb:
    name, d = spec.split("=", 1)
    files = files_of(d)
    art_id = base64.b64encode(("Artifact:" + name).encode()).decode().rstrip("=")
    entries = {}
    for p, data in sorted(files.items()):
        md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
        if f"{name}/{p}" in FAULTS.get("wrongmd5", []):
            md5 = base64.b64encode(hashlib.md5(data + b"x").digest()).decode()
        entries[p] = {"digest": md5, "size": len(data), "birthArtifactID": art_id}
    digest = hashlib.md5(json.dumps(entries, sort_keys=True).encode()).hexdigest()
    ARTIFACTS[name] = {"id": art_id, "digest": digest, "entries": entries, "files": files}
    base = name.rsplit(":", 1)[0]
    ARTIFACTS.setdefault(base + ":latest", ARTIFACTS[name])


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def log_req(self):
        with LOCK, open(ARGS.log, "a") as f:
            f.write(f"{self.command} {self.path} range={self.headers.get('Range', '-')}\n")

    def reply(self, code, body=b"", headers=None, head=False):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def hub_denied(self, repo):
        if repo == "test/gated" and self.headers.get("Authorization") != "Bearer hf_secret":
            self.reply(401, b"gated", {"X-Error-Code": "GatedRepo"}, self.command == "HEAD")
            return True
        if repo not in REPOS:
            self.reply(404, b"no repo", {"X-Error-Code": "RepoNotFound"}, self.command == "HEAD")
            return True
        return False

    def do_HEAD(self):
        self.handle_get(head=True)

    def do_GET(self):
        self.handle_get(head=False)

    def handle_get(self, head):
        self.log_req()
        path = urllib.parse.unquote(self.path)
        if path.startswith("/api/models/"):
            rest = path[len("/api/models/"):]
            repo, _, _rev = rest.partition("/revision/")
            if self.hub_denied(repo):
                return
            r = REPOS[repo]
            body = json.dumps({"sha": r["sha"],
                               "siblings": [{"rfilename": f} for f in sorted(r["files"])]}).encode()
            return self.reply(200, body, {"Content-Type": "application/json"}, head)
        if "/resolve/" in path:
            repo, _, rest = path[1:].partition("/resolve/")
            if self.hub_denied(repo):
                return
            _rev, _, fname = rest.partition("/")
            r = REPOS[repo]
            if fname not in r["files"]:
                return self.reply(404, b"no file", {"X-Error-Code": "EntryNotFound"}, head)
            data = r["files"][fname]
            hdr = {"X-Repo-Commit": r["sha"]}
            if is_lfs(fname, data):
                sha = hashlib.sha256(data).hexdigest()
                advertised = sha
                if f"{repo}/{fname}" in FAULTS.get("wrongsha", []):
                    advertised = hashlib.sha256(data + b"x").hexdigest()
                    BLOBS[advertised] = (repo, fname, data)
                hdr.update({"X-Linked-Etag": f'"{advertised}"', "X-Linked-Size": str(len(data)),
                            "ETag": f'"{git_blob_sha1(data)}"',
                            "Location": f"http://127.0.0.1:{PORT}/cdn/{advertised}"})
                return self.reply(302, b"", hdr, head)
            hdr["ETag"] = f'"{git_blob_sha1(data)}"'
            return self.reply(200, data, hdr, head)
        if path.startswith("/cdn/"):
            key = path[len("/cdn/"):]
            if key not in BLOBS:
                return self.reply(404, b"no blob", {}, head)
            repo, fname, data = BLOBS[key]
            target = f"{repo}/{fname}"
            start = 0
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                if start >= len(data):
                    return self.reply(416, b"", {"Content-Range": f"bytes */{len(data)}"}, head)
            part = data[start:]
            code = 206 if start else 200
            self.send_response(code)
            self.send_header("Content-Length", str(len(part)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if head:
                return
            cuts = [c for c in FAULTS.get("cut", []) if c.rsplit(":", 1)[0] == target]
            if cuts and target not in CUT_DONE:
                CUT_DONE.add(target)
                n = int(cuts[0].rsplit(":", 1)[1])
                self.wfile.write(part[:n])
                self.wfile.flush()
                self.close_connection = True
                return
            if target in FAULTS.get("slow", []):
                try:
                    for b in part:
                        self.wfile.write(bytes([b]))
                        self.wfile.flush()
                        time.sleep(1.0)
                except OSError:
                    pass
                return
            self.wfile.write(part)
            return
        if path.startswith("/manifests/"):
            art_id = path[len("/manifests/"):]
            for a in ARTIFACTS.values():
                if a["id"] == art_id:
                    m = {"version": 1, "storagePolicy": "wandb-storage-policy-v1",
                         "storagePolicyConfig": {"storageLayout": "V2"}, "contents": a["entries"]}
                    return self.reply(200, json.dumps(m).encode(), {}, head)
            return self.reply(404, b"", {}, head)
        if path.startswith("/artifactsV2/default/"):
            if not self.wandb_ok():
                return self.reply(401, b"", {}, head)
            _e, art_id, md5hex = path[len("/artifactsV2/default/"):].split("/")
            for a in ARTIFACTS.values():
                if a["id"] != art_id:
                    continue
                for p, data in a["files"].items():
                    if hashlib.md5(data).hexdigest() == md5hex:
                        return self.reply(200, data, {}, head)
                for p, e in a["entries"].items():
                    if base64.b64decode(e["digest"]).hex() == md5hex:
                        return self.reply(200, a["files"][p], {}, head)
            return self.reply(404, b"", {}, head)
        return self.reply(404, b"unknown endpoint", {}, head)

    def wandb_ok(self):
        want = "Basic " + base64.b64encode(b"api:wb_secret").decode()
        return self.headers.get("Authorization") == want

    def do_POST(self):
        self.log_req()
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        if self.path != "/graphql":
            return self.reply(404)
        if not self.wandb_ok():
            return self.reply(401, b'{"errors": [{"message": "unauthorized"}]}')
        v = body.get("variables", {})
        key = f"{v.get('entityName')}/{v.get('projectName')}/{v.get('name')}"
        a = ARTIFACTS.get(key)
        art = None
        if a:
            art = {"id": a["id"], "digest": a["digest"], "state": "COMMITTED",
                   "currentManifest": {"file": {
                       "directUrl": f"http://127.0.0.1:{PORT}/manifests/{a['id']}"}}}
        out = {"data": {"project": {"artifact": art}}}
        self.reply(200, json.dumps(out).encode(), {"Content-Type": "application/json"})


SERVER = ThreadingHTTPServer(("127.0.0.1", 0), H)
PORT = SERVER.server_address[1]
print(f"PORT {PORT}", flush=True)
# Stop by ourselves: a test that dies must not leave a server behind.
threading.Timer(300, lambda: os._exit(0)).start()
try:
    SERVER.serve_forever()
except KeyboardInterrupt:
    pass
sys.exit(0)
