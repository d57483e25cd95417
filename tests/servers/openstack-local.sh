#!/bin/bash
# openstack-local.sh: a real Keystone and Glance (Debian's python3-keystone/python3-glance) on
# 127.0.0.1, with SQLite and a file store in a scratch folder, for the OpenStack tests.
#
#   openstack-local.sh start DIR          starts everything; writes DIR/clouds.yaml and
#                                         DIR/env.sh and prints clouds.yaml
#   openstack-local.sh stop DIR [--purge] stops what start started, by PID only
#
# Clouds in clouds.yaml (user demo, project demo, unless said otherwise):
#   local           password auth, region RegionOne (the Glance that takes every format)
#   local-appcred   the same project through an application credential
#   local-admin     the admin user and project (to look at everything)
#   local-noqcow2   region NoQcow2: a second Glance, sharing the first one's database and
#                   store, whose disk_formats leave out qcow2
#   local-cut       region CutRegion: the first Glance behind fault_proxy.py --cut-after, which resets any
#                   connection that sends more than 4 MiB
#   local-noregion  region NoImage: no image endpoint there
#   local-noimage   project noimage, whose catalog has no image service (endpoint filter)
#   local-hold      region HoldRegion: the first Glance behind fault_proxy.py --hold-after, which a test
#                   pauses mid-upload (touch DIR/hold/hold, wait for "holding" in
#                   DIR/log/hold_proxy.log, rm it) or takes down (touch DIR/hold/down)
#   local-shortlife region HoldRegion, authenticated through ks_proxy.py, which says every
#                   token expires 125 s after it was issued (DIR/log/ks_proxy.log counts them)
# The first Glance validates every token with Keystone (no token cache), so a token revoked
# in Keystone is refused at once.
# See docs in ../shared/docs/openstack-local.md for why each step is as it is.
set -euo pipefail

PY=/usr/bin/python3 # not pyenv's python3 first in PATH: it cannot see Debian's packages
HERE=$(cd "$(dirname "$0")" && pwd)
CUT_AFTER=$((4 << 20))
HOLD_AFTER=$((4 << 20))
TOKEN_LIFE=125

die() {
    echo "openstack-local: $*" >&2
    exit 1
}

# stop DIR: SIGTERM to each recorded PID whose command line names DIR, then SIGKILL to its
# process group after 15 s.
stop() {
    local dir=$1 pidfile pid pids=() n
    for pidfile in "$dir"/run/*.pid; do
        [ -e "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        rm -f "$pidfile"
        [[ "$pid" =~ ^[0-9]+$ ]] || continue
        if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir"; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    for ((n = 0; n < 150; n++)); do
        local alive=0
        for pid in "${pids[@]}"; do
            [ -d "/proc/$pid" ] && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && return 0
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
}

wait_http() { # URL SECONDS PIDFILE...: until URL answers 200, while the PIDs live
    local url=$1 secs=$2 i pidfile
    shift 2
    for ((i = 0; i < secs * 5; i++)); do
        if [ "$(curl -m 2 -s -o /dev/null -w '%{http_code}' "$url" || true)" = 200 ]; then
            return 0
        fi
        for pidfile in "$@"; do
            [ -d "/proc/$(cat "$pidfile")" ] || die "$(basename "$pidfile" .pid) died; see $DIR/log"
        done
        sleep 0.2
    done
    die "$url did not answer in $secs s; see $DIR/log"
}

wal() {
    "$PY" -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL").fetchall()' "$1"
}

write_glance_conf() { # FILE PORT DISK_FORMATS LOGNAME [TOKEN_CACHE_TIME]
    cat >"$1" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = $2
workers = 0
log_file = $DIR/log/$4.log
enabled_backends = fs:file
[database]
connection = sqlite:///$DIR/glance/glance.db
[glance_store]
default_backend = fs
[fs]
filesystem_store_datadir = $DIR/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $DIR/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $DIR/glance/tasks
[image_format]
disk_formats = $3
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KPORT/v3
auth_url = http://127.0.0.1:$KPORT/v3
auth_type = password
username = admin
password = $ADMIN_PW
project_name = admin
user_domain_name = Default
project_domain_name = Default
token_cache_time = ${5:-300}
[paste_deploy]
flavor = keystone
config_file = $DIR/glance-api-paste.ini
[oslo_concurrency]
lock_path = $DIR/glance/locks
[oslo_policy]
enforce_new_defaults = false
EOF
}

start() {
    DIR=$1
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    [ -z "$(ls -A "$DIR" 2>/dev/null)" ] || [ -e "$DIR/.openstack-local" ] ||
        die "$DIR is not empty and not ours"
    "$PY" -c 'import keystone, glance, gunicorn' 2>/dev/null ||
        die "python3-keystone, python3-glance and python3-gunicorn are needed (scripts/deps-openstack.txt)"
    command -v curl >/dev/null || die "curl is needed"
    touch "$DIR/.openstack-local"
    mkdir -p "$DIR"/{log,run,empty,hold} "$DIR"/keystone/{fernet-keys,receipt-keys,credential-keys} \
        "$DIR"/glance/{images,staging,tasks,locks}
    chmod 700 "$DIR"/keystone/*-keys
    trap 'stop "$DIR"' EXIT

    read -r KPORT GPORT G2PORT PPORT HPORT KPPORT < <("$PY" -c '
import socket
s = [socket.socket() for _ in range(6)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
    ADMIN_PW=$("$PY" -c 'import secrets; print(secrets.token_hex(12))')
    DEMO_PW=$("$PY" -c 'import secrets; print(secrets.token_hex(12))')

    cat >"$DIR/keystone.conf" <<EOF
[DEFAULT]
log_file = $DIR/log/keystone.log
[database]
connection = sqlite:///$DIR/keystone/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $DIR/keystone/fernet-keys
[fernet_receipts]
key_repository = $DIR/keystone/receipt-keys
[credential]
key_repository = $DIR/keystone/credential-keys
[identity]
password_hash_rounds = 4
EOF
    # oslo.config would parse gunicorn's argv and make every worker exit: hide it.
    cat >"$DIR/keystone_wsgi.py" <<EOF
import sys
sys.argv = sys.argv[:1] + ["--config-dir", "$DIR/empty"]
from keystone.server.wsgi import initialize_public_application
application = initialize_public_application()
EOF
    cat >"$DIR/glance-api-paste.ini" <<'EOF'
[pipeline:glance-api-keystone]
pipeline = healthcheck versionnegotiation authtoken context rootapp
[composite:rootapp]
paste.composite_factory = glance.api:root_app_factory
/: apiversions
/v2: apiv2app
[app:apiversions]
paste.app_factory = glance.api.versions:create_resource
[app:apiv2app]
paste.app_factory = glance.api.v2.router:API.factory
[filter:healthcheck]
paste.filter_factory = oslo_middleware:Healthcheck.factory
backends = disable_by_file
disable_by_file_path = /nonexistent/healthcheck_disable
[filter:versionnegotiation]
paste.filter_factory = glance.api.middleware.version_negotiation:VersionNegotiationFilter.factory
[filter:context]
paste.filter_factory = glance.api.middleware.context:ContextMiddleware.factory
[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory
delay_auth_decision = true
EOF
    write_glance_conf "$DIR/glance-api.conf" "$GPORT" "ami,ari,aki,vhd,vhdx,vmdk,raw,qcow2,vdi,iso,ploop" glance -1
    write_glance_conf "$DIR/glance-noqcow2.conf" "$G2PORT" "raw,iso" glance-noqcow2

    local km=(/usr/bin/keystone-manage --config-file "$DIR/keystone.conf")
    local me grp
    me=$(id -un)
    grp=$(id -gn)
    # Keystone and Glance set up in parallel.
    (
        "${km[@]}" fernet_setup --keystone-user "$me" --keystone-group "$grp" &
        "${km[@]}" credential_setup --keystone-user "$me" --keystone-group "$grp" &
        "${km[@]}" db_sync
        wait
        wal "$DIR/keystone/keystone.db"
        "${km[@]}" bootstrap --bootstrap-password "$ADMIN_PW" \
            --bootstrap-admin-url "http://127.0.0.1:$KPORT/v3" \
            --bootstrap-internal-url "http://127.0.0.1:$KPORT/v3" \
            --bootstrap-public-url "http://127.0.0.1:$KPORT/v3" \
            --bootstrap-region-id RegionOne
    ) >"$DIR/log/keystone-setup.log" 2>&1 &
    local kchain=$!
    (
        "$PY" -m glance.cmd.manage --config-file "$DIR/glance-api.conf" db_sync
        wal "$DIR/glance/glance.db"
    ) >"$DIR/log/glance-setup.log" 2>&1 || die "glance db_sync failed; see $DIR/log/glance-setup.log"

    setsid "$PY" -m glance.cmd.api --config-file "$DIR/glance-api.conf" \
        </dev/null >"$DIR/log/glance.out" 2>&1 &
    echo $! >"$DIR/run/glance.pid"
    setsid "$PY" -m glance.cmd.api --config-file "$DIR/glance-noqcow2.conf" \
        </dev/null >"$DIR/log/glance-noqcow2.out" 2>&1 &
    echo $! >"$DIR/run/glance-noqcow2.pid"
    setsid "$PY" "$HERE/fault_proxy.py" --port "$PPORT" --target "127.0.0.1:$GPORT" \
        --cut-after "$CUT_AFTER" --log "$DIR/log/cut_proxy.log" \
        </dev/null >"$DIR/log/cut_proxy.out" 2>&1 &
    echo $! >"$DIR/run/cut_proxy.pid"
    setsid "$PY" "$HERE/fault_proxy.py" --port "$HPORT" --target "127.0.0.1:$GPORT" \
        --hold-after "$HOLD_AFTER" --control "$DIR/hold" --log "$DIR/log/hold_proxy.log" \
        </dev/null >"$DIR/log/hold_proxy.out" 2>&1 &
    echo $! >"$DIR/run/hold_proxy.pid"
    setsid "$PY" "$HERE/ks_proxy.py" --port "$KPPORT" --target "127.0.0.1:$KPORT" \
        --token-life "$TOKEN_LIFE" --log "$DIR/log/ks_proxy.log" \
        </dev/null >"$DIR/log/ks_proxy.out" 2>&1 &
    echo $! >"$DIR/run/ks_proxy.pid"

    wait "$kchain" || die "keystone setup failed; see $DIR/log/keystone-setup.log"
    (cd "$DIR" && OS_KEYSTONE_CONFIG_FILES="$DIR/keystone.conf" exec setsid "$PY" -m gunicorn \
        --workers 1 --worker-class sync --bind "127.0.0.1:$KPORT" --chdir "$DIR" \
        --pid "$DIR/run/gunicorn.pidfile" keystone_wsgi:application \
        </dev/null >"$DIR/log/keystone.out" 2>&1) &
    echo $! >"$DIR/run/keystone.pid"

    wait_http "http://127.0.0.1:$KPORT/v3" 60 "$DIR/run/keystone.pid"
    "$PY" "$HERE/openstack_setup.py" "$DIR" "$KPORT" "$GPORT" "$G2PORT" "$PPORT" "$HPORT" \
        "$KPPORT" >"$DIR/log/setup.log" 2>&1 <<EOF || die "setting up users and endpoints failed; see $DIR/log/setup.log"
$ADMIN_PW
$DEMO_PW
EOF
    wait_http "http://127.0.0.1:$GPORT/healthcheck" 60 "$DIR/run/glance.pid"
    wait_http "http://127.0.0.1:$G2PORT/healthcheck" 60 "$DIR/run/glance-noqcow2.pid"
    wait_http "http://127.0.0.1:$PPORT/healthcheck" 10 "$DIR/run/cut_proxy.pid"
    wait_http "http://127.0.0.1:$HPORT/healthcheck" 10 "$DIR/run/hold_proxy.pid"
    wait_http "http://127.0.0.1:$KPPORT/v3" 10 "$DIR/run/ks_proxy.pid"
    "$PY" "$HERE/openstack_setup.py" --check "$DIR" >>"$DIR/log/setup.log" 2>&1 ||
        die "Glance does not list images; see $DIR/log"

    cat >"$DIR/env.sh" <<EOF
export OS_CLIENT_CONFIG_FILE=$DIR/clouds.yaml
export OS_CLOUD=local
EOF
    trap - EXIT
    cat "$DIR/clouds.yaml"
}

case "${1:-}" in
start)
    [ $# -eq 2 ] || die "usage: $0 start DIR"
    start "$2"
    ;;
stop)
    [ $# -ge 2 ] || die "usage: $0 stop DIR [--purge]"
    [ -d "$2" ] || exit 0
    DIR=$(cd "$2" && pwd)
    stop "$DIR"
    if [ "${3:-}" = --purge ] && [ -e "$DIR/.openstack-local" ]; then
        rm -rf "$DIR"
    fi
    ;;
*)
    die "usage: $0 start DIR | stop DIR [--purge]"
    ;;
esac
