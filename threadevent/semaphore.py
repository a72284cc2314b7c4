"""Semaphores: eventlet's ``Semaphore``, ``BoundedSemaphore`` and ``CappedSemaphore``, on threads."""

from __future__ import annotations

import itertools
from _thread import allocate_lock
from collections import deque
from types import TracebackType

from threadevent._api import check_size, check_timeout
from threadevent._checkpoint import PENDING, check
from threadevent._parking import ParkingLot

__all__ = ["BoundedSemaphore", "CappedSemaphore", "Semaphore"]


def check_acquire(blocking: bool, timeout: float | None) -> float:
    """The seconds an ``acquire`` may wait (``-1``: for ever, 0: not at all); errors as ``threading``'s."""
    if timeout is None or timeout == -1:
        return -1.0 if blocking else 0.0
    if not blocking:
        raise ValueError("can't specify a timeout for a non-blocking call")
    seconds = check_timeout(timeout)
    if timeout < 0:
        raise ValueError("timeout value must be a non-negative number")
    return seconds


class Semaphore:
    """A counter of free permits: ``acquire`` takes one, waiting while there is none; ``release`` gives
    one back.

    The problem it solves: ``threading.Semaphore`` waits in C, where a ``kill()`` or an expired
    ``Timeout`` cannot reach the thread.  Here ``acquire`` is a checkpoint, interrupted at once, and an
    interrupted acquire holds nothing: a permit handed to it at that very moment goes on to the next
    waiter.  Fair: a release hands its permit to the longest waiter, and a later ``acquire`` never
    overtakes a blocked one.

    What it deliberately does not do: track who holds a permit (any thread may release), or bound the
    count (``BoundedSemaphore`` does).

    >>> sem = Semaphore(2)
    >>> with sem:
    ...     sem.counter
    1
    >>> sem.acquire(), sem.acquire(), sem.acquire(blocking=False)
    (True, True, False)
    """

    def __init__(self, value: int = 1) -> None:
        #: The free permits, one token each.  Taken without the lock (``deque.pop`` is atomic, with
        #: or without the GIL), and given back only under it.  Invariant: while a thread waits, there
        #: is no token (a release hands its permit to the waiter instead), so a token taken without
        #: the lock never overtakes a waiter.
        self._tokens: deque[None] = deque(itertools.repeat(None, check_size(value, "value")))
        #: Guards the waiters and every addition of a token; nothing blocks or calls out holding it.
        self._lock = allocate_lock()
        #: Blocked acquirers; one handed a permit as it is interrupted passes the permit on.
        self._waiters = ParkingLot(self._lock, pass_on=self._pass_on)
        #: Their line, read on every release without a call (``ParkingLot.tickets``).
        self._waiting = self._waiters.tickets

    @property
    def counter(self) -> int:
        """The free permits."""
        return len(self._tokens)

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a permit, waiting while there is none (a checkpoint): True; False if none came in time."""
        seconds = -1.0 if blocking and timeout is None else check_acquire(blocking, timeout)
        if PENDING[0]:
            check()
        try:
            self._tokens.pop()
            return True
        except IndexError:
            pass
        with self._lock:
            if self._tokens:  # given back meanwhile, and so nobody waits
                self._tokens.pop()
                return True
            if seconds == 0.0:
                return False
            ticket = self._waiters.enqueue()
        return self._waiters.park(ticket, seconds)

    def release(self, blocking: bool = True) -> None:
        """Give a permit back: to the longest waiter if one waits.  (``blocking`` is eventlet's, unused.)"""
        with self._lock:
            if self._waiting:
                self._waiters.unpark()
            else:
                self._tokens.append(None)

    def _pass_on(self, _: object = None) -> None:
        """One permit comes free: handed to the longest waiter, or counted.  Lock held."""
        if self._waiters.unpark() is None:
            self._tokens.append(None)

    def locked(self) -> bool:
        """True if an ``acquire`` would wait now."""
        return not self._tokens

    @property
    def balance(self) -> int:
        """Acquires that would succeed at once (positive), or releases still owed to the waiters
        (negative): the counter less the number of threads blocked in ``acquire``."""
        return len(self._tokens) - len(self._waiting)

    def bounded(self) -> bool:
        """Whether a release above the initial value raises (``BoundedSemaphore``)."""
        return False

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {id(self):#x} counter={self.counter} waiters={len(self._waiting)}>"


class BoundedSemaphore(Semaphore):
    """A ``Semaphore`` that refuses to be released above its initial value: ``ValueError``, as the
    stdlib's (a release without its acquire is a bug worth hearing about)."""

    def __init__(self, value: int = 1) -> None:
        super().__init__(value)
        self.original_counter = self.counter

    def release(self, blocking: bool = True) -> None:
        with self._lock:
            if len(self._tokens) >= self.original_counter:
                raise ValueError("Semaphore released too many times")
            self._pass_on()

    def bounded(self) -> bool:
        return True


class CappedSemaphore:
    """A semaphore whose count stays between 0 and ``limit``: ``acquire`` waits while it is 0, and
    ``release`` waits while it is at ``limit`` (both checkpoints), as eventlet's.

    >>> sem = CappedSemaphore(1, limit=2)
    >>> sem.release()
    True
    >>> sem.release(blocking=False)  # at its limit
    False
    >>> sem.acquire(), sem.acquire(), sem.acquire(blocking=False)
    (True, True, False)
    """

    def __init__(self, count: int, limit: int) -> None:
        count = check_size(count, "count")
        limit = check_size(limit, "limit")
        if count > limit:
            raise ValueError(f"count ({count}) must not exceed limit ({limit})")
        #: Permits to acquire, and room for releases.
        self.lower_bound = Semaphore(count)
        self.upper_bound = Semaphore(limit - count)

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take one from the count, waiting while it is 0 (a checkpoint); False if none came in time."""
        if not self.lower_bound.acquire(blocking, timeout):
            return False
        self.upper_bound.release()
        return True

    def release(self, blocking: bool = True) -> bool:
        """Give one back, waiting while the count is at its limit (a checkpoint); False if it stays
        there and ``blocking`` is false."""
        if not self.upper_bound.acquire(blocking):
            return False
        self.lower_bound.release()
        return True

    def locked(self) -> bool:
        """True if an ``acquire`` would wait now."""
        return self.lower_bound.locked()

    @property
    def balance(self) -> int:
        """As eventlet computes it: the balance of the count less the balance of the room under the
        limit (so the threads blocked in ``acquire`` and in ``release`` both count)."""
        return self.lower_bound.balance - self.upper_bound.balance

    def bounded(self) -> bool:
        """True if a ``release`` would wait now (the count is at its limit)."""
        return self.upper_bound.locked()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {id(self):#x} balance={self.balance}>"
