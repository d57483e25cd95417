#!/usr/bin/env bash
# t9300-docs: the man pages that ship, rendered with `man -l`: every page has its sections
# (NAME, DESCRIPTION, ENVIRONMENT naming every variable the code reads, FILES, EXIT STATUS,
# EXAMPLES where the help has them, SEE ALSO naming the other pages); pages for each cloud's
# options, the spec format, the plugin protocol and solo5-virtio-mkimage; the date is the
# release's, not a constant; bash completion knows clouds and each cloud's options.
. "$(dirname "$0")/lib.sh"
need man groff zsh
: "${MK_BUILD_DIR:?}"
man="$MK_BUILD_DIR/man"

render() { MANWIDTH=100 man -l "$1" 2>"$T/man.err" | col -b; [ ! -s "$T/man.err" ] || fail "man -l $1: $(cat "$T/man.err")"; }

cmds=$("$MKIMAGE" help | awk '/^Commands:/ {on=1; next} on && NF == 0 {on=0} on {print $1}')
pages="unikernel-mkimage.1 solo5-virtio-mkimage.1 unikernel-mkimage-push-gce.1 unikernel-mkimage-push-openstack.1"
for c in $cmds; do pages+=" unikernel-mkimage-$c.1"; done
for p in $pages; do
    [ -f "$man/$p" ] || fail "no man page $p"
    render "$man/$p" >"$T/page.txt"
    for section in NAME DESCRIPTION ENVIRONMENT FILES "EXIT STATUS" "SEE ALSO"; do
        grep -q "^$section\$" "$T/page.txt" || fail "$p has no $section section"
    done
    groff -man -Tutf8 -ww "$man/$p" >/dev/null 2>"$T/groff.err"
    [ ! -s "$T/groff.err" ] || fail "groff warnings for $p: $(cat "$T/groff.err")"
done
for p in unikernel-mkimage.yaml.5 unikernel-mkimage-plugins.7; do
    [ -f "$man/$p" ] || fail "no man page $p"
    render "$man/$p" >"$T/page.txt"
    for section in NAME DESCRIPTION "SEE ALSO"; do
        grep -q "^$section\$" "$T/page.txt" || fail "$p has no $section section"
    done
done
grep -q "kernel:" <(render "$man/unikernel-mkimage.yaml.5") || fail "the spec page lacks the format"
ok "every page renders with its sections"

# EXAMPLES wherever the help text has an example.
for c in $cmds; do
    if "$MKIMAGE" help "$c" | grep -q '^Examples\?:'; then
        render "$man/unikernel-mkimage-$c.1" | grep -q '^EXAMPLES$' || fail "no EXAMPLES in the $c page"
    fi
done
ok "EXAMPLES"

# SEE ALSO of the main page names every other page.
render "$man/unikernel-mkimage.1" | sed -n '/^SEE ALSO$/,$p' | tr -d '\n ' >"$T/see"
for p in $pages unikernel-mkimage.yaml.5 unikernel-mkimage-plugins.7; do
    [ "$p" = unikernel-mkimage.1 ] && continue
    name=${p%.*}
    grep -qF "$name(${p##*.})" "$T/see" || fail "SEE ALSO of unikernel-mkimage(1) lacks $name"
done
ok "SEE ALSO lists the subcommand pages"

# ENVIRONMENT of the main page: every variable the code reads (tests' own aside).
render "$man/unikernel-mkimage.1" | sed -n '/^ENVIRONMENT$/,/^FILES$/p' >"$T/env"
vars=$(grep -rhoE 'getenv\("[A-Z_]+"\)' "$MK_SOURCE_DIR"/mkimage "$MK_SOURCE_DIR"/uploaders \
    "$MK_SOURCE_DIR"/cli "$MK_SOURCE_DIR"/bootloader | sed 's/getenv("\(.*\)")/\1/' | sort -u | grep -v '^MK_TEST')
vars+=" $(grep -rhoE '"OS_[A-Z_]+"' "$MK_SOURCE_DIR"/uploaders/openstack | tr -d '"' | sort -u)"
vars+=" CLOUDSDK_COMPUTE_ZONE CLOUDSDK_COMPUTE_REGION CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT"
for v in $vars; do
    grep -q "\b$v\b" "$T/env" || fail "ENVIRONMENT of unikernel-mkimage(1) does not name $v"
done
ok "ENVIRONMENT names every variable read ($(echo $vars | wc -w))"

# The date is the release's: the last commit's when built from git, else SOURCE_DATE_EPOCH.
th_date() { sed -n 's/^\.TH [^ ]* [0-9] "\([^"]*\)".*/\1/p' "$1"; }
if git -C "$MK_SOURCE_DIR" log -1 --format=%cs >"$T/gitdate" 2>/dev/null && [ -s "$T/gitdate" ]; then
    [ "$(th_date "$man/unikernel-mkimage.1")" = "$(cat "$T/gitdate")" ] ||
        fail "man date $(th_date "$man/unikernel-mkimage.1"), last commit $(cat "$T/gitdate")"
fi
SOURCE_DATE_EPOCH=1700000000 bash "$MK_SOURCE_DIR/scripts/gen-man.sh" "$MKIMAGE" "$T/man2" "$MK_SOURCE_DIR"
[ "$(th_date "$T/man2/unikernel-mkimage-build.1")" = 2023-11-14 ] ||
    fail "SOURCE_DATE_EPOCH not used: $(th_date "$T/man2/unikernel-mkimage-build.1")"
ok "the date comes from the release"

# Completion: clouds, a cloud's own options, templates, formats.
(
    source "$MK_SOURCE_DIR/doc/unikernel-mkimage.bash-completion"
    COMP_WORDS=("$MKIMAGE" push o); COMP_CWORD=2
    _unikernel_mkimage
    [ "${COMPREPLY[*]}" = "openstack" ] || fail "completion of 'push o': ${COMPREPLY[*]}"
    COMP_WORDS=("$MKIMAGE" push gce --buck); COMP_CWORD=3
    _unikernel_mkimage
    [ "${COMPREPLY[*]}" = "--bucket" ] || fail "completion of 'push gce --buck': ${COMPREPLY[*]}"
    COMP_WORDS=("$MKIMAGE" push openstack --os-c); COMP_CWORD=3
    _unikernel_mkimage
    [ "${COMPREPLY[*]}" = "--os-cloud" ] || fail "completion of 'push openstack --os-c': ${COMPREPLY[*]}"
    COMP_WORDS=("$MKIMAGE" build -t s); COMP_CWORD=3
    _unikernel_mkimage
    [ "${COMPREPLY[*]}" = "solo5" ] || fail "completion of '-t s': ${COMPREPLY[*]}"
    COMP_WORDS=("$MKIMAGE" pack -f q); COMP_CWORD=3
    _unikernel_mkimage
    [ "${COMPREPLY[*]}" = "qcow2" ] || fail "completion of '-f q': ${COMPREPLY[*]}"
)
grep -q '^#compdef unikernel-mkimage' "$MK_SOURCE_DIR/doc/_unikernel-mkimage" || fail "no zsh completion"
zsh -n "$MK_SOURCE_DIR/doc/_unikernel-mkimage" || fail "zsh completion: syntax"
# zsh_comp WORD...: what the zsh completion offers for the last word, on one line (the
# commands it runs are leak-checked when bash's completion runs them above).
zsh_comp() {
    without_leak_check zsh -f "$MK_SOURCE_DIR/tests/integration/zsh_complete.zsh" \
        "$MK_SOURCE_DIR/doc/_unikernel-mkimage" "$MKIMAGE" "$@" | tr '\n' ' '
}
for c in build push deploy run boot; do
    [[ " $(zsh_comp "") " == *" $c "* ]] || fail "zsh completion of commands lacks $c: $(zsh_comp "")"
done
[[ "$(zsh_comp push "")" == *gce*openstack* ]] || fail "zsh completion of clouds: $(zsh_comp push "")"
[[ " $(zsh_comp push gce --buck) " == *" --bucket "* ]] ||
    fail "zsh completion of gce's options: $(zsh_comp push gce --buck)"
[[ " $(zsh_comp push openstack --os-c) " == *" --os-cloud "* ]] ||
    fail "zsh completion of openstack's options: $(zsh_comp push openstack --os-c)"
[ "$(zsh_comp build -t s)" = "<files> multiboot solo5 hermit " ] ||
    fail "zsh completion of templates: $(zsh_comp build -t s)"
[ "$(zsh_comp pack -f q)" = "raw gce qcow2 " ] || fail "zsh completion of formats: $(zsh_comp pack -f q)"
ok "completion (bash and zsh): commands, clouds, each cloud's options, templates, formats"
