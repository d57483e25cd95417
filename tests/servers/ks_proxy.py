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
import json

import rewriting_proxy


class ShortLife(rewriting_proxy.Rewriter):
    def after(self, request, status, body):
        if request.command == "POST" and request.path.rstrip("/").endswith("/auth/tokens") \
                and status == 201:
            doc = json.loads(body)
            when = datetime.datetime.utcnow() + datetime.timedelta(seconds=self.args.token_life)
            doc["token"]["expires_at"] = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            body = json.dumps(doc).encode()
            self.log("token issued, expires_at %s" % doc["token"]["expires_at"])
        return body


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    rewriting_proxy.add_arguments(p)
    p.add_argument("--token-life", type=int, required=True)
    rewriting_proxy.serve(ShortLife(p.parse_args()))


if __name__ == "__main__":
    main()
