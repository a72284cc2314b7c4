"""Timeout: eventlet's deadline for a block of code, raised at the blocking calls of threadevent."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, overload

from threadevent import hub
from threadevent._api import check_delay
from threadevent._checkpoint import ThreadState, current_owner, current_state, expire, withdraw

__all__ = ["Timeout", "with_timeout"]

_T = TypeVar("_T")
_V = TypeVar("_V")
_P = ParamSpec("_P")

#: Orders deadlines by when they were armed, so that an enclosing block's deadline wins (see ``expire``).
_ranks = itertools.count(1)


class _Arming:
    """One arming of a Timeout: the thread it is armed in and what to raise there.

    A Timeout can be started again after ``cancel()``; each start is a new arming, so that the timer of
    an earlier one, firing late, can never reach the later one.
    """

    __slots__ = ("exc", "handle", "owner", "rank", "state")

    def __init__(self, state: ThreadState, exc: BaseException, owner: object) -> None:
        self.state = state
        self.exc = exc
        self.owner = owner
        self.rank = next(_ranks)
        self.handle: hub.TimerHandle | None = None

    def fire(self) -> None:
        # In the timer thread: it must be quick, and it must not raise.
        expire(self.state, self.exc, self.rank, self.owner)


def _check_exception(exception: object) -> None:
    if exception is None or exception is True or exception is False:
        return
    if isinstance(exception, BaseException):
        return
    if isinstance(exception, type) and issubclass(exception, BaseException):
        return
    raise TypeError(
        "Timeout exception must be None, False, an exception class or an exception instance, "
        f"not {exception!r}"
    )


class Timeout(BaseException):
    """A deadline for the calling thread: past it, the thread's current or next checkpoint raises.

    The checkpoints are threadevent's blocking calls: ``Event.wait``, ``GreenThread.wait``, ``sleep``,
    a full ``GreenPool.spawn``, ``waitall``, ``GreenPile`` iteration, ``wait_any``/``wait_all``/
    ``as_completed``.  A thread blocked in one when the deadline passes is woken at once and raises
    there.  What is raised is the Timeout itself, or ``exception`` (a class is instantiated when the
    Timeout starts); with ``exception=False`` a ``with`` block ends silently instead.

    As in eventlet, a Timeout starts when it is made (``seconds=None``: never fires), and a ``with``
    block starts it again if it is not pending; it is cancelled when the block is left, however it is
    left.  It never fires after ``cancel()``, after its block is left, nor in the next function a worker
    thread runs after the greenthread that armed it has ended.  Nested Timeouts each fire at their own
    deadline; when both have passed, the enclosing one's is raised.

    What it deliberately does not do: interrupt code between checkpoints.  A thread busy computing, or
    blocked in a call that is not threadevent's (``socket.recv``, ``threading.Lock.acquire``), raises at
    its next checkpoint, however late that is (``GreenThread.kill`` goes further, best effort).

    >>> from threadevent import Event, Timeout
    >>> with Timeout(0.01, False):
    ...     Event().wait()  # never sent: the Timeout ends the block
    >>> try:
    ...     with Timeout(0.01):
    ...         Event().wait()
    ... except Timeout as t:
    ...     print("timed out after", t)
    timed out after 0.01 seconds
    """

    seconds: float | None
    exception: BaseException | type[BaseException] | bool | None

    def __init__(
        self,
        seconds: float | None = None,
        exception: BaseException | type[BaseException] | bool | None = None,
    ) -> None:
        # Checked as every timer's delay: the same TypeError/ValueError, negatives meaning now, and
        # ``inf`` (or an int too large for a float) meaning never.
        checked = None if seconds is None else check_delay(seconds)
        _check_exception(exception)
        super().__init__(seconds, exception)
        self.seconds = seconds
        self.exception = exception
        self._delay = checked
        self._arming: _Arming | None = None
        self.start()

    def start(self) -> Timeout:
        """Arm the deadline, ``seconds`` from now, for the calling thread (again, if it was pending).

        Called when the Timeout is made; call it again only after ``cancel()``.  Returns the Timeout.
        """
        if self._arming is not None:
            self.cancel()
        seconds = self._delay
        if seconds is None or seconds == math.inf:
            return self  # it never fires: nothing to arm, nothing for the timer thread to hold
        exception = self.exception
        if exception is None or exception is True or exception is False:
            exc: BaseException = self
        elif isinstance(exception, BaseException):
            exc = exception
        else:
            exc = exception()
        state = current_state(create=True)
        assert state is not None
        arming = _Arming(state, exc, current_owner())
        arming.handle = hub.call_later(seconds, arming.fire)
        self._arming = arming
        return self

    @property
    def pending(self) -> bool:
        """True while armed and not yet fired (nor cancelled)."""
        arming = self._arming
        return arming is not None and arming.handle is not None and arming.handle.pending

    def cancel(self) -> None:
        """Disarm: the deadline will not fire, and one that fired but was not raised yet never will be.

        Safe to call more than once, from any thread, and after the Timeout fired.
        """
        arming = self._arming
        if arming is None:
            return
        self._arming = None
        if arming.handle is not None:
            arming.handle.cancel()
        # It may have fired a moment ago: its exception must not reach a later checkpoint.
        withdraw(arming.state, arming.exc)

    @property
    def is_timeout(self) -> bool:
        """Always True: eventlet's mark for exceptions that mean "timed out"."""
        return True

    def __enter__(self) -> Timeout:
        if not self.pending:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        self.cancel()
        return exc is self and self.exception is False

    def __str__(self) -> str:
        if self.seconds is None:
            return ""
        text = f"{self.seconds} second{'' if self.seconds == 1 else 's'}"
        if self.exception is False:
            return f"{text} (silent)"
        if self.exception is None or self.exception is True:
            return text
        return f"{text} ({self.exception})"

    def __repr__(self) -> str:
        exception = "" if self.exception is None else f" exception={self.exception!r}"
        pending = " pending" if self.pending else ""
        return f"<{type(self).__name__} at {id(self):#x} seconds={self.seconds}{exception}{pending}>"


_NO_VALUE: Any = object()


# Two signatures because a ParamSpec's ``**kwargs`` cannot sit beside a keyword of our own: a call with
# ``timeout_value`` matches the first, which cannot check the function's parameter types.
@overload
def with_timeout(
    seconds: float | None, function: Callable[..., _T], /, *args: Any, timeout_value: _V, **kwargs: Any
) -> _T | _V: ...
@overload
def with_timeout(
    seconds: float | None, function: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> _T: ...
def with_timeout(seconds: float | None, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``function(*args, **kwargs)`` under a ``Timeout(seconds)``.

    With the keyword ``timeout_value``, return it instead of raising when the deadline passes.

    >>> from threadevent import sleep
    >>> with_timeout(0.01, sleep, 10, timeout_value="too slow")
    'too slow'
    """
    timeout_value = kwargs.pop("timeout_value", _NO_VALUE)
    timeout = Timeout(seconds)
    try:
        return function(*args, **kwargs)
    except Timeout as exc:
        if exc is timeout and timeout_value is not _NO_VALUE:
            return timeout_value
        raise
    finally:
        timeout.cancel()
