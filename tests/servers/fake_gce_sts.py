"""fake_gce_sts.py: Google's Security Token Service (Workload Identity Federation token
exchange, RFC 8693) and the IAM Credentials generateAccessToken call, for fake_gce.py.

fake_gce.py hands every request whose path this module claims (handles()) to route(). The
module keeps its own state on the server's State object (st.sts) and records protocol
breaks in the server's "violations", which the tests assert to be empty.

What it checks, after Google's documentation of external_account credentials:
- POST /v1/token (sts.googleapis.com): form-encoded; grant_type token-exchange; an audience
  naming a workload identity pool provider; requested_token_type access_token; a known
  subject_token_type; the cloud-platform scope; the subject token the test configured; no
  Bearer Authorization (Basic only, when the file has client_id/client_secret).
- POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken (iamcredentials): a valid
  Bearer token, a JSON body whose "scope" list holds cloud-platform, an optional "lifetime"
  of the form "Ns" (at most 3600 s), "delegates" a list when present. The answer is
  {"accessToken", "expireTime"} with expireTime in RFC 3339 UTC.
- GET /_sts_state: the accounts impersonated so far and this module's counters.
- GET /_subject_token: a URL-sourced subject token (text, or JSON {"id_token": ...} with
  ?format=json); it requires the header "X-Test-Subject: yes" so that the tests prove the
  credential file's headers are sent.

Environment of the server process: FAKE_STS_SUBJECT_TOKEN (the subject token it accepts),
FAKE_STS_SERVICE_ACCOUNTS (comma-separated emails that may be impersonated).
"""
import json
import os
import secrets
import time
import urllib.parse

GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
SUBJECT_TYPES = ("urn:ietf:params:oauth:token-type:jwt",
                 "urn:ietf:params:oauth:token-type:id_token",
                 "urn:ietf:params:saml2:token-type:saml2",
                 "urn:ietf:params:aws:token-type:aws4_request")
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
AUDIENCE_PREFIXES = ("//iam.googleapis.com/projects/", "//iam.googleapis.com/locations/")
IMPERSONATE_PREFIX = "/v1/projects/-/serviceAccounts/"


def handles(path):
    return path in ("/v1/token", "/_subject_token", "/_sts_state") or \
        (path.startswith(IMPERSONATE_PREFIX) and path.endswith(":generateAccessToken"))


def _state(st):
    with st.lock:
        if not hasattr(st, "sts"):
            st.sts = {"subject_token": os.environ.get("FAKE_STS_SUBJECT_TOKEN",
                                                      "eyJhbGciOiJSUzI1NiJ9.fake-subject.sig"),
                      "accounts": set(filter(None, os.environ.get(
                          "FAKE_STS_SERVICE_ACCOUNTS",
                          "deployer@test-proj.iam.gserviceaccount.com").split(","))),
                      "federated": set()}
            for k in ("sts_exchanges", "impersonations", "subject_token_fetches"):
                st.counters.setdefault(k, 0)
        return st.sts


def _oauth_error(h, code, error, description):
    h.reply(code, {"error": error, "error_description": description})


def route(h, method, path, q):
    st = h.st
    sts = _state(st)
    if path == "/_subject_token":
        return subject_token(h, sts, q)
    if path == "/_sts_state":
        with st.lock:
            return h.reply(200, {"impersonated": sts.get("impersonated", []),
                                 "counters": {k: st.counters[k] for k in
                                              ("sts_exchanges", "impersonations",
                                               "subject_token_fetches")}})
    if path == "/v1/token":
        return exchange(h, st, sts, method)
    return impersonate(h, st, sts, method, path)


def subject_token(h, sts, q):
    st = h.st
    with st.lock:
        st.counters["subject_token_fetches"] += 1
    if h.headers.get("X-Test-Subject") != "yes":
        st.violation("subject token URL fetched without the credential file's headers")
        return h.reply(401, {"error": "missing header"})
    if q.get("format") == "json":
        return h.reply(200, {"id_token": sts["subject_token"], "other": "x"})
    h.reply(200, raw=sts["subject_token"].encode(), ctype="text/plain")


def exchange(h, st, sts, method):
    body = h.body()
    with st.lock:
        st.counters["sts_exchanges"] += 1
    if method != "POST":
        st.violation("STS: %s instead of POST" % method)
        return _oauth_error(h, 405, "invalid_request", "POST only")
    if not h.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
        st.violation("STS: Content-Type %r" % h.headers.get("Content-Type"))
        return _oauth_error(h, 400, "invalid_request", "form body expected")
    auth = h.headers.get("Authorization")
    if auth and not auth.startswith("Basic "):
        st.violation("STS: an Authorization header other than Basic was sent")
    form = dict(urllib.parse.parse_qsl(body.decode()))
    if form.get("grant_type") != GRANT:
        st.violation("STS: grant_type %r" % form.get("grant_type"))
        return _oauth_error(h, 400, "unsupported_grant_type", "Unsupported grant type.")
    if form.get("requested_token_type") != ACCESS:
        st.violation("STS: requested_token_type %r" % form.get("requested_token_type"))
        return _oauth_error(h, 400, "invalid_request", "Invalid requested_token_type.")
    if form.get("subject_token_type") not in SUBJECT_TYPES:
        st.violation("STS: subject_token_type %r" % form.get("subject_token_type"))
        return _oauth_error(h, 400, "invalid_request", "Invalid subject_token_type.")
    if not form.get("audience", "").startswith(AUDIENCE_PREFIXES):
        st.violation("STS: audience %r" % form.get("audience"))
        return _oauth_error(h, 400, "invalid_target", "The target service indicated by the "
                            "\"audience\" parameters is invalid.")
    if CLOUD_PLATFORM not in form.get("scope", "").split():
        st.violation("STS: scope %r" % form.get("scope"))
        return _oauth_error(h, 400, "invalid_scope", "Invalid scope.")
    if form.get("subject_token") != sts["subject_token"]:
        return _oauth_error(h, 400, "invalid_grant", "The ID Token is invalid.")
    tok = "ya29.sts-" + secrets.token_urlsafe(24)
    with st.lock:
        st.tokens[tok] = time.time() + 3600
        sts["federated"].add(tok)
    h.reply(200, {"access_token": tok, "issued_token_type": ACCESS, "token_type": "Bearer",
                  "expires_in": 3600})


def impersonate(h, st, sts, method, path):
    body = h.body()
    with st.lock:
        st.counters["impersonations"] += 1
    email = urllib.parse.unquote(path[len(IMPERSONATE_PREFIX):-len(":generateAccessToken")])
    if method != "POST":
        st.violation("generateAccessToken: %s instead of POST" % method)
        return h.gerror(405, "POST only", "badRequest")
    if not h.authorized():
        return None
    if not h.headers.get("Content-Type", "").startswith("application/json"):
        st.violation("generateAccessToken: Content-Type %r" % h.headers.get("Content-Type"))
    try:
        req = json.loads(body or b"null")
    except ValueError:
        req = None
    if not isinstance(req, dict) or not isinstance(req.get("scope"), list) or \
            CLOUD_PLATFORM not in req["scope"]:
        st.violation("generateAccessToken: body %r" % (body[:200],))
        return h.gerror(400, "Scope required.", "badRequest")
    if "delegates" in req and not isinstance(req["delegates"], list):
        st.violation("generateAccessToken: delegates %r" % (req["delegates"],))
        return h.gerror(400, "Invalid delegates.", "badRequest")
    lifetime = req.get("lifetime", "3600s")
    try:
        seconds = int(lifetime[:-1]) if isinstance(lifetime, str) and lifetime.endswith("s") \
            else None
    except ValueError:
        seconds = None
    if seconds is None or not 0 < seconds <= 3600:
        st.violation("generateAccessToken: lifetime %r" % (lifetime,))
        return h.gerror(400, "Invalid lifetime.", "badRequest")
    if email not in sts["accounts"]:
        return h.gerror(403, "Permission 'iam.serviceAccounts.getAccessToken' denied on "
                        "resource (or it may not exist).", "forbidden")
    tok = "ya29.imp-" + secrets.token_urlsafe(24)
    expiry = time.time() + seconds
    with st.lock:
        st.tokens[tok] = expiry
        sts.setdefault("impersonated", []).append(email)
    h.reply(200, {"accessToken": tok,
                  "expireTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry))})
