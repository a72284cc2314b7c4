"""Lock: eventlet's ``Lock``, a ``Semaphore(1)`` that refuses to be released while unlocked."""

from __future__ import annotations

from threadevent.semaphore import Semaphore

__all__ = ["Lock"]


class Lock(Semaphore):
    """A mutual-exclusion lock whose ``acquire`` is a checkpoint: a ``kill()`` or an expired ``Timeout``
    reaches a thread waiting for it, which ``threading.Lock`` (waiting in C) cannot offer.

    Usable wherever a ``threading.Lock`` is, ``threading.Condition(lock)`` included.  Like
    ``threading.Lock`` it has no owner: any thread may release it, and a thread that acquires it twice
    waits for itself.  ``release()`` of an unlocked lock raises ``RuntimeError``.

    >>> import threading
    >>> lock = Lock()
    >>> with lock:
    ...     lock.locked()
    True
    >>> cond = threading.Condition(lock)
    >>> with cond:
    ...     cond.wait(timeout=0.01)
    False
    """

    def __init__(self) -> None:
        super().__init__(1)

    def release(self, blocking: bool = True) -> None:
        """Unlock it, handing it to the longest waiter if one waits; ``RuntimeError`` if unlocked."""
        with self._lock:
            if self._tokens:
                raise RuntimeError("release unlocked lock")
            self._pass_on()
