#!/usr/bin/env python3
"""solo5_note.py: makes the bytes of a Solo5 "MFT1" manifest note, as Solo5's elftool puts
in a unikernel's .note.solo5.manifest section (layout: Solo5's include/mft_abi.h, x86-64),
so tests can give a kernel the manifest of a real unikernel without Solo5's toolchain.

  solo5_note.py OUT [net:NAME | block:NAME]...      e.g. solo5_note.py note.bin net:service

Attach it with: objcopy --add-section .note.solo5.manifest=OUT IN OUT (a section, not in a
segment: GRUB loads by program headers and ignores it; our reader finds it by name).
"""
import struct
import sys

NOTE_TYPE = 0x3154464D  # "MFT1"
RESERVED_FIRST = 1 << 30
TYPES = {"block": 1, "net": 2}
ENTRY_SIZE = 104  # name[68], type, property union at 72, backing union at 88, attached at 96


def entry(name, kind):
    e = bytearray(ENTRY_SIZE)
    raw = name.encode()
    assert len(raw) <= 67, name
    e[0:len(raw)] = raw
    struct.pack_into("<I", e, 68, kind)
    return bytes(e)


def note(devices):
    entries = [entry("", RESERVED_FIRST)] + [entry(n, TYPES[k]) for k, n in devices]
    mft = struct.pack("<II", 1, len(entries)) + b"".join(entries)
    desc = b"\0" * 4 + mft  # struct mft is 8-byte aligned after the 20-byte note header
    return struct.pack("<III", 6, len(desc), NOTE_TYPE) + b"Solo5\0\0\0" + desc


def main():
    devices = []
    for arg in sys.argv[2:]:
        kind, _, name = arg.partition(":")
        if kind not in TYPES or not name:
            sys.exit("solo5_note.py: bad device '%s' (net:NAME or block:NAME)" % arg)
        devices.append((kind, name))
    with open(sys.argv[1], "wb") as f:
        f.write(note(devices))


if __name__ == "__main__":
    main()
