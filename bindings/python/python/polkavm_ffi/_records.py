"""What the generated module leaves rough for Python users: records that print their fields,
registers that must be a ``Reg``, and configs whose gas metering is explicit (``None`` is not a
metering mode)."""

from __future__ import annotations

import enum
import inspect
import typing

from ._native import polkavm_ffi as _ffi

# UniFFI records: the generated classes with fields, `__eq__` and a `__str__` (but no `__repr__`).
RECORDS = [
    item
    for item in (getattr(_ffi, name) for name in _ffi.__all__)
    if isinstance(item, type)
    and not issubclass(item, (Exception, enum.Enum))
    and {"__eq__", "__str__"} <= vars(item).keys()
]
CONFIGS_WITH_GAS_METERING = (_ffi.ModuleConfig, _ffi.JamConfig)


def _field_names(record: type) -> typing.List[str]:
    return [name for name in inspect.signature(record.__init__).parameters if name != "self"]


def _repr(self: typing.Any) -> str:
    def show(value: typing.Any) -> str:
        return str(value) if isinstance(value, enum.Enum) else repr(value)

    fields = ", ".join(f"{name}={show(getattr(self, name))}" for name in _field_names(type(self)))
    return f"{type(self).__name__}({fields})"


def _check_reg(value: typing.Any) -> None:
    if not isinstance(value, _ffi.Reg):
        hint = f" (use Reg({value}) for register number {value})" if isinstance(value, int) and 0 <= value < 13 else ""
        raise TypeError(f"expected a Reg such as Reg.A0, not {type(value).__name__} {value!r}{hint}")


def _with_explicit_gas_metering(config: type) -> None:
    generated_init = config.__init__

    def __init__(self: typing.Any, *, gas_metering: _ffi.GasMetering = _ffi.GasMetering.SYNC, **fields: typing.Any) -> None:
        if not isinstance(gas_metering, _ffi.GasMetering):
            raise TypeError(
                f"gas_metering must be a GasMetering, not {gas_metering!r}: "
                "GasMetering.DISABLED turns metering off, GasMetering.SYNC (the default) meters exactly"
            )
        generated_init(self, gas_metering=gas_metering, **fields)

    signature = inspect.signature(generated_init)
    parameters = [
        parameter.replace(annotation=_ffi.GasMetering, default=_ffi.GasMetering.SYNC)
        if parameter.name == "gas_metering"
        else parameter
        for parameter in signature.parameters.values()
    ]
    __init__.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    __init__.__qualname__ = generated_init.__qualname__
    config.__init__ = __init__  # type: ignore[misc]


def apply() -> None:
    for config in CONFIGS_WITH_GAS_METERING:
        _with_explicit_gas_metering(config)
    for record in RECORDS:
        record.__repr__ = _repr  # type: ignore[method-assign]
    _ffi._UniffiFfiConverterTypeReg.check_lower = staticmethod(_check_reg)  # type: ignore[attr-defined]
