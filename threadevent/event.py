"""Event: one result (or exception), sent once, received by every thread that waits for it."""

from __future__ import annotations

from typing import Any, TypeVar

from threadevent._api import unwrap
from threadevent._waitable import Waitable

__all__ = ["Event"]

_T = TypeVar("_T")


class Event(Waitable[_T]):
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

    send = Waitable._send

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
        return notready if outcome is None else unwrap(outcome)

    def poll_result(self, notready: Any = None) -> Any:
        """The result if a result was sent, else ``notready``; never raises the sent exception."""
        outcome = self._outcome
        return notready if outcome is None or outcome[1] is not None else outcome[0]

    def poll_exception(self, notready: Any = None) -> Any:
        """``wait()`` (which raises) if an exception was sent, else ``notready``."""
        outcome = self._outcome
        return notready if outcome is None or outcome[1] is None else unwrap(outcome)
