"""Event: one result (or exception), sent once, received by every thread that waits for it."""

from __future__ import annotations

import logging
import math
import numbers
import os
import sys
import threading
from _thread import LockType, allocate_lock
from collections.abc import Callable, Generator
from time import monotonic as _monotonic
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from threadevent import _checkpoint
from threadevent._checkpoint import PENDING as _PENDING
from threadevent._checkpoint import _local
from threadevent._checkpoint import block as _block

__all__ = ["Event"]

logger = logging.getLogger("threadevent")

_T = TypeVar("_T")
_W = TypeVar("_W", bound="_Waitable[Any]")

#: What ``send(exc=...)`` and ``send_exception(*args)`` accept: the arguments of ``raise``.
ExcInfo = BaseException | type[BaseException] | tuple[Any, ...]

#: A sent outcome: ``(result, None, None)`` or ``(None, exception, traceback)``.  One tuple, read with one
#: attribute load, so a reader never mixes the halves of two different sends.
_Outcome = tuple[Any, BaseException | None, TracebackType | None]

_TIMEOUT_MAX = threading.TIMEOUT_MAX

if sys.version_info >= (3, 11):
    TimeoutExpired = TimeoutError
else:
    from concurrent.futures import TimeoutError as _FuturesTimeoutError

    class TimeoutExpired(TimeoutError, _FuturesTimeoutError):
        """What ``result()``/``exception()`` raise on expiry: the builtin ``TimeoutError``, and also
        ``concurrent.futures.TimeoutError``, a class of its own before Python 3.11, which code written
        for Futures catches."""

        __qualname__ = __name__ = "TimeoutError"


class _Node:
    """One blocked ``wait``: the lock its thread sleeps on, and its place in the chain of waiters.

    The first waiter's node is also the chain: the waiters blocked on one send, a doubly-linked list from
    ``head`` to ``tail``, and once sent, that send's ``outcome``.  ``send`` detaches the chain from the
    event and wakes only its head; every woken waiter wakes the next one.  That keeps ``send`` O(1)
    however many wait, and gives each waiter the outcome of the send it was blocked on even if
    ``reset()`` and another ``send()`` follow before it runs.  While unsent, the chain is changed only
    under the event's lock; once sent, only ``send`` touches it, to drop ``head`` and ``tail``.

    One object rather than a chain object and a node: for the usual single waiter, each allocation is a
    measurable share of a hand-off between threads.  The chain's ``head`` and ``tail`` can point at
    itself; ``send`` clears them (the cascade follows ``next``), and the last waiter to leave unsent
    leaves them ``None``, so the reference cycle never outlives the wait.
    """

    __slots__ = ("lock", "prev", "next", "head", "tail", "count", "outcome")

    # No __init__: waiters build nodes inline, and only the first node has the chain's four attributes.
    lock: LockType
    prev: _Node | None
    next: _Node | None
    head: _Node | None
    tail: _Node | None
    count: int
    outcome: _Outcome | None

    def append(self) -> _Node:
        """Queue one more waiter at the tail of this chain; call with the event's lock held."""
        node = _Node.__new__(_Node)
        node.lock = lock = allocate_lock()
        lock.acquire()
        tail = self.tail
        node.prev = tail
        node.next = None
        if tail is None:
            self.head = node
        else:
            tail.next = node
        self.tail = node
        self.count += 1
        return node


class _OutcomeHook:
    """An internal done-callback that receives the outcome itself rather than the event.

    ``await`` and the wait-on-many helpers use it: by the time a callback runs, a ``reset()`` may already
    have cleared the event, but the hook still gets the outcome of the send that triggered it.
    """

    __slots__ = ("fire",)

    def __init__(self, fire: Callable[[_Outcome], object]) -> None:
        self.fire = fire


# -- handing off on one CPU ------------------------------------------------------------------------
# When every thread of the process shares one CPU, waking a blocked waiter makes the kernel switch to
# it at once; it finds the GIL still held by the sender and sleeps again, and the sender must wake it a
# second time when it lets the GIL go: up to three switches per hand-off, where one would do.  A waiter
# that first yields the CPU a few times, the GIL released, is still runnable when the send comes: the
# send has nobody to wake, and the hand-off costs the one switch of the yield.  Measured on a 2-core
# Linux VM with two threads pinned to one CPU: a send/wait round trip went from about 5 switches and
# 22 us to 2 switches and 9 us.  On several CPUs the yielding waiter fights the sender on the other CPU
# for the GIL instead (measured: slower), so there it blocks at once.  The affinity can change while
# the process runs (os.sched_setaffinity, taskset -p), so it is looked at again every second or so.
#
# Yielding only pays when the send comes soon, and when no busy thread competes for the GIL: then
# each yield may cost a switch interval (5 ms, or more with several) before the GIL comes back.  So the
# waits share a credit: each wait that yields takes one, one whose yields found the outcome fills it
# again, and a yield that was slow turns yielding off.  With no credit left, waits block at once until
# the next look at the affinity lets one wait try again.

_YIELDS = range(3)
_YIELD_CREDIT = 8
#: Yields slower than this (seconds, all of a wait's together) mean a busy thread: a hand-off takes
#: microseconds, while a busy thread keeps the GIL for a switch interval (5 ms).
_YIELD_AT_MOST = 0.0002
_AFFINITY_CHECK_EVERY = 1.0
_sched_yield = getattr(os, "sched_yield", None)
_sched_getaffinity = getattr(os, "sched_getaffinity", None)
#: [when to look at the affinity again, whether the process has one CPU, the credit of yielding waits]
_handoff: list[Any] = [0.0, False, _YIELD_CREDIT]


def _yield_first() -> bool:
    """Whether waits may yield the CPU before blocking: the process has one CPU.  Lets one try again."""
    one_cpu = False
    if _sched_getaffinity is not None and _sched_yield is not None:
        try:
            one_cpu = len(_sched_getaffinity(0)) == 1
        except OSError:
            pass
    _handoff[1] = one_cpu
    if _handoff[2] < 1:
        _handoff[2] = 1  # one wait may try again; if its yields find the outcome, the credit fills
    _handoff[0] = _monotonic() + _AFFINITY_CHECK_EVERY
    return one_cpu


def _check_timeout(timeout: object) -> float:
    """``timeout`` as seconds to block, ``-1.0`` for "forever"; a clear error for anything else."""
    if timeout.__class__ is not float and timeout.__class__ is not int:
        if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real):
            raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    try:
        seconds = float(timeout)  # type: ignore[arg-type,unused-ignore]
    except OverflowError:  # an int beyond any float: longer than any lock can wait
        return -1.0
    if math.isnan(seconds):
        raise ValueError("timeout must be a number of seconds or None, not NaN")
    if seconds > _TIMEOUT_MAX:
        return -1.0
    return seconds if seconds > 0.0 else 0.0


def _as_exception(exc: ExcInfo) -> tuple[BaseException, TracebackType | None]:
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
        if isinstance(value, kind):
            instance = value
        elif value is None:
            instance = kind()
        elif isinstance(value, tuple):
            instance = kind(*value)
        else:
            instance = kind(value)
    else:
        raise TypeError(
            f"exceptions must be BaseException instances or subclasses, not {type(kind).__name__}"
        )
    return instance, (tb if tb is not None else instance.__traceback__)


def _unwrap(outcome: _Outcome) -> Any:
    """Return the result of an outcome, or raise its exception with the traceback it was sent with."""
    exc = outcome[1]
    if exc is None:
        return outcome[0]
    try:
        raise exc.with_traceback(outcome[2])
    finally:
        del exc


class _Waitable(Generic[_T]):
    """The receiving half shared by ``Event`` and ``GreenThread``: an outcome, and everyone waiting for it.

    It holds the outcome slot, the chain of blocked waiters, the done-callbacks and ``await``; it does not
    decide who publishes the outcome or when (``Event.send`` does for events, the worker thread for
    greenthreads).
    """

    __slots__ = ("_lock", "_outcome", "_chain", "_callbacks", "_retrieved", "__weakref__")

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._outcome: _Outcome | None = None
        self._chain: _Node | None = None
        self._callbacks: list[Callable[[Any], object] | _OutcomeHook] | None = None
        #: Someone asked for the outcome (wait, result, exception): GreenThread logs an exception
        #: nobody retrieved.  Kept here so that waiting costs no extra call in the subclass.
        self._retrieved = False

    def _send(self, result: _T | None = None, exc: ExcInfo | None = None) -> None:
        """Publish ``result`` (or, with ``exc``, an exception) and wake every waiter; return at once.

        ``exc`` takes what ``raise`` takes: an exception instance, a class, or a tuple
        ``(type, value, traceback)``.  Sending twice without ``reset()`` raises ``AssertionError``.

        >>> from threadevent import Event
        >>> evt = Event()
        >>> evt.send("a")
        >>> evt.send("whoops")
        Traceback (most recent call last):
        ...
        AssertionError: Trying to re-send() an already-triggered event.
        """
        # Event.send is this very function: one Python frame on the hot path, not two.
        if exc is None:
            outcome: _Outcome = (result, None, None)
        else:
            instance, tb = _as_exception(exc)
            outcome = (None, instance, tb)
        # ``with``, not acquire()/try: an exception raised asynchronously (Ctrl-C, a kill) can land right
        # after a call to acquire() returns, but not between ``with``'s acquire and its block.  For the
        # same reason the head waiter is released in the block, by a direct C call: no bytecode that
        # could raise asynchronously runs between publishing the outcome and waking the waiters.
        with self._lock:
            if self._outcome is not None:
                raise AssertionError("Trying to re-send() an already-triggered event.")
            self._outcome = outcome
            chain = self._chain
            callbacks = self._callbacks
            if chain is not None:
                chain.outcome = outcome
                self._chain = None
                head = chain.head
                chain.head = chain.tail = None
                if head is not None:
                    try:
                        head.lock.release()
                    except RuntimeError:
                        pass  # an interrupt woke it first; it will see the outcome
            if callbacks is not None:
                self._callbacks = None
        if callbacks is not None:
            self._run_callbacks(callbacks, outcome)

    # -- waiting ---------------------------------------------------------------------------------

    @overload
    def wait(self, timeout: None = None) -> _T: ...
    @overload
    def wait(self, timeout: float) -> _T | None: ...

    def wait(self, timeout: float | None = None) -> _T | None:
        """Block until sent; return the result or raise the sent exception.

        Returns at once if already sent.  After ``timeout`` seconds, returns ``None`` (eventlet's
        behaviour; ``result()`` raises ``TimeoutError`` instead).  A checkpoint.

        >>> from threadevent import Event
        >>> evt = Event()
        >>> evt.wait(timeout=0.01) is None
        True
        """
        if timeout is not None:
            timeout = _check_timeout(timeout)
        self._retrieved = True
        outcome = self._outcome
        if _PENDING[0]:
            _checkpoint.check()
        if outcome is None:
            if timeout is not None or (
                (_handoff[1] if _monotonic() < _handoff[0] else _yield_first()) and _handoff[2] > 0
            ):
                outcome = self._wait(-1.0 if timeout is None else timeout)
                if outcome is None:
                    return None
            else:
                # ``_wait(-1.0)`` inline, without the yielding: in a hand-off between two threads on
                # several CPUs, one Python call fewer here measured a few percent of the round trip.
                # Keep the two in step; the comments in ``_wait`` say why each line is where it is.
                with self._lock:
                    outcome = self._outcome
                    if outcome is None:
                        queued = self._chain
                        if queued is None:
                            chain = node = self._chain = _Node.__new__(_Node)
                            node.lock = lock = allocate_lock()
                            lock.acquire()
                            node.prev = node.next = None
                            node.head = node.tail = node
                            node.count = 1
                            node.outcome = None
                        else:
                            chain = queued
                            node = queued.append()
                if outcome is None:
                    try:
                        if _local.state is None:
                            acquired = node.lock.acquire()
                        else:
                            acquired = _block(node.lock, -1.0)
                        if acquired and chain.outcome is None:
                            self._wait_again(chain, node, -1.0)
                    finally:
                        sent = chain.outcome is not None
                        if not sent:
                            with self._lock:
                                sent = chain.outcome is not None
                                if not sent:
                                    before, after = node.prev, node.next
                                    if before is None:
                                        chain.head = after
                                    else:
                                        before.next = after
                                    if after is None:
                                        chain.tail = before
                                    else:
                                        after.prev = before
                                    chain.count -= 1
                                    if chain.count == 0 and self._chain is chain:
                                        self._chain = None
                        if sent:
                            after = node.next
                            if after is not None:
                                try:
                                    after.lock.release()
                                except RuntimeError:
                                    pass
                    outcome = chain.outcome
                    assert outcome is not None  # the finally leaves only once sent, or by raising
        if outcome[1] is None:
            return outcome[0]  # type: ignore[no-any-return]
        return _unwrap(outcome)  # type: ignore[no-any-return]

    def result(self, timeout: float | None = None) -> _T:
        """Like ``wait()``, but raise ``TimeoutError`` on expiry (as ``concurrent.futures.Future``)."""
        return _unwrap(self._wait_or_raise(timeout))  # type: ignore[no-any-return]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The sent exception, or ``None`` if a result was sent; ``TimeoutError`` on expiry."""
        return self._wait_or_raise(timeout)[1]

    def _wait_or_raise(self, timeout: float | None) -> _Outcome:
        seconds = -1.0 if timeout is None else _check_timeout(timeout)
        self._retrieved = True
        outcome = self._outcome
        if _PENDING[0]:
            _checkpoint.check()
        if outcome is None:
            outcome = self._wait(seconds)
            if outcome is None:
                raise TimeoutExpired(f"{self!r} was not sent within {timeout} seconds")
        return outcome

    def _wait(self, timeout: float) -> _Outcome | None:
        """Block until sent or ``timeout`` (``-1``: never) passes; the outcome, or None on expiry."""
        if (
            timeout != 0.0
            and (_handoff[1] if _monotonic() < _handoff[0] else _yield_first())
            and _handoff[2] > 0
        ):
            # Racy with other waits, and harmless: the credit only steers the waits to come.
            _handoff[2] -= 1
            started = _monotonic()
            for _ in _YIELDS:
                _sched_yield()  # type: ignore[misc]
                outcome = self._outcome
                if outcome is not None:
                    if _handoff[2] >= 0:
                        _handoff[2] = _YIELD_CREDIT
                    return outcome
                if _monotonic() - started > _YIELD_AT_MOST:
                    _handoff[2] = -1  # a busy thread took the GIL: no yielding until the next look
                    break
            if timeout > 0.0:  # the yields count against the timeout
                timeout = max(timeout - (_monotonic() - started), 0.0)
        with self._lock:
            outcome = self._outcome
            if outcome is not None:
                return outcome
            if timeout == 0.0:
                return None
            chain = self._chain
            if chain is None:
                # The first waiter to block makes the chain, its own node, built inline: this runs on
                # every wait that blocks, and each Python-level call is a real share of it.
                chain = node = self._chain = _Node.__new__(_Node)
                node.lock = lock = allocate_lock()
                lock.acquire()
                node.prev = node.next = None
                node.head = node.tail = node
                node.count = 1
                node.outcome = None
            else:
                node = chain.append()
        # Only a timed wait pays for the clock; the deadline covers a wait resumed after a spurious wake.
        deadline = _monotonic() + timeout if timeout > 0.0 else -1.0
        try:
            # A thread nobody can interrupt just blocks (the common case, and the fast one).
            if _local.state is None:
                acquired = node.lock.acquire(True, timeout)
            else:
                acquired = _block(node.lock, timeout)
            if acquired and chain.outcome is None:
                # Woken by an interrupt that was withdrawn before we ran: wait out the rest.
                self._wait_again(chain, node, deadline)
        finally:
            # Whatever ended the wait (the send, the timeout, an interrupt, Ctrl-C), leave the chain
            # whole.  In a finally block, and with no Python-level call before the chain is mended,
            # so that an exception raised asynchronously (it can land as a function starts or after
            # a call returns) cannot leave a dead node in the chain or strand the waiters behind us.
            sent = chain.outcome is not None
            if not sent:
                with self._lock:
                    sent = chain.outcome is not None
                    if not sent:  # timed out or interrupted: unlink ourselves
                        before, after = node.prev, node.next
                        if before is None:
                            chain.head = after
                        else:
                            before.next = after
                        if after is None:
                            chain.tail = before
                        else:
                            after.prev = before
                        chain.count -= 1
                        if chain.count == 0 and self._chain is chain:
                            self._chain = None  # the last one out: the next waiter starts afresh
            if sent:
                # The chain is frozen and ``node`` is in it, so its successor is waiting on us.
                after = node.next
                if after is not None:
                    try:
                        after.lock.release()
                    except RuntimeError:
                        pass  # an interrupt woke it first; it will see the outcome
        return chain.outcome

    def _wait_again(self, chain: _Node, node: _Node, deadline: float) -> None:
        """Block again until sent or ``deadline`` (``-1``: none) passes."""
        timeout = -1.0
        while chain.outcome is None:
            if deadline >= 0.0:
                timeout = deadline - _monotonic()
                if timeout <= 0.0:
                    return
            if not _block(node.lock, timeout):
                return

    def done(self) -> bool:
        """True once the outcome is there: ``wait()`` would return at once."""
        return self._outcome is not None

    # -- callbacks -------------------------------------------------------------------------------

    def add_done_callback(self: _W, fn: Callable[[_W], object]) -> None:
        """Call ``fn(event)`` once sent, in the sending thread; at once, here, if already sent.

        An exception from ``fn`` is logged on the ``threadevent`` logger and does not stop the others.
        """
        if not callable(fn):
            raise TypeError(f"add_done_callback() needs a callable, not {type(fn).__name__}")
        self._add(fn)

    def remove_done_callback(self: _W, fn: Callable[[_W], object]) -> int:
        """Remove every registration of ``fn`` that has not run yet; return how many were removed."""
        with self._lock:
            callbacks = self._callbacks
            if not callbacks:
                return 0
            kept = [cb for cb in callbacks if cb.__class__ is _OutcomeHook or cb != fn]
            self._callbacks = kept or None
        return len(callbacks) - len(kept)

    def _add(self, fn: Callable[[Any], object] | _OutcomeHook) -> None:
        with self._lock:
            outcome = self._outcome
            if outcome is None:
                if self._callbacks is None:
                    self._callbacks = [fn]
                else:
                    self._callbacks.append(fn)
                return
        self._run_callbacks([fn], outcome)

    def _remove_hook(self, hook: _OutcomeHook) -> None:
        with self._lock:
            callbacks = self._callbacks
            if callbacks is not None:
                # By identity: a user's callback with a lenient __eq__ must not be taken for the hook.
                for index, callback in enumerate(callbacks):
                    if callback is hook:
                        del callbacks[index]
                        break
                if not callbacks:
                    self._callbacks = None

    def _run_callbacks(
        self, callbacks: list[Callable[[Any], object] | _OutcomeHook], outcome: _Outcome
    ) -> None:
        remaining = iter(callbacks)
        try:
            self._call_each(remaining, outcome)
        finally:
            # Only reached with callbacks left if a BaseException escaped one: the rest still run once.
            self._call_each(remaining, outcome)

    def _call_each(self, callbacks: Any, outcome: _Outcome) -> None:
        for fn in callbacks:
            try:
                if fn.__class__ is _OutcomeHook:
                    fn.fire(outcome)
                else:
                    fn(self)
            except Exception:
                logger.exception("exception calling callback for %r", self)

    # -- asyncio -------------------------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, _T]:
        """Suspend the awaiting coroutine, not the loop's thread, until sent; then return or raise."""
        self._retrieved = True
        outcome = self._outcome
        if outcome is None:
            import asyncio

            loop = asyncio.get_running_loop()
            future: asyncio.Future[_Outcome] = loop.create_future()

            def fire(sent: _Outcome) -> None:
                try:
                    loop.call_soon_threadsafe(_settle, future, sent)
                except RuntimeError:
                    pass  # the loop is closed: nobody is left to wake

            hook = _OutcomeHook(fire)
            self._add(hook)
            try:
                outcome = yield from future.__await__()
            finally:
                if not future.done() or future.cancelled():
                    self._remove_hook(hook)
        return _unwrap(outcome)  # type: ignore[no-any-return]

    # -- the rest --------------------------------------------------------------------------------

    def __repr__(self) -> str:
        outcome = self._outcome
        chain = self._chain
        if outcome is None:
            state = "unsent"
        elif outcome[1] is None:
            state = f"result={outcome[0]!r}"
        else:
            state = f"exception={outcome[1]!r}"
        # Once sent, nobody waits: the waiters that were blocked have been handed the outcome.
        waiters = 0 if outcome is not None or chain is None else chain.count
        return f"<{type(self).__name__} at {id(self):#x} {state}, {waiters} waiters>"


# Callbacks run outside every lock, and an exception in one leaves the event whole: a kill may land there.
_checkpoint.RUNNERS.add(_Waitable._call_each.__code__)


class Event(_Waitable[_T]):
    """A one-shot result that any number of threads can wait for.

    One thread calls ``send(value)`` (or ``send_exception(...)``); every thread blocked in ``wait()``
    wakes and gets ``value`` (or has the exception raised), and every later ``wait()`` returns it at
    once.  It replaces the "``threading.Event`` plus a shared variable" pattern, and is what
    ``GreenThread.wait()`` stands on.

    ``send`` never blocks and never waits for the waiters to run; a second ``send`` without ``reset()``
    is an error.  ``wait`` is a checkpoint: a kill or an expired ``Timeout`` of the waiting thread
    interrupts it.  It is not a queue (one value per send) and not a level-triggered flag you can clear
    and set freely (``reset()`` of a fresh event is an error, as in eventlet).

    >>> import threading
    >>> evt = Event()
    >>> def compute(b):
    ...     evt.send(b + 1)
    >>> threading.Thread(target=compute, args=(3,)).start()
    >>> evt.wait()
    4
    >>> evt.wait()            # already sent: returns at once, as often as asked
    4
    """

    __slots__ = ()

    # -- sending ---------------------------------------------------------------------------------

    send = _Waitable._send

    def send_exception(self, *args: Any) -> None:
        """Send an exception: ``args`` are those of ``raise``, e.g. ``send_exception(*sys.exc_info())``.

        Given a traceback, waiters raise with it attached, so the frames where the error happened show.
        """
        if not args:
            raise TypeError("send_exception() needs an exception: (instance,), (type,) or (type, value, tb)")
        self._send(None, args)

    def reset(self) -> None:
        """Make a sent event fresh, ready for another ``send``.

        Waiters that were blocked when the last ``send`` happened still get that send's outcome.
        Resetting a fresh event raises ``AssertionError``.
        """
        with self._lock:
            if self._outcome is None:
                raise AssertionError("Trying to re-reset() a fresh event.")
            self._outcome = None

    def ready(self) -> bool:
        """True once sent, until ``reset()``: ``wait()`` would return at once."""
        return self._outcome is not None

    def has_result(self) -> bool:
        """True once a result (not an exception) has been sent."""
        outcome = self._outcome
        return outcome is not None and outcome[1] is None

    def has_exception(self) -> bool:
        """True once an exception has been sent."""
        outcome = self._outcome
        return outcome is not None and outcome[1] is not None

    def poll(self, notready: Any = None) -> Any:
        """``wait()`` if sent, else ``notready``, without blocking."""
        outcome = self._outcome
        return notready if outcome is None else _unwrap(outcome)

    def poll_result(self, notready: Any = None) -> Any:
        """The result if a result was sent, else ``notready``; never raises the sent exception."""
        outcome = self._outcome
        return notready if outcome is None or outcome[1] is not None else outcome[0]

    def poll_exception(self, notready: Any = None) -> Any:
        """``wait()`` (which raises) if an exception was sent, else ``notready``."""
        outcome = self._outcome
        return notready if outcome is None or outcome[1] is None else _unwrap(outcome)


def _settle(future: Any, outcome: _Outcome) -> None:
    if not future.done():
        future.set_result(outcome)
