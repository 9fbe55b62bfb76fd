"""Runs the C and Python Doom hosts on the synthetic guest (test_guest.rs) on both backends and
checks each screenshot pixel for pixel against the frame the guest is known to draw.

    python test.py C_HOST GUEST.polkavm WORK_DIR      (`make test-doom` runs it)
"""

import pathlib
import re
import struct
import subprocess
import sys
import zlib

WIDTH, HEIGHT = 64, 40
WARMUP, TICKS = 2, 5
WAD = b"IWAD" + bytes(range(60))  # the guest reads the first 4 bytes


def expected_frame(ticks: int) -> bytes:
    """test_guest.rs: pixel i is the BGRA word rom + tick * 0x00010307 + i * 0x01030507."""
    rom = int.from_bytes(WAD[:4], "little")
    out = bytearray()
    for i in range(WIDTH * HEIGHT):
        word = (rom + ticks * 0x00010307 + i * 0x01030507) & 0xFFFFFFFF
        out += bytes([(word >> 16) & 0xFF, (word >> 8) & 0xFF, word & 0xFF])
    return bytes(out)


def read_png(path: pathlib.Path) -> tuple[int, int, bytes]:
    """Width, height and RGB24 of an 8-bit RGB PNG whose rows all use filter type 0."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: not a PNG"
    at, header, idat = 8, None, b""
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"{path}: bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    width, height, depth, color, _, _, interlace = header
    assert (depth, color, interlace) == (8, 2, 0), f"{path}: not 8-bit RGB without interlace"
    raw = zlib.decompress(idat)
    row = width * 3
    assert len(raw) == (row + 1) * height, f"{path}: image data has the wrong size"
    assert all(raw[y * (row + 1)] == 0 for y in range(height)), f"{path}: a row uses a filter"
    return width, height, b"".join(raw[y * (row + 1) + 1 : (y + 1) * (row + 1)] for y in range(height))


def main() -> int:
    c_host, guest, work = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
    work.mkdir(parents=True, exist_ok=True)
    wad = work / "test.wad"
    wad.write_bytes(WAD)
    want = expected_frame(WARMUP + TICKS)
    python_host = [sys.executable, str(pathlib.Path(__file__).with_name("doom.py"))]
    failures = 0
    for name, command in (("c", [str(c_host)]), ("python", python_host)):
        for backend in ("jit", "interpreter"):
            png = work / f"{name}-{backend}.png"
            png.unlink(missing_ok=True)
            options = ["--ticks", str(TICKS), "--warmup", str(WARMUP), "--png", str(png)]
            options += ["--interpreter"] if backend == "interpreter" else []
            result = subprocess.run(command + [guest, str(wad)] + options, capture_output=True, text=True)
            problems = []
            if result.returncode != 0:
                problems.append(f"exit status {result.returncode}: {result.stderr.strip()}")
            if not result.stdout.startswith("synthetic doom\n"):
                problems.append("the guest's ext_stdout line is missing")
            stats = re.search(r"(\d+) frames in [\d.]+ s: [\d.]+ fps, ([\d.]+) host calls per frame \((\w+)\)", result.stdout)
            if not stats or stats.groups() != (str(TICKS), "2.0", backend):
                problems.append(f"unexpected statistics line in {result.stdout!r}")
            if png.exists():
                width, height, rgb = read_png(png)
                if (width, height) != (WIDTH, HEIGHT):
                    problems.append(f"screenshot is {width}x{height}, not {WIDTH}x{HEIGHT}")
                elif rgb != want:
                    wrong = sum(rgb[i : i + 3] != want[i : i + 3] for i in range(0, len(want), 3))
                    problems.append(f"{wrong} of {WIDTH * HEIGHT} pixels differ from the guest's frame")
            else:
                problems.append("no screenshot written")
            print(f"{'FAIL' if problems else 'PASS'} {name} host [{backend}]" + "".join(f"\n  {p}" for p in problems))
            failures += bool(problems)
    print(f"test-doom: {4 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
