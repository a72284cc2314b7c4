"""What several of threadevent's modules share: argument checks, outcomes, and error reports.

Plain names, imported by the modules that need them; nothing here blocks, and nothing here imports
another module of threadevent's, so any module may import it.
"""

from __future__ import annotations

import math
import numbers
import operator
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = [
    "TIMEOUT_MAX",
    "ExcInfo",
    "Outcome",
    "OutcomeHook",
    "TimeoutExpired",
    "as_exception",
    "check_delay",
    "check_seconds",
    "check_size",
    "check_timeout",
    "report",
    "report_exception",
    "unwrap",
]

#: The longest timeout ``lock.acquire`` takes; longer ones mean "for ever" here.
TIMEOUT_MAX = threading.TIMEOUT_MAX

#: What ``send(exc=...)`` and ``send_exception(*args)`` accept: the arguments of ``raise``.
ExcInfo = BaseException | type[BaseException] | tuple[Any, ...]

#: A sent outcome: ``(result, None, None)`` or ``(None, exception, traceback)``.  One tuple, read with one
#: attribute load, so a reader never mixes the halves of two different sends.
Outcome = tuple[Any, BaseException | None, TracebackType | None]

if sys.version_info >= (3, 11):
    TimeoutExpired = TimeoutError
else:
    from concurrent.futures import TimeoutError as _FuturesTimeoutError

    class TimeoutExpired(TimeoutError, _FuturesTimeoutError):
        """What ``result()``/``exception()`` raise on expiry: the builtin ``TimeoutError``, and also
        ``concurrent.futures.TimeoutError``, a class of its own before Python 3.11, which code written
        for Futures catches."""

        __qualname__ = __name__ = "TimeoutError"


# -- checking arguments ----------------------------------------------------------------------------


def check_seconds(value: object, name: str, none_ok: bool = False) -> float:
    """``value`` as a float, or ``inf`` for an int too large for one; TypeError/ValueError otherwise.

    ``none_ok`` only shapes the error message: the caller handles None itself.
    """
    if value.__class__ is not float and value.__class__ is not int:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            alternative = " or None" if none_ok else ""
            raise TypeError(f"{name} must be a number of seconds{alternative}, not {type(value).__name__}")
    try:
        seconds = float(value)  # type: ignore[arg-type,unused-ignore]
    except OverflowError:  # an int beyond any float: longer than anything waits
        return math.inf
    if math.isnan(seconds):
        raise ValueError(f"{name} must be a number of seconds, not NaN")
    return seconds


def check_timeout(timeout: object, name: str = "timeout", none_ok: bool = True) -> float:
    """``timeout`` as seconds to block, ``-1.0`` for "for ever"; a clear error for anything else.

    Negative means 0 (do not block); anything longer than a lock can wait means for ever.  ``name``
    and ``none_ok`` only shape the error message: the caller handles None itself.
    """
    seconds = check_seconds(timeout, name, none_ok)
    if seconds > TIMEOUT_MAX:
        return -1.0
    return seconds if seconds > 0.0 else 0.0


def check_delay(seconds: object, name: str = "seconds") -> float:
    """A delay for the timer: seconds from now, negative meaning 0, ``inf`` for "never"."""
    delay = check_seconds(seconds, name)
    return delay if delay > 0.0 else 0.0


def check_size(size: object, name: str, minimum: int | None = 0) -> int:
    """``size`` as an int (or an object with ``__index__``; not a bool), checked."""
    if isinstance(size, bool) or not hasattr(type(size), "__index__"):
        raise TypeError(f"{name} must be an int, not {type(size).__name__} {size!r}")
    number = operator.index(size)  # type: ignore[arg-type]
    if minimum is not None and number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, not {number}")
    return number


# -- outcomes --------------------------------------------------------------------------------------


def as_exception(exc: ExcInfo) -> tuple[BaseException, TracebackType | None]:
    """Turn the arguments of ``raise``/``throw`` into the instance to raise and its traceback."""
    args = exc if isinstance(exc, tuple) else (exc,)
    if not 1 <= len(args) <= 3:
        raise TypeError(
            "send_exception() takes the arguments of raise: (exception,), (type, value) or "
            f"(type, value, traceback); got {len(args)} arguments"
        )
    kind = args[0]
    value = args[1] if len(args) > 1 else None
    tb = args[2] if len(args) > 2 else None
    if tb is not None and not isinstance(tb, TracebackType):
        raise TypeError(f"the traceback must be a traceback object or None, not {type(tb).__name__}")
    if isinstance(kind, BaseException):
        if value is not None:
            raise TypeError("instance exception may not have a separate value")
        instance = kind
    elif isinstance(kind, type) and issubclass(kind, BaseException):
        instance = _instantiate(kind, value)
    else:
        raise TypeError(
            f"exceptions must be BaseException instances or subclasses, not {type(kind).__name__}"
        )
    return instance, (tb if tb is not None else instance.__traceback__)


def _instantiate(kind: type[BaseException], value: object) -> BaseException:
    """The exception ``raise kind, value`` raises (Python 2's form, which ``throw`` still takes)."""
    if isinstance(value, kind):
        return value
    if value is None:
        return kind()
    if isinstance(value, tuple):
        return kind(*value)
    return kind(value)


def unwrap(outcome: Outcome) -> Any:
    """Return the result of an outcome, or raise its exception with the traceback it was sent with."""
    exc = outcome[1]
    if exc is None:
        return outcome[0]
    try:
        raise exc.with_traceback(outcome[2])
    finally:
        del exc


# -- reporting errors ------------------------------------------------------------------------------


def report_exception() -> None:
    """Hand the exception being handled to ``threading.excepthook``, as a thread's uncaught exception is.

    Call from an ``except`` block.
    """
    _, exc_value, exc_tb = sys.exc_info()
    if exc_value is not None:
        report(exc_value, exc_tb)


def report(error: BaseException, tb: TracebackType | None) -> None:
    """Hand ``error`` to ``threading.excepthook``, as an uncaught exception of the calling thread.

    Like ``threading``, a hook that raises is reported through ``sys.excepthook``; nothing escapes, so
    the calling worker or timer thread carries on.
    """
    try:
        threading.excepthook(threading.ExceptHookArgs((type(error), error, tb, threading.current_thread())))
    except BaseException:
        try:
            if sys.stderr is not None:
                print("Exception in threading.excepthook:", file=sys.stderr, flush=True)
            sys.excepthook(*sys.exc_info())
        except BaseException:
            pass  # interpreter shutdown, or no usable stderr: nowhere left to report to


class OutcomeHook:
    """An internal done-callback that receives the outcome itself rather than the event.

    ``await`` and the wait-on-many helpers use it: by the time a callback runs, a ``reset()`` may already
    have cleared the event, but the hook still gets the outcome of the send that triggered it.
    """

    __slots__ = ("fire",)

    def __init__(self, fire: Callable[[Outcome], object]) -> None:
        self.fire = fire
