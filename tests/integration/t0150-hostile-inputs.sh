# t0150-hostile-inputs.sh: inputs that are not what they claim never hang or crash a command
# (issue 13): a FIFO given as an image, kernel, module, file, spec, clouds.yaml or key file is
# refused at once with one line naming it.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
need timeout

mkfifo "$T/fifo"
"$MKIMAGE" build --size 3M -o "$T/disk.raw" "$MBPROBE" >/dev/null 2>&1 || fail "build"
"$MKIMAGE" pack "$T/disk.raw" -o "$T/disk.qcow2" >/dev/null 2>&1 || fail "pack"
export NO_GCE_CHECK=True HOME=$T
n=0
fifo_refused() {  # fifo_refused ARGS...: must fail within 10 s, one line naming the FIFO
    local rc=0
    timeout 10 "$MKIMAGE" "$@" >/dev/null 2>"$T/err" </dev/null || rc=$?
    [ "$rc" != 124 ] || fail "hangs on a FIFO: $*"
    [ "$rc" = 1 ] || fail "exit $rc, not 1: $* -- $(cat "$T/err")"
    grep -qE "'$T/fifo' is (a FIFO, )?not a regular file" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ] ||
        fail "$*: $(cat "$T/err")"
    n=$((n + 1))
}
fifo_refused inspect "$T/fifo"
fifo_refused pack "$T/fifo" -o "$T/out.qcow2"
fifo_refused boot "$T/fifo" --timeout 5
fifo_refused build -o "$T/out.raw" "$T/fifo"
fifo_refused build -o "$T/out.raw" --module "$T/fifo" "$MBPROBE"
fifo_refused build -o "$T/out.raw" --file "$T/fifo:/a" "$MBPROBE"
fifo_refused build --spec "$T/fifo"
fifo_refused validate "$T/fifo"
fifo_refused push gce --credentials "$T/fifo" --project p --bucket b "$T/disk.qcow2"
GOOGLE_APPLICATION_CREDENTIALS=$T/fifo fifo_refused push gce --project p --bucket b "$T/disk.qcow2"
fifo_refused push gce --credentials "$T/fifo" --project p --bucket b "$T/fifo"
OS_CLIENT_CONFIG_FILE=$T/fifo fifo_refused push openstack --os-cloud c "$T/disk.qcow2"
[ ! -e "$T/out.raw" ] && [ ! -e "$T/out.qcow2" ] || fail "an output was written"
ok "$n commands refuse a FIFO at once"

# Filesystems made to hurt their reader: each inspect ends in bounded time and memory with
# its problems listed, never a crash.
need mke2fs debugfs
ext2_image() {  # ext2_image FILE [MKE2FS OPTIONS...] < debugfs commands
    local f=$1
    shift
    rm -f "$f" && truncate -s 512K "$f"
    mke2fs -q -F -b 1024 -N 128 "$@" "$f" || fail "mke2fs"
    debugfs -w "$f" -f - >/dev/null 2>&1 || fail "debugfs"
}
inspect_problem() {  # inspect_problem IMAGE TEXT [OPTIONS...]: exit 1 and TEXT in a problem
    local image=$1 text=$2 rc=0
    shift 2
    memory_bounded 2000 timeout 20 "$MKIMAGE" inspect "$@" "$image" >"$T/out" 2>"$T/err" ||
        rc=$?
    [ "$rc" = 1 ] || fail "inspect $image: exit $rc: $(cat "$T/err")"
    grep -qF -- "$text" "$T/out" || fail "inspect $image: no '$text' in: $(cat "$T/out")"
}
# A symlink whose inode claims 1 GB (libext2fs's namei crashed on it).
ext2_image "$T/symlink.img" -t ext2 <<'CMDS'
symlink /boot x
sif /boot size 1000000000
CMDS
inspect_problem "$T/symlink.img" "symbolic link '/boot' claims 1000000000 bytes"
# Directories hard-linked into a DAG: 2^40 paths in 512 KiB.
{ for i in $(seq 0 40); do echo "mkdir /L$i"; done
  for i in $(seq 0 39); do echo "link /L$((i + 1)) /L$i/a"; echo "link /L$((i + 1)) /L$i/b"; done
} | ext2_image "$T/dag.img" -t ext2
inspect_problem "$T/dag.img" "(a hard-linked directory)"
# A directory loop: /d/up is the root again.
printf 'mkdir /d\nlink / /d/up\n' | ext2_image "$T/loop.img" -t ext2
inspect_problem "$T/loop.img" "(a hard-linked directory)"
# A kernel file claiming more bytes than the filesystem holds.
printf '%s\n' 'mkdir /boot' 'mkdir /boot/grub' 'write /dev/null /boot/k' \
    'sif /boot/k size 0x40000000' >"$T/cmds"
printf 'menuentry x {\n multiboot /boot/k\n}\n' >"$T/grub.cfg"
echo "write $T/grub.cfg /boot/grub/grub.cfg" >>"$T/cmds"
ext2_image "$T/big.img" -t ext2 <"$T/cmds"
inspect_problem "$T/big.img" "'/boot/k' claims 1073741824 bytes, more than the filesystem holds"
# A superblock whose checksum is wrong is a problem, read anyway only when asked.
: | ext2_image "$T/csum.img" -t ext4 -O ^has_journal,metadata_csum -L label
printf X | dd of="$T/csum.img" bs=1 seek=$((1024 + 120)) conv=notrunc 2>/dev/null
inspect_problem "$T/csum.img" "Superblock checksum does not match"
inspect_problem "$T/csum.img" "Xabel" --ignore-checksums
ok "hostile filesystems: a huge symlink, a directory DAG, a loop, a lying size, a bad checksum"

# qcow2 images whose tables claim more than the file holds: refused at once by inspect and
# pack, nothing written (a 2^60-byte claim made pack write a 16 GiB L1 table; 1000 L1
# entries on one L2 table cost hours).
for kind in qcow2-huge qcow2-shared-l2 qcow2-shared-data; do
    /usr/bin/python3 "$MK_SOURCE_DIR/tests/fuzz/hostile.py" $kind "$T/$kind.img"
done
inspect_problem "$T/qcow2-huge.img" "claims 1152921504606846976 bytes but its L1 table maps only"
inspect_problem "$T/qcow2-shared-l2.img" "is used twice (as an L2 table)"
inspect_problem "$T/qcow2-shared-data.img" "is used twice (as a data cluster)"
for kind in qcow2-huge qcow2-shared-l2 qcow2-shared-data; do
    rc=0
    memory_bounded 2000 timeout 20 "$MKIMAGE" pack "$T/$kind.img" -o "$T/packed.qcow2" \
        2>"$T/err" || rc=$?
    [ "$rc" = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] || fail "pack $kind: exit $rc: $(cat "$T/err")"
    [ ! -e "$T/packed.qcow2" ] || fail "pack $kind wrote an output"
done
ok "hostile qcow2: a 2^60-byte claim, a shared L2 table, a shared data cluster"

# The image is read in a child with limits: running out of them is one problem in the report.
"$MKIMAGE" pack "$T/disk.raw" --round-up -o "$T/disk.tar.gz" >/dev/null 2>&1 || fail "pack gce"
# A sanitized reader's limit counts from what ASan mapped before it (RLIMIT_AS cannot hold
# ASan's shadow): 1 MiB more, where the tar.gz reader's first 1 MiB buffer cannot fit, and
# ASan must then hand out NULL like libc instead of reporting.
mib=16
[ -z "${MK_SANITIZE:-}" ] || mib=1
ASAN_OPTIONS=${ASAN_OPTIONS:-}${MK_SANITIZE:+:allocator_may_return_null=1} \
    MK_INSPECT_LIMITS=$mib:300:900 inspect_problem "$T/disk.tar.gz" \
    "reading the image needed more than $mib MiB of memory and was stopped"
"$MKIMAGE" inspect "$T/disk.tar.gz" >"$T/out" 2>&1 || fail "inspect: $(cat "$T/out")"
ok "the reader's limits"

# ... and without privileges: as root, the child becomes nobody before it reads; it reads
# only the descriptor we opened, never the path (a root-only image in a root-only folder is
# read all the same), and our process never reads the image's bytes. Seen with strace.
need strace
mkdir -m 700 "$T/private"
for f in disk.raw disk.tar.gz; do
    cp "$T/$f" "$T/private/$f" && chmod 600 "$T/private/$f"
    "$MKIMAGE" inspect "$T/private/$f" >"$T/out" 2>&1 || fail "inspect private/$f: $(cat "$T/out")"
    without_leak_check strace -f -qq -e signal=none -o "$T/files.log" -P "$T/private/$f" \
        "$MKIMAGE" inspect "$T/private/$f" >/dev/null 2>&1 || fail "inspect private/$f under strace"
    /usr/bin/python3 "$MK_SOURCE_DIR/tests/integration/isolation_trace.py" files \
        "$T/files.log" "$T/private/$f" >"$T/out" || fail "private/$f: $(cat "$T/out")"
done
if [ "$(id -u)" = 0 ]; then
    without_leak_check strace -f -qq -e signal=none -e trace=execve,setresuid -o "$T/ids.log" \
        "$MKIMAGE" inspect "$T/private/disk.raw" >/dev/null 2>&1 || fail "inspect under strace"
    /usr/bin/python3 "$MK_SOURCE_DIR/tests/integration/isolation_trace.py" ids "$T/ids.log" \
        "$(id -u nobody)" >"$T/out" || fail "$(cat "$T/out")"
fi
ok "the reader: $(cat "$T/out")"

# YAML that describes billions of nodes in a few hundred bytes, nests 100,000 deep or holds
# 60,000 keys: refused at once with FILE:LINE (these are also fuzz regression inputs).
yaml_refused() {  # yaml_refused TEXT CMD...: fails within 10 s with TEXT in one line
    local text=$1 rc=0
    shift
    timeout 10 "$@" >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" = 1 ] || fail "exit $rc, not 1: $* -- $(cat "$T/err")"
    grep -qF -- "$text" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ] || fail "$*: $(cat "$T/err")"
}
corpus=$MK_SOURCE_DIR/tests/fuzz/corpus
yaml_refused "alias-bomb.yaml:5:5: too many aliases: the document expands to more than" \
    "$MKIMAGE" validate "$corpus/spec/alias-bomb.yaml"
yaml_refused "deep-nesting.yaml:1:71: nested too deep (the limit is 64 levels)" \
    "$MKIMAGE" validate "$corpus/spec/deep-nesting.yaml"
/usr/bin/python3 -c "
print('image: {kernel: k}\ntargets:\n  t:\n    type: gce')
for i in range(60000): print('    k%d: v' % i)" >"$T/keys.yaml"
yaml_refused "keys.yaml:10004:5: too many keys in one mapping (the limit is 10000)" \
    "$MKIMAGE" validate "$T/keys.yaml"
OS_CLIENT_CONFIG_FILE=$corpus/clouds_yaml/merge-bomb.yaml yaml_refused \
    "merge-bomb.yaml:6:14: too many aliases" "$MKIMAGE" push openstack --os-cloud c "$T/disk.qcow2"
# Duplicate keys among thousands are found in linear time, the first one named.
/usr/bin/python3 -c "
print('image: {kernel: k}\ntargets:\n  t:\n    type: gce')
for i in range(9990): print('    k%d: v' % (i % 9000))" >"$T/dups.yaml"
yaml_refused "dups.yaml:9005:5: duplicate key 'k0' in target 't' (first at line 5)" \
    "$MKIMAGE" validate "$T/dups.yaml"
ok "YAML bombs, deep nesting, too many keys, duplicates among thousands"

# Outputs: only a regular file is ever replaced, never an input; the umask is honoured; a
# temporary left by a killed run is removed by the next one, a live run's is not.
cp "$MBPROBE" "$T/kernel"
cp "$MBPROBE" "$T/kernel.orig"
out_refused() {  # out_refused TEXT ARGS...
    local text=$1 rc=0
    shift
    "$MKIMAGE" "$@" >/dev/null 2>"$T/err" || rc=$?
    [ "$rc" = 1 ] && grep -qF -- "$text" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ] ||
        fail "$* (exit $rc): $(cat "$T/err")"
}
out_refused "output '$T/kernel' is one of the inputs" build --size 3M -o "$T/kernel" "$T/kernel"
cmp "$T/kernel" "$T/kernel.orig" || fail "the kernel was changed"
out_refused "output '$T/disk.raw' is one of the inputs" pack "$T/disk.raw" -o "$T/disk.raw"
ln -s "$T/victim" "$T/link"
out_refused "output '$T/link' is a symbolic link; only a regular file is replaced" \
    build --size 3M -o "$T/link" "$T/kernel"
[ -L "$T/link" ] && [ ! -e "$T/victim" ] || fail "the symlink was replaced or followed"
out_refused "output '/dev/null' is a character device" build --size 3M -o /dev/null "$T/kernel"
[ -c /dev/null ] || fail "/dev/null is no longer a device"
out_refused "output '$T/fifo' is a FIFO" pack "$T/disk.raw" -o "$T/fifo"
(umask 027 && "$MKIMAGE" build --size 3M -o "$T/private.raw" "$T/kernel" >/dev/null 2>&1) ||
    fail "build with umask 027"
[ "$(stat -c %a "$T/private.raw")" = 640 ] || fail "umask 027 gave $(stat -c %a "$T/private.raw")"
(umask 022 && "$MKIMAGE" pack "$T/disk.raw" -o "$T/public.qcow2" >/dev/null 2>&1) || fail "pack"
[ "$(stat -c %a "$T/public.qcow2")" = 644 ] || fail "umask 022 gave $(stat -c %a "$T/public.qcow2")"
mkdir "$T/outdir"
: >"$T/outdir/.img.raw.mkimage-999999.AbCdEf"            # left by a run killed with -9
: >"$T/outdir/.img.raw.mkimage-$$.LiVeOn"                   # being written by a live run
exec 9<"$T/outdir/.img.raw.mkimage-$$.LiVeOn" && flock -x 9
"$MKIMAGE" build --size 3M -o "$T/outdir/img.raw" "$T/kernel" >/dev/null 2>&1 || fail "build"
exec 9<&-
[ "$(ls -A "$T/outdir" | tr '\n' ' ')" = ".img.raw.mkimage-$$.LiVeOn img.raw " ] ||
    fail "temporaries: $(ls -A "$T/outdir" | tr '\n' ' ')"
ok "outputs: devices, symlinks and inputs refused; umask; stale temporaries removed"

# Children die with us: a build killed with -9 while grub-mkimage runs leaves no grub-mkimage.
mkdir "$T/bin"
printf '#!/bin/sh\nexec sleep 60.%s\n' $$ >"$T/bin/grub-mkimage"
chmod +x "$T/bin/grub-mkimage"
PATH=$T/bin:$PATH "$MKIMAGE" build --size 3M -o "$T/killed.raw" "$T/kernel" >/dev/null 2>&1 &
builder=$!
dies_with "$builder" "^sleep 60.$$\$" "the fake grub-mkimage"
ok "a killed build's grub-mkimage dies with it"

# Kernels and configs GRUB cannot boot are refused at build time with one line naming the
# field (each of these built with exit 0 before, and GRUB failed).
/usr/bin/python3 - "$MBPROBE" "$T/filesz.elf" "$T/aout.bin" <<'PY'
import struct, sys
elf = bytearray(open(sys.argv[1], "rb").read())
is64 = elf[4] == 2
phoff = struct.unpack_from("<Q" if is64 else "<I", elf, 32 if is64 else 28)[0]
phentsize, phnum = struct.unpack_from("<HH", elf, 54 if is64 else 42)
for i in range(phnum):
    ph = phoff + i * phentsize
    if struct.unpack_from("<I", elf, ph)[0] == 1:  # the first PT_LOAD
        struct.pack_into("<Q" if is64 else "<I", elf, ph + (32 if is64 else 16), 1 << 20)
        break
open(sys.argv[2], "wb").write(elf)
# A 96-byte a.out kludge kernel whose load_end_addr lies 1 GiB past its end.
flags = 1 << 16
hdr = struct.pack("<IIIIIIII", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xFFFFFFFF,
                  0x100000, 0x100000, 0x100000 + (1 << 30), 0, 0x100020)
open(sys.argv[3], "wb").write(hdr + b"\0" * (96 - len(hdr)))
PY
out_refused "ELF program header 0: p_filesz 0x100000 at p_offset" \
    build --size 3M -o "$T/k.raw" "$T/filesz.elf"
out_refused "multiboot a.out load_end_addr 0x40100000 lies past the end of the 96-byte file" \
    build --size 3M -o "$T/k.raw" "$T/aout.bin"
out_refused "more than GRUB's 8192-byte token limit" \
    build --size 3M -o "$T/k.raw" "$T/kernel" -- "$(head -c 16000 /dev/zero | tr '\0' a)"
"$MKIMAGE" build --size 3M -o "$T/k.raw" "$T/kernel" -- "$(head -c 8000 /dev/zero | tr '\0' a)" \
    >/dev/null 2>&1 || fail "an 8000-byte command line is refused"
: >"$T/empty.cfg"
out_refused "template '$T/empty.cfg' has no multiboot or multiboot2 line" \
    build --size 3M -o "$T/k.raw" --template "$T/empty.cfg" "$T/kernel"
printf 'menuentry x {\n echo no kernel\n}\n' >"$T/noboot.cfg"
out_refused "template '$T/noboot.cfg' has no multiboot or multiboot2 line" \
    build --size 3M -o "$T/k.raw" --template "$T/noboot.cfg" "$T/kernel"
ok "unbootable kernels, command lines and templates refused at build"

# build --json with an output name that is not UTF-8: valid JSON naming it, bytes as '?'.
bad=$(printf "$T/bad\\xff.raw")
"$MKIMAGE" build --size 3M --json -o "$bad" "$T/kernel" >"$T/out.json" 2>"$T/err" ||
    fail "build --json: $(cat "$T/err")"
/usr/bin/python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
assert r['status'] == 'ok' and r['output'].endswith('/bad?.raw'), r" "$T/out.json" ||
    fail "build --json printed: $(cat "$T/out.json")"
ok "build --json with a non-UTF-8 output name"
