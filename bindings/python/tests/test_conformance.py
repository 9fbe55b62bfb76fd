"""The public JAM PVM test vectors through the Python package (Module.new_jam), on the
interpreter and on the JIT with the generic sandbox.

Also a command-line runner: ``python test_conformance.py DIR_OR_FILE... [--backend NAME]...``
prints, per backend, ``N passed, N failed`` and every failure with its reason.

A vector that fails with JamV1 is run again with ReviveV1, which keeps the older Graypaper's opcode
numbering; if it passes there, its failure is reported as due to that numbering alone. The vectors
are found in PVM_CONFORMANCE_DIR, or in ../shared/conformance/jam-pvm-v0.4 beside the repository.
"""

import json
import os
import pathlib
import sys
import time

import pytest

from polkavm_ffi import (
    Backend,
    Engine,
    EngineConfig,
    Instance,
    InstructionSet,
    JamConfig,
    Module,
    PvmError,
    Sandbox,
    Status,
)

REPOSITORY = pathlib.Path(__file__).resolve().parents[3]
BACKENDS = {
    "interpreter": EngineConfig(backend=Backend.INTERPRETER, allow_dynamic_paging=True),
    "jit_generic": EngineConfig(backend=Backend.COMPILER, sandbox=Sandbox.GENERIC, allow_dynamic_paging=True),
    "jit_linux": EngineConfig(backend=Backend.COMPILER, sandbox=Sandbox.LINUX, allow_dynamic_paging=True),
}
DEFAULT_BACKENDS = ["interpreter", "jit_generic"]
# A Graypaper blob: no jump table, the one-byte code [trap], its bitmask.
TRAP_ONLY = bytes([0, 0, 1, 0, 1])
STATUS_NAMES = {
    Status.HALT: "halt",
    Status.PANIC: "panic",
    Status.OUT_OF_GAS: "out-of-gas",
    Status.FAULT: "page-fault",
    Status.HOST: "host",
    Status.STEP: "step",
}


def vectors_dir() -> pathlib.Path:
    configured = os.environ.get("PVM_CONFORMANCE_DIR")
    return pathlib.Path(configured) if configured else REPOSITORY.parent / "shared" / "conformance" / "jam-pvm-v0.4"


def collect_vectors(path: pathlib.Path) -> list:
    """The file itself, or every .json file under the folder that is a test vector."""
    if path.is_file():
        return [json.loads(path.read_text())]
    vectors = []
    for file in sorted(path.rglob("*.json")):
        vector = json.loads(file.read_text())
        if "program" in vector or "expected-status" in vector:
            vectors.append(vector)
    return vectors


def run_vector(engine: Engine, vector: dict, isa: InstructionSet) -> list:
    """Runs the vector; returns how the outcome differs from the expected one (empty: passed)."""
    try:
        module = Module.new_jam(engine, bytes(vector["program"]), JamConfig(isa=isa, halt_pc=True))
        vm = Instance(module)
        for page in vector["initial-page-map"]:
            vm.map_pages(page["address"], page["length"], True)
        for chunk in vector["initial-memory"]:
            vm.write_memory(chunk["address"], bytes(chunk["contents"]))
        for page in vector["initial-page-map"]:
            if not page["is-writable"]:
                vm.protect_pages(page["address"], page["length"], True)
        vm.set_regs(vector["initial-regs"])
        vm.set_next_pc(vector["initial-pc"])
        vm.set_gas(vector["initial-gas"])
        result = vm.run()
    except PvmError as error:
        return [f"{type(error).__name__}: {error}"]

    differences = []
    status = STATUS_NAMES[result.status]
    if status != vector["expected-status"]:
        differences.append(f"status {status}, expected {vector['expected-status']}")
    for reg, (got, expected) in enumerate(zip(vm.regs(), vector["expected-regs"])):
        if got != expected:
            differences.append(f"r{reg} = {got:#x}, expected {expected:#x}")
    if vm.graypaper_pc() != vector["expected-pc"]:
        differences.append(f"pc {vm.graypaper_pc()}, expected {vector['expected-pc']}")
    if result.gas_remaining != vector["expected-gas"]:
        differences.append(f"gas {result.gas_remaining}, expected {vector['expected-gas']}")
    if "expected-page-fault-address" in vector and vm.fault_address() != vector["expected-page-fault-address"]:
        differences.append(f"fault address {vm.fault_address()}, expected {vector['expected-page-fault-address']:#x}")
    differences.extend(memory_differences(vm, vector))
    return differences


def memory_differences(vm: Instance, vector: dict) -> list:
    """Every mapped byte must equal the expected memory, zero where it lists nothing."""
    pages = vector["initial-page-map"]
    for chunk in vector["expected-memory"]:
        end = chunk["address"] + len(chunk["contents"])
        if not any(page["address"] <= chunk["address"] and end <= page["address"] + page["length"] for page in pages):
            return [f"expected memory at {chunk['address']:#x} lies outside the page map"]
    for page in pages:
        expected = bytearray(page["length"])
        for chunk in vector["expected-memory"]:
            offset = chunk["address"] - page["address"]
            if 0 <= offset < page["length"]:
                expected[offset : offset + len(chunk["contents"])] = bytes(chunk["contents"])
        got = vm.read_memory(page["address"], page["length"])
        if got != bytes(expected):
            offset = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
            return [f"memory at {page['address'] + offset:#x} is {got[offset]:#04x}, expected {expected[offset]:#04x}"]
    return []


def run_backend(name: str, vectors: list) -> dict:
    """Runs every vector on backend `name`: passed count, failures (name, reason, old numbering only?), wall time."""
    engine = Engine(BACKENDS[name])
    # Where the JIT's Linux sandbox cannot use userfaultfd, creating an instance is what fails.
    Instance(Module.new_jam(engine, TRAP_ONLY))
    started = time.monotonic()
    passed, failures = 0, []
    for vector in vectors:
        differences = run_vector(engine, vector, InstructionSet.JAM_V1)
        if not differences:
            passed += 1
            continue
        old_numbering = not run_vector(engine, vector, InstructionSet.REVIVE_V1)
        reason = "; ".join(differences)
        if old_numbering:
            reason = (
                f"fails with jam_v1 ({reason}); passes with revive_v1, "
                "which keeps the older Graypaper's opcode numbering"
            )
        failures.append((vector["name"], reason, old_numbering))
    return {"passed": passed, "failures": failures, "seconds": time.monotonic() - started}


def report(name: str, outcome: dict) -> str:
    lines = [f"  {name} FAILED {vector}: {reason}" for vector, reason, _ in outcome["failures"]]
    old = sum(1 for _, _, old_numbering in outcome["failures"] if old_numbering)
    lines.append(
        f"{name}: wall time {outcome['seconds']:.2f} s; "
        f"{old} of the {len(outcome['failures'])} failures are the old opcode numbering only"
    )
    lines.append(f"{name}: {outcome['passed']} passed, {len(outcome['failures'])} failed")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def vectors() -> list:
    directory = vectors_dir()
    if not directory.is_dir():
        pytest.fail(f"no JAM PVM test vectors at {directory}: set PVM_CONFORMANCE_DIR to their folder")
    return collect_vectors(directory)


@pytest.mark.parametrize("backend", DEFAULT_BACKENDS)
def test_every_vector_passes_except_for_the_old_opcode_numbering(backend, vectors, capsys):
    outcome = run_backend(backend, vectors)
    with capsys.disabled():
        print(f"\nPython package, {len(vectors)} JAM PVM test vectors:\n{report(backend, outcome)}")
    unexplained = [(vector, reason) for vector, reason, old_numbering in outcome["failures"] if not old_numbering]
    assert unexplained == []
    assert outcome["passed"] + len(outcome["failures"]) == len(vectors) > 0


def test_the_linux_sandbox_without_userfaultfd_fails_naming_the_fix():
    try:
        engine = Engine(BACKENDS["jit_linux"])
        Instance(Module.new_jam(engine, TRAP_ONLY))
    except PvmError as error:
        assert "userfaultfd" in str(error) and "vm.unprivileged_userfaultfd=1" in str(error), str(error)
        assert "generic sandbox" in str(error)
    else:
        denied = pathlib.Path("/proc/sys/vm/unprivileged_userfaultfd").read_text().strip() == "0"
        assert not denied, "an instance was created although userfaultfd is denied to the sandbox"


def main(argv: list) -> int:
    paths, backends = [], []
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--backend":
            backends.append(next(arguments, ""))
        else:
            paths.append(pathlib.Path(argument))
    if not paths or any(name not in BACKENDS for name in backends):
        print(f"usage: {sys.argv[0]} DIR_OR_FILE... [--backend {'|'.join(BACKENDS)}]...", file=sys.stderr)
        return 2
    vectors = [vector for path in paths for vector in collect_vectors(path)]
    print(f"{len(vectors)} test vectors")
    all_explained = True
    summaries = []
    for name in backends or DEFAULT_BACKENDS:
        try:
            outcome = run_backend(name, vectors)
        except PvmError as error:
            print(f"{name}: unavailable on this machine: {error}")
            all_explained = False
            continue
        text = report(name, outcome)
        print(text.rsplit("\n", 1)[0])
        summaries.append(text.rsplit("\n", 1)[1])
        all_explained &= all(old_numbering for _, _, old_numbering in outcome["failures"])
    print("\n".join(summaries))
    return 0 if all_explained and summaries else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
