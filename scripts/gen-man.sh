#!/usr/bin/env bash
# gen-man.sh BINARY OUTDIR [SOURCE_DIR] [DATE]: writes the man pages from the command's own
# help texts (so that --help and the man pages never disagree) and from the documents that
# ship with it:
#   unikernel-mkimage.1, unikernel-mkimage-COMMAND.1 (each command),
#   unikernel-mkimage-push-CLOUD.1 (each built-in cloud's options), solo5-virtio-mkimage.1,
#   unikernel-mkimage.yaml.5 (templates/SPEC.md), unikernel-mkimage-plugins.7
#   (uploaders/plugins/PLUGINS.md).
# The date is the release's: DATE (CMake passes the last commit's date), else
# SOURCE_DATE_EPOCH, else the newest mtime of the documents.
set -euo pipefail
bin=$1
out=$2
src=${3:-$(cd "$(dirname "$0")/.." && pwd)}
date=${4:-}
mkdir -p "$out"
version=$("$bin" --version | awk '{print $2}')
if [ -z "$date" ] && [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%d)
fi
if [ -z "$date" ]; then
    date=$(date -u -d "@$(stat -c %Y "$src/templates/SPEC.md" "$src/uploaders/plugins/PLUGINS.md" \
        "$src/CMakeLists.txt" | sort -n | tail -1)" +%Y-%m-%d)
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# roff-escape: backslashes, leading dots and quotes would be read as requests.
escape() {
    sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\\&'/" -e 's/-/\\-/g'
}

# Variables, by the pages that read them (one "NAME<TAB>what" per line).
env_common="MK_TEMPLATE_DIR	a folder of grub.cfg templates: NAME.cfg there overrides the built-in template NAME and adds your own (the built-in ones are compiled in)
SOURCE_DATE_EPOCH	timestamps in the filesystem and archives (default 0), for reproducible images
TMPDIR	where temporary files go (boot unpacking an archive, inspect --deep, push with a spec)
PATH	where grub-mkimage, qemu-system-x86_64 and uploader plugins (unikernel-mkimage-uploader-NAME) are found"
env_gce="GOOGLE_APPLICATION_CREDENTIALS	a credentials file (service_account, authorized_user, external_account, impersonated_service_account); set but unreadable is an error
CLOUDSDK_CONFIG	gcloud's folder (default ~/.config/gcloud): application_default_credentials.json, active_config, configurations/config_NAME
CLOUDSDK_ACTIVE_CONFIG_NAME	the gcloud configuration to read (default: the file active_config, else default)
GOOGLE_CLOUD_PROJECT	the project, when --project is not given
CLOUDSDK_CORE_PROJECT	the project (over gcloud's core/project)
CLOUDSDK_COMPUTE_ZONE	the zone of --boot-check instances (over gcloud's compute/zone)
CLOUDSDK_COMPUTE_REGION	the region (over gcloud's compute/region), named in hints
CLOUDSDK_AUTH_IMPERSONATE_SERVICE_ACCOUNT	a service account to impersonate (over gcloud's auth/impersonate_service_account)
CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE	the Compute Engine API base URL
CLOUDSDK_API_ENDPOINT_OVERRIDES_IAMCREDENTIALS	the IAM Credentials API base URL (impersonation)
STORAGE_EMULATOR_HOST	the Cloud Storage endpoint (host:port or URL)
GCE_METADATA_HOST	the metadata server (host:port) to take credentials from
NO_GCE_CHECK	true or 1: do not probe 169.254.169.254 for a metadata server
XDG_STATE_HOME	where interrupted uploads are remembered for resuming (default ~/.local/state)
HOME	to find ~/.config/gcloud and ~/.local/state"
env_openstack="OS_CLOUD	the cloud in clouds.yaml (or --os-cloud)
OS_CLIENT_CONFIG_FILE	a clouds.yaml to read first
OS_CLIENT_SECURE_FILE	a secure.yaml to read first
OS_AUTH_URL, OS_AUTH_TYPE, OS_IDENTITY_API_VERSION	Keystone, without clouds.yaml
OS_USERNAME, OS_USER_ID, OS_PASSWORD, OS_USER_DOMAIN_NAME, OS_USER_DOMAIN_ID	the user
OS_PROJECT_NAME, OS_PROJECT_ID, OS_TENANT_NAME, OS_TENANT_ID, OS_PROJECT_DOMAIN_NAME, OS_PROJECT_DOMAIN_ID	the project
OS_DEFAULT_DOMAIN, OS_DEFAULT_DOMAIN_ID, OS_DEFAULT_DOMAIN_NAME	the domain when none is given
OS_APPLICATION_CREDENTIAL_ID, OS_APPLICATION_CREDENTIAL_NAME, OS_APPLICATION_CREDENTIAL_SECRET	application credentials
OS_TOKEN	a token (auth type token)
OS_REGION_NAME, OS_INTERFACE, OS_ENDPOINT_TYPE	which catalog endpoint to use
OS_IMAGE_ENDPOINT_OVERRIDE	the Glance endpoint, in place of the catalog's
OS_CACERT, OS_CERT, OS_KEY, OS_INSECURE	TLS
XDG_CONFIG_HOME, HOME	where clouds.yaml and secure.yaml are looked for (./, ~/.config/openstack, /etc/openstack)"
env_deep="MK_INSPECT_LIMITS	MIB:CPU:WALL: the memory (MiB), CPU and wall-clock seconds of the child process that reads an image for inspect
MK_GUESTFS_LIBRARY	the libguestfs shared object inspect --deep opens (default libguestfs.so.0)
LIBGUESTFS_BACKEND_SETTINGS	passed to libguestfs"

env_section() { # LISTS...
    printf '.SH ENVIRONMENT\n'
    printf '%s\n' "$@" | while IFS=$'\t' read -r name what; do
        [ -n "$name" ] || continue
        printf '.TP\n.B %s\n%s\n' "$(printf '%s' "$name" | escape)" "$(printf '%s' "$what" | escape)"
    done
}

files_section() { # NAME
    printf '.SH FILES\n'
    case $1 in
    *push*|unikernel-mkimage)
        printf '.TP\n.I ~/.config/gcloud/\ngcloud'"'"'s credentials and configurations (or \\fB$CLOUDSDK_CONFIG\\fR)\n'
        printf '.TP\n.I clouds.yaml, secure.yaml\nOpenStack clouds: ./, ~/.config/openstack/, /etc/openstack/\n'
        printf '.TP\n.I $XDG_STATE_HOME/unikernel\\-mkimage/\nsessions of interrupted uploads, for resuming\n' ;;
    esac
    printf '.TP\n.I ./unikernel\\-mkimage.yaml\nthe image spec read when no KERNEL is given (see \\fBunikernel\\-mkimage.yaml\\fR(5))\n'
    printf '.TP\n.I $MK_TEMPLATE_DIR/NAME.cfg\nyour own grub.cfg templates\n'
}

exit_section() {
    printf '.SH EXIT STATUS\n.TP\n.B 0\nsuccess\n.TP\n.B 1\nfailure: the work failed (nothing half-made is left), or a check it was asked for did not pass\n.TP\n.B 2\ncommand-line error\n.TP\n.B 130\ninterrupted (Ctrl-C); a push resumes when run again\n'
}

# The lines after "Example:" or "Examples:" in a help text.
examples_section() { # HELP-FILE
    local ex
    ex=$(awk '/^Examples?:/ {on=1; next} on && NF == 0 {on=0} on' "$1")
    [ -n "$ex" ] || return 0
    printf '.SH EXAMPLES\n.nf\n'
    printf '%s\n' "$ex" | sed 's/^  //' | escape
    printf '.fi\n'
}

see_also() { # NAME
    local self=$1 first=1
    printf '.SH SEE ALSO\n'
    for p in $pages; do
        [ "$p" = "$self" ] && continue
        [ $first = 1 ] || printf ',\n'
        first=0
        printf '.BR %s (%s)' "$(printf '%s' "${p%.*}" | escape)" "${p##*.}"
    done
    printf '\n'
}

page() { # FILE SECTION SUMMARY HELP-TEXT-FILE ENV-LISTS...
    local file=$1 section=$2 summary=$3 text=$4 name=${1%.*}
    shift 4
    {
        # No hyphenation: the names of commands, options and variables must stay whole.
        printf '.TH %s %s "%s" "unikernel-mkimage %s" "%s"\n.nh\n' \
            "$(echo "$name" | tr a-z A-Z)" "$section" "$date" "$version" \
            "$([ "$section" = 1 ] && echo "User Commands" || echo "File Formats and Conventions")"
        printf '.SH NAME\n%s \\- %s\n' "$(printf '%s' "$name" | escape)" "$summary"
        printf '.SH DESCRIPTION\n.nf\n'
        escape <"$text"
        printf '.fi\n'
        [ "$section" != 1 ] || env_section "$@"
        [ "$section" != 1 ] || files_section "$name"
        [ "$section" != 1 ] || exit_section
        examples_section "$text"
        see_also "$file"
    } >"$out/$file"
}

# Markdown (our own documents: headings, paragraphs, lists, code blocks, tables) as roff.
markdown_page() { # FILE SECTION SUMMARY MARKDOWN
    local file=$1 section=$2 summary=$3 md=$4 name=${1%.*}
    {
        printf '.TH %s %s "%s" "unikernel-mkimage %s" "%s"\n.nh\n' \
            "$(echo "$name" | tr a-z A-Z)" "$section" "$date" "$version" \
            "$([ "$section" = 5 ] && echo "File Formats" || echo "Miscellaneous")"
        printf '.SH NAME\n%s \\- %s\n' "$(printf '%s' "$name" | escape)" "$summary"
        printf '.SH DESCRIPTION\n'
        awk '
            /^```/ { if (code) { print ".fi"; code = 0 } else { print ".nf"; code = 1 }; next }
            code { print; next }
            /^# / { next }
            /^##+ / { sub(/^##+ /, ""); print ".SH " toupper($0); next }
            /^[ \t]*$/ { print ".PP"; next }
            /^\|[- |:]+\|$/ { next }
            /^\|/ { gsub(/`/, ""); gsub(/^\| */, ""); gsub(/ *\|$/, ""); gsub(/ *\| */, " | "); print; print ".br"; next }
            /^[-*] / { sub(/^[-*] /, ""); print "@@BULLET@@"; gsub(/`/, ""); gsub(/\*\*/, ""); print; next }
            /^[0-9]+\. / { n = $1; sub(/^[0-9]+\. /, ""); print "@@ITEM@@ " n; gsub(/`/, ""); print; next }
            { sub(/^[ \t]+/, ""); gsub(/`/, ""); gsub(/\*\*/, ""); print }
        ' "$md" | escape | sed -e 's/^\\&\.\(SH\|PP\|nf\|fi\|br\) *\(.*\)$/.\1 \2/' \
            -e 's/^\.\(PP\|nf\|fi\|br\) $/.\1/' -e 's/^@@BULLET@@$/.IP \\(bu 2/' \
            -e 's/^@@ITEM@@ \(.*\)$/.IP \1 4/'
        see_also "$file"
    } >"$out/$file"
}

"$bin" help >"$tmp/main"
cmds=$(awk '/^Commands:/ {on=1; next} on && NF == 0 {on=0} on {print $1}' "$tmp/main")
clouds=$("$bin" push --list | awk 'NF == 0 {done = 1} !done {print $1}')
pages="unikernel-mkimage.1"
for c in $cmds; do pages+=" unikernel-mkimage-$c.1"; done
for c in $clouds; do pages+=" unikernel-mkimage-push-$c.1"; done
pages+=" solo5-virtio-mkimage.1 unikernel-mkimage.yaml.5 unikernel-mkimage-plugins.7"

page unikernel-mkimage.1 1 "build, pack, upload and boot unikernel disk images" "$tmp/main" \
    "$env_common" "$env_gce" "$env_openstack" "$env_deep"
for cmd in $cmds; do
    summary=$(awk -v c="$cmd" '$1 == c {$1=""; sub(/^ +/, ""); print}' "$tmp/main")
    "$bin" help "$cmd" >"$tmp/$cmd"
    case $cmd in
    push) page "unikernel-mkimage-$cmd.1" 1 "$summary" "$tmp/$cmd" "$env_common" "$env_gce" "$env_openstack" ;;
    inspect) page "unikernel-mkimage-$cmd.1" 1 "$summary" "$tmp/$cmd" "$env_common" "$env_deep" ;;
    *) page "unikernel-mkimage-$cmd.1" 1 "$summary" "$tmp/$cmd" "$env_common" ;;
    esac
done
for cloud in $clouds; do
    "$bin" push "$cloud" --help >"$tmp/push-$cloud"
    case $cloud in
    gce) envs=$env_gce ;;
    openstack) envs=$env_openstack ;;
    *) envs= ;;
    esac
    page "unikernel-mkimage-push-$cloud.1" 1 "the $cloud cloud's options of push" \
        "$tmp/push-$cloud" "$env_common" "$envs"
done
solo5=$(dirname "$bin")/solo5-virtio-mkimage
if [ -x "$solo5" ]; then
    "$solo5" -h >"$tmp/solo5" 2>&1 || true
else
    ln -sf "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")" "$tmp/solo5-virtio-mkimage"
    "$tmp/solo5-virtio-mkimage" -h >"$tmp/solo5" 2>&1 || true
fi
page solo5-virtio-mkimage.1 1 "Solo5's image script, as a drop-in" "$tmp/solo5" "$env_common"
markdown_page unikernel-mkimage.yaml.5 5 "image specs: what to build and where to push it" \
    "$src/templates/SPEC.md"
markdown_page unikernel-mkimage-plugins.7 7 "the protocol of external uploaders" \
    "$src/uploaders/plugins/PLUGINS.md"
