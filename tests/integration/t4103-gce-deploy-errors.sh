# t4103-gce-deploy-errors.sh: quota errors while the group creates instances are reported
# (and a failed update rolled back); 5xx/429 answers are retried with the same requestId, so
# a PATCH whose answer was lost is applied once; bad input is one line, exit 1 or 2, and
# nothing is created.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_deploy_env.sh"
need curl

start_deploy_server
push_image app-v1 serve=ok
push_image app-v2 serve=ok
nothing_created() {
    [ "$(dstate "(len(s['templates']), len(s['healthChecks']), len(s['firewalls']), len(s['groups']))")" = \
        "(0, 0, 0, 0)" ] || fail "$1 created something: $(dstate s)"
}

# Bad input: one line, nothing created.
expect_fail "unknown zone 'us-central1-x'" deploy --group web --zone us-central1-x --image app-v1 \
    --health-check tcp:8080
nothing_created "an unknown zone"
expect_fail "image 'nope' does not exist in project test-proj" deploy --group web \
    --zone us-central1-a --image nope --health-check tcp:8080
nothing_created "a missing image"
expect_fail "image family 'nofam' does not exist" deploy --group web --zone us-central1-a \
    --family nofam
nothing_created "a missing family"
for spec in tcp:0 tcp:8080/x http:99999 udp:53 http: tcp8080; do
    rc=0
    deploy --group web --zone us-central1-a --image app-v1 --health-check "$spec" \
        >"$T/o" 2>"$T/e" || rc=$?
    [ "$rc" = 2 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q -- "--health-check '$spec'" "$T/e" ||
        fail "--health-check $spec: exit $rc: $(cat "$T/e")"
done
nothing_created "a bad --health-check"
rc=0
deploy --group web --zone us-central1-a --image app-v1 --max-surge 0 --max-unavailable 0 \
    >"$T/o" 2>"$T/e" || rc=$?
[ "$rc" = 2 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "cannot both be 0" "$T/e" ||
    fail "both 0: exit $rc: $(cat "$T/e")"
rc=0
deploy --group web --zone us-central1-a --region us-central1 --image app-v1 >"$T/o" 2>"$T/e" || rc=$?
[ "$rc" = 2 ] && grep -q "one of --zone or --region" "$T/e" || fail "zone and region: exit $rc: $(cat "$T/e")"
for bad in "--size -1" "--max-surge 1x" "--autoscale 3:1" "--label Bad=1" "--group Web"; do
    rc=0
    deploy --group web --zone us-central1-a --image app-v1 $bad >"$T/o" 2>"$T/e" || rc=$?
    [ "$rc" = 2 ] && [ "$(wc -l <"$T/e")" = 1 ] || fail "$bad: exit $rc: $(cat "$T/e")"
done
nothing_created "bad options"
ok "bad input: one line, nothing created"

# Lost answers and rate limits: retried with the same requestId.
fault '{"call:GET:instanceGroupManagers": {"status": 429, "count": 2}, "call:POST:instanceTemplates": {"status": 503, "count": 1, "after": true}}'
deploy --group web --zone us-central1-a --image app-v1 --size 2 >"$T/out1" 2>"$T/err1" ||
    fail "deploy under faults failed: $(cat "$T/err1")"
[ "$(dstate "len(s['templates'])")" = 1 ] || fail "templates: $(dstate "list(s['templates'])")"
fault '{"call:PATCH:instanceGroupManagers": {"status": 503, "count": 1, "after": true}}'
deploy --group web --zone us-central1-a --image app-v2 >"$T/out2" 2>"$T/err2" ||
    fail "update under faults failed: $(cat "$T/err2")"
[ "$(dstate "len($(grp web)['patches'])")" = 1 ] || fail "the PATCH was applied twice: $(dstate "$(grp web)['patches']")"
[ "$(dstate "s['calls']['PATCH instanceGroupManagers']")" = 2 ] || fail "the PATCH was not retried"
ok "5xx and 429 retried with the same requestId"

# Quota: the group keeps retrying; the deploy reports it and rolls back.
fault '{"quota": {"count": 1000000}}'
rc=0
deploy --group web --zone us-central1-a --image app-v1 --size 2 --timeout 60 >"$T/out3" 2>"$T/err3" || rc=$?
[ "$rc" = 1 ] || fail "a quota error gave exit $rc: $(cat "$T/err3")"
v2=$(dstate "[t for t in s['templates'] if t.startswith('web-app-v2-')][0]")
grep -q "error: deploy of image app-v1 to group web failed: instances of template web-app-v1-[0-9a-f]* cannot be created: QUOTA_EXCEEDED: Quota 'CPUS' exceeded.  Limit: 8.0 in region us-central1.; rolled back to template $v2" "$T/err3" ||
    fail "quota message: $(cat "$T/err3")"
[ "$(dstate "sorted(i['template'] for i in $(grp web)['instances'])")" = "['$v2', '$v2']" ] ||
    fail "instances after the quota error: $(dstate "$(grp web)['instances']")"
# A new group that cannot get its first instances has nothing to roll back to.
rc=0
deploy --group api --zone us-central1-a --image app-v1 --size 1 --timeout 60 >"$T/out4" 2>"$T/err4" || rc=$?
[ "$rc" = 1 ] && grep -q "QUOTA_EXCEEDED.*there is no earlier template to roll back to" "$T/err4" ||
    fail "quota on a new group: exit $rc: $(cat "$T/err4")"
ok "quota errors reported"
no_deploy_violations
