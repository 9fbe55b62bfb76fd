"""Smoke test of an installed polkavm_ffi wheel: the library it loads is the wheel's own, the default
engine works, and every backend this CPU has runs the sample program (the JIT exists on x86-64
only; elsewhere asking for it must fail with polkavm's message). Prints one line per check."""

import pathlib
import platform
import sys

import polkavm_ffi
from polkavm_ffi import Backend, Engine, EngineConfig, Instance, Module, PvmError, Reg, Status, assemble

SAMPLE_PROGRAM = pathlib.Path(__file__).resolve().parents[2] / "examples" / "sample_program.pvmasm"
HAS_JIT = platform.machine() in ("x86_64", "AMD64")


class Bonus(polkavm_ffi.HostHandler):
    def on_host_call(self, number, instance):
        instance.set_reg(Reg.A2, 1)
        return None


def sum_of_squares(engine, n):
    outcome = Instance(Module(engine, assemble(SAMPLE_PROGRAM.read_text()))).call("sum_of_squares", [n], Bonus(), 1_000_000)
    assert outcome.result.status == Status.HALT, outcome.result.status
    total = outcome.regs[Reg.A0.value]
    assert total == n * (n + 1) * (2 * n + 1) // 6 + n, total
    return total


def main():
    package_dir = pathlib.Path(polkavm_ffi.__file__).resolve().parent
    assert sys.prefix != sys.base_prefix and pathlib.Path(sys.prefix).resolve() in package_dir.parents, \
        f"polkavm_ffi imported from {package_dir}, not from the virtualenv {sys.prefix}"
    libraries = sorted(path.name for path in package_dir.rglob("*.so"))
    print(f"smoke: {polkavm_ffi.version()} from the wheel ({', '.join(libraries)})")

    default = Engine(EngineConfig())
    expected = Backend.COMPILER if HAS_JIT else Backend.INTERPRETER
    assert default.backend() == expected, default.backend()
    print(f"smoke: the default engine picks the {default.backend().name.lower()}: sum_of_squares(100) = {sum_of_squares(default, 100)}")

    for backend in (Backend.INTERPRETER, Backend.COMPILER):
        try:
            engine = Engine(EngineConfig(backend=backend))
        except PvmError as error:
            assert backend == Backend.COMPILER and not HAS_JIT, f"{backend}: {error}"
            assert "the 'compiler' backend is not supported on this platform" in str(error), str(error)
            print(f"smoke: [{backend.name.lower()}] unavailable here: {error}")
            continue
        assert HAS_JIT or backend != Backend.COMPILER, "the JIT started on a CPU polkavm has no JIT for"
        assert engine.backend() == backend
        print(f"smoke: [{backend.name.lower()}] sum_of_squares(1000) = {sum_of_squares(engine, 1000)}")


if __name__ == "__main__":
    main()
