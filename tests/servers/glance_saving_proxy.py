#!/usr/bin/python3
"""glance_saving_proxy.py: an HTTP proxy on 127.0.0.1 in front of Glance that makes every
image look as if Glance were still writing it after the upload, to test what a client shows
while it waits for the image to become active.

Usage: glance_saving_proxy.py --port-file FILE --target HOST:PORT --saving-polls N [--log FILE]

Requests pass through (a chunked body is read whole and sent on with its length). The first
N answers to GET .../v2/images/ID of an image that is "active" say "saving" instead; each
such rewrite is logged as "saving ID".
"""
import argparse
import collections
import http.client
import http.server
import json
import os
import re
import sys
import threading
import time

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--saving-polls", type=int, required=True)
    p.add_argument("--log")
    args = p.parse_args()
    host, _, port = args.target.rpartition(":")
    polls = collections.Counter()
    lock = threading.Lock()

    def log(msg):
        if args.log:
            with open(args.log, "a") as f:
                f.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(parts)
                    parts.append(self.rfile.read(size))
                    self.rfile.readline()
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n) if n else None

        def forward(self):
            body = self.read_body()
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn = http.client.HTTPConnection(host, int(port), timeout=120)
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            m = re.match(r"^.*/v2/images/([0-9a-f-]{36})/?$", self.path.split("?")[0])
            if self.command == "GET" and m and resp.status == 200:
                doc = json.loads(data)
                with lock:
                    rewrite = doc.get("status") == "active" and polls[m.group(1)] < args.saving_polls
                    if rewrite:
                        polls[m.group(1)] += 1
                if rewrite:
                    doc["status"] = "saving"
                    data = json.dumps(doc).encode()
                    log("saving %s" % m.group(1))
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = forward

        def log_message(self, fmt, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    log("listening on %d for %s" % (server.server_address[1], args.target))
    server.serve_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
