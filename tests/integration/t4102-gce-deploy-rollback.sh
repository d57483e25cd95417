# t4102-gce-deploy-rollback.sh: bad releases. Instances boot their image under QEMU and are
# healthy only when it prints the health text; an image that does not is autohealed again and
# again, the deploy exits 1 naming the instance and its console, and the group is back on the
# old template. With --no-rollback it stays on the new one (the old instances still serve).
# An update that never converges ends at --timeout and is rolled back too. A console that
# cannot be read when an instance is first seen failing is read at the next sighting.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_deploy_env.sh"
need curl qemu-system-x86_64

start_deploy_server --instance-boot qemu --healthy-text serve=ok
push_image app-v1 serve=ok
push_image app-bad serve=broken
push_image app-v3 serve=ok
common=(--group web --zone us-central1-a --health-check tcp:8080 --initial-delay 10)

deploy "${common[@]}" --image app-v1 --size 2 >"$T/out1" 2>"$T/err1" ||
    fail "first deploy failed: $(cat "$T/err1")"
v1=$(dstate "[t for t in s['templates'] if t.startswith('web-app-v1-')][0]")
on_v1="['$v1', '$v1']"

rc=0
deploy "${common[@]}" --image app-bad --timeout 60 --json >"$T/out2" 2>"$T/err2" || rc=$?
[ "$rc" = 1 ] || fail "a bad release gave exit $rc: $(cat "$T/err2")"
grep -q "error: deploy of image app-bad to group web failed: instances of the new template keep failing their health check.*its console ends: .*MBPROBE: done.*; rolled back to template $v1" "$T/err2" ||
    fail "the error does not name the cause: $(cat "$T/err2")"
[ "$(grep -c error: "$T/err2")" = 1 ] || fail "more than one error line: $(cat "$T/err2")"
[ "$(dstate "[v['instanceTemplate'].rsplit('/', 1)[1] for v in $(grp web)['versions']]")" = "['$v1']" ] ||
    fail "the group is not back on $v1: $(dstate "$(grp web)['versions']")"
[ "$(dstate "sorted(i['template'] for i in $(grp web)['instances'])")" = "$on_v1" ] ||
    fail "instances after the rollback: $(dstate "$(grp web)['instances']")"
[ "$(dstate "$(grp web)['status']['isStable']")" = True ] || fail "the group is not stable"
[ "$(availability_kept web 2 3)" = ok ] || fail "$(availability_kept web 2 3)"
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["outcome"] == "rolled-back" and r["status"] == "failed" and "error" in r and len(r["instances"]) == 2, r' \
    "$T/out2" || fail "--json on failure: $(cat "$T/out2")"
ok "a bad release is rolled back"

rc=0
deploy "${common[@]}" --image app-bad --timeout 60 --no-rollback >"$T/out3" 2>"$T/err3" || rc=$?
[ "$rc" = 1 ] || fail "--no-rollback gave exit $rc: $(cat "$T/err3")"
grep -q "the group is left on the new template (--no-rollback)" "$T/err3" || fail "message: $(cat "$T/err3")"
[ "$(dstate "$(grp web)['versions'][0]['instanceTemplate'].rsplit('/', 1)[1].startswith('web-app-bad-')")" = True ] ||
    fail "the group was rolled back"
[ "$(dstate "sorted(i['template'] for i in $(grp web)['instances'] if i['currentAction'] == 'NONE')")" = "$on_v1" ] ||
    fail "the old instances stopped serving: $(dstate "$(grp web)['instances']")"
ok "--no-rollback leaves the group on the bad template, old instances serving"

# Back to v1, then an update whose instances never report healthy: it times out.
deploy "${common[@]}" --image app-v1 >"$T/out4" 2>"$T/err4" || fail "back to v1 failed: $(cat "$T/err4")"
fault '{"stuck_templates": {"names": ["web-app-v3-"], "count": 1000000}}'
rc=0
deploy "${common[@]}" --image app-v3 --timeout 2 >"$T/out5" 2>"$T/err5" || rc=$?
[ "$rc" = 1 ] || fail "a stuck update gave exit $rc: $(cat "$T/err5")"
grep -q "error: deploy of image app-v3 to group web failed: not stable after 2 s: instance web-.* is TIMEOUT.*; rolled back to template $v1" "$T/err5" ||
    fail "message: $(cat "$T/err5")"
[ "$(dstate "sorted(i['template'] for i in $(grp web)['instances'])")" = "$on_v1" ] ||
    fail "instances after the timeout: $(dstate "$(grp web)['instances']")"
ok "an update that never converges times out and is rolled back"
# A one-instance group whose console cannot be read the first time the instance is seen
# failing (autohealing began to recreate it in between): read again at the next sighting,
# and that tail is the one shown, not the recreated instance's new boot.
deploy --group one --zone us-central1-a --health-check tcp:8080 --initial-delay 10 \
    --image app-v1 --size 1 >"$T/out6" 2>"$T/err6" || fail "group one: $(cat "$T/err6")"
fault '{"serial_not_ready": {"count": 1}}'
rc=0
deploy --group one --zone us-central1-a --health-check tcp:8080 --initial-delay 10 \
    --image app-bad --timeout 60 >"$T/out7" 2>"$T/err7" || rc=$?
[ "$rc" = 1 ] || fail "a bad release of group one gave exit $rc: $(cat "$T/err7")"
grep -q "error: deploy of image app-bad to group one failed: instances of the new template keep failing their health check.*instance one-[a-z0-9]* is UNHEALTHY; its console ends: .*MBPROBE: done.*; rolled back" "$T/err7" ||
    fail "the console read after a failed read is not shown: $(cat "$T/err7")"
ok "a console that could not be read at first is read at the next sighting"
no_deploy_violations
