"""Runs polkavm's Doom guest headless through the Python package: N ticks, then prints frames
per second and host calls per frame, and writes the last frame as a PNG.

    python doom.py DOOM.polkavm WAD [--ticks N] [--warmup N] [--png OUT.png] [--interpreter]

The guest imports ext_output_video(address, width, height) (a BGRA frame),
ext_output_audio(address, samples), ext_rom_size() -> size, ext_rom_read(pointer, offset,
length) and ext_stdout(buffer, length) -> written; it exports ext_initialize and ext_tick.
"""

import argparse
import struct
import sys
import time
import zlib

from polkavm_ffi import (
    Backend,
    Engine,
    EngineConfig,
    Framebuffer,
    GasMetering,
    HostError,
    HostHandler,
    Instance,
    Module,
    ModuleConfig,
    PixelFormat,
    Reg,
)


class DoomHost(HostHandler):
    def __init__(self, module: Module, rom: bytes):
        self.rom = memoryview(rom)
        self.rgb = bytearray()
        self.width = self.height = 0
        self.host_calls = 0
        serve = {
            "ext_output_video": self.output_video,
            "ext_output_audio": self.output_audio,
            "ext_rom_size": self.rom_size,
            "ext_rom_read": self.rom_read,
            "ext_stdout": self.stdout,
        }
        self.imports = [serve.get(name) for name in module.imports()]

    def on_host_call(self, number, instance):
        self.host_calls += 1
        handler = self.imports[number] if number < len(self.imports) else None
        if handler is None:
            raise HostError.Abort(f"host call {number} is not an import this host provides")
        return handler(instance)

    def output_video(self, instance):
        address, width, height = (instance.reg(r) for r in (Reg.A0, Reg.A1, Reg.A2))
        if (width, height) != (self.width, self.height):
            self.rgb = bytearray(width * height * 3)
            self.width, self.height = width, height
        frame = Framebuffer(address=address, width=width, height=height, stride=width * 4, format=PixelFormat.BGRA32)
        instance.read_framebuffer_into(frame, self.rgb)

    def output_audio(self, instance):
        return None  # headless: no sound

    def rom_size(self, instance):
        return len(self.rom)

    def rom_read(self, instance):
        pointer, offset, length = (instance.reg(r) for r in (Reg.A0, Reg.A1, Reg.A2))
        if offset + length > len(self.rom):
            raise HostError.Abort(f"invalid ROM read: offset = 0x{offset:x}, length = {length}")
        instance.write_memory_from(pointer, self.rom[offset : offset + length])

    def stdout(self, instance):
        length = instance.reg(Reg.A1)
        sys.stdout.buffer.write(instance.read_memory(instance.reg(Reg.A0), length))
        sys.stdout.flush()
        return length


def write_png(path: str, rgb: bytes, width: int, height: int) -> None:
    """An 8-bit RGB PNG: each row filter type 0, zlib-compressed."""
    row = width * 3
    raw = b"".join(b"\0" + rgb[y * row : (y + 1) * row] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    with open(path, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n")
        file.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        file.write(chunk(b"IDAT", zlib.compress(raw, 6)))
        file.write(chunk(b"IEND", b""))


def main() -> int:
    parser = argparse.ArgumentParser(description="Run polkavm's Doom guest headless.")
    parser.add_argument("guest", help="doom.polkavm")
    parser.add_argument("wad", help="a Doom WAD, e.g. freedoom1.wad")
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--png", default="doom.png")
    parser.add_argument("--interpreter", action="store_true")
    args = parser.parse_args()

    with open(args.guest, "rb") as file:
        blob = file.read()
    with open(args.wad, "rb") as file:
        rom = file.read()
    backend = Backend.INTERPRETER if args.interpreter else None  # None: the JIT where available
    engine = Engine(EngineConfig(backend=backend))
    # No gas metering; pages of 16 KiB as polkavm's own Doom host.
    module = Module(engine, blob, ModuleConfig(gas_metering=GasMetering.DISABLED, page_size=0x4000))
    vm = Instance(module)
    host = DoomHost(module, rom)

    vm.call("ext_initialize", [], host, 0)
    for _ in range(args.warmup):
        vm.call("ext_tick", [], host, 0)
    host.host_calls = 0
    start = time.perf_counter()
    for _ in range(args.ticks):
        vm.call("ext_tick", [], host, 0)
    seconds = time.perf_counter() - start

    kind = "interpreter" if engine.backend() == Backend.INTERPRETER else "jit"
    print(f"{args.ticks} frames in {seconds:.3f} s: {args.ticks / seconds:.1f} fps, "
          f"{host.host_calls / args.ticks:.1f} host calls per frame ({kind})")
    if not host.width:
        print("doom: the guest never called ext_output_video", file=sys.stderr)
        return 1
    write_png(args.png, host.rgb, host.width, host.height)
    print(f"last frame ({host.width}x{host.height}) written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
