"""threadevent.queue against its contract (the design's "Queues"): eventlet's queues, on real threads.

``Queue``, ``LightQueue``, ``PriorityQueue`` and ``LifoQueue``; ``maxsize=None`` (or negative) unbounded,
``0`` a channel; every blocking ``get``, ``put`` and ``join`` a checkpoint, which a kill or an expired
Timeout interrupts; a get that ends without an item has taken none, a put that ends in an exception has
put nothing; nothing put is lost or delivered twice, and within one producer a FIFO queue keeps the
order; blocked getters (and putters on a full queue) are served in the order they came.

The getters and putters are real threads: a test lines them up one by one, waiting until the queue
counts each of them (``getting()``/``putting()``), so that their order is known, and waits for
conditions under generous deadlines; nothing is ordered with ``sleep`` and nothing asserts on elapsed
time.  Where a race is real (a kill meeting a hand-off), every outcome is accepted, and the test checks
that exactly one happened and that every item is accounted for; the storms print their seed
(``THREADEVENT_QUEUE_STORM_SEED`` replays their choices).

A few tests go through the seam in ``internals.py``: whether a greenthread is parked in a checkpoint,
and a stand-in for the parking call that holds one thread between its wake-up and its next step, to
make "interrupted at the very moment it was handed an item" certain rather than likely.
"""

from __future__ import annotations

import collections
import os
import queue as stdlib_queue
import random
import threading
import time
import typing
from collections.abc import Callable, Iterator
from typing import Any

import internals
import pytest
from conftest import (
    PATIENCE,
    Greenthreads,
    KillError,
    Threads,
    Worker,
    kill_parked,
    parked,
    run_bounded,
    settled,
    spurious_wake_up_9_s_into_the_wait,
    wait_until,
)
from hypothesis import given
from hypothesis import strategies as st

import threadevent
from threadevent import GreenletExit, GreenThread, Timeout, sleep, spawn
from threadevent import queue as queue_module
from threadevent.queue import Empty, Full, LifoQueue, LightQueue, PriorityQueue, Queue

# -- helpers -----------------------------------------------------------------------------------------

#: Every queue class; the FIFO ones (the order tests need to know which item comes out next).
QUEUES = (LightQueue, Queue, LifoQueue, PriorityQueue)
FIFOS = (LightQueue, Queue)
#: The ones with task_done() and join().
JOINABLE = (Queue, LifoQueue, PriorityQueue)
#: The seed of the storms and of the hand-off race (printed; set it to replay their choices).
STORM_SEED = int(os.environ.get("THREADEVENT_QUEUE_STORM_SEED", "20241201"))


def getters_in_line(threads: Threads, q: LightQueue[Any], count: int, *args: Any) -> list[Worker]:
    """``count`` threads blocked in ``q.get(*args)``, started one by one: their order in line is known."""
    base = q.getting()
    workers = []
    for n in range(1, count + 1):
        workers.append(threads.start(q.get, *args, name=f"getter-{n}"))
        wait_until(lambda n=n: q.getting() == base + n, what=f"getter {n} to block")
    return workers


def putters_in_line(threads: Threads, q: LightQueue[Any], items: list[Any], *args: Any) -> list[Worker]:
    """A thread blocked in ``q.put(item, *args)`` for each item, started one by one, in that order."""
    base = q.putting()
    workers = []
    for n, item in enumerate(items, 1):
        workers.append(threads.start(q.put, item, *args, name=f"putter-{item}"))
        wait_until(lambda n=n: q.putting() == base + n, what=f"putter of {item!r} to block")
    return workers


def drain(q: LightQueue[Any]) -> list[Any]:
    """Everything ``q`` holds, in the order it gives it out."""
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except Empty:
            return items


def fired_here(timeout: Timeout) -> None:
    """Wait until ``timeout``, armed in the calling thread, has fired: its exception is pending here."""
    wait_until(lambda: not timeout.pending and internals.pending_interrupts() > 0, what="the Timeout to fire")


class Gate:
    """Holds one thread inside its parking call between the hand-off that wakes it and its next step.

    The chosen thread calls ``hold_me()`` just before its ``get`` or ``put``.  Its next park then waits
    on its ticket without being interruptible, so that only the hand-off wakes it (``woken``), and stays
    there until the test sets ``go``: the test makes the interrupt pending meanwhile (or ``then``, run
    in the held thread, raises one), and the real parking call raises it.  What "an interrupt at the
    very moment of the hand-off" is, without the luck.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ident: int | None = None
        self.entered = threading.Event()
        self.woken = threading.Event()
        self.go = threading.Event()
        self.then: Callable[[], None] | None = None
        internals.patch_block(monkeypatch, self._block)

    def hold_me(self) -> None:
        self.ident = threading.get_ident()

    def _block(self, lock: Any, timeout: float) -> bool:
        if threading.get_ident() != self.ident:
            return internals.real_block(lock, timeout)
        self.ident = None
        self.entered.set()
        assert lock.acquire(True, PATIENCE), "the held thread was never handed anything"
        self.woken.set()
        assert self.go.wait(PATIENCE), "the test never let the held thread go"
        if self.then is not None:
            self.then()
        lock.release()
        return internals.real_block(lock, timeout)  # raises the interrupt made pending meanwhile


def let_go_interrupted(gate: Gate, held: GreenThread[Any], interrupt: str) -> None:
    """Let ``held`` go from ``gate`` with an interrupt pending, and check that it died of exactly that.

    ``interrupt="kill"``: a kill sent from another thread, made pending before the gate lets go.
    ``interrupt="Timeout"``: a ``Timeout(0)`` armed in the held thread itself (``gate.then``), fired by
    the time the real parking call runs.
    """
    armed: list[Timeout] = []
    if interrupt == "kill":
        baseline = internals.pending_interrupts()
        killing = run_in_thread(held.kill)
        wait_until(lambda: internals.pending_interrupts() > baseline, what="the kill to be pending")
    else:

        def arm() -> None:
            armed.append(Timeout(0))
            fired_here(armed[0])

        gate.then = arm
    gate.go.set()
    error = held.exception(PATIENCE)
    if interrupt == "kill":
        killing.join()
        assert isinstance(error, GreenletExit)
    else:
        assert error is armed[0]


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    made = Gate(monkeypatch)
    yield made
    made.go.set()  # a failed test must not leave the held thread waiting


# -- the public names and types --------------------------------------------------------------------


def test_the_queues_are_exported_from_threadevent_with_the_stdlibs_empty_and_full() -> None:
    for name in ("Queue", "LightQueue", "PriorityQueue", "LifoQueue", "Empty", "Full"):
        assert name in queue_module.__all__ and name in threadevent.__all__
        assert getattr(threadevent, name) is getattr(queue_module, name)
    assert Empty is stdlib_queue.Empty and Full is stdlib_queue.Full
    assert issubclass(Queue, LightQueue)
    assert issubclass(PriorityQueue, Queue) and issubclass(LifoQueue, Queue)
    # Code that catches the stdlib's exceptions keeps working.
    with pytest.raises(stdlib_queue.Empty):
        LightQueue().get_nowait()
    with pytest.raises(stdlib_queue.Full):
        LightQueue(0).put_nowait(1)


def test_only_queue_and_its_subclasses_count_tasks() -> None:
    assert not hasattr(LightQueue(), "task_done") and not hasattr(LightQueue(), "join")
    for cls in JOINABLE:
        q = cls()
        assert callable(q.task_done) and callable(q.join) and q.unfinished_tasks == 0


@pytest.mark.parametrize("cls", QUEUES)
def test_queues_are_generic_and_get_gives_the_type_they_are_parametrised_with(cls: type[Any]) -> None:
    (item_type,) = cls.__parameters__
    hints = typing.get_type_hints(cls.get)
    assert hints["return"] is item_type
    assert typing.get_type_hints(cls.get_nowait)["return"] is item_type
    assert typing.get_type_hints(cls.put)["item"] is item_type
    assert typing.get_origin(cls[int]) is cls and typing.get_args(cls[int]) == (int,)
    q = cls[int]()
    q.put(7)
    value: int = q.get()
    assert value == 7 and type(value) is int


# -- construction and bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("cls", QUEUES)
def test_maxsize_none_or_negative_is_unbounded_and_zero_is_a_channel(cls: type[Any]) -> None:
    for maxsize in (None, -1, -100):
        q = cls(maxsize)
        assert q.maxsize is None
        for i in range(1000):
            q.put_nowait(i)
        assert q.qsize() == 1000 and not q.full()
    assert cls().maxsize is None
    channel = cls(0)
    assert channel.maxsize == 0 and channel.full() and channel.empty() and channel.qsize() == 0
    assert cls(5).maxsize == 5


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("maxsize", ["3", 2.0, 1.5, True, [], float("nan"), object()])
def test_a_maxsize_that_is_not_an_int_or_none_is_a_type_error(cls: type[Any], maxsize: Any) -> None:
    with pytest.raises(TypeError, match="maxsize"):
        cls(maxsize)
    q = cls(2)
    q.put(1)
    with pytest.raises(TypeError, match="size"):
        q.resize(maxsize)
    assert q.maxsize == 2 and q.qsize() == 1  # nothing changed


BAD_TIMEOUTS = [
    ("1", TypeError),
    ([], TypeError),
    (object(), TypeError),
    (-1, ValueError),
    (-0.001, ValueError),
    (float("-inf"), ValueError),
    (float("nan"), ValueError),
]


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_a_bad_timeout_of_put_or_get_is_rejected_and_changes_nothing(
    cls: type[Any], timeout: Any, error: type[Exception]
) -> None:
    for maxsize in (None, 2, 1, 0):  # room, room, full once one is in, a channel
        q = cls(maxsize)
        held = [] if maxsize == 0 else ["in"]
        for item in held:
            q.put(item)
        with pytest.raises(error, match="timeout"):
            q.put("rejected", timeout=timeout)
        with pytest.raises(error, match="timeout"):
            q.put("rejected", True, timeout)
        with pytest.raises(error, match="timeout"):
            q.get(timeout=timeout)
        assert q.getting() == 0 and q.putting() == 0
        if cls in JOINABLE:
            assert q.unfinished_tasks == len(held)
        assert drain(q) == held


@pytest.mark.parametrize("cls", JOINABLE)
@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_a_bad_timeout_of_join_is_rejected(cls: type[Any], timeout: Any, error: type[Exception]) -> None:
    q = cls()
    q.put("unfinished")
    with pytest.raises(error, match="timeout"):
        q.join(timeout)
    with pytest.raises(error, match="timeout"):
        q.join(timeout=timeout)
    q.get()
    q.task_done()
    with pytest.raises(error, match="timeout"):  # whether or not it would have to wait
        q.join(timeout)


@pytest.mark.parametrize("cls", QUEUES)
def test_a_call_that_does_not_block_ignores_its_timeout_as_the_stdlibs_does(cls: type[Any]) -> None:
    q = cls(1)
    q.put("a", False, -1)
    with pytest.raises(Full):
        q.put("b", block=False, timeout=-5)
    assert q.get(False, -1) == "a"
    with pytest.raises(Empty):
        q.get(block=False, timeout=-5)


@pytest.mark.parametrize("cls", JOINABLE)
def test_task_done_called_more_often_than_items_were_put_is_a_value_error(cls: type[Any]) -> None:
    q = cls()
    with pytest.raises(ValueError, match="task_done"):
        q.task_done()
    q.put(1)
    q.put(2)
    q.task_done()  # as the stdlib: it counts items put, whether or not they were got yet
    q.task_done()
    with pytest.raises(ValueError, match="task_done"):
        q.task_done()
    assert q.unfinished_tasks == 0 and q.join(0) is True


# -- a wake-up with nothing handed over -----------------------------------------------------------------
# A parked thread's lock can be released with nothing handed to it: an interrupt withdrawn before the
# thread ran leaves exactly that.  Single-threaded and deterministic: a stand-in for the blocking call
# wakes the getter once for nothing, and then decides what the next wait meets.


def test_a_get_woken_with_nothing_handed_over_waits_on_until_an_item_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    q: LightQueue[str] = LightQueue()
    timeouts: list[float] = []

    def fake_block(lock: Any, timeout: float) -> bool:
        timeouts.append(timeout)
        if len(timeouts) == 1:
            return True  # woken for nothing: the get must not return
        q.put("item")  # handed straight to the parked getter, whose lock is released
        return internals.real_block(lock, timeout)

    internals.patch_block(monkeypatch, fake_block)
    assert q.get() == "item"
    assert timeouts == [-1.0, -1.0]
    assert q.getting() == 0 and q.qsize() == 0


def test_a_get_woken_with_nothing_handed_over_waits_only_the_rest_of_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    timeouts = spurious_wake_up_9_s_into_the_wait(monkeypatch)
    q: LightQueue[str] = LightQueue()
    with pytest.raises(Empty):
        q.get(timeout=10.0)
    assert timeouts[0] == 10.0
    assert len(timeouts) == 2 and timeouts[1] <= 1.0 + 1e-9, timeouts  # 9 of the 10 s were gone
    assert q.getting() == 0


# -- order --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("maxsize", [None, 10])
def test_fifo_lifo_and_priority_order(maxsize: int | None) -> None:
    items = [5, 1, 4, 2, 3]
    expected = {
        LightQueue: items,
        Queue: items,
        LifoQueue: items[::-1],
        PriorityQueue: sorted(items),
    }
    for cls, order in expected.items():
        q = cls(maxsize)
        for item in items:
            q.put(item)
        assert [q.get() for _ in items] == order, cls.__name__
        assert q.empty()


def test_a_priority_queue_gives_out_the_lowest_priority_first_in_heapq_order() -> None:
    q: PriorityQueue[tuple[int, str]] = PriorityQueue()
    for entry in [(3, "c"), (1, "b"), (1, "a"), (2, "x"), (0, "z")]:
        q.put(entry)
    assert drain(q) == [(0, "z"), (1, "a"), (1, "b"), (2, "x"), (3, "c")]


def test_a_lifo_queue_puts_the_items_of_blocked_putters_on_top_as_they_come_in(threads: Threads) -> None:
    q: LifoQueue[str] = LifoQueue(2)
    q.put("a")
    q.put("b")
    (putter,) = putters_in_line(threads, q, ["c"])
    assert q.get() == "b"  # the top; room made, and "c" goes on top
    assert putter.result() is None
    assert drain(q) == ["c", "a"]


# -- bounded queues: full, empty, qsize, blocking and timeouts ---------------------------------------


@pytest.mark.parametrize("cls", QUEUES)
def test_a_bounded_queue_fills_up_to_maxsize_and_then_raises_full_without_putting(cls: type[Any]) -> None:
    q = cls(2)
    assert (q.qsize(), q.empty(), q.full()) == (0, True, False)
    q.put(1)
    assert (q.qsize(), q.empty(), q.full()) == (1, False, False)
    q.put(2, block=True, timeout=PATIENCE)  # room: does not wait
    assert (q.qsize(), q.empty(), q.full()) == (2, False, True)
    with pytest.raises(Full):
        q.put_nowait(3)
    with pytest.raises(Full):
        q.put(3, block=False)
    with pytest.raises(Full):
        q.put(3, timeout=0)
    with pytest.raises(Full):
        q.put(3, timeout=0.01)  # waits in vain
    assert q.qsize() == 2 and q.putting() == 0
    assert sorted(drain(q)) == [1, 2]  # 3 never went in
    assert (q.qsize(), q.empty(), q.full()) == (0, True, False)


@pytest.mark.parametrize("cls", QUEUES)
def test_get_on_an_empty_queue_raises_empty(cls: type[Any]) -> None:
    q = cls()
    with pytest.raises(Empty):
        q.get_nowait()
    with pytest.raises(Empty):
        q.get(block=False)
    with pytest.raises(Empty):
        q.get(timeout=0)
    with pytest.raises(Empty):
        q.get(True, 0.01)  # waits in vain
    assert q.getting() == 0 and q.empty()
    q.put("later")
    assert q.get(timeout=PATIENCE) == "later"


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("timeout", [None, PATIENCE])
def test_a_put_blocked_on_a_full_queue_goes_in_when_a_get_makes_room(
    threads: Threads, cls: type[Any], timeout: float | None
) -> None:
    q = cls(1)
    q.put(1)
    (putter,) = putters_in_line(threads, q, [2], True, timeout)
    assert not putter.finished.is_set() and q.qsize() == 1 and q.full()
    assert q.get() == 1
    assert putter.result() is None
    assert q.qsize() == 1 and q.full() and q.putting() == 0
    assert q.get_nowait() == 2


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("timeout", [None, PATIENCE])
def test_a_get_blocked_on_an_empty_queue_returns_the_next_item_put(
    threads: Threads, cls: type[Any], timeout: float | None
) -> None:
    q = cls(3)
    (getter,) = getters_in_line(threads, q, 1, True, timeout)
    assert not getter.finished.is_set()
    q.put("item")
    assert getter.result() == "item"
    assert q.empty() and q.getting() == 0
    if cls in JOINABLE:
        assert q.unfinished_tasks == 1


# -- channels ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", QUEUES)
def test_a_channel_put_blocks_until_a_getter_has_taken_the_item(threads: Threads, cls: type[Any]) -> None:
    q = cls(0)
    (putter,) = putters_in_line(threads, q, ["x"])
    assert not putter.finished.is_set()
    assert (q.qsize(), q.empty(), q.full()) == (0, True, True)  # the putter holds its item
    assert q.get() == "x"
    assert putter.result() is None and q.putting() == 0
    # And the other way round: a put finds a getter waiting, hands the item over and returns.
    (getter,) = getters_in_line(threads, q, 1)
    q.put("y")
    assert getter.result() == "y"
    assert (q.qsize(), q.getting(), q.putting()) == (0, 0, 0)


@pytest.mark.parametrize("cls", QUEUES)
def test_a_channel_put_nowait_needs_a_waiting_getter(threads: Threads, cls: type[Any]) -> None:
    q = cls(0)
    with pytest.raises(Full):
        q.put_nowait("nobody takes it")
    with pytest.raises(Full):
        q.put("nobody takes it", timeout=0.01)
    assert q.putting() == 0
    (getter,) = getters_in_line(threads, q, 1)
    q.put_nowait("taken")
    assert getter.result() == "taken"
    with pytest.raises(Empty):
        q.get_nowait()  # what failed to go in never did


@pytest.mark.parametrize("cls", QUEUES)
def test_a_channel_get_nowait_takes_from_a_waiting_putter(threads: Threads, cls: type[Any]) -> None:
    q = cls(0)
    with pytest.raises(Empty):
        q.get_nowait()
    with pytest.raises(Empty):
        q.get(timeout=0.01)
    putters = putters_in_line(threads, q, ["a", "b"])
    assert q.get_nowait() == "a"  # straight from the longest waiting putter, which returns
    assert putters[0].result() is None and not putters[1].finished.is_set()
    assert q.get(timeout=PATIENCE) == "b"
    assert putters[1].result() is None
    if cls in JOINABLE:
        assert q.unfinished_tasks == 2


# -- resize ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", FIFOS)
def test_resize_growing_lets_blocked_putters_in_at_once_in_their_order(
    threads: Threads, cls: type[Any]
) -> None:
    q = cls(1)
    q.put(0)
    putters = putters_in_line(threads, q, [1, 2, 3])
    q.resize(3)  # two more places: the first two putters go in, during the call
    assert (q.maxsize, q.qsize(), q.putting(), q.full()) == (3, 3, 1, True)
    assert [p.result() for p in putters[:2]] == [None, None]
    assert not putters[2].finished.is_set()
    q.resize(None)
    assert (q.maxsize, q.qsize(), q.putting(), q.full()) == (None, 4, 0, False)
    assert putters[2].result() is None
    assert drain(q) == [0, 1, 2, 3]


@pytest.mark.parametrize("cls", QUEUES)
def test_resize_growing_a_channel_lets_its_blocked_putters_in(threads: Threads, cls: type[Any]) -> None:
    q = cls(0)
    putters = putters_in_line(threads, q, [1, 2])
    q.resize(-1)  # negative: unbounded
    assert q.maxsize is None and q.putting() == 0 and q.qsize() == 2
    assert [p.result() for p in putters] == [None, None]
    assert sorted(drain(q)) == [1, 2]


@pytest.mark.parametrize("cls", QUEUES)
def test_resize_shrinking_keeps_the_items_and_holds_puts_until_there_is_room(cls: type[Any]) -> None:
    q = cls(4)
    for i in range(4):
        q.put(i)
    q.resize(2)
    assert (q.maxsize, q.qsize(), q.full()) == (2, 4, True)
    with pytest.raises(Full):
        q.put_nowait(9)
    got = [q.get(), q.get()]
    assert q.qsize() == 2 and q.full()
    got.append(q.get())
    assert not q.full()
    q.put_nowait(9)
    assert q.qsize() == 2 and q.full()
    q.resize(0)  # now a channel that still holds two items: they come out first
    assert (q.maxsize, q.qsize(), q.full()) == (0, 2, True)
    got.extend(drain(q))
    assert sorted(got) == [0, 1, 2, 3, 9]
    assert q.empty() and q.full()


# -- getting() and putting() ---------------------------------------------------------------------------


@pytest.mark.parametrize("cls", QUEUES)
def test_getting_counts_the_blocked_getters_until_they_leave(threads: Threads, cls: type[Any]) -> None:
    q = cls()
    assert q.getting() == 0
    patient = getters_in_line(threads, q, 2)
    hasty = threads.start(q.get, True, 0.01)
    assert q.getting() in (2, 3)  # the hasty one may not be in line yet, or may have left already
    assert isinstance(hasty.exception(), Empty)
    assert q.getting() == 2 and q.putting() == 0
    q.put("a")
    wait_until(lambda: patient[0].finished.is_set())
    assert q.getting() == 1
    q.put("b")
    assert [g.result() for g in patient] == ["a", "b"]
    assert q.getting() == 0


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("maxsize", [0, 1])
def test_putting_counts_the_blocked_putters_until_they_leave(
    threads: Threads, cls: type[Any], maxsize: int
) -> None:
    q = cls(maxsize)
    for i in range(maxsize):
        q.put(f"in-{i}")
    patient = putters_in_line(threads, q, ["p1", "p2"])
    hasty = threads.start(q.put, "hasty", True, 0.01)
    assert isinstance(hasty.exception(), Full)
    assert q.putting() == 2 and q.getting() == 0
    got = [q.get()]  # makes room for the first putter (a channel: takes its item)
    wait_until(lambda: patient[0].finished.is_set())
    assert q.putting() == 1
    got.extend(q.get() for _ in range(maxsize + 1))
    assert q.putting() == 0 and [p.result() for p in patient] == [None, None]
    got.extend(drain(q))
    assert sorted(got) == sorted(["p1", "p2", *(f"in-{i}" for i in range(maxsize))])  # not "hasty"


# -- fairness ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("maxsize", [None, 0, 2])
def test_blocked_getters_are_served_in_the_order_they_came(
    threads: Threads, cls: type[Any], maxsize: int | None
) -> None:
    q = cls(maxsize)
    getters = getters_in_line(threads, q, 5)
    for i in range(5):
        q.put(i)  # each goes straight to the longest waiting getter: even on a channel, no put waits
    assert [g.result() for g in getters] == [0, 1, 2, 3, 4]
    assert q.empty() and q.getting() == 0


@pytest.mark.parametrize("cls", QUEUES)
def test_an_item_is_never_taken_by_a_later_get_while_an_earlier_getter_waits(
    threads: Threads, cls: type[Any]
) -> None:
    q = cls()
    first, second = getters_in_line(threads, q, 2)
    q.put("a")
    q.put("b")
    # Both items went to the blocked getters: a get now finds nothing, whether or not they have run.
    with pytest.raises(Empty):
        q.get_nowait()
    assert (first.result(), second.result()) == ("a", "b")


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("maxsize", [0, 1, 2])
def test_blocked_putters_on_a_full_queue_go_in_in_the_order_they_came(
    threads: Threads, cls: type[Any], maxsize: int
) -> None:
    q = cls(maxsize)
    for i in range(maxsize):
        q.put(-1 - i)
    putters = putters_in_line(threads, q, [10, 11, 12, 13])
    for n, putter in enumerate(putters):
        q.get()  # room for one: the longest waiting putter's item, and only that one, goes in
        putter.result()
        assert q.putting() == len(putters) - n - 1
        assert not any(p.finished.is_set() for p in putters[n + 1 :])
    rest = drain(q)
    assert len(rest) == maxsize
    if cls in FIFOS:
        assert rest == [10, 11, 12, 13][4 - maxsize :]


@pytest.mark.parametrize("cls", QUEUES)
def test_a_later_put_never_goes_in_ahead_of_an_earlier_blocked_putter(
    threads: Threads, cls: type[Any]
) -> None:
    q = cls(1)
    q.put(1)
    (putter,) = putters_in_line(threads, q, [2])
    assert q.get_nowait() == 1  # the room it makes is the blocked putter's, at once
    with pytest.raises(Full):
        q.put_nowait(3)
    assert putter.result() is None
    assert q.get_nowait() == 2
    # On a channel too: a later put waits behind the blocked putter, and a getter takes the first.
    channel = cls(0)
    first, second = putters_in_line(threads, channel, ["first", "second"], True, PATIENCE)
    assert channel.get() == "first" and channel.get() == "second"
    assert (first.result(), second.result()) == (None, None)


# -- kill and Timeout of blocked calls -----------------------------------------------------------------


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("kill_with", [None, KillError("stop getting")], ids=["GreenletExit", "Exception"])
def test_kill_of_a_greenthread_blocked_in_get_takes_nothing(
    gts: Greenthreads, cls: type[Any], kill_with: BaseException | None
) -> None:
    q = cls()
    gt = gts.spawn(q.get)
    error = kill_parked(gt, kill_with)
    assert error is kill_with if kill_with is not None else isinstance(error, GreenletExit)
    assert q.getting() == 0
    q.put("kept")  # nobody is waiting: it stays in the queue, for the next get
    assert q.qsize() == 1 and q.get_nowait() == "kept"


@pytest.mark.parametrize("cls", QUEUES)
def test_kill_of_a_blocked_getter_leaves_the_next_item_to_the_getter_behind_it(
    gts: Greenthreads, threads: Threads, cls: type[Any]
) -> None:
    q = cls(0)
    killed = gts.spawn(q.get)
    wait_until(lambda: parked(killed) and q.getting() == 1)
    (behind,) = getters_in_line(threads, q, 1)
    kill_parked(killed)
    assert q.getting() == 1
    q.put("next")
    assert behind.result() == "next"
    assert q.empty() and q.getting() == 0


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("maxsize", [0, 1])
@pytest.mark.parametrize("kill_with", [None, KillError("stop putting")], ids=["GreenletExit", "Exception"])
def test_kill_of_a_greenthread_blocked_in_put_puts_nothing(
    gts: Greenthreads, threads: Threads, cls: type[Any], maxsize: int, kill_with: BaseException | None
) -> None:
    q = cls(maxsize)
    if maxsize:
        q.put("in")
    killed = gts.spawn(q.put, "killed")
    wait_until(lambda: parked(killed) and q.putting() == 1)
    (behind,) = putters_in_line(threads, q, ["behind"])
    error = kill_parked(killed, kill_with)
    assert error is kill_with if kill_with is not None else isinstance(error, GreenletExit)
    assert q.putting() == 1
    got = [q.get(), q.get()] if maxsize else [q.get()]
    assert behind.result() is None
    assert sorted(got) == sorted(["behind", "in"][: len(got)])
    assert drain(q) == [] and q.putting() == 0
    if cls in JOINABLE:
        assert q.unfinished_tasks == len(got)  # the killed put added no task


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("where", ["greenthread", "thread"])
def test_a_timeout_interrupts_a_blocked_get_which_takes_nothing(
    gts: Greenthreads, threads: Threads, cls: type[Any], where: str
) -> None:
    q = cls()

    def body() -> Any:
        with Timeout(0.01) as timeout:
            try:
                return q.get()
            except Timeout as exc:
                return "timed out" if exc is timeout else exc

    outcome = gts.spawn(body).wait() if where == "greenthread" else threads.start(body).result()
    assert outcome == "timed out"
    assert q.getting() == 0
    q.put("kept")
    assert q.get_nowait() == "kept"


@pytest.mark.parametrize("cls", QUEUES)
@pytest.mark.parametrize("maxsize", [0, 1])
@pytest.mark.parametrize("where", ["greenthread", "thread"])
def test_a_timeout_interrupts_a_blocked_put_which_puts_nothing(
    gts: Greenthreads, threads: Threads, cls: type[Any], maxsize: int, where: str
) -> None:
    q = cls(maxsize)
    if maxsize:
        q.put("in")

    def body() -> str:
        with Timeout(0.01, False):  # silent: the block just ends
            q.put("interrupted")
            return "put"
        return "timed out"

    outcome = gts.spawn(body).wait() if where == "greenthread" else threads.start(body).result()
    assert outcome == "timed out"
    assert q.putting() == 0
    assert drain(q) == (["in"] if maxsize else [])
    if cls in JOINABLE:
        assert q.unfinished_tasks == maxsize


@pytest.mark.parametrize("call", ["put", "put_nowait", "get", "get_nowait", "join"])
def test_an_expired_timeout_is_raised_by_the_next_queue_call_which_then_does_nothing(
    threads: Threads, call: str
) -> None:
    q: Queue[str] = Queue()
    q.put("in")

    def body() -> tuple[bool, list[str], int]:
        timeout = Timeout(0)
        fired_here(timeout)  # expired, while this thread was not in any queue call
        try:
            if call == "put":
                q.put("new")  # would not block: there is room
            elif call == "put_nowait":
                q.put_nowait("new")
            elif call == "get":
                q.get()  # would not block: there is an item
            elif call == "get_nowait":
                q.get_nowait()
            else:
                q.join(0)
        except Timeout as exc:
            return exc is timeout, drain(q), q.unfinished_tasks
        finally:
            timeout.cancel()
        return False, drain(q), q.unfinished_tasks

    assert threads.start(body).result() == (True, ["in"], 1)


def test_a_timeout_interrupts_a_blocked_join(threads: Threads) -> None:
    q: Queue[int] = Queue()
    q.put(1)

    def body() -> str:
        with Timeout(0.01, False):
            q.join()
            return "joined"
        return "timed out"

    assert threads.start(body).result() == "timed out"
    q.get()
    q.task_done()
    assert run_bounded(q.join) is True


def test_kill_of_a_greenthread_blocked_in_join(gts: Greenthreads, threads: Threads) -> None:
    q: Queue[int] = Queue()
    q.put(1)
    killed = gts.spawn(q.join)
    other = threads.start(q.join)
    kill_parked(killed)
    assert not other.finished.is_set()
    q.get()
    q.task_done()
    assert other.result() is True


# -- an interrupt at the very moment of the hand-off ------------------------------------------------


@pytest.mark.parametrize("interrupt", ["kill", "Timeout"])
def test_a_getter_handed_an_item_as_it_is_interrupted_returns_it_and_the_interrupt_comes_next(
    gts: Greenthreads, gate: Gate, interrupt: str
) -> None:
    # A getter woken by a hand-off and interrupted before it could return: the get has taken the item
    # (it returns it) and the interrupt is raised at its next checkpoint.  The items put after it go to
    # the getters behind, and none overtakes it: passing it on instead would let "b" out before "a".
    q: LightQueue[str] = LightQueue()
    reached: list[str] = []

    def first() -> None:
        gate.hold_me()
        reached.append(q.get())
        sleep(0)  # its next checkpoint
        reached.append("not interrupted")

    def behind() -> list[str]:
        return [q.get(), q.get()]

    held = gts.spawn(first)
    assert gate.entered.wait(PATIENCE)
    second = gts.spawn(behind)
    wait_until(lambda: q.getting() == 2, what="the second getter to line up")
    q.put("a")  # to the held getter
    assert gate.woken.wait(PATIENCE)
    q.put("b")  # to the getter behind, whose second get then waits
    wait_until(lambda: q.getting() == 1, what="the second getter to come back for more")
    let_go_interrupted(gate, held, interrupt)
    assert reached == ["a"]
    q.put("c")
    assert second.wait() == ["b", "c"]
    assert q.empty() and q.getting() == 0


@pytest.mark.parametrize("interrupt", ["kill", "Timeout"])
@pytest.mark.parametrize("maxsize", [0, 1])
def test_a_put_whose_item_is_taken_as_it_is_interrupted_has_put_it_and_the_interrupt_comes_next(
    gts: Greenthreads, gate: Gate, interrupt: str, maxsize: int
) -> None:
    q: LightQueue[str] = LightQueue(maxsize)
    if maxsize:
        q.put("in")
    reached: list[str] = []

    def putter() -> None:
        gate.hold_me()
        q.put("held")
        reached.append("put returned")
        sleep(0)  # its next checkpoint
        reached.append("not interrupted")

    held = gts.spawn(putter)
    assert gate.entered.wait(PATIENCE)
    assert q.putting() == 1
    got = [q.get()]  # a channel: the held item itself; a full queue: "in", and "held" goes in
    assert gate.woken.wait(PATIENCE)
    let_go_interrupted(gate, held, interrupt)
    assert reached == ["put returned"]
    got.extend(drain(q))
    assert got == (["held"] if maxsize == 0 else ["in", "held"])
    assert q.putting() == 0


@pytest.mark.parametrize("someone_behind", [False, True], ids=["nobody behind", "a getter behind"])
def test_a_getter_hit_by_ctrl_c_as_it_is_handed_an_item_passes_the_item_on(
    threads: Threads, gate: Gate, someone_behind: bool
) -> None:
    # Ctrl-C cannot wait for the next checkpoint (it is raised at once): the get raises it, and the item
    # it was handed must not be lost with it.
    q: Queue[str] = Queue()

    def first() -> str:
        gate.hold_me()
        return q.get()

    def ctrl_c() -> None:
        raise KeyboardInterrupt

    held = threads.start(first)
    assert gate.entered.wait(PATIENCE)
    behind = getters_in_line(threads, q, 1) if someone_behind else []
    gate.then = ctrl_c
    q.put("item")
    assert gate.woken.wait(PATIENCE)
    gate.go.set()
    assert isinstance(held.exception(), KeyboardInterrupt)
    if someone_behind:
        assert behind[0].result() == "item"
    else:
        assert q.get_nowait() == "item"
    assert q.empty() and q.getting() == 0 and q.unfinished_tasks == 1


def run_in_thread(call: Callable[[], Any]) -> Worker:
    """Start ``call`` in a helper thread (joined by the caller)."""
    worker = Worker(call, (), "helper")
    worker.thread.start()
    return worker


# -- the race: a kill while an item is put ---------------------------------------------------------


def test_a_getter_killed_as_an_item_is_put_neither_loses_nor_duplicates_it(
    gts: Greenthreads, threads: Threads
) -> None:
    # A kill and a put race for a blocked getter.  Either the kill comes first: the getter dies without
    # the item, which goes to the getter behind it (if any) or stays in the queue.  Or the hand-off
    # does (even at the very moment of the kill): the get has happened, it returns the item, and the
    # kill lands at its next checkpoint (here there is none).  Every round, the one item put comes out
    # exactly once.
    seed = STORM_SEED
    print(f"hand-off race seed: {seed}")
    rng = random.Random(seed)
    tally: collections.Counter[str] = collections.Counter()
    for round_number in range(300):
        maxsize = rng.choice([None, 1, 0])
        q: LightQueue[int] = LightQueue(maxsize)
        first = gts.spawn(q.get)  # nothing but the get: its outcome says exactly whether it took the item
        wait_until(lambda q=q: q.getting() == 1)
        second = None
        if maxsize == 0 or rng.random() < 0.5:  # a channel's put needs someone to take the item
            second = gts.spawn(q.get)
            wait_until(lambda q=q: q.getting() == 2)
        barrier = threading.Barrier(2)
        spins = (rng.randrange(200), rng.randrange(200))

        def kill(
            first: GreenThread[int] = first, barrier: threading.Barrier = barrier, spins: int = spins[0]
        ) -> None:
            barrier.wait(PATIENCE)
            for _ in range(spins):
                pass
            first.kill()

        def put(
            q: LightQueue[int] = q,
            barrier: threading.Barrier = barrier,
            item: int = round_number,
            spins: int = spins[1],
        ) -> None:
            barrier.wait(PATIENCE)
            for _ in range(spins):
                pass
            q.put(item)

        killer, putter = threads.start(kill), threads.start(put)
        killer.result()
        putter.result()
        out: list[int] = []
        error = first.exception(PATIENCE)
        if error is None:
            out.append(first.result(0))
            tally["the killed getter took it"] += 1
        else:
            assert isinstance(error, GreenletExit), f"round {round_number}: {error!r}"
            tally["the killed getter died without it"] += 1
        if second is not None:
            if out:  # nothing more comes: kill it (no put can meet this kill)
                assert isinstance(kill_parked(second), GreenletExit)
            else:
                out.append(second.result(PATIENCE))
        out.extend(drain(q))
        assert out == [round_number], f"round {round_number} (seed {seed}): in 1, out {out}"
        assert q.getting() == 0 and q.putting() == 0
    print(f"hand-off race: {dict(tally)}")


# -- task_done and join ----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", JOINABLE)
def test_join_returns_true_at_once_when_every_item_put_is_done(cls: type[Any]) -> None:
    q = cls()
    assert run_bounded(q.join) is True and q.join(0) is True and q.join(timeout=PATIENCE) is True
    for i in range(3):
        q.put(i)
    for _ in range(3):
        q.get()
        q.task_done()
    assert run_bounded(q.join) is True


@pytest.mark.parametrize("cls", JOINABLE)
def test_join_with_a_timeout_returns_false_while_work_remains(cls: type[Any]) -> None:
    q = cls()
    q.put("work")
    assert q.join(0) is False
    assert q.join(timeout=0.01) is False
    q.get()  # got, not yet done: still unfinished
    assert q.join(0.01) is False and q.unfinished_tasks == 1
    q.task_done()
    assert q.join(0.01) is True


@pytest.mark.parametrize("cls", JOINABLE)
@pytest.mark.parametrize("timeout", [None, PATIENCE])
def test_every_joiner_is_woken_by_the_last_task_done(
    threads: Threads, cls: type[Any], timeout: float | None
) -> None:
    q = cls()
    for i in range(3):
        q.put(i)
    joiners = [threads.start(q.join, timeout) for _ in range(3)]
    for _ in range(2):
        q.get()
        q.task_done()
    assert q.join(0) is False and not any(j.finished.is_set() for j in joiners)
    q.get()
    worker = threads.start(q.task_done)  # the last one, from another thread
    worker.result()
    assert [j.result() for j in joiners] == [True, True, True]


@pytest.mark.parametrize("cls", JOINABLE)
def test_unfinished_tasks_count_every_item_put_however_it_went_in(threads: Threads, cls: type[Any]) -> None:
    q = cls(1)
    q.put("stored")
    (putter,) = putters_in_line(threads, q, ["via a blocked putter"])
    with pytest.raises(Full):
        q.put_nowait("refused")
    with pytest.raises(Full):
        q.put("timed out", timeout=0.01)
    assert q.unfinished_tasks == 1  # the blocked put has not put yet; the refused ones never will
    q.get()
    putter.result()
    q.get()
    assert q.unfinished_tasks == 2
    (getter,) = getters_in_line(threads, q, 1)
    q.put("to a blocked getter")
    getter.result()
    channel = cls(0)
    (channel_putter,) = putters_in_line(threads, channel, ["through a channel"])
    channel.get()
    channel_putter.result()
    assert q.unfinished_tasks == 3 and channel.unfinished_tasks == 1
    for _ in range(3):
        q.task_done()
    channel.task_done()
    assert q.join(0) is True and channel.join(0) is True


# -- storms ------------------------------------------------------------------------------------------

#: How a producer puts each item, and a consumer gets: blocking, with a timeout, under a Timeout, not
#: waiting, or in a greenthread of its own that the killers may kill.
PUT_MODES = ("put", "timeout", "Timeout", "Timeout", "nowait", "killable", "killable")
GET_MODES = ("timeout", "Timeout", "Timeout", "nowait", "killable", "killable")
#: The timeouts (and Timeouts) of the calls, and the pauses after them: a side that pauses lets the
#: queue fill up or run dry, so that the other side blocks, times out and gets killed.
WAITS = (0.0002, 0.0005, 0.001, 0.003)
PAUSES = (0, 0, 0, 0, 0.0005, 0.002)


class Storm:
    """One storm's queue, the one-operation greenthreads the killers aim at, and what happened."""

    def __init__(self, q: LightQueue[tuple[int, int]]) -> None:
        self.q = q
        self.lock = threading.Lock()
        #: Greenthreads doing one put or one get and nothing else, while they run.
        self.ops: set[GreenThread[Any]] = set()
        self.producing = threading.Event()
        self.killing = threading.Event()
        self.tally: collections.Counter[str] = collections.Counter()
        #: What a one-operation greenthread died of that is neither a kill nor a timeout.
        self.unexpected: list[BaseException] = []

    def count(self, what: str) -> None:
        with self.lock:
            self.tally[what] += 1

    def run_op(self, gt: GreenThread[Any]) -> BaseException | None:
        """What a one-operation greenthread ended with (None: it returned); the killers may hit it."""
        with self.lock:
            self.ops.add(gt)
        try:
            error = gt.exception(PATIENCE)
        finally:
            with self.lock:
                self.ops.discard(gt)
        if error is not None and not isinstance(error, (Empty, GreenletExit, KillError)):
            with self.lock:
                self.unexpected.append(error)
        return error

    def put(self, item: tuple[int, int], mode: str, seconds: float) -> bool:
        """Put ``item`` as ``mode`` says: whether it went in (a put that raised put nothing)."""
        q = self.q
        try:
            if mode == "put":
                q.put(item)
            elif mode == "nowait":
                q.put_nowait(item)
            elif mode == "timeout":
                q.put(item, timeout=seconds)
            elif mode == "Timeout":
                with Timeout(seconds):
                    q.put(item)
            else:
                # Nothing but the put in that greenthread: its outcome says exactly whether it put.
                error = self.run_op(spawn(q.put, item, True, PATIENCE))
                if error is not None:
                    self.count("put killed")
                    return False
        except (Full, Timeout) as exc:
            self.count(f"put {mode}: {type(exc).__name__}")
            return False
        self.count("put")
        return True

    def get(self, mode: str, seconds: float) -> list[tuple[int, int]]:
        """Get one item as ``mode`` says: ``[item]``, or ``[]`` if none was taken."""
        q = self.q
        try:
            if mode == "nowait":
                got = [q.get_nowait()]
            elif mode == "timeout":
                got = [q.get(timeout=seconds)]
            elif mode == "Timeout":
                with Timeout(seconds):
                    got = [q.get()]
            else:
                gt = spawn(q.get, True, seconds * 3)
                error = self.run_op(gt)
                if error is not None:
                    self.count("get killable: Empty" if isinstance(error, Empty) else "get killed")
                    return []
                got = [gt.result(0)]
        except (Empty, Timeout) as exc:
            self.count(f"get {mode}: {type(exc).__name__}")
            if mode == "nowait":
                sleep(0)
            return []
        self.count("got")
        return got


def produce(storm: Storm, pid: int, plan: list[tuple[str, float, float]]) -> tuple[list[int], list[int]]:
    """Put ``(pid, 0)``, ``(pid, 1)``, ... one after the other; the sequence numbers put, and not."""
    put, failed = [], []
    for seq, (mode, seconds, pause) in enumerate(plan):
        (put if storm.put((pid, seq), mode, seconds) else failed).append(seq)
        if pause:
            sleep(pause)
    return put, failed


def consume(storm: Storm, seed: int) -> list[tuple[int, int]]:
    """Get until the producers are done; everything got, in the order got."""
    rng = random.Random(seed)
    got: list[tuple[int, int]] = []
    while storm.producing.is_set():
        got.extend(storm.get(rng.choice(GET_MODES), rng.choice(WAITS)))
        pause = rng.choice(PAUSES)
        if pause:
            sleep(pause)
    return got


def kill_ops(storm: Storm, seed: int) -> None:
    """Kill one-operation greenthreads at random while they are blocked, at random moments."""
    rng = random.Random(seed)
    while storm.killing.is_set():
        with storm.lock:
            blocked = [gt for gt in storm.ops if parked(gt)]
        if not blocked:
            time.sleep(0)
            continue
        # Only one seen parked: a kill landing in its runner before the call would be raised
        # asynchronously, anywhere, and blur what the call did.  The kills still meet hand-offs.
        gt = rng.choice(blocked)
        gt.kill() if rng.random() < 0.5 else gt.kill(KillError("storm"))
        time.sleep(rng.choice((0, 0, 0.0002, 0.001)))


@pytest.mark.parametrize(
    ("cls", "maxsize"),
    [(LightQueue, None), (Queue, 3), (LightQueue, 0), (LightQueue, 1), (PriorityQueue, 2), (LifoQueue, 1)],
)
def test_storm_every_item_put_is_got_exactly_once_in_each_producers_order(
    gts: Greenthreads, threads: Threads, cls: type[Any], maxsize: int | None
) -> None:
    seed = STORM_SEED + (maxsize if maxsize is not None else -1) + 10 * QUEUES.index(cls)
    print(f"queue storm seed: {seed} (set THREADEVENT_QUEUE_STORM_SEED to replay its choices)")
    rng = random.Random(seed)
    q = cls(maxsize)
    storm = Storm(q)
    producers, per_producer, consumers, killers = 8, 100, 4, 2
    storm.producing.set()
    storm.killing.set()
    consumer_gts = [gts.spawn(consume, storm, rng.randrange(2**32)) for _ in range(consumers)]
    killer_workers = [threads.start(kill_ops, storm, rng.randrange(2**32)) for _ in range(killers)]
    plans = [
        [(rng.choice(PUT_MODES), rng.choice(WAITS), rng.choice(PAUSES)) for _ in range(per_producer)]
        for _ in range(producers)
    ]
    producer_gts = [gts.spawn(produce, storm, pid, plan) for pid, plan in enumerate(plans)]
    results = [gt.result(PATIENCE) for gt in producer_gts]
    storm.producing.clear()
    got_by = [gt.result(PATIENCE) for gt in consumer_gts]
    storm.killing.clear()
    for worker in killer_workers:
        worker.result()
    got_by.append(drain(q))
    print(f"queue storm: {dict(sorted(storm.tally.items()))}")

    put = {(pid, seq) for pid, (done, _) in enumerate(results) for seq in done}
    failed = {(pid, seq) for pid, (_, refused) in enumerate(results) for seq in refused}
    counts = collections.Counter(item for got in got_by for item in got)
    where = f"(seed {seed})"
    assert storm.unexpected == [], f"one-operation greenthreads died of {storm.unexpected!r} {where}"
    assert not {item for item, n in counts.items() if n > 1}, f"delivered twice {where}"
    assert not set(counts) & failed, f"a put that raised put its item {where}"
    assert set(counts) <= put, f"got what nobody put {where}"
    assert not put - set(counts), f"lost {sorted(put - set(counts))} {where}"
    if cls in FIFOS:
        for got in got_by:
            for pid in range(producers):
                seqs = [seq for p, seq in got if p == pid]
                assert seqs == sorted(seqs), f"producer {pid}'s order broken: {seqs} {where}"
    assert (q.qsize(), q.getting(), q.putting()) == (0, 0, 0)
    if cls in JOINABLE:
        assert q.unfinished_tasks == len(put)
    settled()
    assert internals.pending_interrupts() == 0, f"interrupts left pending {where}"


# -- against a model, one thread ---------------------------------------------------------------------


class Model:
    """What a queue holds and says, by the contract, when only non-blocking calls are made."""

    def __init__(self, cls: type[Any], maxsize: int | None) -> None:
        self.cls = cls
        self.items: list[int] = []
        self.maxsize = self.normalise(maxsize)
        self.unfinished = 0

    @staticmethod
    def normalise(maxsize: int | None) -> int | None:
        return None if maxsize is None or maxsize < 0 else maxsize

    def full(self) -> bool:
        return self.maxsize is not None and len(self.items) >= self.maxsize

    def put(self, item: int) -> str:
        if self.full():
            return "Full"
        self.items.append(item)
        self.unfinished += 1
        return "ok"

    def get(self) -> int | str:
        if not self.items:
            return "Empty"
        if self.cls is LifoQueue:
            return self.items.pop()
        if self.cls is PriorityQueue:
            lowest = min(self.items)
            self.items.remove(lowest)
            return lowest
        return self.items.pop(0)

    def task_done(self) -> str:
        if self.unfinished <= 0:
            return "ValueError"
        self.unfinished -= 1
        return "ok"


maxsizes = st.one_of(st.none(), st.integers(-3, 4))
operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"), st.integers(0, 9), st.sampled_from(["put_nowait", "block=False", "timeout=0"])
        ),
        st.tuples(st.just("get"), st.sampled_from(["get_nowait", "block=False", "timeout=0"])),
        st.tuples(st.just("resize"), maxsizes),
        st.tuples(st.just("task_done")),
        st.tuples(st.just("join")),
    ),
    max_size=40,
)


def apply(q: Any, op: tuple[Any, ...]) -> Any:
    """Run one operation on the real queue; what it returned, or the name of what it raised."""
    try:
        if op[0] == "put":
            _, item, how = op
            if how == "put_nowait":
                q.put_nowait(item)
            elif how == "block=False":
                q.put(item, block=False)
            else:
                q.put(item, timeout=0)
            return "ok"
        if op[0] == "get":
            how = op[1]
            if how == "get_nowait":
                return q.get_nowait()
            if how == "block=False":
                return q.get(block=False)
            return q.get(timeout=0)
        if op[0] == "resize":
            q.resize(op[1])
            return "ok"
        if op[0] == "task_done":
            q.task_done()
            return "ok"
        return q.join(0)
    except (Empty, Full, ValueError) as exc:
        return type(exc).__name__


@given(cls=st.sampled_from([LightQueue, Queue, LifoQueue, PriorityQueue]), maxsize=maxsizes, ops=operations)
def test_non_blocking_calls_on_one_thread_behave_as_the_sequential_model(
    cls: type[Any], maxsize: int | None, ops: list[tuple[Any, ...]]
) -> None:
    q = cls(maxsize)
    model = Model(cls, maxsize)
    for op in ops:
        if op[0] in ("task_done", "join") and cls not in JOINABLE:
            continue
        if op[0] == "put":
            expected: Any = model.put(op[1])
        elif op[0] == "get":
            expected = model.get()
        elif op[0] == "resize":
            model.maxsize = model.normalise(op[1])
            expected = "ok"
        elif op[0] == "task_done":
            expected = model.task_done()
        else:
            expected = model.unfinished == 0
        assert apply(q, op) == expected, op
        observed = (q.qsize(), q.empty(), q.full(), q.maxsize, q.getting(), q.putting())
        assert observed == (
            len(model.items),
            not model.items,
            model.full(),
            model.maxsize,
            0,
            0,
        ), op
        if cls in JOINABLE:
            assert q.unfinished_tasks == model.unfinished
    assert sorted(drain(q)) == sorted(model.items)
