"""The error contract (tests/error_contract.json; format in docs/design.md, "Error contract") through
the Python bindings, face "python": every case raises the PvmError variant and message of the file.
"""

import json
import pathlib

import pytest

import polkavm_ffi
from polkavm_ffi import (
    Backend,
    Engine,
    EngineConfig,
    HostError,
    HostHandler,
    Instance,
    Module,
    ModuleConfig,
    PvmError,
)

ROOT = pathlib.Path(__file__).resolve().parents[3]
CONTRACT = json.loads((ROOT / "tests" / "error_contract.json").read_text())
FACE = "python"
CASES = {
    name: case
    for name, case in CONTRACT["cases"].items()
    if "only_in" not in case or FACE in case["only_in"]
}


def interpreter(allow_dynamic_paging: bool = False) -> Engine:
    return Engine(EngineConfig(backend=Backend.INTERPRETER, allow_dynamic_paging=allow_dynamic_paging))


class Fixture:
    def __init__(self):
        self.blob = polkavm_ffi.assemble((ROOT / "tests" / "programs" / "test_program.pvmasm").read_text())
        self.engine = interpreter()
        self.module = Module(self.engine, self.blob)
        self.instance = Instance(self.module)


class Boom(HostHandler):
    def on_host_call(self, number, instance):
        raise HostError.Abort("boom")


def heap_size_under_dynamic_paging(f: Fixture):
    engine = interpreter(allow_dynamic_paging=True)
    Instance(Module(engine, f.blob, ModuleConfig(dynamic_paging=True))).heap_size()


# The face's code for each case of the file, by the case's name.
RUNNERS = {
    "run_without_call": lambda f: f.instance.run(),
    "bad_blob": lambda f: Module(f.engine, b"NOT A PROGRAM"),
    "empty_blob": lambda f: Module(f.engine, b""),
    "no_such_export": lambda f: f.module.export_pc("missing"),
    "too_many_arguments": lambda f: f.instance.prepare_call_export("add", [0] * 10),
    "bad_page_size": lambda f: Module(f.engine, f.blob, ModuleConfig(page_size=1000)),
    "unmapped_memory": lambda f: f.instance.read_memory(0, 4),
    "dynamic_paging_not_allowed": lambda f: Module(f.engine, f.blob, ModuleConfig(dynamic_paging=True)),
    "heap_size_under_dynamic_paging": heap_size_under_dynamic_paging,
    "map_pages_without_dynamic_paging": lambda f: f.instance.map_pages(0x10000, 4096, True),
    "handler_failure": lambda f: f.instance.call("host", [1], Boom(), 10_000),
}


def test_the_face_runs_every_case_of_the_file_and_no_other():
    assert set(RUNNERS) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name):
    expected = CASES[name]
    runner = RUNNERS.get(name)
    assert runner is not None, f"the Python face does not run case {name}"
    with pytest.raises(PvmError) as raised:
        runner(Fixture())
    assert type(raised.value).__name__ == expected["kind"]
    assert isinstance(raised.value, getattr(PvmError, expected["kind"]))
    assert str(raised.value) == expected["message"]
