#!/usr/bin/python3
"""inspect_answers.py DIR: seeds for fuzz_inspect_answer, answers as the isolated inspect
child sends them (inspect_isolated.c, x86_64 layout): struct answer {int problems, fs_part,
exported; size_t report_len, n_files;}, the JSON report, then per file struct answer_file
{uint64_t size; uint8_t sha256[32]; size_t path_len;} and the path."""
import hashlib
import json
import os
import struct
import sys


def answer(report, files=(), problems=0, fs_part=1, exported=0):
    text = json.dumps(report, indent=2).encode()
    out = struct.pack("<iii4xQQ", problems, fs_part, exported, len(text), len(files)) + text
    for path, data in files:
        out += struct.pack("<Q32sQ", len(data), hashlib.sha256(data).digest(), len(path))
        out += path.encode()
    return out


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    report = {"image": {"path": "disk.raw", "format": "raw"}, "problems": []}
    seeds = {
        "plain": answer(report),
        "files": answer(report, [("/boot/grub/grub.cfg", b"multiboot /boot/kernel\n"),
                                 ("/boot/kernel", b"\x7fELF" + bytes(60))]),
        "problems": answer(dict(report, problems=["no MBR"]), problems=1, fs_part=0),
        "exported": answer(report, exported=1),
    }
    for name, data in seeds.items():
        with open(os.path.join(d, name + ".bin"), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
