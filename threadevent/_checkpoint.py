"""Checkpoints: the blocking calls of threadevent, which another thread can interrupt.

A thread that blocks in threadevent always blocks in ``acquire()`` on a lock private to that one wait
(see ``block``).  To interrupt it (a kill, an expired Timeout), another thread records the exception in
the target's ``ThreadState`` and releases that lock; the woken thread raises the exception from its
checkpoint, after the blocking call has cleaned up after itself.  No polling is involved.

A thread that nobody can interrupt has no ``ThreadState`` at all, so plain threads pay nothing but one
thread-local lookup on the blocking path, and the non-blocking paths pay one list read
(``PENDING[0]``, the number of threads with an interrupt waiting to be raised).
"""

from __future__ import annotations

import threading
from _thread import LockType, allocate_lock

__all__ = ["PENDING", "ThreadState", "block", "check", "current_state", "interrupt", "release"]

#: How many threads have an interrupt recorded and not yet raised.  A list so that readers can import
#: it once; only ever changed while ``_pending_lock`` is held.
PENDING: list[int] = [0]
_pending_lock = allocate_lock()


class _Local(threading.local):
    # A class-level default: a missing attribute would cost an AttributeError on every lookup.
    state: ThreadState | None = None




class ThreadState:
    """What another thread needs in order to interrupt this one at a checkpoint."""

    __slots__ = ("lock", "pending", "parked", "__weakref__")

    def __init__(self) -> None:
        self.lock = allocate_lock()
        #: The exception to raise at this thread's current or next checkpoint.
        self.pending: BaseException | None = None
        #: The lock this thread is blocked on inside a checkpoint, if it is.
        self.parked: LockType | None = None

    def take(self) -> BaseException | None:
        """Remove and return the pending interrupt.  Call with ``self.lock`` held."""
        exc = self.pending
        if exc is not None:
            self.pending = None
            with _pending_lock:
                PENDING[0] -= 1
        return exc


_local = _Local()


def current_state(create: bool = False) -> ThreadState | None:
    """The calling thread's state; with ``create``, made on first use."""
    state = _local.state
    if state is None and create:
        state = _local.state = ThreadState()
    return state


def release(lock: LockType) -> None:
    """Release a wait's private lock that someone else may have released already.

    A waiter's lock can be released both by the wake-up it waited for and by an interrupt; whichever
    comes second finds it unlocked, which is harmless: the waiter re-checks why it woke.
    """
    try:
        lock.release()
    except RuntimeError:
        pass


def interrupt(state: ThreadState, exc: BaseException) -> None:
    """Make ``exc`` raise at the current or next checkpoint of the thread owning ``state``.

    A later interrupt replaces one not yet raised.
    """
    with state.lock:
        if state.pending is None:
            with _pending_lock:
                PENDING[0] += 1
        state.pending = exc
        parked = state.parked
        if parked is not None:
            release(parked)


def check() -> None:
    """Raise the calling thread's pending interrupt, if it has one."""
    state = current_state()
    if state is not None and state.pending is not None:
        with state.lock:
            exc = state.take()
        if exc is not None:
            raise exc


def block(lock: LockType, timeout: float) -> bool:
    """``lock.acquire(True, timeout)``, interruptible.

    Returns whether the lock was acquired.  Raises the thread's pending interrupt instead, whether it was
    pending before the call or arrived during it; the caller must be ready for an exception either way,
    as it must for KeyboardInterrupt in the main thread.  A True return may also come from an interrupt
    that was withdrawn before this thread woke: callers re-check their condition.
    """
    state = _local.state
    if state is None:
        return lock.acquire(True, timeout)
    with state.lock:
        exc = state.take()
        if exc is None:
            state.parked = lock
    if exc is not None:
        raise exc
    try:
        acquired = lock.acquire(True, timeout)
    except BaseException:
        # KeyboardInterrupt in the main thread: that one wins, a pending interrupt stays for later.
        with state.lock:
            state.parked = None
        raise
    with state.lock:
        state.parked = None
        exc = state.take()
    if exc is not None:
        raise exc
    return acquired
