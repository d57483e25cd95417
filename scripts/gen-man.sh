#!/usr/bin/env bash
# gen-man.sh BINARY OUTDIR: writes man pages for the command and each subcommand from the
# command's own help texts, so that --help and the man pages never disagree.
set -euo pipefail
bin=$1
out=$2
mkdir -p "$out"
version=$("$bin" --version | awk '{print $2}')
date=${SOURCE_DATE_EPOCH:+$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)}
date=${date:-2026-01-01}

# roff-escape: backslashes, leading dots and quotes would be read as requests.
escape() {
    sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\\&'/" -e 's/-/\\-/g'
}

page() { # NAME SECTION-TITLE SUMMARY HELP-TEXT-FILE
    local name=$1 summary=$2 text=$3
    {
        printf '.TH %s 1 "%s" "unikernel-mkimage %s" "User Commands"\n' \
            "$(echo "$name" | tr a-z A-Z)" "$date" "$version"
        printf '.SH NAME\n%s \\- %s\n' "$name" "$summary"
        printf '.SH DESCRIPTION\n.nf\n'
        escape <"$text"
        printf '.fi\n'
        printf '.SH EXIT STATUS\n0 success; 1 failure, or a check that did not pass; 2 command-line error.\n'
        printf '.SH SEE ALSO\n.BR unikernel-mkimage (1)\n'
    } >"$out/$name.1"
}

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$bin" help >"$tmp"
page unikernel-mkimage "build, pack, upload and boot unikernel disk images" "$tmp"
"$bin" help | awk '/^Commands:/ {on=1; next} on && NF == 0 {on=0} on {print $1}' |
while read -r cmd; do
    summary=$("$bin" help | awk -v c="$cmd" '$1 == c {$1=""; sub(/^ +/, ""); print}')
    "$bin" help "$cmd" >"$tmp"
    page "unikernel-mkimage-$cmd" "$summary" "$tmp"
done
