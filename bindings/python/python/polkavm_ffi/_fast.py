"""The hot methods of ``Instance`` (``reg``, ``set_reg``, ``gas``, ``set_gas``, ``run``) through
ctypes into the library's ``pvm_uniffi_instance_*`` functions (src/uniffi_api/fast.rs).

A UniFFI call costs several microseconds (a handle clone, a call status, RustBuffers for the
``Reg`` enum and the ``RunResult`` record); these take the handle the object already holds and
primitives only, and call the same Rust methods, so results, errors, messages and locking are
those of the UniFFI methods they replace. Arguments these do not recognise go to the UniFFI
method, which raises what it always raised.
"""

import ctypes

from ._native import polkavm_ffi as _native
from ._native.polkavm_ffi import Instance, PvmError, Reg, RunResult, Status

_lib = _native._UniffiLib


class _RunResult(ctypes.Structure):
    _fields_ = [
        ("status", ctypes.c_uint32),
        ("host_call", ctypes.c_uint32),
        ("fault_address", ctypes.c_uint32),
        ("gas_remaining", ctypes.c_int64),
    ]


def _declare(name, *argtypes):
    function = getattr(_lib, name)
    function.argtypes = argtypes
    function.restype = ctypes.c_int32
    return function


_u64, _i64, _u32 = ctypes.c_uint64, ctypes.c_int64, ctypes.c_uint32
_reg = _lib.pvm_uniffi_instance_reg
_reg.argtypes, _reg.restype = (_u64, _u32), _u64
_set_reg = _declare("pvm_uniffi_instance_set_reg", _u64, _u32, _u64)
_gas = _lib.pvm_uniffi_instance_gas
_gas.argtypes, _gas.restype = (_u64,), _i64
_failed = _lib.pvm_uniffi_failed
_failed.argtypes, _failed.restype = (), ctypes.c_bool
_set_gas = _declare("pvm_uniffi_instance_set_gas", _u64, _i64)
_run = _declare("pvm_uniffi_instance_run", _u64, ctypes.POINTER(_RunResult))
_lib.pvm_uniffi_error_kind.argtypes = ()
_lib.pvm_uniffi_error_kind.restype = _u32
_lib.pvm_uniffi_error_message.argtypes = ()
_lib.pvm_uniffi_error_message.restype = ctypes.c_char_p

# In the order of src/uniffi_api/fast.rs's `variant`.
_ERRORS = (
    PvmError.InvalidArgument, PvmError.InvalidProgram, PvmError.Unsupported, PvmError.Setup,
    PvmError.Memory, PvmError.WrongState, PvmError.Panic, PvmError.HostAborted,
)
_STATUS = {status.value: status for status in Status}
_new_run_result = object.__new__
_U64_LIMIT = 1 << 64
_I64_MIN, _I64_LIMIT = -(1 << 63), 1 << 63


def _raise():
    raise _ERRORS[_lib.pvm_uniffi_error_kind()](_lib.pvm_uniffi_error_message().decode("utf-8", "replace"))


# The UniFFI methods these replace (the fallbacks, and what the tests compare against).
UNIFFI_METHODS = {name: getattr(Instance, name) for name in ("reg", "set_reg", "gas", "set_gas", "run")}
_uniffi_reg, _uniffi_set_reg, _uniffi_set_gas = UNIFFI_METHODS["reg"], UNIFFI_METHODS["set_reg"], UNIFFI_METHODS["set_gas"]


def reg(self, reg):
    if reg.__class__ is not Reg:
        return _uniffi_reg(self, reg)
    value = _reg(self._handle, reg._value_)
    if value == 0 and _failed():
        _raise()
    return value


def set_reg(self, reg, value):
    if reg.__class__ is not Reg or value.__class__ is not int or not 0 <= value < _U64_LIMIT:
        return _uniffi_set_reg(self, reg, value)
    if _set_reg(self._handle, reg._value_, value):
        _raise()


def gas(self):
    value = _gas(self._handle)
    if value == 0 and _failed():
        _raise()
    return value


def set_gas(self, gas):
    if gas.__class__ is not int or not _I64_MIN <= gas < _I64_LIMIT:
        return _uniffi_set_gas(self, gas)
    if _set_gas(self._handle, gas):
        _raise()


def run(self):
    out = _RunResult()
    if _run(self._handle, out):
        _raise()
    # RunResult's own __init__ but for its keyword-argument handling, the costliest part here.
    result = _new_run_result(RunResult)
    result.status, result.gas_remaining = _STATUS[out.status], out.gas_remaining
    result.host_call, result.fault_address = out.host_call, out.fault_address
    return result


for _name, _fast in (("reg", reg), ("set_reg", set_reg), ("gas", gas), ("set_gas", set_gas), ("run", run)):
    _fast.__doc__ = getattr(Instance, _name).__doc__
    _fast.__name__ = _fast.__qualname__ = _name
    setattr(Instance, _name, _fast)
