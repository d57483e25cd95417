# t4106-gce-deploy-spec.sh: a gce target with a deploy: section: `push` builds, uploads,
# creates the image and rolls it out to the group in one command; a second release rolls the
# group over; `validate` reports a bad deploy setting with its line and column.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_deploy_env.sh"
need curl

start_deploy_server
spec() { # NAME ARG BAD-SETTING
    cat >"$T/spec.yaml" <<EOT
version: 1
image:
  kernel: \${MBPROBE}
  args: [$2]
targets:
  prod:
    type: gce
    name: $1
    bucket: $BUCKET
    credentials: $T/key.json
    storage-endpoint: $BASE
    compute-endpoint: $BASE/compute/v1/
    backoff: 0.01
    deploy:
      group: web
      zone: us-central1-a
      size: 2
      health-check: http:8080/healthz
      initial-delay: 10
      max-surge: 1
      max-unavailable: 0
      no-rollback: false
      poll-interval: 0.1
      $3
EOT
}

spec release-1 one ""
"$MKIMAGE" validate --spec "$T/spec.yaml" >"$T/out0" 2>"$T/err0" || fail "validate: $(cat "$T/err0")"
"$MKIMAGE" push --spec "$T/spec.yaml" --json >"$T/out1" 2>"$T/err1" || fail "push with deploy: failed: $(cat "$T/err1")"
[ "$(state 's["images"]["release-1"]["status"]')" = READY ] || fail "no image"
[ "$(dstate "sorted(i['template'][:14] for i in $(grp web)['instances'])")" = \
    "['web-release-1-', 'web-release-1-']" ] || fail "group: $(dstate "$(grp web)")"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["targets"][0]; d=r["result"]["deploy"]; assert r["status"] == "ok" and d["outcome"] == "created" and d["image"] == "release-1" and len(d["instances"]) == 2, r' \
    "$T/out1" || fail "--json: $(cat "$T/out1")"
ok "push builds, uploads, creates the image and deploys it"

spec release-2 two ""
"$MKIMAGE" push --spec "$T/spec.yaml" >"$T/out2" 2>"$T/err2" || fail "second release failed: $(cat "$T/err2")"
[ "$(dstate "sorted(i['template'][:14] for i in $(grp web)['instances'])")" = \
    "['web-release-2-', 'web-release-2-']" ] || fail "group after release 2: $(dstate "$(grp web)['instances']")"
[ "$(availability_kept web 2 3)" = ok ] || fail "$(availability_kept web 2 3)"
grep -q "^prod  *gce  *release-2  *ok" "$T/out2" || fail "summary: $(cat "$T/out2")"
ok "the next release rolls the group over"

spec release-3 three "autoscale: lots"
expect_fail "spec.yaml:24:" "$MKIMAGE" validate --spec "$T/spec.yaml"
grep -q "target 'prod': deploy: --autoscale 'lots'" "$T/err" || fail "validate: $(cat "$T/err")"
images=$(state 'sorted(s["images"])')
expect_fail "--autoscale 'lots'" "$MKIMAGE" push --spec "$T/spec.yaml"
[ "$(state 'sorted(s["images"])')" = "$images" ] || fail "a bad deploy: section still uploaded"
ok "a bad deploy setting is reported with its place, before anything is sent"
no_deploy_violations
