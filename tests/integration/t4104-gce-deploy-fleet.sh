# t4104-gce-deploy-fleet.sh: a regional group (regional Operations, instances over three
# zones, a surge of 3), an autoscaler created then updated (PATCH ?autoscaler=), and the
# pruning of a group's old templates (--keep-templates).
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_env.sh"
source "$MK_SOURCE_DIR/tests/servers/fake_gce_deploy_env.sh"
need curl

start_deploy_server
for v in 1 2 3 4; do push_image app-v$v serve=ok; done

# Regional.
reg=(--group edge --region us-central1 --health-check tcp:8080 --initial-delay 5)
deploy "${reg[@]}" --image app-v1 --size 3 >"$T/out1" 2>"$T/err1" ||
    fail "regional deploy failed: $(cat "$T/err1")"
g=$(grp edge regions/us-central1)
[ "$(dstate "sorted(set(i['zone'] for i in $g['instances']))")" = \
    "['us-central1-a', 'us-central1-b', 'us-central1-c']" ] || fail "zones: $(dstate "$g['instances']")"
[ "$(dstate "($g['updatePolicy']['maxSurge']['fixed'], $g['updatePolicy']['maxUnavailable']['fixed'], $g['updatePolicy']['instanceRedistributionType'])")" = \
    "(3, 0, 'PROACTIVE')" ] || fail "regional policy: $(dstate "$g['updatePolicy']")"
deploy "${reg[@]}" --image app-v2 >"$T/out2" 2>"$T/err2" || fail "regional update failed: $(cat "$T/err2")"
[ "$(dstate "sorted(i['template'][:12] for i in $g['instances'])")" = \
    "['edge-app-v2-', 'edge-app-v2-', 'edge-app-v2-']" ] || fail "regional update: $(dstate "$g['instances']")"
dscript "
h = $g['history']
i = next(n for n, e in enumerate(h) if e['available'] >= 3)
assert all(e['available'] >= 3 and e['existing'] <= 6 for e in h[i:]), h
print('ok')" >/dev/null || fail "regional availability: $(dstate "$g['history']")"
deploy --group edge --region us-central1 --status >"$T/status" 2>"$T/err" || fail "regional --status"
[ "$(grep -c "us-central1-[abc] *RUNNING *HEALTHY *edge-app-v2-" "$T/status")" = 3 ] ||
    fail "regional --status: $(cat "$T/status")"
ok "regional group"

# Autoscaler.
deploy --group api --zone us-central1-b --image app-v1 --autoscale 2:5:70 >"$T/out3" 2>"$T/err3" ||
    fail "autoscaled deploy failed: $(cat "$T/err3")"
a="s['autoscalers']['zones/us-central1-b/api-as']"
[ "$(dstate "($a['autoscalingPolicy']['minNumReplicas'], $a['autoscalingPolicy']['maxNumReplicas'], $a['autoscalingPolicy']['cpuUtilization']['utilizationTarget'], $a['target'].endswith('/zones/us-central1-b/instanceGroupManagers/api'))")" = \
    "(2, 5, 0.7, True)" ] || fail "autoscaler: $(dstate "s['autoscalers']")"
[ "$(dstate "$(grp api zones/us-central1-b)['targetSize'], len($(grp api zones/us-central1-b)['instances'])")" = "2 2" ] ||
    fail "autoscaled group size"
[ "$(dstate "$(grp api zones/us-central1-b)['status']['autoscaler'].endswith('/autoscalers/api-as')")" = True ] ||
    fail "the group does not name its autoscaler"
deploy --group api --zone us-central1-b --image app-v2 --autoscale 2:6 >"$T/out4" 2>"$T/err4" ||
    fail "autoscaler update failed: $(cat "$T/err4")"
[ "$(dstate "($a['autoscalingPolicy']['maxNumReplicas'], $a['autoscalingPolicy']['cpuUtilization']['utilizationTarget'])")" = \
    "(6, 0.6)" ] || fail "autoscaler not updated: $(dstate "s['autoscalers']")"
[ "$(dstate "s['calls'].get('PATCH autoscalers')")" = 1 ] || fail "autoscaler calls: $(dstate "s['calls']")"
[ "$(dstate "sorted(i['template'][:11] for i in $(grp api zones/us-central1-b)['instances'])")" = \
    "['api-app-v2-', 'api-app-v2-']" ] || fail "autoscaled update"
ok "autoscaler created and updated"

# Pruning: four releases, the newest two templates kept.
for v in 1 2 3 4; do
    deploy --group web --zone us-central1-a --image app-v$v --keep-templates 2 >"$T/out5" 2>"$T/err5" ||
        fail "deploy of v$v failed: $(cat "$T/err5")"
done
[ "$(dstate "sorted(t[:11] for t in s['templates'] if t.startswith('web-'))")" = "['web-app-v3-', 'web-app-v4-']" ] ||
    fail "templates after pruning: $(dstate "list(s['templates'])")"
[ "$(dstate "len([t for t in s['templates'] if t.startswith('api-')])")" = 2 ] ||
    fail "another group's templates were pruned"
ok "old templates pruned, the newest kept"
no_deploy_violations
