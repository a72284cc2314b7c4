"""GreenPool and GreenPile: at most N greenthreads at once, and their results in the order spawned."""

from __future__ import annotations

import contextvars
import threading
from _thread import LockType, allocate_lock
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any, Generic, TypeVar, overload

from threadevent import _checkpoint, hub
from threadevent._checkpoint import PENDING as _PENDING
from threadevent._checkpoint import block as _block
from threadevent._checkpoint import release as _release
from threadevent.event import _Outcome, _unwrap
from threadevent.greenthread import GreenletExit, GreenThread, _run_inline, getcurrent

__all__ = ["GreenPile", "GreenPool"]

_T = TypeVar("_T")


def _check_size(size: Any, what: str) -> int:
    """``size`` as eventlet takes it (anything ``int()`` accepts), checked: a clear error otherwise."""
    try:
        number = int(size)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"{what} needs a whole number as size, not {type(size).__name__} {size!r}") from None
    if number < 0:
        raise ValueError(f"{what} needs a size >= 0, not {number}")
    return number


class _Waiter:
    """One blocked call: its private lock (held until it is woken), and whether it got what it waits for."""

    __slots__ = ("granted", "lock")

    def __init__(self) -> None:
        self.lock = allocate_lock()
        self.lock.acquire()
        self.granted = False

    def grant(self) -> None:
        """Wake it, granted.  Call under the lock that guards the queue it waits in."""
        self.granted = True
        _release(self.lock)  # an interrupt may have released it first: harmless, it re-checks


def _await(waiter: _Waiter) -> None:
    """Block until ``waiter`` is granted; a checkpoint.  The caller undoes its queueing if this raises."""
    while not waiter.granted:
        # True without a grant means an interrupt that was withdrawn before we woke: wait on.
        _block(waiter.lock, -1.0)


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
        self._size = _check_size(size, "GreenPool()")
        #: Guards everything below; nothing blocks or calls out while holding it.
        self._lock = allocate_lock()
        #: The pool's greenthreads that hold a slot, until they finish (or are found finished).
        self._members: set[GreenThread[Any]] = set()
        #: Slots in use: one per member, plus those granted to spawners that are starting theirs.
        self._taken = 0
        #: Spawners blocked while the pool is full, first come first served.
        self._spawners: deque[_Waiter] = deque()
        #: Threads blocked in waitall().
        self._idle_waiters: list[_Waiter] = []

    @property
    def size(self) -> int:
        """How many greenthreads of this pool may run at once (change it with ``resize``)."""
        return self._size

    # -- spawning --------------------------------------------------------------------------------

    def spawn(self, func: Callable[..., _T], /, *args: Any, **kwargs: Any) -> GreenThread[_T]:
        """Run ``func(*args, **kwargs)`` in a greenthread of this pool; return its GreenThread.

        Blocks while the pool is full (a checkpoint), except from one of the pool's own greenthreads:
        then ``func`` runs at once in the caller, and the GreenThread returned has already finished.
        An exception ``func`` raises is that GreenThread's outcome; a kill of the caller, a Timeout or
        anything else that is not an ``Exception`` also propagates to the caller.  ``TypeError`` at
        once, with nothing changed, if ``func`` is not callable.
        """
        if not callable(func):
            raise TypeError(f"GreenPool.spawn() needs a callable, not {type(func).__name__}")
        if _PENDING[0]:
            _checkpoint.check()
        greenthread = GreenThread(func, args, kwargs, contextvars.copy_context())
        if self._take_slot():
            self._launch(greenthread)
            return greenthread
        escaping = _run_inline(greenthread)
        if escaping is not None:
            raise escaping
        return greenthread

    def spawn_n(self, func: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        """Like ``spawn``, fire and forget: returns None.

        An exception ``func`` raises goes to ``threading.excepthook`` (which prints it by default), as
        with ``threadevent.spawn_n``.
        """
        if not callable(func):
            raise TypeError(f"GreenPool.spawn_n() needs a callable, not {type(func).__name__}")
        if _PENDING[0]:
            _checkpoint.check()
        context = contextvars.copy_context()
        if self._take_slot():
            self._launch(GreenThread(_call_reporting, (func, args, kwargs), {}, context))
            return
        greenthread: GreenThread[object] = GreenThread(func, args, kwargs, context)
        escaping = _run_inline(greenthread)
        if escaping is not None:
            raise escaping
        outcome = greenthread._outcome
        assert outcome is not None
        if outcome[1] is not None:
            greenthread._retrieved = True  # reported here, not logged again when collected
            _report(outcome[1], outcome[2])

    def _take_slot(self) -> bool:
        """Take a slot, blocking while the pool is full; False: re-entered while full, run inline."""
        with self._lock:
            if self._taken < self._size and not self._spawners:
                self._taken += 1
                return True
            self._purge()
            if self._taken < self._size and not self._spawners:
                self._taken += 1
                return True
            current = getcurrent()
            if current is not None and current in self._members:
                return False
            waiter = _Waiter()
            self._spawners.append(waiter)
        try:
            _await(waiter)
        except BaseException:
            with self._lock:
                if waiter.granted:
                    self._free_slot()  # granted as we were interrupted: the slot goes to the next one
                else:
                    self._spawners.remove(waiter)
                    self._wake_if_idle()  # a waitall may have been waiting for this spawn only
            raise
        return True  # the slot was handed over to us already counted

    def _launch(self, greenthread: GreenThread[Any]) -> None:
        """Start ``greenthread`` as a member, in the slot that the caller has taken for it."""
        # The callback is in place, and the greenthread is a member (re-entry from it is recognised),
        # before it can run.
        greenthread._add(self._retire)
        with self._lock:
            self._members.add(greenthread)
        try:
            hub.submit(greenthread._run)
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
                self._free_slot()

    def _purge(self) -> None:
        """Give back the slots of members that have finished but whose callback has not run yet.

        A greenthread's waiters are woken before its callbacks run, so without this a caller that has
        just seen a greenthread of the pool finish could still find it counted.  Lock held.
        """
        finished = [gt for gt in self._members if gt._outcome is not None]
        for greenthread in finished:
            self._members.remove(greenthread)
            self._free_slot()

    def _free_slot(self) -> None:
        """One slot comes back: to the first blocked spawner if it fits under ``size``.  Lock held."""
        spawners = self._spawners
        if spawners and self._taken <= self._size:
            spawners.popleft().grant()  # handed over: it stays taken
            return
        self._taken -= 1
        self._wake_if_idle()

    def _wake_if_idle(self) -> None:
        """Release every ``waitall`` once nothing runs and nobody waits to spawn.  Lock held."""
        if self._taken == 0 and not self._spawners and self._idle_waiters:
            for waiter in self._idle_waiters:
                waiter.grant()
            self._idle_waiters.clear()

    # -- the rest of eventlet's API --------------------------------------------------------------

    def waitall(self) -> None:
        """Wait until every greenthread of the pool has finished and no spawner waits; a checkpoint.

        From one of the pool's own greenthreads it would wait for itself: ``AssertionError``.
        """
        current = getcurrent()
        if _PENDING[0]:
            _checkpoint.check()
        with self._lock:
            if current is not None and current in self._members:
                raise AssertionError(
                    "Calling waitall() from within one of the GreenPool's greenthreads will never terminate."
                )
            self._purge()
            if self._taken == 0 and not self._spawners:
                return
            waiter = _Waiter()
            self._idle_waiters.append(waiter)
        try:
            _await(waiter)
        except BaseException:
            with self._lock:
                if not waiter.granted:
                    self._idle_waiters.remove(waiter)
            raise

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
        size = _check_size(new_size, "GreenPool.resize()")
        with self._lock:
            self._size = size
            while self._spawners and self._taken < size:
                self._taken += 1
                self._spawners.popleft().grant()

    @overload
    def imap(self, func: None, /, *iterables: Iterable[Any]) -> Iterator[tuple[Any, ...]]: ...
    @overload
    def imap(self, func: Callable[..., _T], /, *iterables: Iterable[Any]) -> Iterator[_T]: ...

    def imap(self, func: Callable[..., Any] | None, /, *iterables: Iterable[Any]) -> Iterator[Any]:
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
        return _MapIterator(self, func, zip(*sources, strict=False))

    @overload
    def starmap(self, func: None, iterable: Iterable[Iterable[Any]], /) -> Iterator[tuple[Any, ...]]: ...
    @overload
    def starmap(self, func: Callable[..., _T], iterable: Iterable[Iterable[Any]], /) -> Iterator[_T]: ...

    def starmap(self, func: Callable[..., Any] | None, iterable: Iterable[Iterable[Any]], /) -> Iterator[Any]:
        """``func(*args)`` for each ``args`` in ``iterable`` (as ``itertools.starmap``); else as ``imap``."""
        if func is not None and not callable(func):
            raise TypeError(f"GreenPool.starmap() needs a callable or None, not {type(func).__name__}")
        return _MapIterator(self, func, _iterate(iterable, "GreenPool.starmap() argument 2"))

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


def _call_reporting(func: Callable[..., object], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """The function a ``spawn_n`` greenthread runs: ``func``, its exception reported, not kept."""
    try:
        func(*args, **kwargs)
    except GreenletExit:
        raise  # a kill: no error to report
    except BaseException:
        hub._report_exception()


# A kill may land in it as it would in the function itself: it only reports, and reporting is held back.
_checkpoint.RUNNERS.add(_call_reporting.__code__)


def _report(error: BaseException, tb: TracebackType | None) -> None:
    """Hand ``error`` to ``threading.excepthook``, as an uncaught exception of the calling thread."""
    try:
        threading.excepthook(threading.ExceptHookArgs((type(error), error, tb, threading.current_thread())))
    except BaseException:
        hub._report_exception()  # the hook itself failed: reported as threading reports that


# -- imap ------------------------------------------------------------------------------------------


class _Slot:
    """One input item's place in the output: its outcome, once computed."""

    __slots__ = ("outcome",)

    def __init__(self) -> None:
        self.outcome: _Outcome | None = None


class _MapIterator(Generic[_T]):
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

    def __init__(self, pool: GreenPool, func: Callable[..., _T] | None, source: Iterator[Any]) -> None:
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
        #: The consumer blocked on the first slot: that slot and the lock it sleeps on.
        self._waiter: tuple[_Slot, LockType] | None = None
        self._fill()  # the work starts at once, as with eventlet's imap

    def __iter__(self) -> _MapIterator[_T]:
        return self

    def __next__(self) -> _T:
        if not self._consumer.acquire(False):
            raise ValueError("this imap()/starmap() iterator is already being iterated in another thread")
        try:
            if _PENDING[0]:
                _checkpoint.check()
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
        return _unwrap(outcome)  # type: ignore[no-any-return]

    def _window(self) -> int:
        """How many items may be read ahead of the consumer: twice the pool's size (eventlet's imap
        holds up to ``size`` finished results besides the ``size`` items running)."""
        return 2 * self._limit()

    def _limit(self) -> int:
        """How many runners may run at once: the pool's size (at least one, so that it ends)."""
        return max(self._pool._size, 1)

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
                    self._start_runner()

    def _all_busy(self) -> bool:
        """Every runner is inside a function (or there is none), and the pool's size allows one more.

        A runner between items counts as free: it looks at the queue before it ends, so trivial
        functions do not start a runner per item.  Lock held.
        """
        return self._busy == self._runners and self._runners < self._limit()

    def _start_runner(self) -> None:
        """Start the runner that the caller counted in ``_runners``."""
        # A context of its own: two threads cannot run in one context at once.
        greenthread: GreenThread[None] = GreenThread(self._run, (), {}, contextvars.Context())
        try:
            hub.submit(greenthread._run)
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
                    lock = allocate_lock()
                    lock.acquire()
                    self._waiter = (head, lock)
            if stalled:
                self._start_runner()
                continue
            try:
                while head.outcome is None:
                    _block(lock, -1.0)
            finally:
                with self._lock:
                    if self._waiter is not None and self._waiter[1] is lock:
                        self._waiter = None
            return

    # -- the runners' side -------------------------------------------------------------------------

    def _run(self) -> None:
        """A runner: take items off the queue until it is empty, publishing each outcome in its slot."""
        lock = self._lock
        todo = self._todo
        func = self._func
        context = self._context
        assert func is not None
        slot: _Slot | None = None
        outcome: _Outcome | None = None
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

    def _publish(self, slot: _Slot, outcome: _Outcome | None) -> None:
        """A runner is done with ``slot``: fill it in, wake the consumer if it waits for it.  Lock held."""
        slot.outcome = outcome
        self._busy -= 1
        waiter = self._waiter
        if waiter is not None and waiter[0] is slot:
            self._waiter = None
            _release(waiter[1])


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
        self._getters: list[_Waiter] = []

    @property
    def counter(self) -> int:
        """How many results are still to come out: spawned (or being spawned) and not yet taken."""
        return self._counter

    @property
    def used(self) -> bool:
        """True once anything was spawned into it."""
        return self._used

    def spawn(self, func: Callable[..., _T], /, *args: Any, **kwargs: Any) -> None:
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
                self._wake_getters()

    def _wake_getters(self) -> None:
        """Every blocked iteration looks again (they are few; a lost wake-up would hang one).  Lock held."""
        for getter in self._getters:
            getter.grant()
        self._getters.clear()

    def __iter__(self) -> GreenPile[_T]:
        return self

    def __next__(self) -> _T:
        """The next result in spawn order, waiting for it (a checkpoint); StopIteration when none is due."""
        if _PENDING[0]:
            _checkpoint.check()
        while True:
            with self._lock:
                if self._spawned:
                    greenthread = self._spawned.popleft()
                    self._counter -= 1
                    break
                if self._counter == 0:
                    raise StopIteration
                getter = _Waiter()
                self._getters.append(getter)
            try:
                _await(getter)
            except BaseException:
                with self._lock:
                    if not getter.granted:
                        self._getters.remove(getter)
                raise
        try:
            outcome = greenthread._wait(-1.0)
        except BaseException:
            # Interrupted while it runs: the result stays first in line for the next iteration.
            with self._lock:
                self._spawned.appendleft(greenthread)
                self._counter += 1
            raise
        greenthread._retrieved = True
        assert outcome is not None
        return _unwrap(outcome)  # type: ignore[no-any-return]

    next = __next__
