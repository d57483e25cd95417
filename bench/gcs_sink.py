#!/usr/bin/python3
"""gcs_sink.py: the least a GCE push needs, on 127.0.0.1, for timing uploads: a token
endpoint that accepts any assertion, a project, a bucket, resumable upload sessions that
discard the bytes (counting them), and images that are READY at once.

It verifies nothing and hashes nothing, so that both sides of the benchmark (our push and
curl doing the same resumable upload) pay only for moving the bytes. The final chunk's
X-Goog-Hash (if any) is echoed back as the object's checksums; GCS computes an object's md5
itself, which the sink stands in for with a fixed value.

Usage: gcs_sink.py PORT_FILE
"""
import http.server
import json
import os
import socketserver
import sys
import urllib.parse

READ = 1 << 20
FIXED_MD5 = "1B2M2Y8AsgTpgAmY7PhCfg=="


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go in two writes: without this, Nagle holds the body back until the
    # client's delayed ACK, 40 ms per response, which no real server costs.
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def drain(self):
        n = int(self.headers.get("Content-Length", "0"))
        got = 0
        while got < n:
            b = self.rfile.read(min(READ, n - got))
            if not b:
                break
            got += len(b)
        return got

    def reply(self, code, obj=None, headers=None):
        data = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        path = u.path
        srv = self.server
        if path == "/token":
            self.drain()
            return self.reply(200, {"access_token": "ya29.sink", "expires_in": 3600,
                                    "token_type": "Bearer"})
        if path.startswith("/upload/"):
            if "upload_id" not in q:
                self.drain()
                srv.offset = 0
                loc = "http://127.0.0.1:%d%s?uploadType=resumable&upload_id=1" % (
                    srv.server_address[1], path)
                srv.name = q.get("name", "object")
                return self.reply(200, headers={"Location": loc})
            cr = self.headers.get("Content-Range", "")
            srv.offset += self.drain()
            total = cr.rsplit("/", 1)[-1]
            if total != "*" and srv.offset == int(total):
                hashes = dict(p.strip().split("=", 1) for p in
                              self.headers.get("X-Goog-Hash", "").split(",") if "=" in p)
                return self.reply(200, {"kind": "storage#object", "name": srv.name,
                                        "size": str(srv.offset),
                                        "md5Hash": hashes.get("md5", FIXED_MD5),
                                        "crc32c": hashes.get("crc32c", "")})
            hdr = {"Range": "bytes=0-%d" % (srv.offset - 1)} if srv.offset else {}
            return self.reply(308, headers=hdr)
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        if path.startswith("/storage/v1/b"):
            if self.command == "DELETE":
                return self.reply(204)
            return self.reply(200, {"kind": "storage#bucket", "name": "b"})
        if path.startswith("/compute/v1/projects/"):
            rest = path[len("/compute/v1/projects/"):].split("/")
            if len(rest) == 1:
                return self.reply(200, {"kind": "compute#project", "name": rest[0]})
            if rest[1:3] == ["global", "images"] and len(rest) == 4:
                if self.command == "GET" and rest[3] in srv.images:
                    return self.reply(200, srv.images[rest[3]])
                if self.command == "GET":
                    return self.reply(404, {"error": {"code": 404, "message": "not found"}})
                srv.images.pop(rest[3], None)
                return self.reply(200, {"name": "op-delete", "status": "DONE"})
            if rest[1:3] == ["global", "images"] and self.command == "POST":
                name = json.loads(body or b"{}").get("name", "image")
                srv.images[name] = {"name": name, "status": "READY",
                                    "selfLink": "https://x/global/images/" + name}
                return self.reply(200, {"name": "op-insert", "status": "DONE"})
        self.reply(404, {"error": {"code": 404, "message": "no such path " + path}})

    do_GET = do_PUT = do_POST = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    srv.offset = 0
    srv.name = "object"
    srv.images = {}
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
