#!/usr/bin/env bash
# t0110-build-boot: built images boot under QEMU TCG, and the kernel sees exactly the command
# line and modules we gave: the probe prints them, with each module's CRC32.
. "$(dirname "$0")/lib.sh"
need qemu-system-x86_64 python3
[ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ] || fail "the probe kernel was not built"

head -c 70000 /dev/urandom >m1.bin
printf 'hello module\n' >m2.txt
crc() { python3 -c 'import sys,zlib; print("0x%08x" % (zlib.crc32(open(sys.argv[1],"rb").read()) & 0xffffffff))' "$1"; }

boot_check() { # IMAGE LOG
    "$MKIMAGE" boot "$1" --accel tcg --timeout 60 --expect "MBPROBE: done" --log "$2" \
        >/dev/null 2>"$T/boot.err" || fail "boot of $1 failed: $(cat "$T/boot.err"; cat "$2")"
}

args=(hello "two words" 'it'"'"'s' 'dq"x' 'back\slash' '$HOME' 'semi;colon' '{brace}' '#hash' '')
"$MKIMAGE" build -q -o disk.raw --module "m1.bin:first arg" --module m2.txt "$MBPROBE" -- "${args[@]}"
boot_check disk.raw serial.log
# GRUB 2.06 rebuilds the command line from the words it parsed: a word with a space is put in
# double quotes, and \ ' " get a backslash (templates/README.md). Every word arrives whole.
grub_cmdline() {
    local out='' a e
    for a in "$@"; do
        e=${a//\\/\\\\}; e=${e//\'/\\\'}; e=${e//\"/\\\"}
        [[ $a == *' '* ]] && e="\"$e\""
        out+="$e "
    done
    printf '%s' "${out% }"
}
expected=$(grub_cmdline "${args[@]}")
grep -qxF "MBPROBE: cmdline='$expected'" <(tr -d '\r' <serial.log) \
    || fail "cmdline: expected '$expected', serial: $(grep cmdline serial.log)"
ok "the kernel saw the exact command line: $expected"
grep -q "mods_count=2" serial.log || fail "mods_count: $(cat serial.log)"
grep -q "mod\[0\] string='first arg' .*size=70000 crc32=$(crc m1.bin)" serial.log \
    || fail "module 0: $(grep 'mod\[0\]' serial.log)"
grep -q "mod\[1\] string='' .*size=$(stat -c %s m2.txt) crc32=$(crc m2.txt)" serial.log \
    || fail "module 1: $(grep 'mod\[1\]' serial.log)"
ok "both modules arrived with the right command lines, sizes and CRC32s"

# multiboot2 kernels get multiboot2/module2 lines and boot the same way.
if [ -n "${MBPROBE2:-}" ] && [ -f "$MBPROBE2" ]; then
    "$MKIMAGE" build -q -o disk2.raw --module m2.txt:two "$MBPROBE2" -- mb2 args
    "$MKIMAGE" build --print-config -o x "$MBPROBE2" | grep -q "^[[:space:]]*multiboot2 " || fail "no multiboot2 line"
    boot_check disk2.raw serial2.log
    grep -q "cmdline='mb2 args'" serial2.log || fail "mb2 cmdline: $(cat serial2.log)"
    grep -q "mod\[0\] string='two' .*crc32=$(crc m2.txt)" serial2.log || fail "mb2 module: $(cat serial2.log)"
    ok "multiboot2 kernel booted with its module"
else
    fail "the multiboot2 probe kernel was not built"
fi

# The solo5 template gives the kernel a first word before the arguments.
"$MKIMAGE" build -q -o solo5.raw --template solo5 "$MBPROBE" -- --ipv4=10.0.0.2/24
boot_check solo5.raw serial3.log
grep -q "cmdline='$(basename "$MBPROBE") --ipv4=10.0.0.2/24'" serial3.log || fail "solo5: $(grep cmdline serial3.log)"
ok "solo5 template passes the name first"

# The hermit template: the loader gets -uart=io:0x3f8, the application is a module.
"$MKIMAGE" build -q -o hermit.raw --template hermit --module m1.bin "$MBPROBE" -- app-arg
boot_check hermit.raw serial4.log
grep -q "cmdline='-uart=io:0x3f8 app-arg'" serial4.log || fail "hermit: $(grep cmdline serial4.log)"
grep -q "mod\[0\].*crc32=$(crc m1.bin)" serial4.log || fail "hermit module: $(cat serial4.log)"
ok "hermit template: uart argument and application module"
