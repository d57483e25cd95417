# fake_gce_deploy_env.sh: shared set-up for the t41NN-gce-deploy tests. Source it after
# fake_gce_env.sh: it starts the server with fast timings (a rolling update of a few
# instances takes seconds), pushes images, and queries the deploy side of the server.

# start_deploy_server [ARGS...]: the fake with instances that boot in ticks of 20 ms.
start_deploy_server() {
    start_server --tick 0.02 --create-ticks 4 --verify-ticks 4 --delete-ticks 3 \
        --autoheal-ticks 10 --retry-ticks 5 "$@"
    write_key "$T/key.json"
}

# The options every deploy/run against the fake needs.
deploy_conn() {
    echo --credentials "$T/key.json" --compute-endpoint "$BASE/compute/v1/" --backoff 0.01
}

deploy() {
    "$MKIMAGE" deploy gce $(deploy_conn) --poll-interval 0.1 "$@"
}

# push_image NAME [KERNEL-ARGS...]: builds the probe kernel with ARGS and makes image NAME.
push_image() {
    local name=$1
    shift
    "$MKIMAGE" push gce $(gce_opts) --name "$name" -q "$MBPROBE" -- "$@" >/dev/null \
        2>"$T/push-$name.err" || fail "push of $name failed: $(cat "$T/push-$name.err")"
}

# dstate PYTHON-EXPR: evaluates EXPR with s = the server's /_deploy_state.
dstate() {
    curl -sf "$BASE/_deploy_state" |
        /usr/bin/python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"
}

# dscript PYTHON: runs PYTHON with s = the server's /_deploy_state.
dscript() {
    curl -sf "$BASE/_deploy_state" >"$T/dstate.json"
    /usr/bin/python3 -c "import json; s=json.load(open('$T/dstate.json'))
$1"
}

# grp NAME [SCOPE]: the group's record in the server's state, as a Python expression.
grp() {
    echo "s['groups']['${2:-zones/us-central1-a}/$1']"
}

# The history of a group never had fewer than MIN available instances once it had reached
# them, nor more than MAX in existence.
availability_kept() {
    local g=$1 min=$2 max=$3
    dscript "
h = $(grp "$g")['history']
reached = False
bad = []
for e in h:
    if e['available'] >= $min: reached = True
    if reached and e['available'] < $min: bad.append(e)
    if e['existing'] > $max: bad.append(e)
print('ok' if reached and not bad else 'history breaks the bounds: %r' % (bad or h))
"
}

no_deploy_violations() {
    local v
    v=$(dstate 's["violations"]')
    [ "$v" = "[]" ] || fail "the server saw protocol violations: $v"
}
