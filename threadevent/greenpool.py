"""GreenPool and GreenPile: at most N greenthreads at once, and their results in the order spawned."""

from __future__ import annotations

import contextvars
from _thread import allocate_lock
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, overload

from threadevent._api import check_size, report, report_exception, unwrap
from threadevent._checkpoint import PENDING, GreenletExit, check, runs_user_code
from threadevent._imap import MapIterator
from threadevent._parking import ParkingLot
from threadevent._waitable import outcome, retrieve, wait_outcome
from threadevent.greenthread import GreenThread, current_greenthread, launch, run_inline

__all__ = ["GreenPile", "GreenPool", "ImapIterator"]

_T = TypeVar("_T")
_T_co = TypeVar("_T_co", covariant=True)
_A = TypeVar("_A")
_B = TypeVar("_B")
_C = TypeVar("_C")
_P = ParamSpec("_P")


class ImapIterator(Iterator[_T_co], Protocol[_T_co]):
    """The type of what ``GreenPool.imap`` and ``starmap`` return: an iterator of ``func``'s results,
    in input order, with eventlet's ``next()`` besides ``__next__``.

    It exists for type checkers, to annotate with: ``pool.imap(square, range(3))`` is an
    ``ImapIterator[int]``, so ``it.next()`` is known to return an ``int``.  What it deliberately is not:
    a class to construct or to test with ``isinstance`` (the iterator's class is private; only this
    shape of it is promised).

    >>> pool = GreenPool(2)
    >>> squares: ImapIterator[int] = pool.imap(lambda n: n * n, range(3))
    >>> squares.next(), next(squares), list(squares)
    (0, 1, [4])
    """

    def __iter__(self) -> ImapIterator[_T_co]: ...

    def __next__(self) -> _T_co: ...

    def next(self) -> _T_co:
        """``__next__()``, by the name eventlet's (Python 2 style) iterators have."""
        ...


class GreenPool:
    """At most ``size`` greenthreads of this pool run at once; ``spawn`` waits for a free slot.

    The problem it solves: fanning work out over greenthreads without starting one per item all at
    once.  ``spawn`` and ``spawn_n`` start a greenthread when fewer than ``size`` of the pool's own are
    running, and block while the pool is full (a checkpoint: a kill or a Timeout interrupts the wait);
    ``waitall`` waits until none is left; ``imap`` and ``starmap`` map a function over an input of any
    length, in order, ``size`` items at a time and holding no more than twice that.

    Called from one of the pool's own greenthreads while the pool is full, ``spawn`` runs the function
    right there, in the caller, and returns a GreenThread that has already finished: the slot it would
    wait for may be the caller's own, so waiting could deadlock.  ``waitall`` from one of them is an
    error for the same reason.

    What it deliberately is not: an executor with a queue of its own.  Blocked spawners are served in
    the order they came, but nothing is queued behind the caller's back; ``size`` bounds this pool's
    greenthreads only, and they run on the process-wide hub with everything else.  There is no
    ``shutdown``: greenthreads end by themselves, or by ``kill()``.

    >>> pool = GreenPool(2)
    >>> greenthreads = [pool.spawn(pow, 2, n) for n in range(5)]
    >>> [gt.wait() for gt in greenthreads]
    [1, 2, 4, 8, 16]
    >>> list(pool.imap(pow, [2, 3, 4], [3, 2, 1]))
    [8, 9, 4]
    >>> pool.waitall()
    >>> pool.running(), pool.free()
    (0, 2)
    """

    def __init__(self, size: int = 1000) -> None:
        self._size = check_size(size, "GreenPool() size")
        #: Guards everything below; nothing blocks or calls out while holding it.
        self._lock = allocate_lock()
        #: The pool's greenthreads that hold a slot, until they finish (or are found finished).
        self._members: set[GreenThread[Any]] = set()
        #: Slots in use: one per member, plus those granted to spawners that are starting theirs.
        self._taken = 0
        #: Spawners blocked while the pool is full, first come first served.  A slot handed to one that
        #: is interrupted at that moment comes back (and goes to the next).
        self._spawners = ParkingLot(self._lock, pass_on=self._slot_back)
        #: Threads blocked in waitall().
        self._idle_waiters = ParkingLot(self._lock)

    @property
    def size(self) -> int:
        """How many greenthreads of this pool may run at once (change it with ``resize``)."""
        return self._size

    # -- spawning --------------------------------------------------------------------------------

    def spawn(self, func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> GreenThread[_T]:
        """Run ``func(*args, **kwargs)`` in a greenthread of this pool; return its GreenThread.

        Blocks while the pool is full (a checkpoint), except from one of the pool's own greenthreads:
        then ``func`` runs at once in the caller, and the GreenThread returned has already finished.
        An exception ``func`` raises is that GreenThread's outcome; a kill of the caller, a Timeout or
        anything else that is not an ``Exception`` also propagates to the caller.  ``TypeError`` at
        once, with nothing changed, if ``func`` is not callable.
        """
        if not callable(func):
            raise TypeError(f"GreenPool.spawn() needs a callable, not {type(func).__name__}")
        if PENDING[0]:
            check()
        greenthread = GreenThread(func, args, kwargs, contextvars.copy_context())
        if self._take_slot():
            self._launch(greenthread)
            return greenthread
        escaping = run_inline(greenthread)
        if escaping is not None:
            raise escaping
        return greenthread

    def spawn_n(self, func: Callable[_P, object], /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        """Like ``spawn``, fire and forget: returns None.

        An exception ``func`` raises goes to ``threading.excepthook`` (which prints it by default), as
        with ``threadevent.spawn_n``.
        """
        if not callable(func):
            raise TypeError(f"GreenPool.spawn_n() needs a callable, not {type(func).__name__}")
        if PENDING[0]:
            check()
        context = contextvars.copy_context()
        if self._take_slot():
            self._launch(GreenThread(_call_reporting, (func, args, kwargs), {}, context))
            return
        greenthread: GreenThread[object] = GreenThread(func, args, kwargs, context)
        escaping = run_inline(greenthread)
        if escaping is not None:
            raise escaping
        ended = outcome(greenthread)
        assert ended is not None
        if ended[1] is not None:
            retrieve(greenthread)  # reported here, not logged again when collected
            report(ended[1], ended[2])

    def _take_slot(self) -> bool:
        """Take a slot, blocking while the pool is full; False: re-entered while full, run inline."""
        with self._lock:
            if not self._has_room():
                self._purge()
            if self._has_room():
                self._taken += 1
                return True
            current = current_greenthread()
            if current is not None and current in self._members:
                return False
            ticket = self._spawners.enqueue()
        try:
            self._spawners.park(ticket)
        except BaseException:
            with self._lock:
                self._wake_if_idle()  # a waitall may have been waiting for this spawn only
            raise
        return True  # the slot was handed over to us already counted

    def _has_room(self) -> bool:
        """A slot is free and nobody waits for one before us.  Lock held."""
        return self._taken < self._size and not self._spawners

    def _launch(self, greenthread: GreenThread[Any]) -> None:
        """Start ``greenthread`` as a member, in the slot that the caller has taken for it."""
        # The callback is in place, and the greenthread is a member (re-entry from it is recognised),
        # before it can run.
        greenthread.add_done_callback(self._retire)
        with self._lock:
            self._members.add(greenthread)
        try:
            launch(greenthread)
        except BaseException:
            # Never scheduled (the OS refused a thread): cancelling it runs _retire, which frees the slot.
            greenthread.cancel()
            raise

    # -- slots coming back -------------------------------------------------------------------------

    def _retire(self, greenthread: GreenThread[Any]) -> None:
        """Done-callback of every member: give its slot back (unless ``_purge`` did already)."""
        with self._lock:
            if greenthread in self._members:
                self._members.remove(greenthread)
                self._slot_back()

    def _purge(self) -> None:
        """Give back the slots of members that have finished but whose callback has not run yet.

        A greenthread's waiters are woken before its callbacks run, so without this a caller that has
        just seen a greenthread of the pool finish could still find it counted.  Lock held.
        """
        finished = [gt for gt in self._members if gt.done()]
        for greenthread in finished:
            self._members.remove(greenthread)
            self._slot_back()

    def _slot_back(self, _: object = None) -> None:
        """One slot comes back: to the first blocked spawner if it fits under ``size``.  Lock held."""
        if self._taken <= self._size and self._spawners.unpark():
            return  # handed over: it stays taken
        self._taken -= 1
        self._wake_if_idle()

    def _wake_if_idle(self) -> None:
        """Release every ``waitall`` once nothing runs and nobody waits to spawn.  Lock held."""
        if self._taken == 0 and not self._spawners:
            self._idle_waiters.unpark_all()

    # -- the rest of eventlet's API --------------------------------------------------------------

    def waitall(self) -> None:
        """Wait until every greenthread of the pool has finished and no spawner waits; a checkpoint.

        From one of the pool's own greenthreads it would wait for itself: ``AssertionError``.
        """
        current = current_greenthread()
        if PENDING[0]:
            check()
        with self._lock:
            if current is not None and current in self._members:
                raise AssertionError(
                    "Calling waitall() from within one of the GreenPool's greenthreads will never terminate."
                )
            self._purge()
            if self._taken == 0 and not self._spawners:
                return
            ticket = self._idle_waiters.enqueue()
        self._idle_waiters.park(ticket)

    def running(self) -> int:
        """How many greenthreads of this pool are running (or about to)."""
        with self._lock:
            self._purge()
            return len(self._members)

    def free(self) -> int:
        """How many more greenthreads could start now without blocking (never below 0, unlike eventlet's
        after shrinking a busy pool)."""
        with self._lock:
            self._purge()
            return max(self._size - self._taken, 0)

    def waiting(self) -> int:
        """How many callers are blocked in ``spawn``/``spawn_n``, waiting for a free slot."""
        with self._lock:
            self._purge()
            return len(self._spawners)

    def resize(self, new_size: int) -> None:
        """Change ``size``.  Growing lets blocked spawners start at once; shrinking stops nothing that
        runs, new spawns wait until fewer than ``new_size`` run.  Bad sizes as for the constructor."""
        size = check_size(new_size, "GreenPool.resize() size")
        with self._lock:
            self._size = size
            while self._spawners and self._taken < size:
                self._taken += 1
                self._spawners.unpark()

    # As builtins.map's: the function's parameters are checked against the items for up to three
    # iterables; more are accepted unchecked.  No iterable at all is an empty map.
    @overload
    def imap(self, func: None, /, *iterables: Iterable[Any]) -> ImapIterator[tuple[Any, ...]]: ...
    @overload
    def imap(self, func: Callable[..., _T], /) -> ImapIterator[_T]: ...
    @overload
    def imap(self, func: Callable[[_A], _T], iterable: Iterable[_A], /) -> ImapIterator[_T]: ...
    @overload
    def imap(
        self, func: Callable[[_A, _B], _T], iterable1: Iterable[_A], iterable2: Iterable[_B], /
    ) -> ImapIterator[_T]: ...
    @overload
    def imap(
        self,
        func: Callable[[_A, _B, _C], _T],
        iterable1: Iterable[_A],
        iterable2: Iterable[_B],
        iterable3: Iterable[_C],
        /,
    ) -> ImapIterator[_T]: ...
    @overload
    def imap(
        self,
        func: Callable[..., _T],
        iterable1: Iterable[Any],
        iterable2: Iterable[Any],
        iterable3: Iterable[Any],
        iterable4: Iterable[Any],
        /,
        *iterables: Iterable[Any],
    ) -> ImapIterator[_T]: ...

    def imap(self, func: Callable[..., Any] | None, /, *iterables: Iterable[Any]) -> ImapIterator[Any]:
        """``func(*items)`` for the items taken in step from ``iterables``, as ``map``, computed in
        greenthreads, at most ``size`` at once; results in input order.

        As in eventlet, those greenthreads are the map's own: they take none of the pool's slots, so
        ``running()`` and ``waitall()`` ignore them, and an imap started from a busy pool's greenthread
        does not wait for room in it.  The input is read lazily, at most twice the pool's size ahead of
        the results handed out, so an endless input is fine and memory does not grow with its length;
        it is read only in the thread that iterates.  An exception from ``func`` is raised when its
        item's turn comes, and iterating again goes on with the next item.  ``func=None`` yields the
        argument tuples.  Dropping the iterator half-way leaves nothing blocked: the items already read
        finish, and nothing more is read.  One thread at a time may iterate it (another gets
        ``ValueError``, as with a generator).
        """
        if func is not None and not callable(func):
            raise TypeError(f"GreenPool.imap() needs a callable or None, not {type(func).__name__}")
        sources = [_iterate(it, f"GreenPool.imap() argument {i + 2}") for i, it in enumerate(iterables)]
        return MapIterator(self, func, zip(*sources, strict=False))

    @overload
    def starmap(self, func: None, iterable: Iterable[Iterable[Any]], /) -> ImapIterator[tuple[Any, ...]]: ...
    @overload
    def starmap(self, func: Callable[..., _T], iterable: Iterable[Iterable[Any]], /) -> ImapIterator[_T]: ...

    def starmap(
        self, func: Callable[..., Any] | None, iterable: Iterable[Iterable[Any]], /
    ) -> ImapIterator[Any]:
        """``func(*args)`` for each ``args`` in ``iterable`` (as ``itertools.starmap``); else as ``imap``."""
        if func is not None and not callable(func):
            raise TypeError(f"GreenPool.starmap() needs a callable or None, not {type(func).__name__}")
        return MapIterator(self, func, _iterate(iterable, "GreenPool.starmap() argument 2"))

    def __repr__(self) -> str:
        with self._lock:
            self._purge()
            running, waiting, size = len(self._members), len(self._spawners), self._size
        return f"<{type(self).__name__} at {id(self):#x} size={size}, {running} running, {waiting} waiting>"


def _iterate(iterable: Iterable[_T], what: str) -> Iterator[_T]:
    try:
        return iter(iterable)
    except TypeError:
        raise TypeError(f"{what} must be iterable, not {type(iterable).__name__}") from None


# A kill may land in it as it would in the function itself: it only reports, and reporting is held back.
@runs_user_code
def _call_reporting(func: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """The function a ``spawn_n`` greenthread runs: ``func``, its exception reported, not kept."""
    try:
        func(*args, **kwargs)
    except GreenletExit:
        raise  # a kill: no error to report
    except BaseException:
        report_exception()


# -- GreenPile -------------------------------------------------------------------------------------


class GreenPile(Generic[_T]):
    """Spawn functions into it, then iterate it for their results, in the order they were spawned.

    The problem it solves: collecting the results of a number of greenthreads that is not known in
    advance, without keeping the GreenThreads yourself.  Its greenthreads run in a GreenPool: a new one
    of ``size_or_pool`` greenthreads (default 1000), or the pool given, shared with whoever else uses it.
    Iterating blocks (a checkpoint) until the next result is there; a function's exception is raised
    at its turn and iterating again goes on after it; once every spawned result has been taken,
    iteration stops (an empty pile iterates to nothing), and spawning more starts it again.

    What it is not: a queue in completion order (see ``threadevent.waiting.as_completed``), nor a way
    to cancel what it holds.

    >>> pile = GreenPile(4)
    >>> for word in ["hub", "greenthread", "pile"]:
    ...     pile.spawn(len, word)
    >>> list(pile)
    [3, 11, 4]
    >>> list(GreenPile())
    []
    """

    def __init__(self, size_or_pool: int | GreenPool = 1000) -> None:
        if isinstance(size_or_pool, GreenPool):
            self.pool = size_or_pool
        else:
            self.pool = GreenPool(size_or_pool)
        self._lock = allocate_lock()
        #: Spawned greenthreads whose results have not been taken, in spawn order.
        self._spawned: deque[GreenThread[_T]] = deque()
        #: Results not yet taken, counting spawns still waiting for a slot.
        self._counter = 0
        self._used = False
        #: Threads iterating, blocked until a spawn in progress lands.
        self._getters = ParkingLot(self._lock)

    @property
    def counter(self) -> int:
        """How many results are still to come out: spawned (or being spawned) and not yet taken."""
        return self._counter

    @property
    def used(self) -> bool:
        """True once anything was spawned into it."""
        return self._used

    def spawn(self, func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> None:
        """Run ``func(*args, **kwargs)`` in the pool (``GreenPool.spawn``: blocks while it is full); its
        result comes out of the iteration in this spawn's turn."""
        if not callable(func):
            raise TypeError(f"GreenPile.spawn() needs a callable, not {type(func).__name__}")
        with self._lock:
            self._counter += 1
            self._used = True
        greenthread: GreenThread[_T] | None = None
        try:
            greenthread = self.pool.spawn(func, *args, **kwargs)
        finally:
            with self._lock:
                if greenthread is None:
                    self._counter -= 1  # interrupted, or the OS refused a thread: nothing to come
                else:
                    self._spawned.append(greenthread)
                # Every blocked iteration looks again (they are few; a lost wake-up would hang one).
                self._getters.unpark_all()

    def __iter__(self) -> GreenPile[_T]:
        return self

    def __next__(self) -> _T:
        """The next result in spawn order, waiting for it (a checkpoint); StopIteration when none is due."""
        if PENDING[0]:
            check()
        while True:
            with self._lock:
                if self._spawned:
                    greenthread = self._spawned.popleft()
                    self._counter -= 1
                    break
                if self._counter == 0:
                    raise StopIteration
                ticket = self._getters.enqueue()
            self._getters.park(ticket)
        try:
            ended = wait_outcome(greenthread, -1.0)
        except BaseException:
            # Interrupted while it runs: the result stays first in line for the next iteration.
            with self._lock:
                self._spawned.appendleft(greenthread)
                self._counter += 1
            raise
        retrieve(greenthread)
        assert ended is not None
        return unwrap(ended)  # type: ignore[no-any-return]

    next = __next__
