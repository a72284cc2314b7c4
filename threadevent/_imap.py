"""The engine behind ``GreenPool.imap`` and ``starmap``: results in input order, a bounded window ahead."""

from __future__ import annotations

import contextvars
from _thread import allocate_lock
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from threadevent._api import Outcome, unwrap
from threadevent._checkpoint import PENDING, check
from threadevent._parking import ParkingLot
from threadevent.greenthread import GreenThread, launch

__all__ = ["MapIterator", "Sized"]

_T = TypeVar("_T")


class Sized(Protocol):
    """The pool an imap runs for: its ``size`` bounds the runners, and may change while it runs."""

    @property
    def size(self) -> int: ...


class _Slot:
    """One input item's place in the output: its outcome, once computed."""

    __slots__ = ("outcome",)

    def __init__(self) -> None:
        self.outcome: Outcome | None = None


class MapIterator(Generic[_T]):
    """What ``imap``/``starmap`` return: the results in input order, computed a bounded window ahead.

    The iterating thread (the consumer) reads the input in batches, at most a window (twice the pool's
    size) ahead of what it has handed out, and queues the items; runners, greenthreads of their own,
    take items off that queue and fill in their slots.  A runner ends as soon as the queue is empty, so
    nothing ever waits for input or for room in the window: an abandoned iterator leaves no greenthread
    behind.  While every runner is busy in a function and items are queued, one more runner starts (up
    to the pool's size), so blocking functions get ``size`` of them while trivial ones are done by one
    or two, without a greenthread per item.

    As in eventlet (whose imap runs its items in a pool of their own, of the same size), the runners do
    not take the pool's slots: ``size`` limits them, but the pool's own greenthreads neither count them
    nor wait for them, and an imap started from one of those never waits for the pool to have room.

    The input is only ever read in the consumer's thread, as with the builtin ``map``, so an iterator
    tied to its thread (a database cursor) works.
    """

    def __init__(self, pool: Sized, func: Callable[..., _T] | None, source: Iterator[Any]) -> None:
        self._pool = pool
        self._func = func
        self._source: Iterator[Any] | None = source
        #: Each item runs in its own copy of the caller's context, as a spawned function would.
        self._context = contextvars.copy_context()
        #: Read from the input and not yet handed out, in order.  The consumer's alone.
        self._slots: deque[_Slot] = deque()
        #: Held by the thread inside __next__.
        self._consumer = allocate_lock()
        #: Guards the fields below.
        self._lock = allocate_lock()
        #: Items no runner has taken yet.
        self._todo: deque[tuple[_Slot, Any]] = deque()
        #: Runners started (or about to be) and not yet ended; of those, how many are running an item.
        self._runners = 0
        self._busy = 0
        #: The slot the consumer is blocked on, if it is; it parks in ``_waiting``.
        self._awaited: _Slot | None = None
        self._waiting = ParkingLot(self._lock)
        self._fill()  # the work starts at once, as with eventlet's imap

    def __iter__(self) -> MapIterator[_T]:
        return self

    def __next__(self) -> _T:
        if not self._consumer.acquire(False):
            raise ValueError("this imap()/starmap() iterator is already being iterated in another thread")
        try:
            if PENDING[0]:
                check()
            slots = self._slots
            if len(slots) <= self._window() // 2:
                self._fill()  # in batches, so that runners find several items at a time
            if not slots:
                raise StopIteration
            head = slots[0]
            if head.outcome is None:
                self._fill()  # keep the runners busy while we wait
                self._wait_for(head)
            slots.popleft()
            outcome = head.outcome
            assert outcome is not None
        finally:
            self._consumer.release()
        if outcome[1] is None:
            return outcome[0]  # type: ignore[no-any-return]
        return unwrap(outcome)  # type: ignore[no-any-return]

    next = __next__  # eventlet's iterators have it

    def _window(self) -> int:
        """How many items may be read ahead of the consumer: twice the pool's size (eventlet's imap
        holds up to ``size`` finished results besides the ``size`` items running)."""
        return 2 * self._limit()

    def _limit(self) -> int:
        """How many runners may run at once: the pool's size (at least one, so that it ends)."""
        return max(self._pool.size, 1)

    # -- the consumer's side -----------------------------------------------------------------------

    def _fill(self) -> None:
        """Read the input up to a full window, and queue the items for the runners."""
        source = self._source
        if source is None:
            return
        missing = self._window() - len(self._slots)
        func = self._func
        slots = self._slots
        todo: list[tuple[_Slot, Any]] = []
        try:
            for _ in range(missing):
                try:
                    args = next(source)
                except StopIteration:
                    self._source = None
                    break
                except Exception as exc:
                    # The input's own error: raised at its place, after the results before it.
                    # Iterating on reads the input again, as the builtin map does.
                    slot = _Slot()
                    slot.outcome = (None, exc, exc.__traceback__)
                    slots.append(slot)
                    break
                slot = _Slot()
                if func is None:
                    try:
                        slot.outcome = (tuple(args), None, None)
                    except Exception as exc:
                        slot.outcome = (None, exc, exc.__traceback__)
                else:
                    todo.append((slot, args))
                slots.append(slot)
        finally:
            # Whatever stopped the reading (the end, an interrupt raised in the input), what was read
            # gets computed.
            if todo:
                with self._lock:
                    self._todo.extend(todo)
                    start = self._all_busy()
                    if start:
                        self._runners += 1
                if start:
                    self._try_to_start_runner()

    def _all_busy(self) -> bool:
        """Every runner is inside a function (or there is none), and the pool's size allows one more.

        A runner between items counts as free: it looks at the queue before it ends, so trivial
        functions do not start a runner per item.  Lock held.
        """
        return self._busy == self._runners and self._runners < self._limit()

    def _try_to_start_runner(self) -> None:
        """Start the runner the caller counted; if the hub has no thread for it, the items read stay
        queued, and the consumer's wait (``_wait_for``) tries again and raises the hub's error there."""
        try:
            self._start_runner()
        except RuntimeError:
            pass

    def _start_runner(self) -> None:
        """Start the runner that the caller counted in ``_runners``."""
        # A context of its own: two threads cannot run in one context at once.
        greenthread: GreenThread[None] = GreenThread(self._run, (), {}, contextvars.Context())
        try:
            launch(greenthread)
        except BaseException:
            with self._lock:
                self._runners -= 1
            raise

    def _wait_for(self, head: _Slot) -> None:
        """Block until ``head`` has its outcome; a checkpoint."""
        while True:
            with self._lock:
                if head.outcome is not None:
                    return
                stalled = self._runners == 0
                if stalled:
                    self._runners = 1  # the hub refused the last runner: try again
                else:
                    self._awaited = head
                    ticket = self._waiting.enqueue()
            if stalled:
                self._start_runner()
                continue
            try:
                self._waiting.park(ticket)
            finally:
                with self._lock:
                    self._awaited = None

    # -- the runners' side -------------------------------------------------------------------------

    def _run(self) -> None:
        """A runner: take items off the queue until it is empty, publishing each outcome in its slot."""
        lock = self._lock
        todo = self._todo
        func = self._func
        context = self._context
        assert func is not None
        slot: _Slot | None = None
        outcome: Outcome | None = None
        ended = False
        try:
            while True:
                with lock:
                    if slot is not None:
                        self._publish(slot, outcome)
                        slot = None
                    if not todo:
                        self._runners -= 1
                        ended = True
                        return
                    slot, args = todo.popleft()
                    self._busy += 1
                    # Every runner inside a function, more items waiting: they may all be blocked.
                    more = bool(todo) and self._all_busy()
                    if more:
                        self._runners += 1
                outcome = None
                if more:
                    try:
                        self._start_runner()
                    except Exception:
                        pass  # no thread to be had: this runner carries on alone
                try:
                    outcome = (context.copy().run(func, *args), None, None)
                except BaseException as exc:
                    outcome = (None, exc, exc.__traceback__)
                args = None
        except BaseException as exc:
            # Raised outside the function: a kill of this runner (its greenthread can be had through
            # getcurrent()) that landed between two items.  The item in hand gets it as its outcome,
            # so that the consumer does not wait for it for ever.
            with lock:
                if slot is not None and slot.outcome is None:
                    self._publish(slot, outcome or (None, exc, exc.__traceback__))
                if not ended:
                    self._runners -= 1
            raise

    def _publish(self, slot: _Slot, outcome: Outcome | None) -> None:
        """A runner is done with ``slot``: fill it in, wake the consumer if it waits for it.  Lock held."""
        slot.outcome = outcome
        self._busy -= 1
        if self._awaited is slot:
            self._awaited = None
            self._waiting.unpark()
