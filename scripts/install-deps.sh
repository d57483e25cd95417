#!/usr/bin/env bash
# install-deps.sh [--tests]: installs the Debian packages the build needs (scripts/deps.txt),
# and with --tests also what the test suite needs (scripts/deps-*.txt: OpenStack services,
# libguestfs). Needs root (or sudo). Safe to run again: apt skips what is installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lists=("$here/deps.txt")
if [ "${1:-}" = "--tests" ]; then
    for f in "$here"/deps-*.txt; do
        [ -e "$f" ] && lists+=("$f")
    done
fi
mapfile -t pkgs < <(cat "${lists[@]}" | sed 's/#.*//' | awk 'NF {print $1}' | sort -u)

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all ${#pkgs[@]} packages present"
    exit 0
fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get -o DPkg::Lock::Timeout=900 update -qq
$sudo apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
