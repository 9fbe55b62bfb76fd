"""The PVM test vectors in tests/vectors through the Python package (the UniFFI API:
Module.new_jam), on the interpreter and on the JIT with the generic sandbox: the JAM PVM test
vectors v0.4 (Graypaper 0.6.7-0.7.2: revive_v1 opcodes, naive gas) and polkavm's spectool
vectors for Graypaper 0.8.0 (jam_v1 opcodes, full-L2 gas).

Also a command-line runner, in step with pvm-conformance and tests/conformance/conformance_runner.c:
``python test_conformance.py DIR_OR_FILE... [--backend NAME]... [--isa jam_v1|revive_v1]
[--cost-model naive|full-l1|full-l2|full-l3]`` prints, per backend, ``N passed, N failed`` and
every failure with its reason. It reads the flat v0.4 format and the steps format (set-up steps,
several runs and asserts per test, host-call re-entry, paging between runs), and checks the
steps format's block-gas-costs with Module.block_gas_cost.
"""

import json
import pathlib
import sys
import time

import pytest

from polkavm_ffi import (
    Backend,
    CostModel,
    Engine,
    EngineConfig,
    Instance,
    InstructionSet,
    JamConfig,
    Module,
    PvmError,
    Reg,
    Sandbox,
    Status,
)

VECTORS = pathlib.Path(__file__).resolve().parents[3] / "tests" / "vectors"
BACKENDS = {
    "interpreter": EngineConfig(backend=Backend.INTERPRETER, allow_dynamic_paging=True),
    "jit_generic": EngineConfig(backend=Backend.COMPILER, sandbox=Sandbox.GENERIC, allow_dynamic_paging=True),
    "jit_linux": EngineConfig(backend=Backend.COMPILER, sandbox=Sandbox.LINUX, allow_dynamic_paging=True),
}
DEFAULT_BACKENDS = ["interpreter", "jit_generic"]
ISAS = {"jam_v1": InstructionSet.JAM_V1, "revive_v1": InstructionSet.REVIVE_V1}
COST_MODELS = {
    "naive": CostModel.NAIVE,
    "full-l1": CostModel.FULL_L1_HIT,
    "full-l2": CostModel.FULL_L2_HIT,
    "full-l3": CostModel.FULL_L3_HIT,
}
# Each suite with the opcode table and cost model of its Graypaper version.
SUITES = {
    "jam-pvm-v0.4": JamConfig(isa=InstructionSet.REVIVE_V1, cost_model=CostModel.NAIVE, halt_pc=True),
    "gp-0.8.0-polkavm-spectool": JamConfig(isa=InstructionSet.JAM_V1, cost_model=CostModel.FULL_L2_HIT, halt_pc=True),
}
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


def collect_vectors(path: pathlib.Path) -> list:
    """The file itself, or every .json file under the folder that is a test vector."""
    if path.is_file():
        return [json.loads(path.read_text())]
    vectors = []
    for file in sorted(path.rglob("*.json")):
        vector = json.loads(file.read_text())
        if "program" in vector:
            vectors.append(vector)
    return vectors


def steps_of(vector: dict) -> list:
    """The vector's steps; a flat (v0.4) vector becomes set-up steps, one run and one assert."""
    if "steps" in vector:
        return vector["steps"]
    steps = [{"map": page} for page in vector["initial-page-map"]]
    steps += [{"write": chunk} for chunk in vector["initial-memory"]]
    steps += [{"set-reg": {"reg": reg, "value": value}} for reg, value in enumerate(vector["initial-regs"])]
    expected = {
        "status": vector["expected-status"],
        "regs": vector["expected-regs"],
        "pc": vector["expected-pc"],
        "gas": vector["expected-gas"],
        "memory": vector["expected-memory"],
    }
    if "expected-page-fault-address" in vector:
        expected["page-fault-address"] = vector["expected-page-fault-address"]
    return steps + [{"run": {}}, {"assert": expected}]


def run_vector(engine: Engine, vector: dict, config: JamConfig) -> list:
    """Runs the vector's steps; returns how the outcomes differ from the expected ones (empty: passed)."""
    differences = []
    try:
        module = Module.new_jam(engine, bytes(vector["program"]), config)
        for block in vector.get("block-gas-costs", []):
            cost = module.block_gas_cost(block["pc"])
            if cost != block["cost"]:
                differences.append(f"block at pc {block['pc']} costs {cost}, expected {block['cost']}")
        vm = Instance(module)
        vm.set_next_pc(vector["initial-pc"])
        vm.set_gas(vector["initial-gas"])
        mapped, result, runs = [], None, 0
        for step in steps_of(vector):
            (kind, body), = step.items()
            if kind == "map":
                vm.map_pages(body["address"], body["length"], body["is-writable"])
                mapped.append(body)
            elif kind == "write":
                write_ignoring_protection(vm, mapped, body["address"], bytes(body["contents"]))
            elif kind == "set-reg":
                vm.set_reg(Reg(body["reg"]), body["value"])
            elif kind == "run":
                runs += 1
                result = vm.run()
            elif kind == "assert":
                prefix = f"after run {runs}: " if runs > 1 else ""
                differences += [prefix + difference for difference in compare(vm, result, body, mapped)]
            else:
                differences.append(f"unknown step {kind!r}")
    except PvmError as error:
        differences.append(f"{type(error).__name__}: {error}")
    return differences


def write_ignoring_protection(vm: Instance, mapped: list, address: int, contents: bytes) -> None:
    """A test's set-up writes read-only pages too."""
    read_only = [
        page for page in mapped
        if not page["is-writable"] and address < page["address"] + page["length"] and page["address"] < address + len(contents)
    ]
    for page in read_only:
        vm.protect_pages(page["address"], page["length"], False)
    vm.write_memory(address, contents)
    for page in read_only:
        vm.protect_pages(page["address"], page["length"], True)


def compare(vm: Instance, result, expected: dict, mapped: list) -> list:
    differences = []
    status = STATUS_NAMES[result.status]
    if status == "host" and expected["status"] == "ecalli":  # "host" in v0.4, "ecalli" in the steps format
        status = "ecalli"
    if status != expected["status"]:
        differences.append(f"status {status}, expected {expected['status']}")
    for reg, (got, want) in enumerate(zip(vm.regs(), expected["regs"])):
        if got != want:
            differences.append(f"r{reg} = {got:#x}, expected {want:#x}")
    if vm.graypaper_pc() != expected["pc"]:
        differences.append(f"pc {vm.graypaper_pc()}, expected {expected['pc']}")
    if result.gas_remaining != expected["gas"]:
        differences.append(f"gas {result.gas_remaining}, expected {expected['gas']}")
    if "page-fault-address" in expected and vm.fault_address() != expected["page-fault-address"]:
        differences.append(f"fault address {vm.fault_address()}, expected {expected['page-fault-address']:#x}")
    if "hostcall" in expected and (result.status != Status.HOST or result.host_call != expected["hostcall"]):
        differences.append(f"host call {result.host_call}, expected {expected['hostcall']}")
    differences.extend(memory_differences(vm, expected["memory"], mapped))
    return differences


def memory_differences(vm: Instance, expected_memory: list, mapped: list) -> list:
    """Every mapped byte must equal the expected memory, zero where it lists nothing."""
    for chunk in expected_memory:
        end = chunk["address"] + len(chunk["contents"])
        if not any(page["address"] <= chunk["address"] and end <= page["address"] + page["length"] for page in mapped):
            return [f"expected memory at {chunk['address']:#x} lies outside the mapped pages"]
    for page in mapped:
        expected = bytearray(page["length"])
        for chunk in expected_memory:
            offset = chunk["address"] - page["address"]
            if 0 <= offset < page["length"]:
                expected[offset : offset + len(chunk["contents"])] = bytes(chunk["contents"])
        got = vm.read_memory(page["address"], page["length"])
        if got != bytes(expected):
            offset = next(i for i, (a, b) in enumerate(zip(got, expected)) if a != b)
            return [f"memory at {page['address'] + offset:#x} is {got[offset]:#04x}, expected {expected[offset]:#04x}"]
    return []


def run_backend(name: str, vectors: list, config: JamConfig) -> dict:
    """Runs every vector on backend `name`: passed count, failures (name, reason), wall time."""
    engine = Engine(BACKENDS[name])
    # Where the JIT's Linux sandbox cannot use userfaultfd, creating an instance is what fails.
    Instance(Module.new_jam(engine, TRAP_ONLY))
    started = time.monotonic()
    passed, failures = 0, []
    for vector in vectors:
        differences = run_vector(engine, vector, config)
        if differences:
            failures.append((vector["name"], "; ".join(differences)))
        else:
            passed += 1
    return {"passed": passed, "failures": failures, "seconds": time.monotonic() - started}


def report(name: str, outcome: dict) -> str:
    lines = [f"  {name} FAILED {vector}: {reason}" for vector, reason in outcome["failures"]]
    lines.append(f"{name}: wall time {outcome['seconds']:.2f} s")
    lines.append(f"{name}: {outcome['passed']} passed, {len(outcome['failures'])} failed")
    return "\n".join(lines)


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("backend", DEFAULT_BACKENDS)
def test_every_vector_passes(suite, backend, capsys):
    vectors = collect_vectors(VECTORS / suite)
    outcome = run_backend(backend, vectors, SUITES[suite])
    with capsys.disabled():
        print(f"\nPython package (UniFFI), {len(vectors)} vectors of {suite}:\n{report(backend, outcome)}")
    assert outcome["failures"] == []
    assert outcome["passed"] == len(vectors) > 300


def test_the_suites_fail_under_each_others_cost_model():
    """The runner sees gas: 0.8.0's vectors under the naive model, v0.4's under full-L2, mostly fail."""
    engine = Engine(BACKENDS["interpreter"])
    swapped = {
        "jam-pvm-v0.4": JamConfig(isa=InstructionSet.REVIVE_V1, cost_model=CostModel.FULL_L2_HIT, halt_pc=True),
        "gp-0.8.0-polkavm-spectool": JamConfig(isa=InstructionSet.JAM_V1, cost_model=CostModel.NAIVE, halt_pc=True),
    }
    for suite, config in swapped.items():
        vectors = collect_vectors(VECTORS / suite)
        outcome = run_backend("interpreter", vectors, config)
        assert len(outcome["failures"]) > len(vectors) // 2, suite
        # Only the gas differs: the gas left, and for 0.8.0's vectors the block costs.
        reasons = [difference for _, reason in outcome["failures"] for difference in reason.split("; ")]
        assert all(" gas " in f" {reason} " or " costs " in reason for reason in reasons), suite


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
    paths, backends, isa, cost_model = [], [], "jam_v1", "full-l2"
    arguments = iter(argv)
    try:
        for argument in arguments:
            if argument == "--backend":
                backends.append(next(arguments))
            elif argument == "--isa":
                isa = next(arguments)
            elif argument == "--cost-model":
                cost_model = next(arguments)
            else:
                paths.append(pathlib.Path(argument))
    except StopIteration:
        paths = []
    if not paths or any(name not in BACKENDS for name in backends) or isa not in ISAS or cost_model not in COST_MODELS:
        print(
            f"usage: {sys.argv[0]} DIR_OR_FILE... [--backend {'|'.join(BACKENDS)}]... [--isa {'|'.join(ISAS)}] "
            f"[--cost-model {'|'.join(COST_MODELS)}]",
            file=sys.stderr,
        )
        return 2
    config = JamConfig(isa=ISAS[isa], cost_model=COST_MODELS[cost_model], halt_pc=True)
    vectors = [vector for path in paths for vector in collect_vectors(path)]
    print(f"Python package (UniFFI): {len(vectors)} test vectors (isa {isa}, cost model {cost_model})")
    all_passed = True
    summaries = []
    for name in backends or DEFAULT_BACKENDS:
        try:
            outcome = run_backend(name, vectors, config)
        except PvmError as error:
            print(f"{name}: unavailable on this machine: {error}")
            all_passed = False
            continue
        text = report(name, outcome)
        print(text.rsplit("\n", 1)[0])
        summaries.append(text.rsplit("\n", 1)[1])
        all_passed &= not outcome["failures"]
    print("\n".join(summaries))
    return 0 if all_passed and summaries else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
