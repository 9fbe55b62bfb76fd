"""``Instance.call`` as Python users expect it: Ctrl-C, ``sys.exit()`` and other exceptions that
are not ``Exception`` reach the caller as themselves, and a handler result that does not fit A0
is named in the error."""

from __future__ import annotations

import threading
import typing

try:  # signal's own functions without the enum conversions of the `signal` module (~10x faster)
    import _signal as signal
except ImportError:  # pragma: no cover
    import signal  # type: ignore[no-redef]

from ._native import polkavm_ffi as _ffi
from . import _fast

_A0_LIMIT = 2**64


class _Guarded(_ffi.HostHandler):
    """Runs the user's handler, keeping for the caller what the callback boundary would swallow."""

    def __init__(self, handler: _ffi.HostHandler) -> None:
        self.handler = handler
        self.escaped: typing.Optional[BaseException] = None

    def interrupted(self) -> _ffi.HostError:
        return _ffi.HostError.Abort(f"interrupted by {type(self.escaped).__name__}")

    def on_host_call(self, number: int, instance: _ffi.Instance) -> typing.Optional[int]:
        if self.escaped is not None:  # a Ctrl-C arrived while the guest ran
            raise self.interrupted()
        try:
            value = self.handler.on_host_call(number, instance)
        except Exception:
            raise
        except BaseException as error:  # KeyboardInterrupt, SystemExit
            self.escaped = error
            raise self.interrupted() from None
        if value is None or (isinstance(value, int) and 0 <= value < _A0_LIMIT):
            return value
        raise _ffi.HostError.Abort(
            f"on_host_call returned {value!r}; it must return None or the new A0, an int in 0..2**64-1"
        )


def _keep_interrupts(guarded: _Guarded) -> typing.Any:
    """On the main thread, makes SIGINT's Python handler (KeyboardInterrupt) report to `guarded`
    instead of raising inside the callback, where ctypes would swallow it. Returns what to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGINT)
    if not callable(previous):
        return None

    def keep(signum: int, frame: typing.Any) -> None:
        try:
            previous(signum, frame)
        except BaseException as error:
            if guarded.escaped is None:
                guarded.escaped = error

    signal.signal(signal.SIGINT, keep)
    return previous


_generated_call = _ffi.Instance.call


def call(
    self: _ffi.Instance,
    name: str,
    args: typing.List[int],
    handler: _ffi.HostHandler,
    gas: typing.Optional[int] = None,
) -> _ffi.RunOutcome:
    if not isinstance(handler, _ffi.HostHandler):
        raise TypeError(f"handler must be a HostHandler subclass, not {type(handler).__name__}")
    guarded = _Guarded(handler)
    previous = _keep_interrupts(guarded)
    try:
        outcome = _fast.call(self, name, args, guarded, gas)
    except _ffi.PvmError.HostAborted:  # type: ignore[attr-defined]
        if guarded.escaped is None:
            raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if guarded.escaped is not None:
        raise guarded.escaped
    return outcome


call.__doc__ = (_generated_call.__doc__ or "").rstrip() + """

        The handler must return None or the new A0, an int in 0..2**64-1. KeyboardInterrupt and
        SystemExit raised in it, and Ctrl-C while the call runs on the main thread, stop the call
        at the next host call and reach the caller as themselves. A guest that runs without host
        calls sees Ctrl-C only when it stops: bound such runs with gas.
"""
call.__qualname__ = _generated_call.__qualname__
