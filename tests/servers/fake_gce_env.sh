# fake_gce_env.sh: shared set-up for the t4000-gce* tests. Source it after lib.sh: it makes a
# test RSA key and key file, starts tests/servers/fake_gce.py on 127.0.0.1, and defines
# helpers to query the server's state and to scan outputs for secrets.

need openssl /usr/bin/python3 tar gzip

FAKE_GCE=$MK_SOURCE_DIR/tests/servers/fake_gce.py
PROJECT=test-proj
BUCKET=test-bucket
EMAIL=uploader@test-proj.iam.gserviceaccount.com
export XDG_STATE_HOME=$T/state
export HOME=$T/home
mkdir -p "$HOME"
unset GOOGLE_APPLICATION_CREDENTIALS GCE_METADATA_HOST STORAGE_EMULATOR_HOST \
    GOOGLE_CLOUD_PROJECT CLOUDSDK_CORE_PROJECT CLOUDSDK_CONFIG \
    CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE || true

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/key.pem" 2>/dev/null
openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem"

SERVER_PIDS=()
trap 'for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT

# start_server [ARGS...]: starts a fake server; sets PORT, BASE.
start_server() {
    rm -f "$T/port"
    /usr/bin/python3 "$FAKE_GCE" --port-file "$T/port" --pubkey "$T/pub.pem" \
        --client-email "$EMAIL" --project "$PROJECT" --bucket "$BUCKET" --op-polls 2 \
        "$@" 2>>"$T/server.log" &
    SERVER_PIDS+=($!)
    for _ in $(seq 100); do
        [ -s "$T/port" ] && break
        sleep 0.1
    done
    [ -s "$T/port" ] || fail "fake_gce.py did not start: $(cat "$T/server.log")"
    PORT=$(cat "$T/port")
    BASE=http://127.0.0.1:$PORT
}

# write_key FILE [PEM] [PROJECT]: a service-account key file pointing at the fake server.
write_key() {
    /usr/bin/python3 - "$1" "${2:-$T/key.pem}" "$BASE/token" "$EMAIL" "${3-$PROJECT}" <<'EOF'
import json, sys
out, pem, uri, email, project = sys.argv[1:6]
key = {"type": "service_account", "private_key_id": "0123456789abcdef0123456789abcdef01234567",
       "private_key": open(pem).read(), "client_email": email, "client_id": "123456789012345678901",
       "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": uri}
if project:
    key["project_id"] = project
json.dump(key, open(out, "w"), indent=2)
EOF
}

# The options every push to the fake server needs.
gce_opts() {
    echo --credentials "$T/key.json" --bucket "$BUCKET" --storage-endpoint "$BASE" \
        --compute-endpoint "$BASE/compute/v1/" --backoff 0.01 --chunk-size 256K
}

# state PYTHON-EXPR: evaluates EXPR with s = the server's /_state, prints the result.
state() {
    curl -sf "$BASE/_state" | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

fault() {
    curl -sf -X POST -d "$1" "$BASE/_fault" >/dev/null
}

no_violations() {
    local v
    v=$(state 's["violations"]')
    [ "$v" = "[]" ] || fail "the server saw protocol violations: $v"
}

# object_of IMAGE: the staged object image IMAGE was made from (object names are unique
# per push: NAME-RANDOM.tar.gz).
object_of() {
    state "s['images']['$1']['rawDisk']['source'].split('/', 4)[4]"
}

# The object on the server must be byte-identical to FILE, with matching checksums.
object_matches() {
    local name=$1 file=$2
    curl -sf "$BASE/_object/$BUCKET/$name" -o "$T/fetched" || fail "no object $name on the server"
    cmp "$T/fetched" "$file" || fail "object $name differs from $file"
    local md5
    md5=$(openssl dgst -md5 -binary "$file" | base64)
    [ "$(state "s['objects']['$BUCKET/$name']['md5Hash']")" = "$md5" ] || fail "md5 of $name"
}

# no_secrets FILE...: none may contain the key's material or a token.
no_secrets() {
    grep -v -- '-----' "$T/key.pem" | sed -n '1,3p' >"$T/key-lines"
    for f in "$@"; do
        [ -e "$f" ] || continue
        if grep -rqF -f "$T/key-lines" "$f" || grep -rqE 'ya29\.|refresh-token-xyz|user-secret-xyz|"private_key"' "$f"; then
            fail "secret material found in $f"
        fi
    done
}

# An archive the pre-flight accepts: built by the tool itself, or by hand with GNU tar.
make_archive() {
    local out=$1
    if "$MKIMAGE" build -o "$out" "$MBPROBE" >/dev/null 2>&1; then
        return 0
    fi
    skip "cannot build a test archive with '$MKIMAGE build'"
}
