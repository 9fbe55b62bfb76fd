#!/usr/bin/env python3
"""Writes the load_and_run seed corpus from assembled programs (.polkavm containers).

usage: make_seeds.py OUT_DIR PROGRAM.polkavm...

Each program yields one seed per input mode of fuzz_targets/load_and_run.rs: the container as is
(mode 0, and strict with async gas, mode 12), its code-and-jump-table section alone (mode 1) and,
since for small programs that section is also the Graypaper program blob, a JAM seed (mode 2).
"""
import os
import sys

SECTION_CODE_AND_JUMP_TABLE = 6
SECTION_END_OF_FILE = 0
HEADER_SIZE = 4 + 1 + 8  # magic, version, blob length


def read_varint(data, position):
    """polkavm's variable-length integer: leading one bits of the first byte give the extra bytes."""
    first = data[position]
    length = 0
    while length < 8 and first & (0x80 >> length):
        length += 1
    upper = first & (0xFF >> length)
    value = int.from_bytes(data[position + 1 : position + 1 + length], "little")
    return value | (upper << (8 * length)), position + 1 + length


def code_section(blob):
    position = HEADER_SIZE
    while position < len(blob):
        section = blob[position]
        if section == SECTION_END_OF_FILE:
            break
        length, position = read_varint(blob, position + 1)
        if section == SECTION_CODE_AND_JUMP_TABLE:
            return blob[position : position + length]
        position += length
    raise ValueError("no code section")


def main():
    out_dir, programs = sys.argv[1], sys.argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    for path in programs:
        name = os.path.splitext(os.path.basename(path))[0]
        blob = open(path, "rb").read()
        code = code_section(blob)
        seeds = {"container": b"\x00" + blob, "container-strict-async": b"\x0c" + blob,
                 "code": b"\x01" + code, "jam": b"\x02" + code}
        for kind, data in seeds.items():
            with open(os.path.join(out_dir, f"{name}-{kind}"), "wb") as seed:
                seed.write(data)
    print(f"{len(programs) * 4} seeds in {out_dir}")


if __name__ == "__main__":
    main()
