# t4505-openstack-transport.sh: `push openstack` sends a password (to Keystone) or a token
# (to Glance) over plain http:// only to loopback, or when asked (--insecure, or the cloud's
# insecure: true): a non-loopback http:// auth_url or image endpoint is refused before any
# request. The whole test runs in a network namespace of its own, with only loopback up,
# so that even a broken check cannot send traffic beyond this machine.
if [ -z "${MK_IN_NETNS:-}" ]; then
    command -v unshare >/dev/null && command -v ip >/dev/null && unshare -rn true 2>/dev/null ||
        { echo "SKIP: no unprivileged network namespaces (unshare -rn)" >&2; exit 77; }
    exec unshare -rn env MK_IN_NETNS=1 bash "$0" "$@"
fi
. "$MK_SOURCE_DIR/tests/integration/lib.sh"
need timeout python3
ip link set lo up || fail "cannot bring up loopback in the namespace"
for v in $(env | grep -o '^OS_[A-Z_]*' || true); do unset "$v"; done
export OS_CLIENT_CONFIG_FILE=$T/clouds.yaml

# A Keystone that hands out a token to anyone: enough to reach the image endpoint's check.
cat >keystone.py <<'PY'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = json.dumps({"token": {"project": {"id": "p1"}, "catalog": [],
                                     "expires_at": "2099-01-01T00:00:00.000000Z"}}).encode()
        self.send_response(201)
        self.send_header("X-Subject-Token", "tok")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
PY
python3 keystone.py port &
ks=$!
trap 'kill $ks 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || fail "the fake Keystone did not start"

auth='{username: u, password: hunter2, project_name: p, user_domain_name: Default, project_domain_name: Default'
cat >clouds.yaml <<YAML
clouds:
  far:
    auth: $auth, auth_url: "http://10.255.255.1:5000/v3"}
  far-insecure:
    insecure: true
    auth: $auth, auth_url: "http://10.255.255.1:5000/v3"}
  far-glance:
    image_endpoint_override: "http://10.255.255.1:9292"
    auth: $auth, auth_url: "http://127.0.0.1:$(cat port)/v3"}
YAML
"$MKIMAGE" build -s 16M -o app.img "$MBPROBE" 2>/dev/null || fail "build app.img"
push() { timeout 60 "$MKIMAGE" push openstack --name t "$@" app.img; }

start=$(date +%s%N)
expect_fail "auth_url http://10.255.255.1:5000/v3 is plain http:// and would carry credentials" \
    push --os-cloud far
[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 5000 ] || fail "the refusal took seconds"
! grep -q hunter2 "$T/err" || fail "the password is in the error"
expect_fail "the image endpoint http://10.255.255.1:9292 is plain http://" push --os-cloud far-glance
ok "plain http:// auth_url or image endpoint off loopback: refused before any request"

# Asked for: the request is made (and fails, as nothing is reachable from this namespace),
# with a warning.
rc=0
push --os-cloud far --insecure >out 2>err || rc=$?
[ "$rc" -ne 0 ] && ! grep -q "plain http:// and would carry" err || fail "--insecure: $(cat err)"
grep -q "plain http:// endpoints are allowed" err || fail "--insecure did not warn: $(cat err)"
rc=0
push --os-cloud far-insecure >out 2>err || rc=$?
[ "$rc" -ne 0 ] && ! grep -q "plain http:// and would carry" err || fail "insecure: true: $(cat err)"
ok "--insecure or the cloud's insecure: true allow it, with a warning"
