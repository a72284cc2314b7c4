"""Queues: eventlet's ``Queue``, ``LightQueue``, ``PriorityQueue`` and ``LifoQueue``, on threads.

``Empty`` and ``Full`` are the stdlib's own ``queue.Empty`` and ``queue.Full``, so code that catches those
keeps working.
"""

from __future__ import annotations

import functools
import heapq
from _thread import allocate_lock
from collections import deque
from collections.abc import Callable
from queue import Empty, Full
from typing import Any, Generic, TypeVar

from threadevent._api import check_size, check_timeout
from threadevent._checkpoint import PENDING, check
from threadevent._parking import ParkingLot

__all__ = ["Empty", "Full", "LifoQueue", "LightQueue", "PriorityQueue", "Queue"]

_T = TypeVar("_T")


def _check_maxsize(maxsize: object) -> int | None:
    """``maxsize`` as eventlet takes it: None or negative for unbounded, 0 for a channel."""
    if maxsize is None:
        return None
    size = check_size(maxsize, "maxsize", minimum=None)
    return None if size < 0 else size


def _check_wait(block: bool, timeout: float | None) -> float:
    """The seconds a call may wait: ``-1`` for ever, ``0`` not at all; errors as the stdlib's queue."""
    if not block:
        return 0.0
    if timeout is None:
        return -1.0
    seconds = check_timeout(timeout)
    if timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return seconds


class LightQueue(Generic[_T]):
    """A FIFO that threads pass items through, blocking while it is empty (``get``) or full (``put``).

    The problem it solves: ``queue.Queue`` blocks in C, where a ``kill()`` or an expired ``Timeout``
    cannot reach the waiting thread.  Here every blocking ``get`` and ``put`` is a checkpoint: it is
    interrupted at once, and then it has taken nothing (``get``) or put nothing (``put``).  Blocked
    getters are served in the order they came, an item going straight to the longest waiter, so a later
    ``get`` never takes an item from under an earlier one; blocked putters likewise.

    ``maxsize=None`` (or negative) is unbounded; ``maxsize=0`` is eventlet's channel, unlike the stdlib
    (where 0 means unbounded): ``put`` blocks until a getter has taken the item.

    What it deliberately does not do: ``task_done``/``join`` (``Queue`` has them), or undo a hand-off.
    A blocked ``get`` handed an item, or a blocked ``put`` whose item a getter takes, at the moment a
    kill arrives has done its work: it returns, and the kill lands at the thread's next checkpoint.

    >>> q = LightQueue()
    >>> q.put("job")
    >>> q.get()
    'job'
    >>> q.get(timeout=0.01)
    Traceback (most recent call last):
    ...
    _queue.Empty
    """

    def __init__(self, maxsize: int | None = None) -> None:
        self._maxsize = _check_maxsize(maxsize)
        #: Guards everything below; nothing blocks or calls out while holding it.
        self._lock = allocate_lock()
        self._init()
        #: Blocked getters and putters (each putter bringing its item).  A getter handed an item, or a
        #: putter whose item was taken, at the moment it is interrupted has done its get or put: it
        #: returns, and the interrupt lands at its next checkpoint.  Passing the item on instead would
        #: let a later item of the same producer overtake it.  Only an exception that cannot wait
        #: (Ctrl-C) makes a getter pass its item on, so that the item is not lost with it.
        self._getters = ParkingLot(self._lock, pass_on=self._put_back, keep=True)
        self._putters = ParkingLot(self._lock, keep=True)
        #: The lots' lines, read on every put and get without a call (``ParkingLot.tickets``).
        self._getting = self._getters.tickets
        self._putting = self._putters.tickets
        #: Items put and not yet marked done (``Queue.task_done``).
        self._unfinished = 0

    # -- the container: subclasses change the order ------------------------------------------------

    #: Whether ``_get`` is one atomic C call (a deque's or a list's pop), which the get of an unbounded
    #: queue may make without the lock.
    _atomic_get = True

    def _init(self) -> None:
        """Make the container, and the four calls on it: bound C methods where they can be, since
        they run on every put and get."""
        items: deque[_T] = deque()
        self._items: Any = items
        self._put: Callable[[_T], object] = items.append
        self._get: Callable[[], _T] = items.popleft
        self._unget: Callable[[_T], object] = items.appendleft

    # -- putting ---------------------------------------------------------------------------------

    def put(self, item: _T, block: bool = True, timeout: float | None = None) -> None:
        """Put ``item`` in, waiting while the queue is full (a checkpoint); ``Full`` if it stays full.

        ``block=False`` never waits; ``timeout`` bounds the wait.  On a channel (``maxsize=0``) it waits
        until a getter has taken the item.
        """
        seconds = -1.0 if block and timeout is None else _check_wait(block, timeout)
        if PENDING[0]:
            check()
        with self._lock:
            # Inline, no call that can be spared: this is every put.  Behind blocked putters, wait.
            if not self._putting:
                if self._getting:
                    self._getters.unpark(item)  # straight to the longest waiting getter
                    self._unfinished += 1
                    return
                if self._maxsize is None or len(self._items) < self._maxsize:
                    self._put(item)
                    self._unfinished += 1
                    return
            if seconds == 0.0:
                raise Full
            ticket = self._putters.enqueue(item)
            # A get without the lock (see get()) may have made room since we looked: let the longest
            # waiting putter in now rather than after the next get.
            self._admit_putter()
        if not self._putters.park(ticket, seconds):
            raise Full

    def put_nowait(self, item: _T) -> None:
        """``put(item, block=False)``."""
        self.put(item, False)

    # -- getting ---------------------------------------------------------------------------------

    def get(self, block: bool = True, timeout: float | None = None) -> _T:
        """Take the next item out, waiting while there is none (a checkpoint); ``Empty`` if none comes.

        ``block=False`` never waits; ``timeout`` bounds the wait.
        """
        seconds = -1.0 if block and timeout is None else _check_wait(block, timeout)
        if PENDING[0]:
            check()
        if self._items and self._maxsize is None and self._atomic_get:
            # Unbounded: nobody waits to put, and while an item is there nobody waits to get (a put
            # hands its item straight to a waiting getter), so taking one without the lock overtakes
            # no one.  The pop is one C call, atomic with or without the GIL.  (Only tried when an
            # item is there: a failed pop's exception costs more than it saves.)
            try:
                item = self._get()
            except IndexError:
                pass  # another getter took it first
            else:
                if self._putting:  # resized to a bound meanwhile: room for a blocked putter
                    with self._lock:
                        self._admit_putter()
                return item
        return self._get_locked(seconds)

    def _get_locked(self, seconds: float) -> _T:
        """``get`` under the lock, waiting up to ``seconds`` (-1: for ever) if it must."""
        with self._lock:
            # Inline, as in put().  Behind blocked getters, wait: what comes is theirs first.
            if self._items and not self._getting:
                item = self._get()
                if self._putting:
                    self._admit_putter()
                return item
            if self._putting and not self._getting:  # a channel (or a queue resized to 0)
                return self._take_putter()
            if seconds == 0.0:
                raise Empty
            ticket = self._getters.enqueue()
        if not self._getters.park(ticket, seconds):
            raise Empty
        return ticket.value  # type: ignore[no-any-return]

    def get_nowait(self) -> _T:
        """``get(block=False)``."""
        return self.get(False)

    def _admit_putter(self) -> None:
        """Room was made: move the longest blocked putter's item in.  Lock held."""
        if self._putters and (self._maxsize is None or len(self._items) < self._maxsize):
            self._put(self._take_putter())

    def _take_putter(self) -> _T:
        """Take the item of the longest blocked putter, whose ``put`` is then done.  Lock held."""
        putter = self._putters.unpark()
        assert putter is not None
        self._unfinished += 1
        return putter.offer  # type: ignore[no-any-return]

    def _put_back(self, item: _T) -> None:
        """A getter handed ``item`` was hit by an exception that cannot wait for its next checkpoint
        (Ctrl-C): the next getter gets the item, or it goes back to the head of the queue.  Lock held."""
        if self._getters.unpark(item) is None:
            self._unget(item)

    # -- the rest of the API ---------------------------------------------------------------------

    @property
    def maxsize(self) -> int | None:
        """The most items it holds (None: no limit; 0: a channel, which holds none)."""
        return self._maxsize

    def qsize(self) -> int:
        """How many items it holds now (a channel's putters hold theirs: 0)."""
        return len(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        """True if it holds no item."""
        return not self._items

    def full(self) -> bool:
        """True if a ``put`` would block now (a channel is always full)."""
        return self._maxsize is not None and len(self._items) >= self._maxsize

    def getting(self) -> int:
        """How many threads are blocked in ``get``."""
        return len(self._getters)

    def putting(self) -> int:
        """How many threads are blocked in ``put``."""
        return len(self._putters)

    def resize(self, size: int | None) -> None:
        """Change ``maxsize`` (as the constructor takes it); growing lets blocked putters in at once."""
        maxsize = _check_maxsize(size)
        with self._lock:
            self._maxsize = maxsize
            while self._putters and (maxsize is None or len(self._items) < maxsize):
                self._admit_putter()

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} at {id(self):#x} maxsize={self._maxsize!r} "
            f"items={len(self._items)} getting={len(self._getters)} putting={len(self._putters)}>"
        )


class Queue(LightQueue[_T]):
    """A ``LightQueue`` that also counts unfinished work: ``task_done()`` and ``join()``.

    >>> q = Queue()
    >>> q.put("job")
    >>> q.get()
    'job'
    >>> q.task_done()
    >>> q.join()
    True
    """

    def __init__(self, maxsize: int | None = None) -> None:
        super().__init__(maxsize)
        #: Threads blocked in join().
        self._joiners = ParkingLot(self._lock)

    @property
    def unfinished_tasks(self) -> int:
        """Items put and not yet marked done."""
        return self._unfinished

    def task_done(self) -> None:
        """Mark one item got from the queue as processed; ``ValueError`` if more than were put."""
        with self._lock:
            if self._unfinished <= 0:
                raise ValueError("task_done() called too many times")
            self._unfinished -= 1
            if self._unfinished == 0:
                self._joiners.unpark_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until every item put has been marked done (a checkpoint): True; False on timeout."""
        seconds = -1.0 if timeout is None else _check_wait(True, timeout)
        if PENDING[0]:
            check()
        with self._lock:
            if self._unfinished == 0:
                return True
            if seconds == 0.0:
                return False
            ticket = self._joiners.enqueue()
        return self._joiners.park(ticket, seconds)


class PriorityQueue(Queue[_T]):
    """A ``Queue`` that gives out the lowest item first (``heapq`` order: put ``(priority, data)``)."""

    _atomic_get = False  # heappop compares items: Python code may run in the middle of it

    def _init(self) -> None:
        items: list[Any] = []  # any order heapq can compare: typed loosely, as heapq needs
        self._items = items
        self._put = self._unget = functools.partial(heapq.heappush, items)
        self._get = functools.partial(heapq.heappop, items)


class LifoQueue(Queue[_T]):
    """A ``Queue`` that gives out the item put last first."""

    def _init(self) -> None:
        items: list[_T] = []
        self._items = items
        self._put = self._unget = items.append
        self._get = items.pop
