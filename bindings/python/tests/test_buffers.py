"""Caller-owned buffers (polkavm_ffi._buffers) and framebuffers, against the installed wheel.

The guest (tests/programs/framebuffer.pvmasm) writes known pixels: word i = seed + i * 0x01030507.
"""

import array
import pathlib

import numpy
import pytest

import polkavm_ffi
from polkavm_ffi import Backend, Engine, EngineConfig, Framebuffer, Instance, Module, PixelFormat, PvmError, Status

PROGRAM = pathlib.Path(__file__).resolve().parents[3] / "tests" / "programs" / "framebuffer.pvmasm"
SEED = 0x11223344
WORDS = 16384  # 64 KiB of the guest's rw data


def filled(offset: int) -> int:
    """The byte at `offset` of what the guest's `fill` writes."""
    word = (SEED + (offset // 4) * 0x01030507) & 0xFFFFFFFF
    return (word >> (8 * (offset % 4))) & 0xFF


def expected_rgb(format: PixelFormat, width: int, height: int, stride: int) -> bytes:
    out = bytearray()
    for y in range(height):
        for x in range(width):
            if format == PixelFormat.PALETTE8:
                index = filled(769 + y * stride + x)
                out += bytes(filled(1 + 3 * index + c) for c in range(3))
            else:
                at = y * stride + 4 * x
                order = (2, 1, 0) if format == PixelFormat.BGRA32 else (0, 1, 2)
                out += bytes(filled(at + c) for c in order)
    return bytes(out)


@pytest.fixture(scope="module", params=[Backend.INTERPRETER, Backend.COMPILER], ids=["interpreter", "jit"])
def filled_vm(request):
    module = Module(Engine(EngineConfig(backend=request.param)), polkavm_ffi.assemble(PROGRAM.read_text()))
    vm = Instance(module)
    base = module.memory_info().rw_data_address
    vm.prepare_call_export("fill", [base, WORDS, SEED])
    vm.set_gas(10_000_000)
    assert vm.run().status == Status.HALT
    return vm, base


def test_read_memory_into_any_writable_buffer(filled_vm):
    vm, base = filled_vm
    want = bytes(filled(i) for i in range(4096))
    target = bytearray(4096)
    assert vm.read_memory_into(base, target) is None
    assert target == want
    view = memoryview(bytearray(4100))[2:4098]  # a slice: the copy lands at its offset
    vm.read_memory_into(base, view)
    assert view.obj[:2] == b"\0\0" and bytes(view) == want[:4096] and view.obj[4098:] == b"\0\0"
    words = array.array("I", bytes(64))  # 16 words of 4 bytes: 64 bytes are read
    vm.read_memory_into(base, words)
    assert words.tobytes() == want[:64]
    assert vm.read_memory_into(base, bytearray()) is None
    assert vm.read_memory(base, 4096) == want


def test_read_memory_into_numpy(filled_vm):
    vm, base = filled_vm
    frame = numpy.zeros((40, 64, 4), dtype=numpy.uint8)
    vm.read_memory_into(base, frame)
    assert frame.tobytes() == vm.read_memory(base, frame.nbytes)


def test_write_memory_from_any_buffer(filled_vm):
    vm, base = filled_vm
    original = vm.read_memory(base + 8192, 64)
    try:
        for source in (b"\x01" * 64, bytearray(b"\x02" * 64), memoryview(b"\x03" * 80)[8:72], array.array("B", [4] * 64)):
            vm.write_memory_from(base + 8192, source)
            assert vm.read_memory(base + 8192, 64) == bytes(source)
    finally:
        vm.write_memory(base + 8192, original)


def test_buffer_errors_are_those_of_the_copying_calls(filled_vm):
    vm, base = filled_vm
    with pytest.raises(PvmError.Memory) as copied:
        vm.read_memory(0, 16)
    with pytest.raises(PvmError.Memory) as into:
        vm.read_memory_into(0, bytearray(16))
    assert str(into.value) == str(copied.value) and str(into.value).startswith("read of 16 bytes at 0x00000000 failed")
    with pytest.raises(PvmError.Memory) as copied:
        vm.write_memory(0, b"x" * 16)
    with pytest.raises(PvmError.Memory) as into:
        vm.write_memory_from(0, b"x" * 16)
    assert str(into.value) == str(copied.value)
    with pytest.raises(BufferError):
        vm.read_memory_into(base, b"read-only bytes")
    with pytest.raises(TypeError):
        vm.read_memory_into(base, "not a buffer")
    with pytest.raises(PvmError.InvalidArgument, match="buffer is NULL but its length is 4"):
        vm.read_memory_to_pointer(base, 0, 4)


@pytest.mark.parametrize(
    "format,width,height,stride",
    [
        (PixelFormat.BGRA32, 64, 40, 256),
        (PixelFormat.BGRA32, 10, 7, 48),
        (PixelFormat.RGBA32, 10, 7, 40),
        (PixelFormat.PALETTE8, 13, 5, 17),
        (PixelFormat.PALETTE8, 320, 200, 320),
    ],
)
def test_framebuffer_formats(filled_vm, format, width, height, stride):
    vm, base = filled_vm
    frame = Framebuffer(address=base, width=width, height=height, stride=stride, format=format)
    want = expected_rgb(format, width, height, stride)
    assert vm.read_framebuffer_rgb24(frame) == want
    target = bytearray(len(want) + 1)
    target[-1] = 0xAB
    vm.read_framebuffer_into(frame, target)
    assert target[:-1] == want and target[-1] == 0xAB


def test_framebuffer_first_pixel_from_the_formula(filled_vm):
    vm, base = filled_vm
    # 0x11223344 little-endian: bytes 44 33 22 11.
    assert vm.read_framebuffer_rgb24(Framebuffer(address=base, width=1, height=1, stride=4, format=PixelFormat.BGRA32)) == bytes([0x22, 0x33, 0x44])
    assert vm.read_framebuffer_rgb24(Framebuffer(address=base, width=1, height=1, stride=4, format=PixelFormat.RGBA32)) == bytes([0x44, 0x33, 0x22])


def test_framebuffer_sizes_are_checked(filled_vm):
    vm, base = filled_vm

    def frame(**changes):
        fields = dict(address=base, width=10, height=10, stride=40, format=PixelFormat.BGRA32)
        fields.update(changes)
        return Framebuffer(**fields)

    with pytest.raises(PvmError.InvalidArgument, match="framebuffer is 0x10: width and height must be non-zero"):
        vm.read_framebuffer_rgb24(frame(width=0))
    with pytest.raises(PvmError.InvalidArgument, match=r"stride 39 is below one row of 10 pixels \(40 bytes\)"):
        vm.read_framebuffer_rgb24(frame(stride=39))
    with pytest.raises(PvmError.InvalidArgument, match="runs past the end of the address space"):
        vm.read_framebuffer_rgb24(frame(address=0xFFFFFF00))
    with pytest.raises(PvmError.InvalidArgument, match="the RGB24 buffer of 299 bytes is below the 300 bytes a 10x10 image needs"):
        vm.read_framebuffer_into(frame(), bytearray(299))
    with pytest.raises(PvmError.Memory, match="read of 400 bytes at 0x00000000 failed"):
        vm.read_framebuffer_rgb24(frame(address=0))
