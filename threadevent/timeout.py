"""Timeout: eventlet's deadline for a block of code, raised at the blocking calls of threadevent.

Also eventlet's ``with_timeout`` (a call under a deadline), ``is_timeout`` (does this exception mean
"timed out"?) and ``wrap_is_timeout`` (make a class or a factory's exceptions say so).
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import sys
from _thread import allocate_lock
from collections.abc import Callable
from time import monotonic
from types import FrameType, TracebackType
from typing import Any, ParamSpec, TypeVar, overload

from threadevent import hub
from threadevent._api import check_delay
from threadevent._checkpoint import (
    ARMED,
    DONE,
    FIRED,
    RAISED,
    Deadline,
    ThreadState,
    arm,
    current_owner,
    current_state,
    disarm,
    expire,
    interrupting,
)

__all__ = ["Timeout", "is_timeout", "with_timeout", "wrap_is_timeout"]

logger = logging.getLogger("threadevent")

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])
_V = TypeVar("_V")
_P = ParamSpec("_P")

#: Orders deadlines by when they were armed, so that an enclosing block's deadline wins (see ``Deadline``).
_ranks = itertools.count(1)


class _Arming:
    """One start of a Timeout: the thread it is armed in, its deadline there, and the timer's call.

    A Timeout can be started again once its deadline has fired or been cancelled; each start is a new
    arming with a deadline of its own, so that the timer of an earlier one, firing late, can never
    reach the later one.
    """

    __slots__ = ("deadline", "handle", "state")

    def __init__(self, state: ThreadState, deadline: Deadline) -> None:
        self.state = state
        self.deadline = deadline
        self.handle: hub.TimerHandle | None = None

    def fire(self) -> None:
        # In the timer thread: it must be quick, and it must not raise.
        expire(self.state, self.deadline)

    def armed(self) -> bool:
        """Whether its exception may still be raised in its thread: its moment is still to come, or it
        fired and no checkpoint has raised it yet."""
        stage = self.deadline.stage
        return stage == ARMED or stage == FIRED


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
    ``as_completed``, and the blocking calls of ``Queue``, ``Semaphore``, ``Lock`` and ``Pool``.  A
    thread blocked in one when the deadline passes is woken at once and raises there; a wait that ends
    past the deadline raises too, even if the timer thread is running late.  What is raised is the
    Timeout itself, or ``exception`` (a class is instantiated when the Timeout starts); with
    ``exception=False`` a ``with`` block ends silently instead.

    As in eventlet, a Timeout starts when it is made (``seconds=None``: never fires), and a ``with``
    block starts it again if it is not pending; it is cancelled when the block is left, however it is
    left.  It never fires after ``cancel()``, after its block is left, nor in the next function a worker
    thread runs after the greenthread that armed it has ended.  Nested Timeouts each fire at their own
    deadline; when both have passed, the enclosing one's is raised.  It is armed in one thread at a
    time: starting or entering it in a second thread while it is armed raises ``RuntimeError``.

    What it deliberately does not do: interrupt code between checkpoints.  A thread busy computing, or
    blocked in a call that is not threadevent's (``time.sleep``, ``socket.recv``, ``queue.Queue.get``,
    ``threading.Lock.acquire``), raises at its next checkpoint, however late that is; use
    threadevent's ``sleep``, ``Queue``, ``Semaphore`` and ``Lock``, and a socket's own timeout, where it
    matters (``GreenThread.kill`` goes further, best effort).  So that such a wait does not pass
    unseen, a ``with`` block (or a ``with_timeout`` call) that ran past its deadline without any
    checkpoint raising it logs a warning on the ``threadevent`` logger, naming the file and line of the
    ``with`` statement, once per such line in a process.  ``start()`` and ``cancel()`` called by hand
    log nothing: the Timeout cannot tell which code between them was meant to be bounded.

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
        #: Guards ``_arming``: a start and a cancel, perhaps in two threads, each see it whole.
        self._lock = allocate_lock()
        self._arming: _Arming | None = None
        self.start()

    def start(self) -> Timeout:
        """Arm the deadline, ``seconds`` from now, for the calling thread.  Returns the Timeout.

        Called when the Timeout is made; call it again only once it is no longer pending (after
        ``cancel()``, or once it has fired), as in eventlet.  Starting it while it is pending raises
        ``AssertionError`` (eventlet's ``assert``, kept under ``python -O``); starting it in another
        thread than the one it is armed in, while its exception may still be raised there, raises
        ``RuntimeError``.  Either way nothing changes.

        >>> from threadevent import Timeout
        >>> timeout = Timeout(60)
        >>> timeout.cancel()
        >>> timeout.start().pending  # armed afresh, sixty seconds from now
        True
        >>> timeout.cancel()
        """
        seconds = self._delay
        if seconds == math.inf:
            seconds = None  # never fires: nothing to arm, nothing for the timer thread to hold
        exc = None if seconds is None else self._exception_to_raise()  # a class failing fails here
        with self._lock:
            old = self._arming
            if old is not None and old.armed():
                self._refuse_restart(old)
            arming = None if exc is None else self._new_arming(exc, seconds)
            self._arming = arming
        if old is not None:
            _disarm(old)  # fired but not raised: its exception must not reach a later checkpoint
        if arming is not None:
            arm(arming.state, arming.deadline)
            try:
                arming.handle = hub.call_later(arming.deadline.when - monotonic(), arming.fire)
            except BaseException:
                self.cancel()  # no timer thread: nothing stays armed
                raise
        return self

    def _new_arming(self, exc: BaseException, seconds: float | None) -> _Arming:
        when = monotonic() + (seconds or 0.0)
        state = current_state(create=True)
        assert state is not None  # for the type checker: ``create`` always makes one
        return _Arming(state, Deadline(when, exc, next(_ranks), current_owner()))

    def _exception_to_raise(self) -> BaseException:
        exception = self.exception
        if exception is None or exception is True or exception is False:
            return self
        if isinstance(exception, BaseException):
            return exception
        return exception()

    def _refuse_restart(self, arming: _Arming) -> None:
        """Raise why an armed Timeout cannot be started now; call with ``_lock`` held."""
        if arming.state is not current_state():
            raise RuntimeError(
                f"Timeout is already armed by thread {arming.state.thread_name()}: a Timeout is "
                "armed in one thread at a time; make one Timeout per thread"
            )
        if arming.deadline.stage == ARMED:
            raise AssertionError(f"{self!r} is already started; to restart it, cancel it first")

    @property
    def pending(self) -> bool:
        """True while armed and not yet fired (nor cancelled)."""
        arming = self._arming
        return arming is not None and arming.deadline.stage == ARMED

    def cancel(self) -> None:
        """Disarm: the deadline will not fire, and one that fired but was not raised yet never will be.

        Safe to call more than once, from any thread, and after the Timeout fired.
        """
        self._take_arming()

    def _take_arming(self) -> tuple[_Arming | None, int]:
        """Cancel; the arming that was (None if none) and the stage its deadline had reached."""
        with self._lock:
            arming = self._arming
            self._arming = None
        if arming is None:
            return None, DONE
        return arming, _disarm(arming)

    def _escaped(self, exc: BaseException | None) -> float | None:
        """Cancel at the end of its block (left with ``exc``, or normally).  If the deadline passed
        inside the block with no checkpoint raising it, nor anything else aimed at the thread raised
        instead: how many seconds past it the block ran; else None."""
        arming, stage = self._take_arming()
        if arming is None or stage == RAISED or stage == DONE:
            return None  # never armed, raised, or put aside for a kill or an enclosing deadline
        overrun = monotonic() - arming.deadline.when
        if overrun < 0.0:
            return None  # left in time (cancelled, or by an exception of its own)
        if exc is not None and (exc is arming.deadline.exc or interrupting(exc)):
            return None
        return overrun

    @property
    def is_timeout(self) -> bool:
        """Always True: eventlet's mark for exceptions that mean "timed out" (see ``is_timeout()``)."""
        return True

    def __enter__(self) -> Timeout:
        arming = self._arming
        if arming is None or arming.deadline.stage != ARMED or arming.state is not current_state():
            self.start()  # not pending: start it (armed in another thread: start() refuses)
        return self  # pending here: as in eventlet, the block keeps that deadline

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        overrun = self._escaped(exc)
        if overrun is not None:
            _warn_escaped(self, overrun, sys._getframe(1))
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


def _disarm(arming: _Arming) -> int:
    """Stop an arming's timer and take its deadline back; the stage the deadline had reached."""
    handle = arming.handle
    if handle is not None:
        handle.cancel()
    return disarm(arming.state, arming.deadline)


#: The (file, line) of every ``with`` statement (or ``with_timeout`` call) warned about: once each.
_warned: set[tuple[str, int]] = set()
_warned_lock = allocate_lock()


def _warn_escaped(timeout: Timeout, overrun: float, frame: FrameType) -> None:
    """Log that ``timeout``'s block, at ``frame``'s current line, ran ``overrun`` seconds past its
    deadline with no checkpoint raising it; once per line."""
    site = (frame.f_code.co_filename, frame.f_lineno)
    with _warned_lock:
        if site in _warned:
            return
        _warned.add(site)
    logger.warning(
        "Timeout(%s) at %s:%d: its block ran %.1f ms past the deadline and no checkpoint raised it: "
        "the time went into a call threadevent cannot interrupt (time.sleep, a socket, a stdlib lock "
        "or queue), into code between checkpoints, or to a machine too busy to run the thread. Use "
        "threadevent's sleep, Queue, Semaphore or Lock, or the call's own timeout. (Logged once for "
        "this line.)",
        timeout.seconds,
        site[0],
        site[1],
        overrun * 1000.0,
    )


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
    """Call ``function(*args, **kwargs)`` under a ``Timeout(seconds)``, as eventlet's.

    With the keyword ``timeout_value``, return it instead of raising when this deadline passes (an
    enclosing Timeout still raises); without it, the Timeout is raised.  The call is the Timeout's
    block: one that ran past the deadline without any checkpoint raising it logs the warning ``Timeout``
    describes, naming the line that called ``with_timeout``.

    >>> from threadevent import sleep
    >>> with_timeout(0.01, sleep, 10, timeout_value="too slow")
    'too slow'
    >>> with_timeout(10, sum, [1, 2], timeout_value="too slow")
    3
    """
    timeout_value = kwargs.pop("timeout_value", _NO_VALUE)
    timeout = Timeout(seconds)
    try:
        value = function(*args, **kwargs)
    except BaseException as exc:
        overrun = timeout._escaped(exc)
        if overrun is not None:
            _warn_escaped(timeout, overrun, sys._getframe(1))
        if exc is timeout and timeout_value is not _NO_VALUE:
            return timeout_value
        raise
    overrun = timeout._escaped(None)
    if overrun is not None:
        _warn_escaped(timeout, overrun, sys._getframe(1))
    return value


def is_timeout(obj: object) -> bool:
    """Whether ``obj`` means "timed out", as eventlet tells: it has a true ``is_timeout`` attribute (a
    ``Timeout``, or an exception made by a class or factory given to ``wrap_is_timeout``), or it is a
    ``TimeoutError`` (``socket.timeout`` and, from Python 3.11, ``concurrent.futures.TimeoutError``
    are that class).

    >>> import socket
    >>> from threadevent import Timeout, is_timeout
    >>> is_timeout(Timeout()), is_timeout(socket.timeout()), is_timeout(ValueError())
    (True, True, False)
    """
    return bool(getattr(obj, "is_timeout", False)) or isinstance(obj, TimeoutError)


def wrap_is_timeout(base: _F) -> _F:
    """Make the exceptions that ``base`` (a class, or a function making exceptions) produces say they
    mean "timed out": their ``is_timeout`` is True, and so is ``is_timeout()`` of them.

    As in eventlet, a class gets a read-only ``is_timeout`` property and is returned itself (so
    ``except`` clauses naming it still work); any other callable is wrapped, the wrapper setting
    ``is_timeout = True`` on what it returns.  Where eventlet fails on a built-in class (one that
    takes no new attributes): a ``TimeoutError`` subclass such as ``socket.timeout`` is returned as it
    is (``is_timeout()`` already holds for it, and eventlet itself stopped wrapping it there), and any
    other is replaced by a subclass of the same name carrying the property.

    >>> from threadevent import is_timeout, wrap_is_timeout
    >>> class Slow(Exception):
    ...     pass
    >>> wrap_is_timeout(Slow) is Slow, Slow().is_timeout, is_timeout(Slow())
    (True, True, True)
    >>> late = wrap_is_timeout(lambda why: OSError(why))
    >>> is_timeout(late("no answer"))
    True
    """
    if isinstance(base, type):
        return _mark_class(base)  # type: ignore[return-value]
    if not callable(base):
        raise TypeError(f"wrap_is_timeout() needs a class or a callable, not {type(base).__name__} {base!r}")

    @functools.wraps(base)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        made = base(*args, **kwargs)
        made.is_timeout = True
        return made

    return wrapper  # type: ignore[return-value]


def _always_true(_: object) -> bool:
    return True


def _mark_class(base: type) -> type:
    mark = property(_always_true, doc='Always True: instances mean "timed out".')
    try:
        base.is_timeout = mark  # type: ignore[attr-defined]
    except TypeError:  # a built-in class: its attributes cannot be set
        if issubclass(base, TimeoutError):
            return base
        namespace = {"is_timeout": mark, "__module__": base.__module__, "__qualname__": base.__qualname__}
        return type(base.__name__, (base,), namespace)
    return base
