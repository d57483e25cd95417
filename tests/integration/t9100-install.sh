#!/usr/bin/env bash
# t9100-install: `cmake --install` gives the command, the solo5-virtio-mkimage link, the
# library, its header, a pkg-config file, templates and the man pages; a program built
# against the installed library alone makes a bootable image.
. "$(dirname "$0")/lib.sh"
need cmake pkg-config cc e2fsck
: "${MK_BUILD_DIR:?}"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"

prefix="$T/prefix"
cmake --install "$MK_BUILD_DIR" --prefix "$prefix" >install.log 2>&1 || fail "install: $(cat install.log)"
for f in bin/unikernel-mkimage bin/solo5-virtio-mkimage include/unikernel-mkimage/mkimage.h \
         share/unikernel-mkimage/templates/multiboot.cfg share/man/man1/unikernel-mkimage.1 \
         share/man/man1/unikernel-mkimage-build.1 share/man/man1/unikernel-mkimage-push.1 \
         share/bash-completion/completions/unikernel-mkimage; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
lib=$(find "$prefix" -name 'libunikernel-mkimage.so*' -print -quit)
[ -n "$lib" ] || fail "the shared library is not installed"
pc=$(find "$prefix" -name unikernel-mkimage.pc -print -quit)
[ -n "$pc" ] || fail "no pkg-config file installed"
libdir=$(dirname "$lib")
ok "installed: command, link, library, header, pkg-config file, templates, man pages, completion"

export PKG_CONFIG_PATH=$(dirname "$pc")
flags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs unikernel-mkimage)
cc -std=c11 -Wall -Werror -o build_image "$MK_SOURCE_DIR/tests/example/build_image.c" $flags \
    || fail "the example does not build against the installed library"
MK_TEMPLATE_DIR="$prefix/share/unikernel-mkimage/templates" LD_LIBRARY_PATH="$libdir" \
    ./build_image disk.raw "$MBPROBE" from the library >build.log 2>&1 || fail "example: $(cat build.log)"
e2fsck -fn 'disk.raw?offset=1048576' >/dev/null 2>&1 || fail "e2fsck on the example's image"
ok "a program linked against the installed library built an e2fsck-clean image"

# The installed command finds its installed templates without help.
env -u MK_TEMPLATE_DIR "$prefix/bin/unikernel-mkimage" build -q -o inst.raw --size 64M "$MBPROBE" \
    2>err.log && ok "the installed command finds its templates" || {
    grep -q "template" err.log && fail "the installed command cannot find its templates: $(cat err.log)"
    fail "installed command: $(cat err.log)"
}
