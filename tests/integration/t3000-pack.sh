# t3000-pack.sh: `pack` and `build -o` to GCE disk.tar.gz and qcow2, judged by GNU tar,
# gzip, qemu-img, e2fsck and QEMU.
source "$MK_SOURCE_DIR/tests/integration/lib.sh"
need tar gzip cmp qemu-img truncate dd du stat

GIB=1073741824
export SOURCE_DATE_EPOCH=0

# allocated_kib FILE: space the file takes on disk.
allocated_kib() { du -k "$1" | cut -f1; }

# A 1 GiB sparse raw with data in a few places, some of it from a real binary.
truncate -s 1G disk.raw
printf 'boot sector' | dd of=disk.raw bs=512 seek=0 conv=notrunc status=none
dd if=/bin/bash of=disk.raw bs=1M seek=1 count=1 conv=notrunc status=none
dd if=/dev/urandom of=disk.raw bs=4096 seek=100000 count=3 conv=notrunc status=none
dd if=/bin/ls of=disk.raw bs=4096 seek=262143 count=1 conv=notrunc status=none

# --- GCE archive: GNU tar is the oracle -----------------------------------------------
"$MKIMAGE" pack disk.raw -o disk.tar.gz
gzip -t disk.tar.gz || fail "gzip -t rejects our archive"
listing=$(tar -tvf disk.tar.gz)
[ "$(echo "$listing" | wc -l)" -eq 1 ] || fail "expected one member: $listing"
echo "$listing" | grep -qE "^-rw-r--r-- root/root +$GIB 1970-01-01 00:00 disk.raw$" ||
    fail "unexpected listing: $listing"
ok "tar -tvf lists only disk.raw, $GIB bytes"

# Byte for byte what GNU tar writes for the same sparse file.
tar --format=oldgnu -S --owner=root:0 --group=root:0 --mode=0644 --mtime=@0 \
    -cf ref.tar disk.raw
gzip -dc disk.tar.gz >ours.tar
cmp ours.tar ref.tar || fail "our tar differs from GNU tar --format=oldgnu -S"
[ "$(head -c 512 ours.tar | cut -b 157)" = S ] || fail "typeflag is not S"
ok "the tar is byte-identical to GNU tar's oldgnu sparse archive"

mkdir x && (cd x && tar -xSf ../disk.tar.gz)
cmp disk.raw x/disk.raw || fail "tar -xSf did not restore the image"
[ "$(allocated_kib x/disk.raw)" -lt 8192 ] || fail "the unpacked image is not sparse"
ok "tar -xSf restores a byte-identical sparse image ($(allocated_kib x/disk.raw) KiB used)"

for j in 1 2 4; do "$MKIMAGE" pack disk.raw -o "j$j.tar.gz" --jobs "$j"; done
cmp j1.tar.gz j2.tar.gz && cmp j1.tar.gz j4.tar.gz && cmp j1.tar.gz disk.tar.gz ||
    fail "output depends on --jobs"
ok "--jobs 1, 2, 4 give the same bytes"

"$MKIMAGE" pack disk.tar.gz -o back.raw
cmp back.raw disk.raw || fail "tar.gz -> raw differs"
ok "pack reads its disk.tar.gz back"

# --- compression within 2% of gzip -6 on a realistic image -------------------------------
truncate -s 1G real.raw
off=1
for f in /usr/bin/* /usr/lib/x86_64-linux-gnu/*.so*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    dd if="$f" of=real.raw bs=1M seek=$off conv=notrunc status=none
    off=$((off + ($(stat -c %s "$f") + 1048575) / 1048576))
    [ $off -lt 48 ] || break
done
"$MKIMAGE" pack real.raw -o real.tar.gz --level 6
ours=$(stat -c %s real.tar.gz)
cp --sparse=always real.raw r2 && mv r2 disk.raw
theirs=$(tar --format=oldgnu -S -cf - disk.raw | gzip -6 -n | wc -c)
[ $((ours * 100)) -le $((theirs * 102)) ] || fail "ours $ours bytes, gzip -6 $theirs: over 2%"
ok "compressed size $ours vs gzip -6 $theirs"

# --- 10 GiB: base-256 fields, map extension headers --------------------------------------
truncate -s 10G big.raw
for i in 1 2 3 4 5 6; do
    dd if=/dev/urandom of=big.raw bs=4096 seek=$((i * 300000)) count=1 conv=notrunc status=none
done
dd if=/bin/bash of=big.raw bs=4096 seek=$((9 * 262144 + 5)) count=2 conv=notrunc status=none
"$MKIMAGE" pack big.raw -o big.tar.gz
echo "$(tar -tvf big.tar.gz)" | grep -qE " 10737418240 .* disk.raw$" || fail "10 GiB listing"
gzip -dc big.tar.gz >big.tar
head -c 1024 big.tar >big.hdr
[ "$(od -An -tx1 -j483 -N1 big.hdr | tr -d ' ')" = 80 ] || fail "realsize is not base-256"
[ "$(od -An -tx1 -j482 -N1 big.hdr | tr -d ' ')" = 01 ] || fail "no map extension header"
mv big.raw disk.raw
tar --format=oldgnu -S --owner=root:0 --group=root:0 --mode=0644 --mtime=@0 -cf ref.tar disk.raw
gzip -dc big.tar.gz | cmp - ref.tar || fail "10 GiB tar differs from GNU tar's"
rm -rf x && mkdir x && (cd x && tar -xSf ../big.tar.gz)
[ "$(stat -c %s x/disk.raw)" = 10737418240 ] || fail "10 GiB unpacked size"
# Reading 20 GiB of holes with cmp is slow: compare the data and the holes instead, by
# packing the unpacked copy again (GNU tar already agreed byte for byte above).
[ "$(allocated_kib x/disk.raw)" -lt 1024 ] || fail "the unpacked 10 GiB image is not sparse"
"$MKIMAGE" pack x/disk.raw -o again.tar.gz
cmp again.tar.gz big.tar.gz || fail "10 GiB image not restored"
ok "10 GiB: base-256 realsize, extended map, identical to GNU tar, restored"
rm -rf x disk.raw ref.tar ours.tar

# --- sizes GCE refuses --------------------------------------------------------------------
truncate -s 1000M odd.raw
printf 'x' | dd of=odd.raw bs=1 seek=5000 conv=notrunc status=none
msg="disk size 1048576000 is not a whole number of GiB, as GCE requires"
expect_fail "$msg (use --round-up or --size)" "$MKIMAGE" pack odd.raw -o odd.tar.gz
no_files_like . odd.tar.gz
"$MKIMAGE" pack odd.raw -o odd.tar.gz --round-up
echo "$(tar -tvf odd.tar.gz)" | grep -q " $GIB .* disk.raw$" || fail "--round-up size"
ok "a non-GiB size fails and leaves nothing; --round-up pads it"

# --- a damaged archive --------------------------------------------------------------------
cp real.tar.gz bad.tar.gz
truncate -s $(($(stat -c %s bad.tar.gz) / 2)) bad.tar.gz
expect_fail "gzip data is corrupt or truncated" "$MKIMAGE" pack bad.tar.gz -o bad.raw
no_files_like . bad.raw
ok "a truncated disk.tar.gz is refused"

# --- qcow2 --------------------------------------------------------------------------------
"$MKIMAGE" pack real.raw -o real.qcow2
qemu-img check real.qcow2 >check.out || fail "qemu-img check: $(cat check.out)"
qemu-img compare -f raw -F qcow2 real.raw real.qcow2 >/dev/null || fail "qemu-img compare"
[ "$(qemu-img info --output=json real.qcow2 | grep -c '"format": "qcow2"')" -ge 1 ] ||
    fail "not qcow2"
"$MKIMAGE" pack real.qcow2 -o q.raw && cmp q.raw real.raw || fail "qcow2 -> raw differs"
qemu-img convert -f raw -O qcow2 real.raw theirs.qcow2
"$MKIMAGE" pack theirs.qcow2 -o q2.raw && cmp q2.raw real.raw ||
    fail "qemu-img's qcow2 -> raw differs"
qemu-img convert -c -f raw -O qcow2 real.raw packed.qcow2
expect_fail "compressed clusters, which are not supported" \
    "$MKIMAGE" pack packed.qcow2 -o c.raw
"$MKIMAGE" pack real.raw -o forced.img -f gce
[ "$(od -An -tx1 -N2 forced.img | tr -d ' ')" = 1f8b ] || fail "-f gce ignored"
ok "qcow2: qemu-img check clean and compare identical; read back ours and qemu-img's"

# --- build straight to the archive, unpack, check and boot ----------------------------------
if [ -n "${MBPROBE:-}" ] && [ -f "$MBPROBE" ]; then
    export MK_TEMPLATE_DIR
    "$MKIMAGE" build -q -o built.tar.gz "$MBPROBE"
    tar -tvf built.tar.gz | grep -q " $GIB .* disk.raw$" || fail "built archive listing"
    mkdir u && (cd u && tar -xSf ../built.tar.gz)
    e2fsck -fn 'u/disk.raw?offset=1048576' >fsck.out 2>&1 || fail "e2fsck: $(cat fsck.out)"
    "$MKIMAGE" build -q -o built.qcow2 "$MBPROBE"
    qemu-img check built.qcow2 >/dev/null || fail "qemu-img check of a built qcow2"
    ok "build -o disk.tar.gz and -o disk.qcow2: tar, e2fsck and qemu-img accept them"
    if command -v qemu-system-x86_64 >/dev/null; then
        "$MKIMAGE" boot u/disk.raw --expect 'MBPROBE: done' --timeout 120 >boot.out 2>&1 ||
            fail "the unpacked image does not boot: $(tail -5 boot.out)"
        "$MKIMAGE" boot built.qcow2 --expect 'MBPROBE: done' --timeout 120 >boot.out 2>&1 ||
            fail "the qcow2 image does not boot: $(tail -5 boot.out)"
        ok "the unpacked disk.raw and the qcow2 boot"
    fi
fi
