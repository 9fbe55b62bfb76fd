"""The hot methods of ``Instance`` (its constructor and finaliser, ``reg``, ``set_reg``, ``gas``, ``set_gas``,
``run``, ``prepare_call``, and the loop of ``call``) through ctypes into the library's ``pvm_uniffi_instance_*`` functions
(src/uniffi_api/fast.rs).

A UniFFI call costs several microseconds (a handle clone, a call status, RustBuffers for the
``Reg`` enum and the ``RunResult`` record); these take the handle the object already holds and
primitives only, and call the same Rust methods, so results, errors, messages and locking are
those of the UniFFI methods they replace. Arguments these do not recognise go to the UniFFI
method, which raises what it always raised.
"""

import ctypes
import functools

from ._native import polkavm_ffi as _native
from ._native.polkavm_ffi import HostError, Instance, Module, PvmError, Reg, RunOutcome, RunResult, Status

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
# The hot functions are declared without argtypes: ctypes then passes an int as a C int and a
# ctypes object as itself, its cheapest conversions (a declared argument costs a from_param call).
# So the handle goes as the c_void_p that Instance._c_handle keeps on the object, and a 64-bit
# value in two 32-bit halves.
_reg = _lib.pvm_uniffi_instance_reg
_reg.restype = _u64
_set_reg = _lib.pvm_uniffi_instance_set_reg_halves
_set_reg.restype = ctypes.c_int32
_gas = _lib.pvm_uniffi_instance_gas
_gas.restype = _i64
_set_gas = _lib.pvm_uniffi_instance_set_gas_halves
_set_gas.restype = ctypes.c_int32
_failed = _lib.pvm_uniffi_failed
_failed.argtypes, _failed.restype = (), ctypes.c_bool
_run = _lib.pvm_uniffi_instance_run_result
_run.restype = _RunResult  # returned by value: ctypes builds it, cheaper than an out-pointer
_call_run = _lib.pvm_uniffi_instance_call_run_result
_call_run.restype = _RunResult
_prepare_call = _lib.pvm_uniffi_instance_prepare_call
_prepare_call.restype = ctypes.c_int32
_new_instance = _lib.pvm_uniffi_instance_new
_new_instance.argtypes, _new_instance.restype = (_u64,), _u64
_free_instance = _lib.pvm_uniffi_instance_free
_free_instance.argtypes, _free_instance.restype = (_u64,), None
_call_begin = _declare("pvm_uniffi_instance_call_begin", _u64, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(_u64),
                       ctypes.c_size_t, ctypes.c_bool, _i64)
_call_end = _declare("pvm_uniffi_instance_call_end", _u64)
_regs = _declare("pvm_uniffi_instance_regs", _u64, ctypes.POINTER(_u64 * 13))
_lib.pvm_uniffi_error_kind.argtypes = ()
_lib.pvm_uniffi_error_kind.restype = _u32
_lib.pvm_uniffi_error_text.argtypes = (ctypes.POINTER(ctypes.c_size_t),)
_lib.pvm_uniffi_error_text.restype = ctypes.c_void_p

# Indexed by error kind, as the C ABI numbers them (PVM_ERROR_*; 0 is none).
_ERRORS = (
    None, PvmError.InvalidArgument, PvmError.InvalidProgram, PvmError.Unsupported, PvmError.Setup,
    PvmError.Memory, PvmError.WrongState, PvmError.Panic, PvmError.HostAborted,
)
_STATUS = {status.value: status for status in Status}
_FAILED = 0xFFFFFFFF  # the status of a failed pvm_uniffi_instance_*run_result
_HOST, _A0 = Status.HOST.value, Reg.A0.value
_new_run_result = object.__new__
_U64_LIMIT = 1 << 64
_I64_MIN, _I64_LIMIT = -(1 << 63), 1 << 63


def _c_handle(self):
    """The object's handle as the c_void_p the undeclared functions take."""
    return ctypes.c_void_p(self._handle)


# Made on first use and kept in the object's __dict__, where later reads find it directly.
Instance._c_handle = functools.cached_property(_c_handle)
Instance._c_handle.__set_name__(Instance, "_c_handle")


def _raise():
    length = ctypes.c_size_t()
    text = ctypes.string_at(_lib.pvm_uniffi_error_text(ctypes.byref(length)), length.value)
    raise _ERRORS[_lib.pvm_uniffi_error_kind()](text.decode("utf-8"))


# The UniFFI methods these replace (the fallbacks, and what the tests compare against).
UNIFFI_METHODS = {name: getattr(Instance, name) for name in ("__init__", "__del__", "reg", "set_reg", "gas", "set_gas", "run", "prepare_call")}
UNIFFI_CALL = Instance.call  # the generated one: _call.py wraps `call` below, not this
_uniffi_reg, _uniffi_set_reg, _uniffi_set_gas = UNIFFI_METHODS["reg"], UNIFFI_METHODS["set_reg"], UNIFFI_METHODS["set_gas"]
_uniffi_init, _uniffi_prepare_call = UNIFFI_METHODS["__init__"], UNIFFI_METHODS["prepare_call"]
_DEFAULT = _native._DEFAULT  # the generated methods' "argument left out"
_U32_LIMIT = 1 << 32


def __init__(self, module):
    if module.__class__ is not Module:
        return _uniffi_init(self, module)
    handle = _new_instance(module._handle)
    if handle == 0:
        _raise()
    self._handle = handle


def __del__(self):
    handle = getattr(self, "_handle", None)  # None when __init__ failed
    if handle is not None:
        _free_instance(handle)


def reg(self, reg):
    if reg.__class__ is not Reg:
        return _uniffi_reg(self, reg)
    value = _reg(self._c_handle, reg._value_)
    if value == 0 and _failed():
        _raise()
    return value


def set_reg(self, reg, value):
    if reg.__class__ is not Reg or value.__class__ is not int or not 0 <= value < _U64_LIMIT:
        return _uniffi_set_reg(self, reg, value)
    if _set_reg(self._c_handle, reg._value_, value & 0xFFFFFFFF, value >> 32):
        _raise()


def gas(self):
    value = _gas(self._c_handle)
    if value == 0 and _failed():
        _raise()
    return value


def set_gas(self, gas):
    if gas.__class__ is not int or not _I64_MIN <= gas < _I64_LIMIT:
        return _uniffi_set_gas(self, gas)
    if _set_gas(self._c_handle, gas & 0xFFFFFFFF, (gas >> 32) & 0xFFFFFFFF):
        _raise()


def _run_result(out):
    # RunResult's own __init__ but for its keyword-argument handling, the costliest part here.
    result = _new_run_result(RunResult)
    result.status, result.gas_remaining = _STATUS[out.status], out.gas_remaining
    result.host_call, result.fault_address = out.host_call, out.fault_address
    return result


def run(self):
    out = _run(self._c_handle)
    if out.status == _FAILED:
        _raise()
    return _run_result(out)


def prepare_call(self, pc, args=_DEFAULT):
    if args is _DEFAULT:
        args = []
    if pc.__class__ is not int or not 0 <= pc < _U32_LIMIT or not isinstance(args, (list, tuple)) or not all(map(_is_u64, args)):
        return _uniffi_prepare_call(self, pc, args)
    if _prepare_call(self._c_handle, pc, (_u64 * len(args))(*args), len(args)):
        _raise()


def _is_u64(value):
    return value.__class__ is int and 0 <= value < _U64_LIMIT


def call(self, name, args, handler, gas=None):
    """``Instance.call`` with the handler called here, not through a UniFFI callback: the Rust
    side begins the call (same checks, same busy state for other threads and for re-entry) and
    runs it leg by leg. A handler's errors become the HostAborted that UniFFI would give."""
    if (name.__class__ is not str or not isinstance(args, (list, tuple)) or not all(map(_is_u64, args))
            or not (gas is None or (gas.__class__ is int and _I64_MIN <= gas < _I64_LIMIT))):
        return UNIFFI_CALL(self, name, args, handler, gas)
    encoded = name.encode()
    if _call_begin(self._handle, encoded, len(encoded), (_u64 * len(args))(*args), len(args), gas is not None, gas or 0):
        _raise()
    handle = self._c_handle
    try:
        on_host_call = handler.on_host_call
        while True:
            out = _call_run(handle)
            status = out.status
            if status != _HOST:
                if status == _FAILED:
                    _raise()
                break
            number = out.host_call
            try:
                value = on_host_call(number, self)
            except HostError.Abort as error:
                raise PvmError.HostAborted(f"host call {number} aborted: {error.reason}") from None
            except Exception as error:
                reason = repr(error).split("\n", 1)[0]
                raise PvmError.HostAborted(f"host call {number} aborted: {reason}") from None
            if value is not None:
                if not _is_u64(value):
                    raise PvmError.HostAborted(f"host call {number} aborted: {value!r} is not a u64 for A0")
                if _set_reg(handle, _A0, value & 0xFFFFFFFF, value >> 32):
                    _raise()
        regs = (_u64 * 13)()
        if _regs(self._handle, regs):
            _raise()
    finally:
        _call_end(self._handle)
    return RunOutcome(result=_run_result(out), regs=list(regs))


for _name, _fast in (("__init__", __init__), ("__del__", __del__), ("reg", reg), ("set_reg", set_reg), ("gas", gas), ("set_gas", set_gas), ("run", run),
                     ("prepare_call", prepare_call)):
    _fast.__doc__ = getattr(Instance, _name).__doc__
    _fast.__name__ = _fast.__qualname__ = _name
    setattr(Instance, _name, _fast)
