# t4101-gce-deploy-update.sh: a rolling update to a second image: one PATCH of the group's
# versions; the server's history shows that with maxSurge 1 / maxUnavailable 0 the number of
# available instances never dropped below the target size nor went above it plus one; the
# instances all end on the new template. Then maxSurge 0 / maxUnavailable 1.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_deploy_env.sh"
need curl

start_deploy_server
push_image app-v1 serve=ok
push_image app-v2 serve=ok
push_image app-v3 serve=ok
common=(--group web --zone us-central1-a --health-check http:8080/healthz --initial-delay 10)

deploy "${common[@]}" --image app-v1 --size 3 >"$T/out1" 2>"$T/err1" ||
    fail "first deploy failed: $(cat "$T/err1")"
v1=$(dstate "[t for t in s['templates'] if t.startswith('web-app-v1-')][0]")
patches=$(dstate "len($(grp web)['patches'])")

deploy "${common[@]}" --image app-v2 >"$T/out2" 2>"$T/err2" || fail "update failed: $(cat "$T/err2")"
v2=$(dstate "[t for t in s['templates'] if t.startswith('web-app-v2-')][0]")
[ "$(dstate "len($(grp web)['patches']) - $patches")" = 1 ] || fail "not one PATCH: $(dstate "$(grp web)['patches']")"
[ "$(dstate "sorted(i['template'] for i in $(grp web)['instances'])")" = "['$v2', '$v2', '$v2']" ] ||
    fail "instances after the update: $(dstate "$(grp web)['instances']")"
[ "$(dstate "$(grp web)['targetSize']")" = 3 ] || fail "the size changed"
[ "$(availability_kept web 3 4)" = ok ] || fail "$(availability_kept web 3 4)"
[ "$(dstate "max(e['templates'].get('$v2', 0) for e in $(grp web)['history'])")" = 3 ] || fail "history"
grep -q "ready on $v2" "$T/err2" || fail "no progress lines: $(cat "$T/err2")"
grep -q "on template $v2 (image app-v2), updated" "$T/out2" || fail "result: $(cat "$T/out2")"
[ "$(dstate "'$v1' in s['templates']")" = True ] || fail "the previous template was pruned (keep 3)"
ok "update with maxSurge 1, maxUnavailable 0: never below 3 available"

# The other way round: one instance down at a time, never more than 3 in existence.
hist=$(dstate "len($(grp web)['history'])")
deploy "${common[@]}" --image app-v3 --max-surge 0 --max-unavailable 1 >"$T/out3" 2>"$T/err3" ||
    fail "update with maxUnavailable 1 failed: $(cat "$T/err3")"
v3=$(dstate "[t for t in s['templates'] if t.startswith('web-app-v3-')][0]")
dscript "
h = $(grp web)['history'][$hist:]
assert all(e['existing'] <= 3 and e['available'] >= 2 for e in h), h
assert min(e['available'] for e in h) == 2, h
assert h[-1]['templates'] == {'$v3': 3} and h[-1]['available'] == 3, h
print('ok')" >/dev/null || fail "maxUnavailable 1 history: $(dstate "$(grp web)['history'][$hist:]")"
[ "$(dstate "$(grp web)['updatePolicy']['maxSurge']['fixed'], $(grp web)['updatePolicy']['maxUnavailable']['fixed']")" = "0 1" ] ||
    fail "policy: $(dstate "$(grp web)['updatePolicy']")"
ok "update with maxSurge 0, maxUnavailable 1: at most 3, at least 2 available"

# Ctrl-C while the group rolls (to a release that never converges): exit 130, the PATCH whole,
# and a line saying what the group was left doing.
fault '{"stuck_templates": {"names": ["web-app-v1-"], "count": 1000000}}'
"$MKIMAGE" deploy gce $(deploy_conn) --poll-interval 0.1 "${common[@]}" --image app-v1 \
    >"$T/out4" 2>"$T/err4" &
pid=$!
for _ in $(seq 300); do
    grep -q "ready on $v1" "$T/err4" 2>/dev/null && break
    sleep 0.1
done
grep -q "ready on $v1" "$T/err4" || fail "the update did not start: $(cat "$T/err4")"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 130 ] || fail "Ctrl-C gave exit $rc: $(cat "$T/err4")"
grep -q "error: interrupted; group web was left rolling to template $v1" "$T/err4" ||
    fail "Ctrl-C message: $(cat "$T/err4")"
[ "$(dstate "[v['instanceTemplate'].rsplit('/', 1)[1] for v in $(grp web)['versions']]")" = "['$v1']" ] ||
    fail "the PATCH did not land whole: $(dstate "$(grp web)['versions']")"
ok "Ctrl-C stops waiting and says where the group was left"
no_deploy_violations
