"""fake_gce_storage.py: fake_gce.py's Cloud Storage: buckets, objects and resumable uploads,
checked against the wire protocol in docs/cloud-apis.md section 3 (256 KiB chunks, Range
replies, md5/crc32c in X-Goog-Hash). A mixin of fake_gce.py's request handler: it uses the
handler's st, body(), reply(), gerror(), authorized(), fault hooks and violations.
"""
import base64
import hashlib
import json
import re
import secrets
import time
import urllib.parse

from fake_gce_common import MULTI_REGIONS, STORAGE_REGIONS

CHUNK_UNIT = 256 * 1024


def crc32c(data, crc=0):
    """Bitwise CRC-32C, written independently of the C table version (an oracle)."""
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
    return crc ^ 0xFFFFFFFF


class Crc32cTable:
    """Table CRC-32C for large objects (the bitwise one is the reference for small data)."""
    table = None

    @classmethod
    def compute(cls, data):
        if cls.table is None:
            t = []
            for i in range(256):
                c = i
                for _ in range(8):
                    c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
                t.append(c)
            cls.table = t
        t = cls.table
        crc = 0xFFFFFFFF
        for b in data:
            crc = (crc >> 8) ^ t[(crc ^ b) & 0xFF]
        return crc ^ 0xFFFFFFFF


def b64(data):
    return base64.b64encode(data).decode()


class StorageRoutes:
    def object_json(self, bucket, name, obj):
        return {"kind": "storage#object", "id": "%s/%s/%d" % (bucket, name, obj["generation"]),
                "name": name, "bucket": bucket, "generation": str(obj["generation"]),
                "metageneration": "1", "contentType": obj["contentType"],
                "size": str(obj["size"]), "md5Hash": obj["md5Hash"], "crc32c": obj["crc32c"],
                "selfLink": "%s/storage/v1/b/%s/o/%s" % (self.st.base, bucket,
                                                         urllib.parse.quote(name, safe="")),
                "timeCreated": "2024-01-01T00:00:00.000Z", "storageClass": "STANDARD"}

    def storage(self, method, path, q):
        st = self.st
        body = self.body()
        if not self.authorized():
            return
        parts = path[len("/storage/v1/"):].split("/")
        if parts == ["b"] and method == "POST":
            if q.get("project") != st.args.project:
                st.violation("bucket insert with project %r" % q.get("project"))
                return self.gerror(400, "Invalid project", "invalid")
            req = json.loads(body or b"{}")
            name = req.get("name")
            loc = req.get("location", "US").lower()
            if loc not in MULTI_REGIONS and loc not in STORAGE_REGIONS:
                return self.gerror(400, "Invalid location: %s" % req.get("location"), "invalid")
            with st.lock:
                if name in st.buckets:
                    return self.gerror(409, "Your previous request to create the named bucket "
                                       "succeeded and you already own it.", "conflict")
                st.buckets.add(name)
            return self.reply(200, {"kind": "storage#bucket", "name": name, "location": "US"})
        if len(parts) == 2 and parts[0] == "b" and method == "GET":
            if parts[1] in st.buckets:
                return self.reply(200, {"kind": "storage#bucket", "name": parts[1]})
            return self.gerror(404, "The specified bucket does not exist.", "notFound")
        if len(parts) == 4 and parts[0] == "b" and parts[2] == "o":
            bucket, name = parts[1], urllib.parse.unquote(parts[3])
            with st.lock:
                obj = st.objects.get((bucket, name))
                if not obj:
                    return self.gerror(404, "No such object: %s/%s" % (bucket, name), "notFound")
                if method == "GET":
                    return self.reply(200, self.object_json(bucket, name, obj))
                if method == "DELETE":
                    del st.objects[(bucket, name)]
                    st.counters["object_deletes"] += 1
                    return self.reply(204)
        st.violation("unexpected storage call %s %s" % (method, path))
        self.gerror(400, "bad request", "invalid")

    def upload(self, method, path, q):
        st = self.st
        m = re.match(r"^/upload/storage/v1/b/([^/]+)/o$", path)
        if not m:
            self.body()
            st.violation("bad upload path %s" % path)
            return self.gerror(404, "Not Found", "notFound")
        bucket = m.group(1)
        if method == "POST" and "upload_id" not in q:
            return self.initiate(bucket, q)
        sid = q.get("upload_id")
        with st.lock:
            sess = st.sessions.get(sid)
        if method == "DELETE":
            self.body()
            if sess:
                with st.lock:
                    del st.sessions[sid]
                    st.counters["cancelled_sessions"] += 1
            return self.reply(499, raw=b"", ctype="text/plain")
        if method != "PUT":
            self.body()
            st.violation("session %s with %s" % (sid, method))
            return self.gerror(400, "use PUT", "invalid")
        if not sess or sess["bucket"] != bucket:
            self.body()
            return self.gerror(404, "No such upload session", "notFound")
        return self.chunk(sess)

    def initiate(self, bucket, q):
        st = self.st
        body = self.body()
        if not self.authorized():
            return
        st.counters["initiations"] += 1
        if q.get("uploadType") != "resumable":
            st.violation("initiation with uploadType %r" % q.get("uploadType"))
            return self.gerror(400, "uploadType", "invalid")
        meta = {}
        if body:
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                st.violation("initiation body with Content-Type %r" %
                             self.headers.get("Content-Type"))
            meta = json.loads(body)
        name = q.get("name") or meta.get("name")
        if not name:
            return self.gerror(400, "Required object name", "required")
        if bucket not in st.buckets:
            return self.gerror(404, "The specified bucket does not exist.", "notFound")
        f = st.fault("init_status")
        if f:
            return self.gerror(f.get("status", 503), "Backend Error", "backendError")
        sid = "ADPycd" + secrets.token_urlsafe(16)
        with st.lock:
            st.sessions[sid] = {"bucket": bucket, "name": name, "meta": meta,
                                "data": bytearray(), "complete": False, "result": None,
                                "contentType": meta.get("contentType",
                                                        "application/octet-stream")}
        loc = "%s/upload/storage/v1/b/%s/o?uploadType=resumable&name=%s&upload_id=%s" % (
            st.session_base or st.base, bucket, urllib.parse.quote(name, safe=""), sid)
        self.reply(200, raw=b"", headers={"Location": loc, "X-GUploader-UploadID": sid},
                   ctype="text/plain")

    def range_hdr(self, sess):
        n = len(sess["data"])
        return {"Range": "bytes=0-%d" % (n - 1)} if n else {}

    def chunk(self, sess):
        st = self.st
        cr = self.headers.get("Content-Range", "")
        clen = int(self.headers.get("Content-Length", "0"))
        if self.headers.get("Transfer-Encoding"):
            st.violation("chunk sent with Transfer-Encoding %s" % self.headers["Transfer-Encoding"])
        m = re.match(r"^bytes (\*|(\d+)-(\d+))/(\*|\d+)$", cr)
        if not m:
            self.body()
            st.violation("bad Content-Range %r" % cr)
            return self.gerror(400, "Bad Content-Range", "invalid")
        total = None if m.group(4) == "*" else int(m.group(4))
        if self.headers.get("Authorization"):
            st.counters["session_requests_with_token"] += 1
        if not self.authorized(required=False):
            self.body()
            return
        if m.group(1) == "*":
            self.body()
            if clen:
                st.violation("status query with a body")
            st.counters["status_queries"] += 1
            if sess["complete"]:
                return self.reply(200, sess["result"])
            if total is not None and total == len(sess["data"]):
                return self.finalize(sess)
            return self.reply(308, raw=b"", headers=self.range_hdr(sess), ctype="text/plain")
        start, end = int(m.group(2)), int(m.group(3))
        st.counters["chunk_puts"] += 1
        if end - start + 1 != clen:
            self.body()
            st.violation("Content-Range %s but Content-Length %d" % (cr, clen))
            return self.gerror(400, "length mismatch", "invalid")
        final = total is not None and end + 1 == total
        if not final and (end + 1) % CHUNK_UNIT:
            # Strict: what the server holds after a non-final chunk must be whole 256 KiB
            # units, whatever it persisted before.
            self.body()
            st.violation("non-final chunk %s does not end on a 256 KiB boundary" % cr)
            return self.reply(400, raw=b"Invalid request.  Non-final chunks must be a multiple "
                              b"of 256 KiB.", ctype="text/plain")
        if sess["complete"]:
            self.body()
            return self.reply(200, sess["result"])
        have = len(sess["data"])
        if start > have:
            self.body()
            msg = ("Invalid request. According to the Content-Range header, the upload offset "
                   "is %d byte(s), which exceeds already uploaded size of %d byte(s)." % (start, have))
            return self.reply(503, raw=msg.encode(), ctype="text/plain")
        # Faults that act on a chunk.
        f = st.fault("chunk_stall")
        if f:
            time.sleep(f.get("seconds", 3))
            return self.drop()
        f = st.fault("chunk_drop")
        if f:
            part = self.rfile.read(clen // 2 + f.get("extra", 0))
            st.counters["bytes_received"] += len(part)
            keep = (start + len(part)) // CHUNK_UNIT * CHUNK_UNIT
            if f.get("exact"):
                # What arrived is kept, so the persisted offset is not on a 256 KiB boundary.
                keep = start + len(part)
            self.absorb(sess, start, part[:max(0, keep - start)])
            return self.drop()
        data = self.body()
        st.counters["bytes_received"] += len(data)
        if len(data) != clen:
            st.violation("short chunk body")
            return self.drop()
        f = st.fault("chunk_status")
        if f:
            return self.gerror(f.get("status", 503), "Backend Error", "backendError")
        f = st.fault("expire_tokens")
        if f:
            with st.lock:
                st.tokens.clear()
            if self.headers.get("Authorization"):
                st.counters["unauthorized"] += 1
                return self.gerror(401, "Request had invalid authentication credentials.",
                                   "authError")
        if have > start and bytes(sess["data"][start:have]) != data[:have - start]:
            st.violation("resent bytes differ from the persisted ones at %d" % start)
            return self.gerror(400, "data mismatch", "invalid")
        f = st.fault("short_range")
        if f and not final and clen > CHUNK_UNIT:
            self.absorb(sess, start, data[:clen - CHUNK_UNIT])
            return self.reply(308, raw=b"", headers=self.range_hdr(sess), ctype="text/plain")
        f = st.fault("unaligned_persist")
        if f and not final:
            self.absorb(sess, start, data[:f.get("bytes", clen // 2 + 1000)])
            return self.reply(308, raw=b"", headers=self.range_hdr(sess), ctype="text/plain")
        if final:
            self.absorb(sess, start, data)
            return self.finalize(sess)
        # Whole 256 KiB units of the object, wherever the chunk started.
        keep = max(0, (start + len(data)) // CHUNK_UNIT * CHUNK_UNIT - start)
        self.absorb(sess, start, data[:keep])
        self.reply(308, raw=b"", headers=self.range_hdr(sess), ctype="text/plain")

    def absorb(self, sess, start, data):
        with self.st.lock:
            have = len(sess["data"])
            if start + len(data) > have:
                sess["data"] += data[have - start:]

    def finalize(self, sess):
        st = self.st
        data = bytes(sess["data"])
        crc = b64(Crc32cTable.compute(data).to_bytes(4, "big"))
        md5 = b64(hashlib.md5(data).digest())
        meta = sess["meta"]
        want = {}
        for part in self.headers.get("X-Goog-Hash", "").split(","):
            k, _, v = part.strip().partition("=")
            if k:
                want[k] = v
        for key, got, sent in (("crc32c", crc, meta.get("crc32c")), ("md5Hash", md5, meta.get("md5Hash")),
                               ("crc32c", crc, want.get("crc32c")), ("md5Hash", md5, want.get("md5"))):
            if sent is not None and sent != got:
                with st.lock:
                    st.sessions.pop(next(k for k, v in st.sessions.items() if v is sess), None)
                msg = "Provided %s \"%s\" doesn't match calculated %s \"%s\"." % (
                    key if key == "crc32c" else "MD5 hash", sent, key if key == "crc32c" else "MD5 hash", got)
                return self.gerror(400, msg, "invalid")
        with st.lock:
            obj = {"data": data, "size": len(data), "crc32c": crc, "md5Hash": md5,
                   "generation": int(time.time() * 1e6) + st.next_id(),
                   "contentType": sess["contentType"],
                   "sha256": hashlib.sha256(data).hexdigest()}
            st.objects[(sess["bucket"], sess["name"])] = obj
            sess["complete"] = True
            sess["result"] = self.object_json(sess["bucket"], sess["name"], obj)
        self.reply(200, sess["result"])
