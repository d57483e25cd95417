#!/usr/bin/python3
"""ks_proxy.py: an HTTP proxy on 127.0.0.1 in front of Keystone that makes every token it
hands out look short-lived, to test that a client renews its token before it expires.

Usage: ks_proxy.py --port PORT --target HOST:PORT --token-life SECONDS [--log FILE]

Requests pass through unchanged. In the answer to POST .../auth/tokens, token.expires_at is
set to now + SECONDS (the token itself stays valid for as long as Keystone says); each such
request is logged as "token issued", so a test can count them.
"""
import argparse
import datetime
import http.client
import http.server
import json
import sys
import time

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--token-life", type=int, required=True)
    p.add_argument("--log")
    args = p.parse_args()
    host, _, port = args.target.rpartition(":")

    def log(msg):
        if args.log:
            with open(args.log, "a") as f:
                f.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if self.command == "POST" and self.path.rstrip("/").endswith("/auth/tokens") \
                    and resp.status == 201:
                doc = json.loads(data)
                when = datetime.datetime.utcnow() + datetime.timedelta(seconds=args.token_life)
                doc["token"]["expires_at"] = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                data = json.dumps(doc).encode()
                log("token issued, expires_at %s" % doc["token"]["expires_at"])
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in HOP:
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = forward

        def log_message(self, fmt, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    log("listening on %d for %s" % (args.port, args.target))
    server.serve_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
