"""Waitable: the receiving half shared by ``Event`` and ``GreenThread``.

It holds the outcome slot, the chain of blocked waiters (``_parking.Node``), the done-callbacks and
``await``; it does not decide who publishes the outcome or when (``Event.send`` does for events, the
worker thread for greenthreads).  The functions at the bottom are the internal API that other modules
(the pools, the wait-on-many helpers) use instead of the attributes.
"""

from __future__ import annotations

import logging
from _thread import allocate_lock
from collections.abc import Callable, Generator
from time import monotonic
from typing import Any, Generic, TypeVar, overload

from threadevent import _handoff
from threadevent._aio import outcome_from_loop
from threadevent._api import (
    ExcInfo,
    Outcome,
    OutcomeHook,
    TimeoutExpired,
    as_exception,
    check_timeout,
    unwrap,
)
from threadevent._checkpoint import PENDING, block, check, interrupting, runs_user_code
from threadevent._parking import Node

__all__ = ["Waitable", "add_hook", "outcome", "remove_hook", "retrieve", "wait_outcome"]

logger = logging.getLogger("threadevent")

_T = TypeVar("_T")
_W = TypeVar("_W", bound="Waitable[Any]")


class Waitable(Generic[_T]):
    """An outcome, sent once, and everyone waiting for it: blocked threads, callbacks, coroutines."""

    __slots__ = ("__weakref__", "_callbacks", "_chain", "_lock", "_outcome", "_retrieved")

    def __init__(self) -> None:
        self._lock = allocate_lock()
        self._outcome: Outcome | None = None
        self._chain: Node | None = None
        self._callbacks: list[Callable[[Any], object] | OutcomeHook] | None = None
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
            outcome: Outcome = (result, None, None)
        else:
            instance, tb = as_exception(exc)
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
        seconds = -1.0 if timeout is None else check_timeout(timeout)
        self._retrieved = True
        outcome = self._outcome
        if PENDING[0]:
            check()
        if outcome is None:
            outcome = self._wait(seconds)
            if outcome is None:
                return None
        if outcome[1] is None:
            return outcome[0]  # type: ignore[no-any-return]
        return unwrap(outcome)  # type: ignore[no-any-return]

    def result(self, timeout: float | None = None) -> _T:
        """Like ``wait()``, but raise ``TimeoutError`` on expiry (as ``concurrent.futures.Future``)."""
        return unwrap(self._wait_or_raise(timeout))  # type: ignore[no-any-return]

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The sent exception, or ``None`` if a result was sent; ``TimeoutError`` on expiry."""
        return self._wait_or_raise(timeout)[1]

    def _wait_or_raise(self, timeout: float | None) -> Outcome:
        seconds = -1.0 if timeout is None else check_timeout(timeout)
        self._retrieved = True
        outcome = self._outcome
        if PENDING[0]:
            check()
        if outcome is None:
            outcome = self._wait(seconds)
            if outcome is None:
                raise TimeoutExpired(f"{self!r} was not sent within {timeout} seconds")
        return outcome

    def _wait(self, timeout: float) -> Outcome | None:
        """Block until sent or ``timeout`` (``-1``: never) passes; the outcome, or None on expiry."""
        if timeout != 0.0 and _handoff.POLICY.yield_first():
            outcome, spent = _handoff.spin(self._peek)
            if outcome is not None:
                return outcome
            if timeout > 0.0:  # the yields count against the timeout
                timeout = max(timeout - spent, 0.0)
        with self._lock:
            outcome = self._outcome
            if outcome is not None or timeout == 0.0:
                return outcome
            chain = self._chain
            if chain is None:
                chain = node = self._chain = Node()
            else:
                node = chain.append()
        return self._block(chain, node, timeout)

    def _peek(self) -> Outcome | None:
        return self._outcome

    def _block(self, chain: Node, node: Node, timeout: float) -> Outcome | None:
        """Sleep in the chain until it is sent or ``timeout`` passes; leave the chain whole either way."""
        # Only a timed wait pays for the clock; the deadline covers a wait resumed after a spurious wake.
        deadline = monotonic() + timeout if timeout > 0.0 else -1.0
        try:
            if block(node.lock, timeout) and chain.outcome is None:
                # Woken by an interrupt that was withdrawn before we ran: wait out the rest.
                _wait_again(chain, node, deadline)
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
        return chain.outcome  # type: ignore[no-any-return]

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
            kept = [cb for cb in callbacks if cb.__class__ is OutcomeHook or cb != fn]
            self._callbacks = kept or None
        return len(callbacks) - len(kept)

    def _add(self, fn: Callable[[Any], object] | OutcomeHook) -> None:
        with self._lock:
            outcome = self._outcome
            if outcome is None:
                if self._callbacks is None:
                    self._callbacks = [fn]
                else:
                    self._callbacks.append(fn)
                return
        self._run_callbacks([fn], outcome)

    def _remove_hook(self, hook: OutcomeHook) -> None:
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
        self, callbacks: list[Callable[[Any], object] | OutcomeHook], outcome: Outcome
    ) -> None:
        remaining = iter(callbacks)
        try:
            self._call_each(remaining, outcome)
        finally:
            # Only reached with callbacks left if a BaseException escaped one: the rest still run once.
            self._call_each(remaining, outcome)

    # Callbacks run outside every lock, and an exception in one leaves the waitable whole.
    @runs_user_code
    def _call_each(self, callbacks: Any, outcome: Outcome) -> None:
        for fn in callbacks:
            try:
                if fn.__class__ is OutcomeHook:
                    fn.fire(outcome)
                else:
                    fn(self)
            except Exception as exc:
                if interrupting(exc):
                    raise  # a kill or a deadline of this thread, an Exception by choice: not the callback's
                logger.exception("exception calling callback for %r", self)

    # -- asyncio ---------------------------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, _T]:
        """Suspend the awaiting coroutine, not the loop's thread, until sent; then return or raise."""
        self._retrieved = True
        outcome = self._outcome
        if outcome is None:
            outcome = yield from outcome_from_loop(self._add, self._remove_hook)
        return unwrap(outcome)  # type: ignore[no-any-return]

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


def _wait_again(chain: Node, node: Node, deadline: float) -> None:
    """Block again until sent or ``deadline`` (``-1``: none) passes."""
    timeout = -1.0
    while chain.outcome is None:
        if deadline >= 0.0:
            timeout = deadline - monotonic()
            if timeout <= 0.0:
                return
        if not block(node.lock, timeout):
            return


# -- the internal API: what other modules of threadevent use instead of the attributes ---------------


def outcome(waitable: Waitable[Any]) -> Outcome | None:
    """The outcome, if sent; without marking it retrieved."""
    return waitable._outcome


def wait_outcome(waitable: Waitable[Any], timeout: float) -> Outcome | None:
    """Block until sent or ``timeout`` (checked seconds, ``-1``: never) passes; a checkpoint."""
    sent = waitable._outcome
    if sent is not None:
        return sent
    return waitable._wait(timeout)


def retrieve(waitable: Waitable[Any]) -> None:
    """Mark the outcome as retrieved: a failure is someone's to handle, not to be logged."""
    waitable._retrieved = True


def add_hook(waitable: Waitable[Any], hook: OutcomeHook) -> None:
    """Add an ``OutcomeHook`` (run at once, here, if already sent)."""
    waitable._add(hook)


def remove_hook(waitable: Waitable[Any], hook: OutcomeHook) -> None:
    """Take an ``OutcomeHook`` off again, if it has not run."""
    waitable._remove_hook(hook)


def hooks(waitable: Waitable[Any]) -> int:
    """How many ``OutcomeHook`` are on it (for tests: none may be left behind)."""
    return sum(1 for cb in waitable._callbacks or () if cb.__class__ is OutcomeHook)


def waiters(waitable: Waitable[Any]) -> int:
    """How many waits are blocked on it right now (for tests and the benchmark)."""
    chain = waitable._chain
    return 0 if chain is None or waitable._outcome is not None else chain.count
