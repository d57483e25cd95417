# t4100-gce-deploy-first.sh: the first deploy of a group of 2 with a health check (firewall
# rule, health check, template, group with autohealing and an explicit update policy), then
# --status, --json, and a re-run of the same deploy that changes nothing.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_deploy_env.sh"
need curl

start_deploy_server
push_image app-v1 serve=ok

deploy --group web --zone us-central1-a --image app-v1 --size 2 --health-check tcp:8080 \
    --initial-delay 30 >"$T/out1" 2>"$T/err1" || fail "first deploy failed: $(cat "$T/err1")"
[ "$(dstate "len($(grp web)['instances'])")" = 2 ] || fail "the group does not hold 2 instances"
[ "$(dstate "sorted(set(i['template'] for i in $(grp web)['instances']))")" = \
    "$(dstate "[t for t in s['templates'] if t.startswith('web-app-v1-')]")" ] ||
    fail "instances not on the app-v1 template: $(dstate "$(grp web)['instances']")"
[ "$(dstate "[(i['currentAction'], i['instanceHealth'][0]['detailedHealthState']) for i in $(grp web)['instances']]")" = \
    "[('NONE', 'HEALTHY'), ('NONE', 'HEALTHY')]" ] || fail "instances not healthy"
[ "$(dstate "($(grp web)['updatePolicy']['maxSurge']['fixed'], $(grp web)['updatePolicy']['maxUnavailable']['fixed'], $(grp web)['updatePolicy']['type'])")" = \
    "(1, 0, 'PROACTIVE')" ] || fail "update policy: $(dstate "$(grp web)['updatePolicy']")"
[ "$(dstate "$(grp web)['autoHealingPolicies'][0]['initialDelaySec']")" = 30 ] || fail "autohealing"
[ "$(dstate "list(s['healthChecks'])")" = "['web-hc-tcp-8080']" ] || fail "health check: $(dstate 's["healthChecks"]')"
[ "$(dstate "[(f['sourceRanges'], f['targetTags'], f['allowed']) for f in s['firewalls'].values()]")" = \
    "[(['35.191.0.0/16', '130.211.0.0/22'], ['web'], [{'IPProtocol': 'tcp', 'ports': ['8080']}])]" ] ||
    fail "firewall rule: $(dstate 's["firewalls"]')"
tmpl=$(dstate "list(s['templates'])[0]")
[ "$(dstate "s['templates']['$tmpl']['properties']['machineType']")" = e2-small ] || fail "machine type"
grep -q "group web: 2 instances on template $tmpl (image app-v1), created" "$T/out1" ||
    fail "result line: $(cat "$T/out1")"
ok "first deploy of 2"

deploy --group web --zone us-central1-a --status >"$T/status" 2>"$T/err" || fail "--status: $(cat "$T/err")"
[ "$(grep -c "RUNNING .*HEALTHY .*$tmpl .*app-v1 .*NONE" "$T/status")" = 2 ] ||
    fail "--status shows: $(cat "$T/status")"
ok "--status"

calls=$(dstate "sum(n for k, n in s['calls'].items() if not k.startswith('GET') and 'listManagedInstances' not in k)")
deploy --group web --zone us-central1-a --image app-v1 --size 2 --health-check tcp:8080 \
    --initial-delay 30 --json >"$T/out2" 2>"$T/err2" || fail "re-run failed: $(cat "$T/err2")"
[ "$(dstate "sum(n for k, n in s['calls'].items() if not k.startswith('GET') and 'listManagedInstances' not in k)")" = "$calls" ] ||
    fail "the re-run sent changes: $(dstate 's["calls"]')"
/usr/bin/python3 - "$T/out2" "$tmpl" <<'PY' || fail "--json: $(cat "$T/out2")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["outcome"] == "unchanged" and r["status"] == "ok" and r["template"] == sys.argv[2] and r["image"] == "app-v1", r
assert r["group"] == "web" and r["zone"] == "us-central1-a", r
assert len(r["instances"]) == 2 and all(i["health"] == "HEALTHY" for i in r["instances"]), r
PY
ok "a re-run changes nothing"
no_deploy_violations
no_secrets "$T"/out* "$T"/err*
