#!/usr/bin/env bash
# t9100-install: `cmake --install` gives the command, the solo5-virtio-mkimage link, the
# library, its header, a pkg-config file, templates and the man pages; a program built
# against the installed library alone makes a bootable image.
. "$(dirname "$0")/lib.sh"
cc=${MK_CC:-cc}  # the build's compiler: a sanitized library needs its runtime
need cmake pkg-config "$cc" e2fsck
: "${MK_BUILD_DIR:?}"
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"

configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$MK_BUILD_DIR/CMakeCache.txt")
staged="$T/staged"
[ "$staged" != "$configured" ] || fail "the test prefix must differ from the configured one"
cmake --install "$MK_BUILD_DIR" --prefix "$staged" >install.log 2>&1 || fail "install: $(cat install.log)"
# Moved after installing, too: nothing may depend on where it was installed.
prefix="$T/moved"
mv "$staged" "$prefix"
header=$(cd "$prefix/include" && find . -name mkimage.h | sed 's|^\./||')
[ "$header" = unikernel-mkimage/mkimage.h ] || fail "header installed as include/$header"
for f in bin/unikernel-mkimage bin/solo5-virtio-mkimage \
         share/unikernel-mkimage/templates/multiboot.cfg share/man/man1/unikernel-mkimage.1 \
         share/man/man1/unikernel-mkimage-build.1 share/man/man1/unikernel-mkimage-push.1 \
         share/bash-completion/completions/unikernel-mkimage; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
lib=$(find "$prefix" -name 'libunikernel-mkimage.so*' -print -quit)
[ -n "$lib" ] || fail "the shared library is not installed"
archive=$(find "$prefix" -name 'libunikernel-mkimage.a' -print -quit)
[ -n "$archive" ] || fail "the static library is not installed"
pc=$(find "$prefix" -name unikernel-mkimage.pc -print -quit)
[ -n "$pc" ] || fail "no pkg-config file installed"
libdir=$(dirname "$lib")
ok "installed: command, link, libraries, header, pkg-config file, templates, man pages, completion"

# pkg-config alone, no --define-variable: the file points at where it is now.
export PKG_CONFIG_PATH=$(dirname "$pc")
pc_inc=$(pkg-config --variable=includedir unikernel-mkimage)
[ "$(cd "$pc_inc" && pwd -P)" = "$(cd "$prefix/include" && pwd -P)" ] ||
    fail "pkg-config's includedir is $pc_inc, not under $prefix"
sed "s|#include <[^>]*mkimage.h>|#include <$header>|" "$MK_SOURCE_DIR/tests/example/build_image.c" \
    >build_image.c
"$cc" -std=c11 -Wall -Werror -o build_image build_image.c \
    $(pkg-config --cflags --libs unikernel-mkimage) -Wl,-rpath,"$libdir" \
    || fail "the example does not build against the installed shared library"
env -i ./build_image disk.raw "$MBPROBE" from the library >build.log 2>&1 || fail "example: $(cat build.log)"
e2fsck -fn 'disk.raw?offset=1048576' >/dev/null 2>&1 || fail "e2fsck on the example's image"
ok "pkg-config from a moved prefix; a program linked against the shared library, no environment"

# Static: pkg-config --static names everything the archive needs (Requires.private).
# Dependencies' own private libraries (libcurl's nghttp2, psl...) may lack a development
# link on this machine; those are the dependencies' business, so skip flags naming a
# library the linker cannot find. Ours must all be there.
static_libs=
for flag in $(pkg-config --static --libs unikernel-mkimage); do
    case $flag in
    -lunikernel-mkimage) static_libs+=" $archive" ;;
    -l*) lib=lib${flag#-l}
         if [ "$("$cc" -print-file-name="$lib.so")" != "$lib.so" ] ||
            [ "$("$cc" -print-file-name="$lib.a")" != "$lib.a" ]; then
             static_libs+=" $flag"
         fi ;;
    *) static_libs+=" $flag" ;;
    esac
done
for dep in ext2fs com_err jansson gcrypt curl inih; do
    grep -q -- "-l$dep\b" <<<"$static_libs" || fail "pkg-config --static does not name -l$dep"
done
"$cc" -std=c11 -Wall -Werror -o build_static build_image.c \
    $(pkg-config --static --cflags unikernel-mkimage) $static_libs 2>static.log \
    || fail "the example does not link statically with pkg-config --static: $(cat static.log)"
! ldd ./build_static | grep -q libunikernel-mkimage || fail "build_static uses the shared library"
env -i ./build_static disk2.raw "$MBPROBE" static >build.log 2>&1 || fail "static example: $(cat build.log)"
e2fsck -fn 'disk2.raw?offset=1048576' >/dev/null 2>&1 || fail "e2fsck on the static example's image"
ok "a program linked statically with pkg-config --static, no environment"

# The installed command needs no environment either.
env -i "$prefix/bin/unikernel-mkimage" build -q -o inst.raw --size 64M "$MBPROBE" 2>err.log ||
    fail "installed command: $(cat err.log)"
env -i "$prefix/bin/solo5-virtio-mkimage" -f raw inst2.raw "$MBPROBE" 2>err.log ||
    fail "installed solo5-virtio-mkimage: $(cat err.log)"
ok "the installed command and link work with no environment"
