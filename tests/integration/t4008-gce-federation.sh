# t4008-gce-federation.sh: Google credentials that end in a token exchange, against the test
# server's STS and IAM Credentials endpoints (tests/servers/fake_gce_sts.py):
# external_account with a file-sourced and a URL-sourced subject token (text and JSON), with
# service account impersonation; impersonated_service_account files (gcloud's); and
# --impersonate-service-account. Subject tokens and access tokens never reach the output.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
export FAKE_STS_SUBJECT_TOKEN="eyJhbGciOiJSUzI1NiJ9.subject-$RANDOM-secret.sig"
export FAKE_STS_SERVICE_ACCOUNTS="deployer@test-proj.iam.gserviceaccount.com"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
need curl
unset CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS || true

start_server
make_archive "$T/app.tar.gz"
endpoints="--project $PROJECT --bucket $BUCKET --storage-endpoint $BASE --compute-endpoint $BASE/compute/v1/ --backoff 0.01"
SA=deployer@test-proj.iam.gserviceaccount.com
AUD=//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/ci/providers/gh
sts() { curl -sf "$BASE/_sts_state" | /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }

# external_account FILE SOURCE-JSON [EXTRA-JSON-MEMBERS]
external_account() {
    cat >"$1" <<EOT
{"type": "external_account", "audience": "$AUD",
 "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
 "token_url": "$BASE/v1/token", "credential_source": $2 ${3:+, $3}}
EOT
}

# 1. File-sourced subject token (text), no impersonation: the STS token is used directly.
printf '%s\n' "$FAKE_STS_SUBJECT_TOKEN" >"$T/oidc-token"
external_account "$T/ext-file.json" "{\"file\": \"$T/oidc-token\"}"
"$MKIMAGE" push gce $endpoints --credentials "$T/ext-file.json" --name extfile -v \
    "$T/app.tar.gz" >"$T/out1" 2>"$T/err1" || fail "external_account (file): $(cat "$T/err1")"
[ "$(state 's["images"]["extfile"]["status"]')" = READY ] || fail "no image via STS"
[ "$(sts 's["counters"]["sts_exchanges"]')" -ge 1 ] || fail "STS was not called"
grep -q "external account $AUD" "$T/err1" || fail "-v does not say which credentials: $(cat "$T/err1")"
ok "external_account, file-sourced subject token"

# 2. URL-sourced, JSON format (as GitHub Actions' OIDC endpoint answers), with the file's
#    headers, and service account impersonation.
external_account "$T/ext-url.json" \
    "{\"url\": \"$BASE/_subject_token?format=json\", \"headers\": {\"X-Test-Subject\": \"yes\"}, \"format\": {\"type\": \"json\", \"subject_token_field_name\": \"id_token\"}}" \
    "\"service_account_impersonation_url\": \"$BASE/v1/projects/-/serviceAccounts/$SA:generateAccessToken\", \"service_account_impersonation\": {\"token_lifetime_seconds\": 1800}"
"$MKIMAGE" push gce $endpoints --credentials "$T/ext-url.json" --name exturl \
    "$T/app.tar.gz" >"$T/out2" 2>"$T/err2" || fail "external_account (url): $(cat "$T/err2")"
[ "$(state 's["images"]["exturl"]["status"]')" = READY ] || fail "no image via STS + impersonation"
[ "$(sts 's["counters"]["subject_token_fetches"]')" -ge 1 ] || fail "the subject token URL was not read"
[ "$(sts 's["impersonated"]')" = "['$SA']" ] || fail "impersonation: $(sts 's')"
ok "external_account, URL-sourced JSON subject token, impersonation"

# 3. A wrong subject token: refused by STS, said plainly, nothing uploaded.
printf 'not-the-token\n' >"$T/bad-token"
external_account "$T/ext-bad.json" "{\"file\": \"$T/bad-token\"}"
expect_fail "refused the subject token" "$MKIMAGE" push gce $endpoints \
    --credentials "$T/ext-bad.json" --name extbad "$T/app.tar.gz"
grep -q "The ID Token is invalid" "$T/err" || fail "STS's reason is not shown: $(cat "$T/err")"
[ "$(state '"extbad" in s["images"]')" = False ] || fail "an image was made with refused credentials"
ok "a refused subject token"

# 4. Sources we do not handle are named.
external_account "$T/ext-exe.json" '{"executable": {"command": "/bin/true"}}'
expect_fail "executable-sourced" "$MKIMAGE" push gce $endpoints \
    --credentials "$T/ext-exe.json" "$T/app.tar.gz"
ok "executable-sourced credentials are refused by name"

# 5. gcloud's impersonated_service_account ADC file (source: a service account key).
write_key "$T/key.json"
/usr/bin/python3 - "$T/key.json" "$T/imp.json" "$BASE" "$SA" <<'EOF'
import json, sys
key, out, base, sa = sys.argv[1:5]
json.dump({"type": "impersonated_service_account", "delegates": [],
           "service_account_impersonation_url":
               "%s/v1/projects/-/serviceAccounts/%s:generateAccessToken" % (base, sa),
           "source_credentials": json.load(open(key))}, open(out, "w"))
EOF
GOOGLE_APPLICATION_CREDENTIALS=$T/imp.json "$MKIMAGE" push gce $endpoints --name impfile \
    "$T/app.tar.gz" >"$T/out5" 2>"$T/err5" || fail "impersonated_service_account: $(cat "$T/err5")"
[ "$(state 's["images"]["impfile"]["status"]')" = READY ] || fail "no image via impersonated_service_account"
[ "$(sts 'len(s["impersonated"])')" = 2 ] || fail "impersonation not used: $(sts 's')"
ok "impersonated_service_account file"

# 6. --impersonate-service-account with a key; the endpoint from gcloud's override variable.
CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS=$BASE/ "$MKIMAGE" push gce $endpoints \
    --credentials "$T/key.json" --impersonate-service-account "$SA" --name impflag \
    "$T/app.tar.gz" >"$T/out6" 2>"$T/err6" || fail "--impersonate-service-account: $(cat "$T/err6")"
[ "$(state 's["images"]["impflag"]["status"]')" = READY ] || fail "no image via --impersonate-service-account"
[ "$(sts 'len(s["impersonated"])')" = 3 ] || fail "impersonation not used: $(sts 's')"
#    An account the source may not impersonate: IAM's refusal, plainly.
CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS=$BASE/ expect_fail "refused to issue a token" \
    "$MKIMAGE" push gce $endpoints --credentials "$T/key.json" \
    --impersonate-service-account nobody@test-proj.iam.gserviceaccount.com "$T/app.tar.gz"
ok "--impersonate-service-account"

no_violations
for f in "$T"/out* "$T"/err* "$T/err"; do
    ! grep -qF "$FAKE_STS_SUBJECT_TOKEN" "$f" || fail "the subject token leaked into $f"
done
no_secrets "$T"/out* "$T"/err* "$T/err"
