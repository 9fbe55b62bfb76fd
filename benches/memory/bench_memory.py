"""Memory bandwidth through the Python package (benches/memory/run.py drives it).

    python bench_memory.py PROGRAM BACKEND ITERATIONS

Prints one line per operation, "NAME MB/s", each over ITERATIONS copies of a 640x400 BGRA frame
(1,024,000 bytes): the copying calls (read_memory returns bytes, write_memory takes them) and
the caller-buffer ones (read_memory_into a bytearray, write_memory_from it).
"""

import sys
import time

from polkavm_ffi import Backend, Engine, EngineConfig, Framebuffer, Instance, Module, PixelFormat

FRAME = 640 * 400 * 4


def main() -> None:
    path, backend, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(path, "rb") as file:
        blob = file.read()
    engine = Engine(EngineConfig(backend=Backend.INTERPRETER if backend == "interpreter" else Backend.COMPILER))
    module = Module(engine, blob)
    vm = Instance(module)
    base = module.memory_info().rw_data_address
    buffer = bytearray(b"\7" * FRAME)
    frame_bytes = bytes(buffer)
    rgb = bytearray(640 * 400 * 3)
    frame = Framebuffer(address=base, width=640, height=400, stride=640 * 4, format=PixelFormat.BGRA32)
    vm.write_memory_from(base, buffer)
    vm.read_memory_into(base, buffer)

    operations = [
        ("read (bytes)", lambda: vm.read_memory(base, FRAME)),
        ("read_memory_into", lambda: vm.read_memory_into(base, buffer)),
        ("write (bytes)", lambda: vm.write_memory(base, frame_bytes)),
        ("write_memory_from", lambda: vm.write_memory_from(base, buffer)),
        ("framebuffer_into", lambda: vm.read_framebuffer_into(frame, rgb)),
    ]
    for name, operation in operations:
        start = time.perf_counter()
        for _ in range(iterations):
            operation()
        print(f"{name} {FRAME * iterations / (time.perf_counter() - start) / 1e6:.1f}")


if __name__ == "__main__":
    main()
