#!/usr/bin/env bash
# t9110-anywhere: the build-tree command, its solo5-virtio-mkimage link and a program linked
# against the build tree's library work with no environment at all (no MK_TEMPLATE_DIR, run
# from another folder): the built-in templates are compiled in. MK_TEMPLATE_DIR still
# overrides a built-in template, for users who want their own.
. "$(dirname "$0")/lib.sh"
cc=${MK_CC:-cc}
need "$cc" e2fsck
: "${MK_BUILD_DIR:?}"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"
cp "$MBPROBE" "$T/kernel.elf"
cp "$MBPROBE" "$T/app.elf"
mkdir -p "$T/elsewhere"
cd "$T/elsewhere"

for template in multiboot solo5; do
    env -i "$MKIMAGE" build -q -o "$T/$template.raw" --size 64M --template "$template" \
        "$T/kernel.elf" -- arg 2>"$T/err" || fail "build-tree binary, template $template, no environment: $(cat "$T/err")"
    e2fsck -fn "$T/$template.raw?offset=1048576" >/dev/null 2>&1 || fail "e2fsck: $template"
done
env -i "$MKIMAGE" build -q -o "$T/hermit.raw" --size 64M --template hermit \
    --module "$T/app.elf" "$T/kernel.elf" 2>"$T/err" ||
    fail "build-tree binary, template hermit, no environment: $(cat "$T/err")"
ok "the build-tree binary builds with every built-in template and no environment"

env -i "$MK_BUILD_DIR/solo5-virtio-mkimage" -f raw "$T/solo5-compat.raw" "$T/kernel.elf" a b \
    2>"$T/err" || fail "build-tree solo5-virtio-mkimage, no environment: $(cat "$T/err")"
ok "the build-tree solo5-virtio-mkimage with no environment"

# A program linked against the build tree's shared library, run from elsewhere.
include=$(find "$MK_SOURCE_DIR/mkimage/include" -name mkimage.h -print -quit)
hdr=${include#"$MK_SOURCE_DIR/mkimage/include/"}
sed "s|#include <[^>]*mkimage.h>|#include <$hdr>|" "$MK_SOURCE_DIR/tests/example/build_image.c" \
    >"$T/example.c"
# shellcheck disable=SC2086 # MK_SANITIZE_LINK: the sanitizers' flags of a sanitized build
"$cc" -std=c11 -Wall -Werror -I"$MK_SOURCE_DIR/mkimage/include" -o "$T/example" "$T/example.c" \
    -L"$MK_BUILD_DIR" -lunikernel-mkimage -Wl,-rpath,"$MK_BUILD_DIR" ${MK_SANITIZE_LINK:-} ||
    fail "the example does not build against the build tree's library"
env -i "$T/example" "$T/lib.raw" "$T/kernel.elf" from the library 2>"$T/err" ||
    fail "a library consumer with no environment: $(cat "$T/err")"
e2fsck -fn "$T/lib.raw?offset=1048576" >/dev/null 2>&1 || fail "e2fsck on the consumer's image"
ok "a library consumer with no environment"

# A user's folder overrides a built-in template and adds templates of its own.
mkdir -p "$T/mine"
sed 's/set timeout=0/set timeout=0\n# MINE/' "$MK_SOURCE_DIR/templates/multiboot.cfg" >"$T/mine/multiboot.cfg"
cp "$T/mine/multiboot.cfg" "$T/mine/custom.cfg"
env -i MK_TEMPLATE_DIR="$T/mine" "$MKIMAGE" build -q -o "$T/mine.raw" --size 64M \
    "$T/kernel.elf" 2>"$T/err" || fail "MK_TEMPLATE_DIR override: $(cat "$T/err")"
env -i MK_TEMPLATE_DIR="$T/mine" "$MKIMAGE" build -q -o "$T/custom.raw" --size 64M \
    --template custom "$T/kernel.elf" 2>"$T/err" || fail "a user's named template: $(cat "$T/err")"
for img in mine custom; do
    "$MKIMAGE" inspect "$T/$img.raw" --json >"$T/$img.json" 2>/dev/null || true
    grep -q "# MINE" "$T/$img.json" || fail "$img: the user's template was not used"
done
env -i MK_TEMPLATE_DIR="$T/mine" "$MKIMAGE" build -q -o "$T/s.raw" --size 64M --template solo5 \
    "$T/kernel.elf" 2>"$T/err" || fail "a built-in template the user's folder lacks: $(cat "$T/err")"
ok "MK_TEMPLATE_DIR overrides built-in templates and adds the user's own"
