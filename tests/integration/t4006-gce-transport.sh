# t4006-gce-transport.sh: credentials never travel in the clear or to a host they are not
# for (issue 13): plain http:// endpoints are refused unless loopback or --insecure, which
# always warns; the bearer token goes to the storage endpoint's own host only, even when the
# upload session's Location names another.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl

start_server --session-host localhost
write_key "$T/key.json"
make_archive "$T/app.tar.gz"

# The session's Location names localhost, the storage endpoint 127.0.0.1: no token there.
"$MKIMAGE" push gce $(gce_opts) --name app-1 "$T/app.tar.gz" >"$T/out" 2>"$T/err" ||
    fail "push: $(cat "$T/err")"
[ "$(state 's["counters"]["chunk_puts"] > 0')" = True ] || fail "no chunk was sent"
[ "$(state 's["counters"]["session_requests_with_token"]')" = 0 ] ||
    fail "the token went to the session's other host"
ok "the token stays with the storage endpoint's host"

# --insecure always says so, even without -v.
"$MKIMAGE" push gce $(gce_opts) --insecure --name app-2 "$T/app.tar.gz" >"$T/out" 2>"$T/err" ||
    fail "push --insecure: $(cat "$T/err")"
grep -qF -- "--insecure: TLS certificates are not checked" "$T/err" || fail "no warning: $(cat "$T/err")"

# Plain http:// to another host: refused before any request, for each endpoint.
before=$(state 's["counters"]["token_requests"]')
expect_fail "the storage endpoint http://storage.example.invalid is plain http://" \
    "$MKIMAGE" push gce $(gce_opts) --storage-endpoint http://storage.example.invalid \
    "$T/app.tar.gz"
expect_fail "the compute endpoint http://compute.example.invalid/ is plain http://" \
    "$MKIMAGE" push gce $(gce_opts) --compute-endpoint http://compute.example.invalid/ \
    "$T/app.tar.gz"
/usr/bin/python3 - "$T/key.json" "$T/remote-token.json" <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))
k["token_uri"] = "http://oauth.example.invalid/token"
json.dump(k, open(sys.argv[2], "w"))
PY
expect_fail "the token endpoint http://oauth.example.invalid/token is plain http://" \
    "$MKIMAGE" push gce $(gce_opts) --credentials "$T/remote-token.json" "$T/app.tar.gz"
[ "$(state 's["counters"]["token_requests"]')" = "$before" ] || fail "a token was requested"
no_violations
ok "plain http:// refused for storage, compute and token endpoints off loopback"
