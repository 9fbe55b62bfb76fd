"""Python's floor for the Python runner (bench.py): the same loops written with ctypes straight
against the C ABI (`pvm_*`) of the same library the package ships. Same protocol as bench.py:

    python bench_ctypes.py SCENARIO BACKEND N TEST_PROGRAM LARGE_PROGRAM
"""

import ctypes
import os
import sys

import polkavm_ffi._native as native

from bench import BATCH_CAP, GAS, time_workload

lib = ctypes.CDLL(os.path.join(os.path.dirname(native.__file__), "libpolkavm_ffi.so"))
P, U32, U64, I64 = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int64


class PvmResult(ctypes.Structure):
    _fields_ = [("status", U32), ("gas_remaining", I64), ("host_call", U32)]


def declare(name, restype, *argtypes):
    function = getattr(lib, name)
    function.restype, function.argtypes = restype, argtypes
    return function


engine_new = declare("pvm_engine_new", P)
engine_new_interpreter = declare("pvm_engine_new_interpreter", P)
module_new = declare("pvm_module_new", P, P, ctypes.c_char_p, ctypes.c_size_t)
module_free = declare("pvm_module_free", None, P)
find_export = declare("pvm_module_find_export", ctypes.c_int32, P, ctypes.c_char_p, ctypes.c_size_t)
export_pc = declare("pvm_module_export_pc", U32, P, U32)
instance_new = declare("pvm_instance_new", P, P, P)
instance_free = declare("pvm_instance_free", None, P)
prepare_call_args = declare("pvm_instance_prepare_call_args", ctypes.c_int32, P, U32, ctypes.POINTER(U64), U32)
set_gas = declare("pvm_instance_set_gas", None, P, I64)
get_gas = declare("pvm_instance_get_gas", I64, P)
run = declare("pvm_instance_run", PvmResult, P)
get_reg = declare("pvm_instance_get_reg", U64, P, U32)
set_reg = declare("pvm_instance_set_reg", None, P, U32, U64)
HALT, HOST, A0, A2 = 0, 4, 7, 9


def pc_of(module, name):
    index = find_export(module, name.encode(), len(name))
    assert index >= 0, name
    return export_pc(module, index)


def run_loop(vm, pc, n):
    args = (U64 * 1)(n)
    assert prepare_call_args(vm, pc, args, 1) == 0
    set_gas(vm, GAS)
    while True:
        status = run(vm).status
        if status == HOST:
            set_reg(vm, A2, get_reg(vm, A0))
        elif status == HALT:
            return get_reg(vm, A0)
        else:
            raise RuntimeError(f"unexpected status {status}")


def main():
    scenario, backend, n, test_path, large_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    if BATCH_CAP[scenario] is not None:
        n = min(n, BATCH_CAP[scenario])
    engine = engine_new() if backend == "compiler" else engine_new_interpreter()
    test_blob, large_blob = open(test_path, "rb").read(), open(large_path, "rb").read()
    module = module_new(engine, test_blob, len(test_blob))
    vm = instance_new(engine, module)
    assert engine and module and vm

    def host_calls():
        assert run_loop(vm, pc_of(module, "host_loop"), n) == n

    def compute():
        assert run_loop(vm, pc_of(module, "sum"), n) == n * (n + 1) // 2

    def invocations():
        add = pc_of(module, "add")
        for _ in range(n):
            instance = instance_new(engine, module)
            assert prepare_call_args(instance, add, (U64 * 2)(40, 2), 2) == 0
            set_gas(instance, GAS)
            assert run(instance).status == HALT
            assert get_reg(instance, A0) == 42
            instance_free(instance)

    def load():
        for _ in range(n):
            module_free(module_new(engine, large_blob, len(large_blob)))

    def reg():
        set_reg(vm, A0, 1)
        for _ in range(n):
            get_reg(vm, A0)

    def set_reg_():
        for _ in range(n):
            set_reg(vm, A2, GAS)

    def gas():
        set_gas(vm, GAS)
        for _ in range(n):
            get_gas(vm)

    def set_gas_():
        for _ in range(n):
            set_gas(vm, GAS)

    time_workload(scenario, n, {"host_calls": host_calls, "compute": compute, "invocations": invocations, "load": load,
                                "reg": reg, "set_reg": set_reg_, "gas": gas, "set_gas": set_gas_})


if __name__ == "__main__":
    main()
