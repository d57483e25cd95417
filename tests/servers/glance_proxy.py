#!/usr/bin/python3
"""glance_proxy.py: an HTTP proxy on 127.0.0.1 in front of Glance that plays what a client
must get through: an image Glance is still writing after the upload, and a token revoked
just as a request arrives.

Usage: glance_proxy.py --port-file FILE --target HOST:PORT [--log FILE]
                       [--saving-polls N] [--revoke 'METHOD PATH_REGEX' --keystone HOST:PORT]

--saving-polls N  the first N answers to GET .../v2/images/ID of an image that is "active"
                  say "saving" instead; each is logged as "saving ID"
--revoke 'METHOD PATH_REGEX'  the first request whose method and path (without the query)
                  match has its own token revoked at Keystone (a user may revoke their own
                  token) before it is forwarded, so that Glance refuses it with a real 401
                  and the token stays dead; logged as "revoked the token of METHOD PATH"
"""
import argparse
import collections
import http.client
import json
import re
import threading

import rewriting_proxy


class GlanceFaults(rewriting_proxy.Rewriter):
    def __init__(self, args):
        super().__init__(args)
        self.polls = collections.Counter()
        self.revoked = False
        self.lock = threading.Lock()

    def before(self, request):
        if not self.args.revoke:
            return
        method, _, pattern = self.args.revoke.partition(" ")
        path = request.path.split("?")[0]
        with self.lock:
            hit = not self.revoked and request.command == method and re.fullmatch(pattern, path)
            self.revoked = self.revoked or bool(hit)
        if not hit:
            return
        token = request.headers.get("X-Auth-Token", "")
        host, _, port = self.args.keystone.rpartition(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=60)
        conn.request("DELETE", "/v3/auth/tokens",
                     headers={"X-Auth-Token": token, "X-Subject-Token": token})
        status = conn.getresponse().status
        conn.close()
        self.log("revoked the token of %s %s (HTTP %d)" % (request.command, path, status))

    def after(self, request, status, body):
        m = re.match(r"^.*/v2/images/([0-9a-f-]{36})/?$", request.path.split("?")[0])
        if request.command != "GET" or not m or status != 200:
            return body
        doc = json.loads(body)
        with self.lock:
            rewrite = doc.get("status") == "active" and \
                self.polls[m.group(1)] < self.args.saving_polls
            if rewrite:
                self.polls[m.group(1)] += 1
        if not rewrite:
            return body
        doc["status"] = "saving"
        self.log("saving %s" % m.group(1))
        return json.dumps(doc).encode()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    rewriting_proxy.add_arguments(p)
    p.add_argument("--saving-polls", type=int, default=0)
    p.add_argument("--revoke")
    p.add_argument("--keystone")
    args = p.parse_args()
    if bool(args.revoke) != bool(args.keystone):
        p.error("--revoke and --keystone go together")
    rewriting_proxy.serve(GlanceFaults(args))


if __name__ == "__main__":
    main()
