#!/usr/bin/python3
"""fake_gce.py: a strict stand-in for Google's token endpoint, metadata server, Cloud Storage
(resumable uploads) and Compute Engine (images, operations, instances) on 127.0.0.1.

It follows the wire protocol in docs/cloud-apis.md and checks every request: a request that
breaks the protocol is answered with an error and recorded in "violations", which the tests
assert to be empty. Faults are injected per test through POST /_fault; GET /_state shows what
the server holds; GET /_object/BUCKET/NAME returns an object's bytes.

Python 3 standard library only. Usage:
  fake_gce.py --port-file F --pubkey PUB.pem --client-email E --project P [--token-expires S]
"""
import argparse
import base64
import binascii
import gzip
import hashlib
import http.server
import json
import os
import re
import secrets
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse

import fake_gce_deploy
import fake_gce_sts
from fake_gce_common import MULTI_REGIONS, STORAGE_REGIONS
from fake_gce_storage import StorageRoutes

GIB = 1 << 30
SCOPE_OK = ("https://www.googleapis.com/auth/cloud-platform",
            "https://www.googleapis.com/auth/devstorage.read_write")
NAME_RE = re.compile(r"^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$")
FEATURES = {
    "BARE_METAL_LINUX_COMPATIBLE", "BMSAI_CAPABLE", "CCA_CAPABLE", "FEATURE_TYPE_UNSPECIFIED",
    "GVNIC", "IDPF", "MULTI_IP_SUBNET", "SECURE_BOOT", "SEV_CAPABLE", "SEV_LIVE_MIGRATABLE",
    "SEV_LIVE_MIGRATABLE_V2", "SEV_SNP_CAPABLE", "SNP_SVSM_CAPABLE",
    "SUSPEND_RESUME_COMPATIBLE", "SUSPEND_SAFE_FPR", "TDX_CAPABLE", "UEFI_COMPATIBLE",
    "VIRTIO_SCSI_MULTIQUEUE", "WINDOWS"}


def b64url_decode(s):
    s += "=" * (-len(s) % 4)
    return base64.urlsafe_b64decode(s)


def google_error(code, message, reason):
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}


class State:
    def __init__(self, args):
        self.lock = threading.RLock()
        self.args = args
        self.base = None
        self.session_base = None
        self.tokens = {}          # token -> expiry (epoch seconds)
        self.buckets = set(args.bucket or [])
        self.objects = {}         # (bucket, name) -> dict
        self.sessions = {}        # upload id -> dict
        self.images = {}          # name -> Image
        self.operations = {}      # name -> dict(op=..., polls=..., done=callable)
        self.request_ids = {}
        self.image_ops = {}       # image name -> the operation creating it
        self.instances = {}       # (zone, name) -> dict
        self.violations = []
        self.counters = {"token_requests": 0, "initiations": 0, "chunk_puts": 0,
                         "status_queries": 0, "bytes_received": 0, "image_inserts": 0,
                         "instance_inserts": 0, "unauthorized": 0, "cancelled_sessions": 0,
                         "session_requests_with_token": 0,
                         "retry_after_sent": 0, "project_gets": 0, "object_deletes": 0}
        self.faults = {}
        self.not_before = {}      # path -> (earliest retry, when refused, Retry-After)
        self.n = 0

    def violation(self, text):
        with self.lock:
            self.violations.append(text)
        sys.stderr.write("fake_gce: VIOLATION: %s\n" % text)

    def fault(self, key):
        """Consumes one use of a counted fault; returns its value or None."""
        with self.lock:
            f = self.faults.get(key)
            if not f:
                return None
            if f.get("skip", 0) > 0:
                f["skip"] -= 1
                return None
            f["count"] = f.get("count", 1) - 1
            if f["count"] <= 0:
                del self.faults[key]
            return f

    def next_id(self):
        with self.lock:
            self.n += 1
            return self.n


def load_public_key(path):
    out = subprocess.run(["openssl", "rsa", "-pubin", "-in", path, "-noout", "-text"],
                         check=True, capture_output=True, text=True).stdout
    mod = out.split("Modulus:")[1].split("Exponent:")[0]
    n = int("".join(mod.split()).replace(":", ""), 16)
    e = int(re.search(r"Exponent: (\d+)", out).group(1))
    return n, e


SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_verify(pub, signing_input, sig):
    n, e = pub
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    m = pow(int.from_bytes(sig, "big"), e, n).to_bytes(k, "big")
    digest = hashlib.sha256(signing_input).digest()
    expected = b"\x00\x01" + b"\xff" * (k - 3 - len(SHA256_PREFIX) - 32) + b"\x00" + \
        SHA256_PREFIX + digest
    return m == expected


class Handler(StorageRoutes, http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_gce/1"
    # Headers and body go in two writes: without this, Nagle holds the body back until the
    # client's delayed ACK, 40 ms per response, which Google's servers do not cost.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *a):
        if os.environ.get("FAKE_GCE_VERBOSE"):
            sys.stderr.write("fake_gce: " + (fmt % a) + "\n")

    # ---- plumbing ----
    @property
    def st(self):
        return self.server.state

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline()
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n) if n else b""

    def reply(self, code, obj=None, headers=None, raw=None, ctype="application/json"):
        data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if data or code not in (204, 304):
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def gerror(self, code, message, reason):
        self.reply(code, google_error(code, message, reason))

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def authorized(self, required=True):
        auth = self.headers.get("Authorization")
        if auth is None and not required:
            return True
        if not auth or not auth.startswith("Bearer "):
            self.st.counters["unauthorized"] += 1
            self.gerror(401, "Request is missing required authentication credential.",
                        "required")
            return False
        tok = auth[7:]
        with self.st.lock:
            exp = self.st.tokens.get(tok)
        if exp is None or exp < time.time():
            self.st.counters["unauthorized"] += 1
            self.gerror(401, "Request had invalid authentication credentials.", "authError")
            return False
        return True

    def route(self, method):
        try:
            u = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
            path = u.path
            if fake_gce_sts.handles(path):
                return fake_gce_sts.route(self, method, path, q)
            if path.startswith("/_"):
                return self.control(method, path, q)
            if self.retry_after(method, path):
                return
            if path == "/token":
                return self.token(method)
            if path.startswith("/computeMetadata/v1/"):
                return self.metadata(path[len("/computeMetadata/v1/"):], q)
            if path.startswith("/upload/storage/v1/b/"):
                return self.upload(method, path, q)
            if path.startswith("/storage/v1/b"):
                return self.storage(method, path, q)
            if path.startswith("/compute/v1/projects/"):
                return self.compute(method, path[len("/compute/v1/projects/"):], q)
            self.st.violation("unknown path %s %s" % (method, path))
            self.gerror(404, "Not Found", "notFound")
        except (ConnectionError, BrokenPipeError):
            pass

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def do_PATCH(self):
        self.route("PATCH")

    def retry_after(self, method, path):
        """A request that comes before the Retry-After the server gave is a violation; the
        "retry_after" fault answers one request on a path that starts with its "path" with
        its "status" and a Retry-After of "seconds"."""
        st = self.st
        now = time.time()
        with st.lock:
            nb = st.not_before.get(path)
            if nb is not None:
                del st.not_before[path]
                if now < nb[0]:
                    st.violation("%s %s retried %.2f s after a Retry-After of %s s" % (
                        method, path, now - nb[1], nb[2]))
            f = st.faults.get("retry_after")
            if not f or not path.startswith(f.get("path", "/")):
                return False
        f = st.fault("retry_after")
        if not f:
            return False
        self.body()
        secs = f.get("seconds", 2)
        with st.lock:
            st.not_before[path] = (now + secs - 0.05, now, secs)
            st.counters["retry_after_sent"] += 1
        code = f.get("status", 429)
        self.reply(code, google_error(code, "Rate Limit Exceeded", "rateLimitExceeded"),
                   headers={"Retry-After": str(secs)})
        return True

    # ---- control ----
    def control(self, method, path, q):
        st = self.st
        if path == "/_state":
            with st.lock:
                out = {
                    "buckets": sorted(st.buckets),
                    "objects": {"%s/%s" % k: {kk: vv for kk, vv in v.items() if kk != "data"}
                                for k, v in st.objects.items()},
                    "sessions": {k: {"bucket": v["bucket"], "name": v["name"],
                                     "persisted": len(v["data"]), "complete": v["complete"]}
                                 for k, v in st.sessions.items()},
                    "images": st.images,
                    "instances": ["%s/%s" % k for k in st.instances],
                    "violations": st.violations,
                    "counters": st.counters,
                    "faults": st.faults,
                }
            return self.reply(200, out)
        if path.startswith("/_object/"):
            b, _, n = path[len("/_object/"):].partition("/")
            obj = st.objects.get((b, urllib.parse.unquote(n)))
            if not obj:
                return self.reply(404, {"error": "no such object"})
            return self.reply(200, raw=bytes(obj["data"]), ctype="application/octet-stream")
        if path == "/_fault" and method == "POST":
            with st.lock:
                st.faults.update(json.loads(self.body() or b"{}"))
            return self.reply(200, st.faults)
        if path == "/_clear_faults" and method == "POST":
            self.body()
            with st.lock:
                st.faults.clear()
            return self.reply(200, {})
        if path == "/_expire_tokens" and method == "POST":
            self.body()
            with st.lock:
                st.tokens.clear()
            return self.reply(200, {})
        if st.deploy.control(self, method, path, q):
            return
        self.reply(404, {})

    # ---- OAuth2 token endpoint ----
    def issue_token(self):
        tok = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.st.lock:
            self.st.tokens[tok] = time.time() + self.st.args.token_expires
        return {"access_token": tok, "expires_in": self.st.args.token_expires,
                "token_type": "Bearer"}

    def token(self, method):
        st = self.st
        st.counters["token_requests"] += 1
        body = self.body()
        if method != "POST":
            st.violation("token endpoint: %s instead of POST" % method)
            return self.reply(405, {"error": "invalid_request"})
        if not self.headers.get("Content-Type", "").startswith(
                "application/x-www-form-urlencoded"):
            st.violation("token endpoint: Content-Type %r" % self.headers.get("Content-Type"))
            return self.reply(400, {"error": "invalid_request"})
        f = st.fault("token_status")
        if f:
            return self.reply(f.get("status", 500), {"error": "internal_failure"})
        f = st.fault("token_hang")
        if f:
            # Takes the request and never answers (a black-holed or overloaded endpoint).
            time.sleep(f.get("seconds", 600))
            return self.drop()
        form = dict(urllib.parse.parse_qsl(body.decode()))
        grant = form.get("grant_type")
        if grant == "refresh_token":
            a = st.args
            if (form.get("client_id"), form.get("client_secret"), form.get("refresh_token")) != \
                    (a.user_client_id, a.user_client_secret, a.user_refresh_token):
                return self.reply(400, {"error": "invalid_grant", "error_description": "Bad Request"})
            return self.reply(200, self.issue_token())
        if grant != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            st.violation("token endpoint: grant_type %r" % grant)
            return self.reply(400, {"error": "unsupported_grant_type"})
        err = self.check_jwt(form.get("assertion", ""))
        if err:
            return self.reply(400, {"error": "invalid_grant", "error_description": err})
        self.reply(200, self.issue_token())

    def check_jwt(self, jwt):
        st = self.st
        parts = jwt.split(".")
        if len(parts) != 3:
            st.violation("JWT with %d parts" % len(parts))
            return "Invalid JWT."
        if any("=" in p for p in parts):
            st.violation("JWT segments carry '=' padding")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except (ValueError, binascii.Error):
            st.violation("JWT segments are not base64url JSON")
            return "Invalid JWT."
        if header.get("alg") != "RS256" or header.get("typ", "JWT") != "JWT":
            st.violation("JWT header %r" % header)
            return "Invalid JWT."
        if not rs256_verify(st.pubkey, (parts[0] + "." + parts[1]).encode(), sig):
            return "Invalid JWT Signature."
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > 3600 or \
                iat > now + 60 or exp < now:
            st.violation("JWT times iat=%r exp=%r" % (iat, exp))
            return ("Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                    "reasonable timeframe. Check your iat and exp values in the JWT claim.")
        if claims.get("aud") != st.base + "/token":
            st.violation("JWT aud %r" % claims.get("aud"))
            return "Invalid JWT: Failed audience check."
        if claims.get("iss") != st.args.client_email:
            return "Invalid JWT: unknown issuer."
        if not any(s in claims.get("scope", "").split() for s in SCOPE_OK):
            st.violation("JWT scope %r" % claims.get("scope"))
            return "Invalid JWT: scope."
        return None

    # ---- metadata server ----
    def metadata(self, path, q):
        if self.headers.get("Metadata-Flavor") != "Google":
            self.st.violation("metadata request without Metadata-Flavor: Google")
            return self.reply(403, raw=b"Missing Metadata-Flavor:Google header.", ctype="text/html")
        hdr = {"Metadata-Flavor": "Google"}
        if path == "instance/service-accounts/default/token":
            self.st.counters["token_requests"] += 1
            return self.reply(200, self.issue_token(), headers=hdr)
        if path == "project/project-id":
            return self.reply(200, raw=self.st.args.project.encode(), headers=hdr,
                              ctype="application/text")
        if path == "":
            return self.reply(200, raw=b"computeMetadata/\n", headers=hdr, ctype="text/plain")
        self.reply(404, raw=b"not found", headers=hdr, ctype="text/html")

    # ---- Compute Engine ----
    def new_op(self, kind, target, zone=None, done=None, error=None, polls=None):
        st = self.st
        name = "operation-%d-%s" % (int(time.time() * 1000), secrets.token_hex(6))
        scope = "zones/%s" % zone if zone else "global"
        op = {"kind": "compute#operation", "id": str(st.next_id()), "name": name,
              "operationType": kind, "targetLink": target, "status": "PENDING", "progress": 0,
              "insertTime": "2024-01-01T00:00:00.000-08:00",
              "selfLink": "https://www.googleapis.com/compute/v1/projects/%s/%s/operations/%s" % (
                  st.args.project, scope, name)}
        if zone:
            op["zone"] = "https://www.googleapis.com/compute/v1/projects/%s/zones/%s" % (
                st.args.project, zone)
        with st.lock:
            st.operations[name] = {"op": op, "polls": st.args.op_polls if polls is None else polls,
                                   "done": done, "zone": zone}
        return op

    def poll_op(self, name, zone):
        st = self.st
        with st.lock:
            o = st.operations.get(name)
            if not o or o["zone"] != zone:
                return None
            op = o["op"]
            if op["status"] != "DONE":
                o["polls"] -= 1
                op["status"] = "RUNNING"
                if o["polls"] <= 0:
                    op["status"] = "DONE"
                    op["progress"] = 100
                    if o["done"]:
                        err = o["done"]()
                        if err:
                            op["error"] = {"errors": [err]}
                            op["httpErrorStatusCode"] = 400
                            op["httpErrorMessage"] = "BAD REQUEST"
            return dict(op)

    def compute(self, method, path, q):
        st = self.st
        body = self.body()
        if not self.authorized():
            return
        parts = path.split("/")
        if parts[0] != st.args.project:
            return self.gerror(404, "The resource 'projects/%s' was not found" % parts[0], "notFound")
        rest = parts[1:]
        if not rest and method == "GET":
            st.counters["project_gets"] += 1
            return self.reply(200, {"kind": "compute#project", "name": st.args.project,
                                    "id": "1234567890123",
                                    "selfLink": "https://www.googleapis.com/compute/v1/"
                                                "projects/%s" % st.args.project})
        if len(rest) == 2 and rest[0] == "regions" and method == "GET":
            if rest[1] not in STORAGE_REGIONS:
                return self.gerror(404, "The resource 'projects/%s/regions/%s' was not found"
                                   % (st.args.project, rest[1]), "notFound")
            return self.reply(200, {"kind": "compute#region", "name": rest[1], "status": "UP"})
        if st.deploy.route(self, method, rest, q, body):
            return
        if rest[:2] == ["global", "images"]:
            return self.images(method, rest[2:], q, body)
        if rest[:2] == ["global", "operations"] and len(rest) in (3, 4):
            if len(rest) == 4 and (rest[3] != "wait" or method != "POST"):
                return self.gerror(400, "bad", "invalid")
            op = self.poll_op(rest[2], None)
            return self.reply(200, op) if op else self.gerror(404, "no such operation", "notFound")
        if len(rest) >= 3 and rest[0] == "zones":
            zone = rest[1]
            if rest[2] == "operations" and len(rest) in (4, 5):
                op = self.poll_op(rest[3], zone)
                return self.reply(200, op) if op else self.gerror(404, "no such operation", "notFound")
        st.violation("unexpected compute call %s %s" % (method, path))
        self.gerror(400, "bad request", "invalid")

    def image_link(self, name):
        return "https://www.googleapis.com/compute/v1/projects/%s/global/images/%s" % (
            self.st.args.project, name)

    def images(self, method, rest, q, body):
        st = self.st
        if method == "GET" and len(rest) == 1:
            opname = st.image_ops.get(rest[0])
            if opname and st.images.get(rest[0], {}).get("status") == "PENDING":
                self.poll_op(opname, None)
            img = st.images.get(rest[0])
            if not img:
                return self.gerror(404, "The resource '%s' was not found" % (
                    "projects/%s/global/images/%s" % (st.args.project, rest[0])), "notFound")
            return self.reply(200, img)
        if method == "DELETE" and len(rest) == 1:
            name = rest[0]
            if name not in st.images:
                return self.gerror(404, "The resource 'projects/%s/global/images/%s' was not "
                                   "found" % (st.args.project, name), "notFound")

            def done():
                st.images.pop(name, None)
            return self.reply(200, self.new_op("delete", self.image_link(name), done=done))
        if method == "POST" and not rest:
            return self.image_insert(q, body)
        st.violation("unexpected images call %s %s" % (method, rest))
        self.gerror(400, "bad request", "invalid")

    def image_insert(self, q, body):
        st = self.st
        st.counters["image_inserts"] += 1
        rid = q.get("requestId")
        if rid and rid in st.request_ids:
            return self.reply(200, st.request_ids[rid])
        if rid is not None and not re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                            r"[0-9a-f]{12}$", rid):
            st.violation("requestId %r is not a UUID" % rid)
            return self.gerror(400, "Invalid value for field 'requestId'", "invalid")
        try:
            img = json.loads(body)
        except ValueError:
            st.violation("images.insert body is not JSON")
            return self.gerror(400, "Invalid JSON payload received.", "parseError")
        name = img.get("name", "")
        if not NAME_RE.match(name):
            return self.gerror(400, "Invalid value for field 'resource.name': '%s'. Must be a "
                               "match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'" % name,
                               "invalid")
        if img.get("family") is not None and not NAME_RE.match(img["family"]):
            return self.gerror(400, "Invalid value for field 'resource.family'", "invalid")
        for f in img.get("guestOsFeatures", []):
            if f.get("type") not in FEATURES:
                return self.gerror(400, "Invalid value for field 'resource.guestOsFeatures'",
                                   "invalid")
        for k, v in img.get("labels", {}).items():
            if not re.match(r"^[a-z][a-z0-9_-]{0,62}$", k) or not re.match(r"^[a-z0-9_-]{0,63}$", v):
                return self.gerror(400, "Invalid value for field 'resource.labels'", "invalid")
        for i, loc in enumerate(img.get("storageLocations", [])):
            if loc not in MULTI_REGIONS and loc not in STORAGE_REGIONS:
                return self.gerror(400, "Invalid value for field 'resource.storageLocations[%d]'"
                                   ": '%s'. Location not found." % (i, loc), "invalid")
        with st.lock:
            f = st.faults.get("image_insert_status")
            if f and f.get("match", "") not in name:
                f = None
        f = f and st.fault("image_insert_status")
        if f:
            code = f.get("status", 403)
            return self.gerror(code, f.get("message", "Quota 'IMAGES' exceeded.  Limit: 10.0 "
                                            "globally."), f.get("reason", "quotaExceeded"))
        source_image = img.get("sourceImage")
        if source_image is not None:
            m = re.match(r"^(?:https://[^/]+/compute/v1/)?(?:projects/([^/]+)/)?global/images/"
                         r"([^/]+)$", source_image)
            if not m or (m.group(1) and m.group(1) != st.args.project):
                st.violation("sourceImage %r" % source_image)
                return self.gerror(400, "Invalid value for field 'resource.sourceImage'", "invalid")
            src_name = m.group(2)
            with st.lock:
                src_img = st.images.get(src_name)
            if not src_img:
                return self.gerror(404, "The resource 'projects/%s/global/images/%s' was not "
                                   "found" % (st.args.project, src_name), "notFound")
            if src_img["status"] != "READY":
                return self.gerror(400, "The resource 'projects/%s/global/images/%s' is not ready"
                                   % (st.args.project, src_name), "resourceNotReady")
            data = None
        else:
            src = img.get("rawDisk", {}).get("source", "")
            m = re.match(r"^https://storage\.googleapis\.com/([^/]+)/(.+)$", src)
            if not m:
                return self.gerror(400, "Invalid value for field 'resource.rawDisk.source': "
                                   "'%s'. The URL is not a valid Google Cloud Storage object "
                                   "reference." % src, "invalid")
            key = (m.group(1), urllib.parse.unquote(m.group(2)))
            if key not in st.objects:
                return self.gerror(404, "The resource '%s' was not found" % src, "notFound")
        with st.lock:
            if name in st.images:
                return self.gerror(409, "The resource 'projects/%s/global/images/%s' already "
                                   "exists" % (st.args.project, name), "alreadyExists")
            image = {"kind": "compute#image", "id": str(st.next_id()), "name": name,
                     "selfLink": self.image_link(name), "status": "PENDING",
                     "sourceType": "RAW",
                     "guestOsFeatures": img.get("guestOsFeatures", []),
                     "labels": img.get("labels", {})}
            if source_image is not None:
                image["sourceImage"] = self.image_link(src_name)
                for k in ("rawDisk", "archiveSizeBytes", "diskSizeGb"):
                    if k in src_img:
                        image[k] = src_img[k]
            else:
                data = st.objects[key]["data"]
                generation = st.objects[key]["generation"]
                image["rawDisk"] = img["rawDisk"]
                image["archiveSizeBytes"] = str(len(data))
            for k in ("family", "description", "storageLocations", "architecture"):
                if k in img:
                    image[k] = img[k]
            st.images[name] = image

        forced = st.fault("image_error")
        slow = st.fault("image_polls")

        def done():
            err = forced and {"code": forced.get("code", "INVALID_IMAGE_TAR"),
                              "message": forced.get("message",
                                                    "The tar archive is not a valid image.")}
            if not err and source_image is not None:
                if st.images.get(src_name) is not src_img:
                    st.violation("source image %s deleted while %s was created from it" % (
                        src_name, name))
                    err = {"code": "RESOURCE_NOT_FOUND", "message": "The source image was "
                           "deleted while the image was being created."}
            elif not err:
                # GCE reads the object while the operation runs: it must still be there.
                obj = st.objects.get(key)
                if not obj or obj["generation"] != generation:
                    st.violation("object gs://%s/%s deleted or replaced while image %s was "
                                 "created from it" % (key[0], key[1], name))
                    err = {"code": "INVALID_IMAGE_TAR", "message": "The source object was "
                           "removed while the image was being created."}
                else:
                    err, size = check_tar(data)
                    if not err:
                        image["diskSizeGb"] = str(-(-size // 10**9))
            if err:
                st.images.pop(name, None)
                return err
            image["status"] = "READY"
            return None
        op = self.new_op("insert", self.image_link(name), done=done,
                         polls=slow and slow.get("polls", 50))
        with st.lock:
            st.image_ops[name] = op["name"]
        if rid:
            st.request_ids[rid] = op
        self.reply(200, op)


def check_tar(data):
    """GCE's rules for rawDisk archives: gzip, one oldgnu member disk.raw, whole GiB."""
    bad = ({"code": "INVALID_IMAGE_TAR", "message": "The tar archive is not a valid image."}, 0)
    try:
        with gzip.GzipFile(fileobj=__import__("io").BytesIO(data)) as g:
            hdr = g.read(512)
            while g.read(1 << 20):
                pass
    except (OSError, EOFError):
        return bad
    if len(hdr) < 512 or hdr[257:265] != b"ustar  \0":
        return bad
    name = hdr[:100].rstrip(b"\0")
    if name != b"disk.raw":
        return ({"code": "INVALID_IMAGE_TAR", "message": "The file inside the tar archive was "
                 "named ''%s''. It should be named ''disk.raw''." % name.decode(errors="replace")}, 0)
    field = hdr[483:495] if hdr[156:157] == b"S" else hdr[124:136]
    if field[0] & 0x80:
        size = int.from_bytes(field[1:], "big")
    else:
        size = int(field.rstrip(b"\0 ") or b"0", 8)
    if size == 0 or size % GIB:
        return bad
    return None, size


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--pubkey", required=True)
    p.add_argument("--client-email", default="uploader@test-proj.iam.gserviceaccount.com")
    p.add_argument("--project", default="test-proj")
    p.add_argument("--bucket", action="append")
    p.add_argument("--token-expires", type=int, default=3599)
    p.add_argument("--op-polls", type=int, default=3)
    p.add_argument("--session-host", help="the host the upload sessions' Location names "
                   "(default: the server's own, 127.0.0.1)")
    p.add_argument("--serial", default="mbprobe: all checks passed")
    p.add_argument("--user-client-id", default="cid.apps.googleusercontent.com")
    p.add_argument("--user-client-secret", default="user-secret-xyz")
    p.add_argument("--user-refresh-token", default="1//refresh-token-xyz")
    fake_gce_deploy.add_arguments(p)
    args = p.parse_args()
    state = State(args)
    state.deploy = fake_gce_deploy.Deploy(state, args)
    state.pubkey = load_public_key(args.pubkey)
    srv = Server(("127.0.0.1", 0), Handler)
    srv.state = state
    state.base = "http://127.0.0.1:%d" % srv.server_address[1]
    state.session_base = "http://%s:%d" % (args.session_host or "127.0.0.1",
                                           srv.server_address[1])
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
