"""Waiting on many: ``wait_any``, ``wait_all`` and ``as_completed`` over Events, GreenThreads and Futures.

Each call hooks a done-callback onto every item it watches; the callbacks unpark the calling thread,
parked in a ``ParkingLot`` private to the call.  Nothing polls.  Whatever ends the call (a completion, the
timeout, a kill or an expired Timeout of the calling thread, Ctrl-C) takes its callbacks off the Events
and GreenThreads again.  A ``concurrent.futures.Future`` has no public way to remove a callback: there the
callback stays, emptied, holding no reference to the call that left it (a small object per call on each
Future that was not done yet, freed with the Future).

What they deliberately do not do: retrieve an outcome (the caller asks the item), or cancel, kill or
otherwise touch the items still pending when they return.
"""

from __future__ import annotations

from _thread import allocate_lock
from collections.abc import Generator, Iterable, Iterator
from time import monotonic
from typing import TYPE_CHECKING, Any, TypeVar, Union, overload

from threadevent._api import TIMEOUT_MAX, OutcomeHook, TimeoutExpired, check_timeout
from threadevent._checkpoint import PENDING, check
from threadevent._parking import ParkingLot
from threadevent._waitable import Waitable, add_hook, remove_hook
from threadevent.greenthread import SELF_WAIT, current_greenthread

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["as_completed", "wait_all", "wait_any"]

#: What the functions here watch: an Event, a GreenThread (any ``Waitable``) or a ``concurrent.futures``
#: Future, in any mix.
_Item = Union["Waitable[Any]", "Future[Any]"]  # a runtime alias: ``|`` does not take strings
_I = TypeVar("_I", bound=_Item)

# Two signatures: items of one type come back typed as such; a mix (whose list a type checker widens to
# ``list[object]``, outside the first one's bound) comes back as the union.  mypy deems the second
# unreachable, wrongly: it is what a mixed list matches.


@overload
def wait_any(items: Iterable[_I], timeout: float | None = None) -> _I | None: ...
@overload
def wait_any(  # type: ignore[overload-cannot-match,unused-ignore]
    items: Iterable[_Item], timeout: float | None = None
) -> _Item | None: ...


def wait_any(items: Iterable[_Item], timeout: float | None = None) -> _Item | None:
    """Block until one of ``items`` is done; return it.  ``None`` if ``timeout`` seconds pass first.

    ``items`` mixes ``Event``, ``GreenThread`` and ``concurrent.futures.Future`` freely.  If some are
    done already, the first of them (in the order given) comes back at once; otherwise the first to
    complete does.  An Event sent while this call watches it counts, even if ``reset()`` follows at
    once.  It does not retrieve the outcome: call ``wait()`` or ``result()`` on what it returns.  An
    empty ``items`` returns ``None`` at once, as ``concurrent.futures.wait`` returns at once with
    nothing done.  ``timeout <= 0`` never blocks.  A checkpoint: a kill or an expired ``Timeout`` of the
    calling thread interrupts it.  The calling greenthread among ``items`` raises ``RuntimeError`` at
    once, as its own ``wait()`` does: it cannot end while it waits.

    What it replaces: a loop that sleeps and polls ``ready()`` on each item.

    >>> from threadevent import Event, spawn
    >>> slow, fast = Event(), Event()
    >>> _ = spawn(fast.send, "fast")
    >>> wait_any([slow, fast]) is fast
    True
    >>> wait_any([slow], timeout=0.01) is None
    True
    """
    seconds = _seconds(timeout)
    watched = _distinct(items, "wait_any")
    deadline = _deadline(seconds)
    if PENDING[0]:
        check()
    for item in watched:
        if item.done():
            return item
    if not watched or seconds == 0.0:
        return None
    watch = _Watch(watched)
    try:
        watch.hook(range(len(watched)))
        index = watch.next(deadline)
    finally:
        watch.unhook()
    return None if index is None else watched[index]


def wait_all(items: Iterable[_Item], timeout: float | None = None) -> bool:
    """Block until every one of ``items`` is done: ``True``; ``False`` if ``timeout`` seconds pass first.

    ``items`` mixes ``Event``, ``GreenThread`` and ``concurrent.futures.Future`` freely; an empty one is
    done at once (``True``).  An Event sent while this call watches it counts as done, even if
    ``reset()`` follows at once.  It does not retrieve any outcome: an item that failed still counts as
    done, and its exception is for ``wait()``/``result()`` to raise.  ``timeout <= 0`` never blocks.  A
    checkpoint.  The calling greenthread among ``items``: ``RuntimeError``, as in ``wait_any``.

    >>> from threadevent import spawn
    >>> workers = [spawn(pow, 2, n) for n in range(4)]
    >>> wait_all(workers)
    True
    >>> [gt.wait() for gt in workers]
    [1, 2, 4, 8]
    """
    seconds = _seconds(timeout)
    watched = _distinct(items, "wait_all")
    deadline = _deadline(seconds)
    if PENDING[0]:
        check()
    pending = [index for index, item in enumerate(watched) if not item.done()]
    if not pending:
        return True
    if seconds == 0.0:
        return False
    watch = _Watch(watched)
    try:
        watch.hook(pending)
        for _ in pending:
            if watch.next(deadline) is None:
                return False
    finally:
        watch.unhook()
    return True


@overload
def as_completed(items: Iterable[_I], timeout: float | None = None) -> Iterator[_I]: ...
@overload
def as_completed(  # type: ignore[overload-cannot-match,unused-ignore]
    items: Iterable[_Item], timeout: float | None = None
) -> Iterator[_Item]: ...


def as_completed(items: Iterable[_Item], timeout: float | None = None) -> Iterator[_Item]:
    """Yield each of ``items`` as it completes, in completion order.

    ``items`` mixes ``Event``, ``GreenThread`` and ``concurrent.futures.Future`` freely.  Those already
    done when iteration starts come first, in the order given; every other one comes as it completes
    (items completing in the very instant the callbacks go on come in the order they are found).
    An item given twice is yielded once, as ``concurrent.futures.as_completed`` does.  ``timeout``
    (seconds) covers the whole iteration, counted from this call: once it has passed, the next step
    that finds nothing completed raises the builtin ``TimeoutError`` (items that completed in time are
    still yielded first, however slowly the loop consumes them).  Nothing is retrieved: call ``wait()``
    or ``result()`` on each item.  Every step is a checkpoint, also one with an item at hand.

    Bad arguments raise here, at the call, as does the calling greenthread among ``items``
    (``RuntimeError``, as in ``wait_any``).  The callbacks are hooked on when iteration starts, and taken
    off when it ends: by exhaustion, the timeout, an interrupt, or ``close()`` on an iteration
    abandoned half-way (which a ``for`` loop left by ``break`` gets when the generator is dropped).

    >>> from threadevent import Event, spawn
    >>> fast, slow = Event(), Event()
    >>> fast.send("fast")                       # done already: comes first
    >>> for evt in as_completed([slow, fast], timeout=30):
    ...     print(evt.wait())
    ...     if evt is fast:
    ...         _ = spawn(slow.send, "slow")    # completes while the loop waits for it
    fast
    slow
    """
    seconds = _seconds(timeout)
    watched = _distinct(items, "as_completed")
    # Counted from the call, as concurrent.futures.as_completed documents.
    return _completions(watched, _deadline(seconds), timeout)


def _completions(watched: list[_I], deadline: float, timeout: float | None) -> Generator[_I, None, None]:
    done: list[int] = []
    pending: list[int] = []
    for index, item in enumerate(watched):
        (done if item.done() else pending).append(index)
    watch = _Watch(watched)
    try:
        # Hooked before anything is yielded: what completes while the caller handles an item is
        # recorded in the order it completes.
        watch.hook(pending)
        # Every step is a checkpoint, also one that has an item at hand: a kill lands between two items.
        for index in done:
            if PENDING[0]:
                check()
            yield watched[index]
        for left in range(len(pending), 0, -1):
            if PENDING[0]:
                check()
            completed = watch.next(deadline)
            if completed is None:
                raise TimeoutExpired(
                    f"as_completed(): {left} of {len(watched)} items were not done within {timeout} seconds"
                )
            yield watched[completed]
    finally:
        watch.unhook()


# -- the machinery ---------------------------------------------------------------------------------------


class _Hook:
    """The done-callback of one watched item: tells the watch that item ``index`` completed.

    Emptied (``watch = None``) when the call ends, so that one firing late, or left for ever on a
    Future, does nothing and keeps nothing alive.
    """

    __slots__ = ("index", "watch")

    def __init__(self, watch: _Watch, index: int) -> None:
        self.watch: _Watch | None = watch
        self.index = index

    def __call__(self, _: object) -> None:
        # Runs in the completing thread, perhaps after the call it served has returned: then the watch
        # it touches is garbage, which is harmless.
        watch = self.watch
        if watch is not None:
            with watch.lock:
                watch.completed.append(self.index)
                watch.lot.unpark()


class _Watch:
    """The state of one wait-on-many call: its hooks, what completed, and where its thread parks.

    Used by one thread (the caller) except for ``completed`` and ``lot``, which the hooks touch from
    the completing threads, under ``lock``.
    """

    __slots__ = ("completed", "cursor", "hooks", "items", "lock", "lot", "reported")

    def __init__(self, items: list[Any]) -> None:
        self.items = items
        self.lock = allocate_lock()
        self.lot = ParkingLot(self.lock)
        #: Indexes of items, in the order their hooks fired; may hold an index twice (see ``hook``).
        self.completed: list[int] = []
        self.cursor = 0
        self.reported = bytearray(len(items))
        self.hooks: list[tuple[_Hook, OutcomeHook | None]] = []

    def hook(self, indexes: Iterable[int]) -> None:
        """Hook a done-callback onto each of ``items[indexes]``."""
        for index in indexes:
            item = self.items[index]
            hook = _Hook(self, index)
            if isinstance(item, Waitable):
                outcome_hook = OutcomeHook(hook)
                self.hooks.append((hook, outcome_hook))  # listed first: unhook() must find it
                add_hook(item, outcome_hook)
            else:
                self.hooks.append((hook, None))
                item.add_done_callback(hook)
            if item.done():
                # Done before, or just after, the hook went on.  On an item already done, add_hook()
                # may not call the hook at once (a GreenThread defers it while this thread runs
                # callbacks), so record it here; next() skips the duplicate when the hook fires too.
                with self.lock:
                    self.completed.append(index)

    def unhook(self) -> None:
        """Take every hook off again (a Future's stays, emptied)."""
        for hook, outcome_hook in self.hooks:
            hook.watch = None
            if outcome_hook is not None:
                remove_hook(self.items[hook.index], outcome_hook)

    def next(self, deadline: float) -> int | None:
        """The index of the next completed item not reported yet; None once ``deadline`` (-1: none)
        has passed with nothing completed.  Parks in a checkpoint."""
        timeout = -1.0
        while True:
            with self.lock:
                index = self._unreported()
                if index is not None:
                    return index
                if deadline >= 0.0:
                    timeout = deadline - monotonic()
                    if timeout <= 0.0:
                        return None
                ticket = self.lot.enqueue()
            self.lot.park(ticket, min(timeout, TIMEOUT_MAX))

    def _unreported(self) -> int | None:
        """The next completed index not reported yet, if any.  Lock held."""
        completed = self.completed
        while self.cursor < len(completed):
            index = completed[self.cursor]
            self.cursor += 1
            if not self.reported[index]:
                self.reported[index] = 1
                return index
        return None


def _seconds(timeout: object) -> float:
    """``timeout`` as seconds to wait, ``-1.0`` for "forever"; TypeError/ValueError as ``Event.wait``."""
    return -1.0 if timeout is None else check_timeout(timeout)


def _deadline(seconds: float) -> float:
    return -1.0 if seconds < 0.0 else monotonic() + seconds


def _distinct(items: Iterable[_I], caller: str) -> list[_I]:
    """``items`` as a list without repeats (by identity), each checked to be something we can watch and
    not the calling greenthread."""
    try:
        iterator = iter(items)
    except TypeError:
        if isinstance(items, Waitable) or _is_future(items):
            problem = f"not one item: to wait on one, pass a list: [{items!r}]"
        else:
            problem = f"not {type(items).__name__}"
        expected = "an iterable of Events, GreenThreads and Futures"
        raise TypeError(f"{caller}() takes {expected}, {problem}") from None
    watched: list[_I] = []
    seen: set[int] = set()
    # The calling greenthread cannot end while it waits: as its own wait(), refused rather than waited
    # for (for ever, or until the timeout, with nothing to gain).  None in a plain thread, and while a
    # greenthread's links run: by then it has ended, and may be waited on.
    me = current_greenthread()
    for item in iterator:
        if not isinstance(item, Waitable) and not _is_future(item):
            raise TypeError(
                f"{caller}() waits on Events, GreenThreads and concurrent.futures.Futures, "
                f"not {type(item).__name__}: {item!r}"
            )
        key = id(item)  # every item stays alive in ``watched``, so no id is reused meanwhile
        if key not in seen:
            if item is me:
                raise RuntimeError(f"{caller}(): {SELF_WAIT}")
            seen.add(key)
            watched.append(item)
    return watched


def _is_future(item: object) -> bool:
    # Imported here: importing threadevent should not pay for concurrent.futures.
    from concurrent.futures import Future

    return isinstance(item, Future)
