#!/usr/bin/python3
"""hostile.py KIND OUT: writes a small hostile image (issue 13's reproducers) for the tests
and the fuzz corpus. Kinds:
  qcow2-huge       claims 2^60 bytes with a one-entry L1 table
  qcow2-shared-l2  1000 L1 entries all pointing at one L2 table full of data clusters
  qcow2-shared-data  every L2 entry of one table pointing at the same data cluster
The ext2 ones are made with debugfs by the tests themselves."""
import struct
import sys

CLUSTER_BITS = 16
CLUSTER = 1 << CLUSTER_BITS


def qcow2(size, l1, clusters):
    """size: guest bytes; l1: list of host offsets (0 = none); clusters: {host offset: bytes}.
    Layout: header in cluster 0, L1 in cluster 1, the rest as given."""
    l1_off = CLUSTER
    header = struct.pack(">4sIQIIQIIQQIIQQQII", b"QFI\xfb", 3, 0, 0, CLUSTER_BITS, size, 0,
                         len(l1), l1_off, 2 * CLUSTER, 1, 0, 0, 0, 0, 4, 104)
    end = max([2 * CLUSTER] + [off + CLUSTER for off in clusters])
    img = bytearray(end)
    img[:len(header)] = header
    l1_bytes = b"".join(struct.pack(">Q", e | (1 << 63) if e else 0) for e in l1)
    img[l1_off:l1_off + len(l1_bytes)] = l1_bytes
    for off, data in clusters.items():
        img[off:off + len(data)] = data
    return bytes(img)


def l2_table(entries):
    return b"".join(struct.pack(">Q", e | (1 << 63) if e else 0) for e in entries)


def main():
    kind, out = sys.argv[1], sys.argv[2]
    per_l2 = CLUSTER // 8
    if kind == "qcow2-huge":
        img = qcow2(1 << 60, [0], {})
    elif kind == "qcow2-shared-l2":
        l2 = 3 * CLUSTER
        data = [4 * CLUSTER + i * CLUSTER for i in range(4)]
        img = qcow2(1000 * per_l2 * CLUSTER, [l2] * 1000,
                    {l2: l2_table(data), **{d: b"\xaa" * 512 for d in data}})
    elif kind == "qcow2-shared-data":
        l2, data = 3 * CLUSTER, 4 * CLUSTER
        img = qcow2(per_l2 * CLUSTER, [l2], {l2: l2_table([data] * per_l2), data: b"\xbb"})
    else:
        sys.exit("unknown kind " + kind)
    with open(out, "wb") as f:
        f.write(img)


main()
