"""threadevent.greenpool against its contract (README: "GreenPool and GreenPile", "Checkpoints, kill and
Timeout", the reliability rules), and eventlet's GreenPool/GreenPile behaviour where those are silent.

The greenthreads are real threads: a test holds them in place on Events it controls and waits for
conditions (a spawner queued, a greenthread parked in a checkpoint) under generous deadlines; nothing is
ordered with ``sleep`` and nothing asserts on elapsed time.  Where a race is real (a kill that meets the
grant of a slot), every outcome is accepted, and the test checks that exactly one of them happened and
that the pool's accounting came out whole.

A few tests read private state, through the seam in ``internals.py``, where the public API cannot tell
"blocked in a checkpoint" from "about to block" (a greenthread parked, a pile's or an imap iterator's
blocked reader), and one holds the pool's lock to make a race certain rather than likely.
"""

from __future__ import annotations

import contextvars
import gc
import itertools
import random
import subprocess
import sys
import threading
import traceback
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import internals
import pytest
from conftest import (
    PATIENCE,
    Greenthreads,
    KillError,
    Threads,
    parked,
    retire_all,
    run_bounded,
    settled,
    wait_until,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from threadevent import Event, GreenletExit, GreenThread, getcurrent, hub, sleep
from threadevent.greenpool import GreenPile, GreenPool

# -- helpers -----------------------------------------------------------------------------------------


class Boom(Exception):
    """What a function run in the pool raises."""


class Tracker(Greenthreads):
    """Pools, gates and greenthreads of one test; at teardown every greenthread still alive is killed,
    every gate opens and every pool is waited for, so a failing test leaves nothing blocked."""

    def __init__(self) -> None:
        super().__init__()
        self.pools: list[GreenPool] = []

    def pool(self, size: int) -> GreenPool:
        pool = GreenPool(size)
        self.pools.append(pool)
        return pool

    def cleanup(self) -> None:
        super().cleanup()

        def wait_for_the_pools() -> None:
            for pool in self.pools:
                pool.waitall()

        run_bounded(wait_for_the_pools)


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    made = Tracker()
    yield made
    made.cleanup()
    settled()


def blocked_on(pool: GreenPool, gate: Event[Any], count: int) -> list[GreenThread[Any]]:
    """Fill ``count`` slots of ``pool`` with greenthreads that wait for ``gate``, and see them start."""
    started = threading.Semaphore(0)

    def body() -> Any:
        started.release()
        return gate.wait()

    members = [pool.spawn(body) for _ in range(count)]
    for _ in range(count):
        assert started.acquire(timeout=PATIENCE), "a pool greenthread never started"
    return members


def outcomes(iterator: Iterator[Any]) -> list[Any]:
    """Everything an iterator yields, with each exception raised in between recorded in its place."""
    got: list[Any] = []
    while True:
        try:
            got.append(next(iterator))
        except StopIteration:
            return got
        except Exception as exc:
            got.append(exc)


class Concurrency:
    """Counts how many calls run at once, and the most that ever did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            self.now -= 1


# -- construction and bad arguments ------------------------------------------------------------------


class Index:
    """A whole number that is not an int (as numpy's integers are): taken through ``__index__``."""

    def __index__(self) -> int:
        return 4


def test_sizes_are_whole_numbers() -> None:
    assert GreenPool().size == 1000
    assert GreenPool(3).size == 3
    assert GreenPool(Index()).size == 4  # type: ignore[arg-type]
    assert GreenPool(0).size == 0
    assert GreenPile().pool.size == 1000
    assert GreenPile(5).pool.size == 5


# A bool, a float or a string is a mistake, as for hub.configure(max_threads=...): eventlet took them
# through int() and silently made True a pool of 1, 2.7 one of 2 and "10" one of 10.
@pytest.mark.parametrize(
    ("size", "error"),
    [("four", TypeError), (None, TypeError), ([], TypeError), (float("nan"), TypeError),
     (float("inf"), TypeError), (-1, ValueError), ("-3", TypeError), (True, TypeError),
     (2.7, TypeError), ("10", TypeError)],
)  # fmt: skip
def test_bad_sizes_are_rejected_and_change_nothing(size: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="size"):
        GreenPool(size)
    with pytest.raises(error, match="size"):
        GreenPile(size)
    pool = GreenPool(2)
    with pytest.raises(error, match="size"):
        pool.resize(size)
    assert pool.size == 2 and pool.free() == 2


@pytest.mark.parametrize("not_callable", [None, 42, "f"])
def test_non_callables_are_rejected_at_the_call_and_nothing_runs(tracker: Tracker, not_callable: Any) -> None:
    pool = tracker.pool(1)
    with pytest.raises(TypeError, match="callable"):
        pool.spawn(not_callable)
    with pytest.raises(TypeError, match="callable"):
        pool.spawn_n(not_callable)
    pile: GreenPile[Any] = GreenPile(pool)
    with pytest.raises(TypeError, match="callable"):
        pile.spawn(not_callable)
    assert pile.counter == 0 and not pile.used and list(pile) == []
    if not_callable is not None:  # None is imap's "yield the argument tuples"
        with pytest.raises(TypeError, match="callable"):
            pool.imap(not_callable, [1])
        with pytest.raises(TypeError, match="callable"):
            pool.starmap(not_callable, [(1,)])
    assert pool.running() == 0 and pool.free() == 1 and pool.waiting() == 0
    # The same calls with a callable do run: the checks above could fail.
    assert pool.spawn(lambda: "ran").wait() == "ran"


def test_imap_and_starmap_reject_what_is_not_iterable_at_the_call() -> None:
    pool = GreenPool(2)
    with pytest.raises(TypeError, match="argument 3 must be iterable"):
        pool.imap(abs, [1], 5)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="argument 2 must be iterable"):
        pool.starmap(abs, None)  # type: ignore[call-overload]
    assert pool.running() == 0


# -- spawn, running, free, waiting ---------------------------------------------------------------------


def test_spawn_runs_in_another_thread_and_counts_while_it_runs(tracker: Tracker) -> None:
    pool = tracker.pool(3)
    gate = tracker.gate()
    assert (pool.running(), pool.free(), pool.waiting()) == (0, 3, 0)
    members = blocked_on(pool, gate, 2)
    assert (pool.running(), pool.free(), pool.waiting()) == (2, 1, 0)
    gt = pool.spawn(lambda a, *, b: (a + b, threading.current_thread()), 1, b=2)
    value, thread = gt.wait()
    assert value == 3 and thread is not threading.current_thread()
    # Finished greenthreads are not counted, even before their done-callbacks have run.
    assert (pool.running(), pool.free()) == (2, 1)
    gate.send("go")
    assert [m.wait() for m in members] == ["go", "go"]
    assert (pool.running(), pool.free(), pool.waiting()) == (0, 3, 0)


def test_a_finished_greenthread_stops_counting_before_its_callbacks_run(tracker: Tracker) -> None:
    # A greenthread's waiters wake before its done-callbacks run (the pool's own among them): what a
    # waiter then sees must not depend on how far the callbacks have got.  Private: a callback put
    # ahead of the pool's holds them back.
    pool = tracker.pool(2)
    gate = tracker.gate()
    callbacks_may_run = threading.Event()
    gt = pool.spawn(gate.wait)
    assert gt._callbacks is not None
    gt._callbacks.insert(0, lambda _: callbacks_may_run.wait(PATIENCE))
    gate.send("done")
    assert gt.wait() == "done"
    assert (pool.running(), pool.free(), pool.waiting()) == (0, 2, 0)
    run_bounded(pool.waitall)
    callbacks_may_run.set()
    wait_until(lambda: hub.stats().running == 0, what="the callbacks to run")
    assert (pool.running(), pool.free()) == (0, 2)  # the slot came back once, not twice
    assert internals.slots_taken(pool) == 0


def test_spawn_blocks_while_full_and_blocked_spawners_start_in_arrival_order(
    tracker: Tracker, threads: Threads
) -> None:
    pool = tracker.pool(1)
    gate = tracker.gate()
    (holder,) = blocked_on(pool, gate, 1)
    first_gate, second_gate = tracker.gate(), tracker.gate()
    first = threads.start(pool.spawn, first_gate.wait)
    wait_until(lambda: pool.waiting() == 1, what="the first spawner to queue")
    second = threads.start(pool.spawn, second_gate.wait)
    wait_until(lambda: pool.waiting() == 2, what="the second spawner to queue")
    assert not first.finished.is_set() and not second.finished.is_set()
    gate.send(None)  # one slot comes back: it goes to the first spawner
    first_gt = first.result()
    assert pool.waiting() == 1 and not second.finished.is_set()
    first_gate.send("first")
    assert first_gt.wait() == "first"
    second_gate.send("second")
    assert second.result().wait() == "second"
    assert holder.dead


def test_waiting_counts_blocked_spawners_as_in_eventlet(tracker: Tracker) -> None:
    # eventlet's test_waiting, with greenthreads that really run at the same time.
    pool = tracker.pool(1)
    done = tracker.gate()

    def waiter() -> None:
        pool.spawn(done.wait).wait()

    assert pool.running() == 0
    waiters = [tracker.spawn(waiter)]
    wait_until(lambda: pool.running() == 1)
    assert pool.waiting() == 0
    waiters.append(tracker.spawn(waiter))
    wait_until(lambda: pool.waiting() == 1)
    waiters.append(tracker.spawn(waiter))
    wait_until(lambda: pool.waiting() == 2)
    assert pool.running() == 1
    done.send(None)
    for w in waiters:
        w.wait()
    assert (pool.waiting(), pool.running(), pool.free()) == (0, 0, 1)


def test_resize_up_while_full_starts_blocked_spawners_at_once(tracker: Tracker, threads: Threads) -> None:
    pool = tracker.pool(1)
    gate = tracker.gate()
    blocked_on(pool, gate, 1)
    spawners = [threads.start(pool.spawn, gate.wait) for _ in range(3)]
    wait_until(lambda: pool.waiting() == 3)
    pool.resize(3)  # two more slots: two spawners go, one still waits
    wait_until(lambda: sum(s.finished.is_set() for s in spawners) == 2, what="two spawners to start")
    assert (pool.size, pool.running(), pool.waiting(), pool.free()) == (3, 3, 1, 0)
    pool.resize(10)
    wait_until(lambda: all(s.finished.is_set() for s in spawners))
    assert (pool.running(), pool.waiting(), pool.free()) == (4, 0, 6)
    gate.send(None)
    run_bounded(pool.waitall)
    assert pool.free() == 10


def test_resize_down_while_full_stops_nothing_and_holds_new_spawns_back(
    tracker: Tracker, threads: Threads
) -> None:
    # eventlet's test_resize: shrinking discards the excess slots as the running greenthreads finish.
    pool = tracker.pool(3)
    gates = [tracker.gate() for _ in range(3)]
    members = [pool.spawn(g.wait) for g in gates]
    wait_until(lambda: all(parked(m) for m in members), what="the members to block")
    pool.resize(1)
    assert (pool.size, pool.running(), pool.free()) == (1, 3, 0)
    late_gate = tracker.gate()
    late = threads.start(pool.spawn, late_gate.wait)
    wait_until(lambda: pool.waiting() == 1)
    gates[0].send(None)
    gates[1].send(None)
    members[0].wait()
    members[1].wait()
    # Two finished, but one still runs and the size is 1: the spawner still waits.
    assert (pool.running(), pool.waiting(), pool.free()) == (1, 1, 0)
    assert not late.finished.is_set()
    gates[2].send(None)
    late_gt = late.result()
    assert (pool.running(), pool.waiting(), pool.free()) == (1, 0, 0)
    late_gate.send(None)
    late_gt.wait()
    assert (pool.running(), pool.free()) == (0, 1)
    pool.resize(2)
    assert pool.free() == 2


def test_a_pool_of_size_zero_holds_every_spawn_until_it_grows(tracker: Tracker, threads: Threads) -> None:
    pool = tracker.pool(0)
    spawner = threads.start(pool.spawn, lambda: "ran")
    wait_until(lambda: pool.waiting() == 1)
    assert pool.free() == 0 and not spawner.finished.is_set()
    pool.resize(1)
    assert spawner.result().wait() == "ran"


def test_spawn_runs_in_a_copy_of_the_callers_context(tracker: Tracker) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    pool = tracker.pool(2)
    token = var.set("caller")
    try:

        def body() -> str:
            seen = var.get()
            var.set("changed inside")
            return seen

        assert pool.spawn(body).wait() == "caller"
        assert list(pool.imap(lambda _: body(), range(3))) == ["caller"] * 3
        assert var.get() == "caller"
    finally:
        var.reset(token)


def test_exceptions_free_their_slot(tracker: Tracker) -> None:
    pool = tracker.pool(1)

    def fail(n: int) -> None:
        raise Boom(n)

    for n in range(5):  # with one slot, each spawn needs the slot of the failed one before it
        gt = run_bounded(lambda n=n: pool.spawn(fail, n))
        with pytest.raises(Boom) as info:
            gt.wait()
        assert info.value.args == (n,)
        assert "fail" in [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert (pool.running(), pool.free()) == (0, 1)
    run_bounded(pool.waitall)


def test_spawn_n_returns_none_and_reports_exceptions_through_excepthook(
    tracker: Tracker, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", reported.append)
    pool = tracker.pool(1)
    ran: list[int] = []
    assert pool.spawn_n(ran.append, 1) is None

    def fail() -> None:
        raise Boom("spawn_n")

    run_bounded(lambda: pool.spawn_n(fail))  # needs the first one's slot
    run_bounded(pool.waitall)
    assert ran == [1]
    (args,) = reported
    assert args.exc_type is Boom and str(args.exc_value) == "spawn_n"
    assert "fail" in [f.name for f in traceback.extract_tb(args.exc_traceback)]
    assert args.thread is not threading.current_thread()
    assert (pool.running(), pool.free()) == (0, 1)


def test_repr_shows_size_running_and_waiting(tracker: Tracker) -> None:
    pool = tracker.pool(2)
    gate = tracker.gate()
    blocked_on(pool, gate, 1)
    assert "size=2, 1 running, 0 waiting" in repr(pool)


# -- re-entry --------------------------------------------------------------------------------------------


def test_reentering_a_full_pool_runs_inline_and_returns_a_finished_greenthread(tracker: Tracker) -> None:
    pool = tracker.pool(1)
    outer_thread: list[threading.Thread] = []

    def inner(x: int) -> tuple[int, threading.Thread, GreenThread[Any] | None]:
        return x * 2, threading.current_thread(), getcurrent()

    def outer() -> tuple[bool, Any, Any]:
        outer_thread.append(threading.current_thread())
        gt = pool.spawn(inner, 21)
        assert pool.running() == 1  # the inline call took no slot
        return gt.dead, gt.wait(), getcurrent()

    outer_gt = pool.spawn(outer)
    dead, (value, thread, current_inside), current_outside = outer_gt.wait()
    assert dead and value == 42
    assert thread is outer_thread[0]  # in the caller
    assert current_inside is outer_gt and current_outside is outer_gt  # its state left alone


def test_reentering_a_pool_with_room_spawns_a_real_greenthread(tracker: Tracker) -> None:
    pool = tracker.pool(2)

    def outer() -> tuple[threading.Thread, threading.Thread]:
        return threading.current_thread(), pool.spawn(threading.current_thread).wait()

    mine, inner = pool.spawn(outer).wait()
    assert mine is not inner


def test_an_inline_functions_exception_is_its_greenthreads_and_the_caller_goes_on(tracker: Tracker) -> None:
    pool = tracker.pool(1)

    def fail() -> None:
        raise Boom("inline")

    def outer() -> str:
        gt = pool.spawn(fail)
        assert gt.dead
        with pytest.raises(Boom, match="inline"):
            gt.wait()
        return "went on"

    assert pool.spawn(outer).wait() == "went on"


def test_an_inline_spawn_n_reports_its_exception(tracker: Tracker, monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", reported.append)
    pool = tracker.pool(1)
    ran: list[str] = []

    def fail() -> None:
        ran.append("inline")
        raise Boom("inline spawn_n")

    def outer() -> threading.Thread:
        assert pool.spawn_n(fail) is None
        return threading.current_thread()

    thread = pool.spawn(outer).wait()
    assert ran == ["inline"]
    (args,) = reported
    assert args.exc_type is Boom and args.thread is thread


def _spin() -> None:
    while True:
        if not internals.ASYNC_KILLS:
            sleep(0)  # CPython 3.13+ delivers kills at checkpoints only


def _block() -> None:
    Event().wait()


@pytest.mark.parametrize("stuck", [_block, _spin], ids=["in a checkpoint", "busy"])
@pytest.mark.parametrize(
    "kill_with", [None, KillError("aimed at the outer")], ids=["GreenletExit", "Exception"]
)
def test_a_kill_of_the_caller_still_lands_while_an_inline_function_runs(
    tracker: Tracker, stuck: Callable[[], None], kill_with: BaseException | None
) -> None:
    pool = tracker.pool(1)
    inside = threading.Event()
    after: list[str] = []

    def inner() -> None:
        inside.set()
        stuck()

    def outer() -> None:
        try:
            pool.spawn(inner)
        finally:
            after.append("unwound")
        after.append("went on")  # the kill must not be swallowed as the inline greenthread's outcome

    outer_gt = pool.spawn(outer)
    assert inside.wait(PATIENCE)
    if kill_with is None:
        run_bounded(outer_gt.kill)
        with pytest.raises(GreenletExit):
            outer_gt.wait()
    else:
        run_bounded(lambda: outer_gt.kill(kill_with))
        assert outer_gt.exception() is kill_with
    assert after == ["unwound"]
    assert (pool.running(), pool.free()) == (0, 1)


# -- waitall ---------------------------------------------------------------------------------------------


def test_waitall_returns_at_once_on_an_idle_pool_and_waits_for_every_greenthread(
    tracker: Tracker, threads: Threads
) -> None:
    pool = tracker.pool(4)
    run_bounded(pool.waitall)
    gate = tracker.gate()
    members = blocked_on(pool, gate, 3)
    waiter = threads.start(pool.waitall)
    assert not waiter.finished.wait(0.05)  # a check that it blocks, not a synchronisation
    gate.send(None)
    assert waiter.result() is None
    assert all(m.dead for m in members)  # every outcome is published before waitall returns


def test_waitall_also_waits_for_blocked_spawners(tracker: Tracker, threads: Threads) -> None:
    # As eventlet: idle means nothing running and nobody waiting to spawn.
    pool = tracker.pool(1)
    gate = tracker.gate()
    blocked_on(pool, gate, 1)
    late_ran = threading.Event()
    threads.start(pool.spawn, late_ran.set)
    wait_until(lambda: pool.waiting() == 1)
    waiter = threads.start(pool.waitall)
    gate.send(None)
    waiter.result()
    assert late_ran.is_set()


def test_waitall_from_inside_the_pool_raises_assertion_error(tracker: Tracker) -> None:
    pool = tracker.pool(2)
    with pytest.raises(AssertionError, match="will never terminate"):
        pool.spawn(pool.waitall).wait()
    # From a function run inline (the pool full), it is still inside the pool's greenthread.
    full = tracker.pool(1)
    with pytest.raises(AssertionError, match="will never terminate"):
        full.spawn(lambda: full.spawn(full.waitall).wait()).wait()
    # Another pool's greenthread may wait for this one.
    pool.spawn(sleep, 0)
    assert full.spawn(pool.waitall).wait() is None


def test_waitall_assertion_holds_under_python_O() -> None:
    code = (
        "from threadevent.greenpool import GreenPool\n"
        "pool = GreenPool(2)\n"
        "try:\n"
        "    pool.spawn(pool.waitall).wait()\n"
        "except AssertionError as exc:\n"
        "    print('raised:', exc)\n"
        "print('optimized:', not __debug__)\n"
    )
    child = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert "raised: Calling waitall() from within" in child.stdout
    assert "optimized: True" in child.stdout


# -- kill of a greenthread blocked in the pool --------------------------------------------------------


def test_kill_of_a_greenthread_blocked_in_a_full_spawn(tracker: Tracker) -> None:
    pool = tracker.pool(1)
    gate = tracker.gate()
    blocked_on(pool, gate, 1)
    ran: list[str] = []
    spawner = tracker.spawn(pool.spawn, ran.append, "must not run")
    wait_until(lambda: pool.waiting() == 1 and parked(spawner), what="the spawner to block")
    sent = KillError("stop waiting")
    run_bounded(lambda: spawner.kill(sent))
    assert spawner.exception() is sent
    assert (pool.waiting(), pool.running()) == (0, 1)
    gate.send(None)
    run_bounded(pool.waitall)
    assert ran == [] and (pool.running(), pool.free()) == (0, 1)


def test_kill_of_a_greenthread_blocked_in_waitall(tracker: Tracker, threads: Threads) -> None:
    pool = tracker.pool(1)
    gate = tracker.gate()
    blocked_on(pool, gate, 1)
    killed = tracker.spawn(pool.waitall)
    other = threads.start(pool.waitall)
    wait_until(lambda: parked(killed), what="waitall to block")
    run_bounded(killed.kill)
    with pytest.raises(GreenletExit):
        killed.wait()
    assert not other.finished.is_set()  # the other waitall still waits, and is still woken
    gate.send(None)
    assert other.result() is None


def _spawners_queued(tracker: Tracker, queued_behind: bool) -> tuple[Any, ...]:
    """A pool of 1 whose slot a greenthread holds until ``gate`` is sent, and greenthreads blocked in
    ``pool.spawn(ran.append, name)``: ``first``, and with ``queued_behind`` a ``second`` (else None)."""
    pool = tracker.pool(1)
    gate = tracker.gate()
    (holder,) = blocked_on(pool, gate, 1)
    ran: list[str] = []
    first = tracker.spawn(pool.spawn, ran.append, "first")
    wait_until(lambda: pool.waiting() == 1 and parked(first))
    second = None
    if queued_behind:
        second = tracker.spawn(pool.spawn, ran.append, "second")
        wait_until(lambda: pool.waiting() == 2 and parked(second))
    return pool, gate, holder, ran, first, second


@pytest.mark.parametrize("queued_behind", [False, True], ids=["alone", "with a spawner behind"])
def test_a_spawner_killed_as_its_slot_comes_passes_the_slot_on(
    tracker: Tracker, threads: Threads, queued_behind: bool
) -> None:
    # The slot and the kill arrive at the same moment, from two threads: whichever wins, the slot is
    # used or handed on exactly once.
    pool, gate, holder, ran, first, _second = _spawners_queued(tracker, queued_behind)
    go = threading.Barrier(2)
    freeing = threads.start(lambda: (go.wait(), gate.send(None)))
    killing = threads.start(lambda: (go.wait(), first.kill()))
    freeing.result()
    killing.result()
    holder.wait()
    run_bounded(pool.waitall)
    first_outcome = first.exception()
    if first_outcome is None:  # granted before the kill came: its function ran
        assert isinstance(first.wait(), GreenThread) and "first" in ran
    else:
        assert isinstance(first_outcome, GreenletExit) and "first" not in ran
    assert ("second" in ran) == queued_behind
    assert (pool.running(), pool.waiting(), pool.free()) == (0, 0, 1)
    assert run_bounded(lambda: pool.spawn(lambda: "slot free")).wait() == "slot free"


@pytest.mark.parametrize("queued_behind", [False, True], ids=["alone", "with a spawner behind"])
def test_a_spawner_granted_a_slot_as_it_is_interrupted_hands_the_slot_on(
    tracker: Tracker, threads: Threads, queued_behind: bool
) -> None:
    # The same race as above, made certain: the kill wakes the spawner, and the slot is granted to it
    # before it can take the pool's lock to withdraw.  Private: the test holds the pool's lock, and
    # gives the holder's slot back as the holder's done-callback would.
    pool, gate, holder, ran, first, second = _spawners_queued(tracker, queued_behind)
    with pool._lock:
        killing = threads.start(first.kill)
        wait_until(lambda: not parked(first), what="the kill to wake the spawner")
        internals.give_slot_back(pool, holder)  # granted to the first spawner, which waits for this lock
    killing.result()
    with pytest.raises(GreenletExit):
        first.wait()
    if queued_behind:
        assert second.wait().wait() is None  # the slot went on to it
    gate.send(None)
    holder.wait()
    run_bounded(pool.waitall)
    assert ran == (["second"] if queued_behind else [])
    assert (pool.running(), pool.waiting(), pool.free()) == (0, 0, 1)


def test_waitall_returns_when_the_spawner_it_waited_for_is_killed(tracker: Tracker, threads: Threads) -> None:
    pool = tracker.pool(0)  # nothing can start: the spawner waits until it is killed
    spawner = tracker.spawn(pool.spawn, lambda: None)
    wait_until(lambda: pool.waiting() == 1 and parked(spawner))
    waiter = threads.start(pool.waitall)
    assert not waiter.finished.wait(0.05)  # a check that it blocks, not a synchronisation
    run_bounded(spawner.kill)
    assert waiter.result() is None
    assert pool.waiting() == 0


# -- GreenPile ---------------------------------------------------------------------------------------------


def test_pile_results_come_in_spawn_order_whatever_order_they_finish(tracker: Tracker) -> None:
    pool = tracker.pool(10)
    pile: GreenPile[int] = GreenPile(pool)
    assert pile.pool is pool and not pile.used
    gates = [tracker.gate() for _ in range(5)]
    for i, gate in enumerate(gates):
        pile.spawn(lambda i, gate: gate.wait() or i, i, gate)
    assert pile.used and pile.counter == 5
    for gate in reversed(gates):  # the last spawned finishes first
        gate.send(None)
    assert pile.next() == 0 and pile.counter == 4
    assert list(pile) == [1, 2, 3, 4] and pile.counter == 0


def test_an_empty_pile_iterates_to_nothing_and_can_be_used_again() -> None:
    pile: GreenPile[int] = GreenPile()
    assert run_bounded(lambda: list(pile)) == []
    with pytest.raises(StopIteration):
        next(pile)
    pile.spawn(lambda: 1)
    assert list(pile) == [1]
    assert list(pile) == []
    pile.spawn(lambda: 2)
    assert list(pile) == [2]


def test_pile_raises_an_exception_at_its_turn_and_goes_on(tracker: Tracker) -> None:
    pile: GreenPile[int] = GreenPile(tracker.pool(3))

    def maybe_fail(i: int) -> int:
        if i % 2:
            raise Boom(i)
        return i

    for i in range(5):
        pile.spawn(maybe_fail, i)
    got = outcomes(pile)
    assert got[0::2] == [0, 2, 4]
    assert [type(e) for e in got[1::2]] == [Boom, Boom] and [e.args for e in got[1::2]] == [(1,), (3,)]


def test_piles_on_a_shared_pool_fed_from_two_greenthreads_at_once(tracker: Tracker) -> None:
    pool = tracker.pool(3)
    running = Concurrency()
    items = 60

    def work(tag: str, i: int) -> tuple[str, int]:
        with running:
            sleep(0)
            return tag, i

    def feed(pile: GreenPile[tuple[str, int]], tag: str) -> None:
        for i in range(items):
            pile.spawn(work, tag, i)

    piles: list[GreenPile[tuple[str, int]]] = [GreenPile(pool), GreenPile(pool)]
    feeders = [tracker.spawn(feed, pile, tag) for pile, tag in zip(piles, "ab", strict=True)]
    for feeder in feeders:
        feeder.wait()
    assert list(piles[0]) == [("a", i) for i in range(items)]
    assert list(piles[1]) == [("b", i) for i in range(items)]
    assert running.most <= 3

    # And one pile fed from both at once: every result comes out once; each feeder's in its order.
    shared: GreenPile[tuple[str, int]] = GreenPile(pool)
    feeders = [tracker.spawn(feed, shared, tag) for tag in "ab"]
    for feeder in feeders:
        feeder.wait()
    got = list(shared)
    assert sorted(got) == sorted((tag, i) for tag in "ab" for i in range(items))
    for tag in "ab":
        assert [i for t, i in got if t == tag] == list(range(items))


def test_pile_iteration_waits_for_a_spawn_that_waits_for_a_slot(tracker: Tracker, threads: Threads) -> None:
    pool = tracker.pool(1)
    gate = tracker.gate()
    blocked_on(pool, gate, 1)
    pile: GreenPile[str] = GreenPile(pool)
    spawner = threads.start(pile.spawn, lambda: "late")
    wait_until(lambda: pool.waiting() == 1)
    assert pile.counter == 1
    reader = threads.start(next, pile)
    assert not reader.finished.wait(0.05)  # a check that it blocks, not a synchronisation
    gate.send(None)
    spawner.result()
    assert reader.result() == "late"
    assert pile.counter == 0


def test_pile_iteration_stops_if_the_awaited_spawn_is_killed(tracker: Tracker, threads: Threads) -> None:
    pool = tracker.pool(1)
    gate = tracker.gate()
    blocked_on(pool, gate, 1)
    pile: GreenPile[str] = GreenPile(pool)
    spawner = tracker.spawn(pile.spawn, lambda: "never")
    wait_until(lambda: parked(spawner))
    reader = threads.start(list, pile)
    wait_until(lambda: internals.pile_readers(pile) == 1, what="the reader to block")
    run_bounded(spawner.kill)
    assert reader.result() == [] and pile.counter == 0


def test_a_killed_pile_reader_leaves_the_result_for_the_next_one(tracker: Tracker) -> None:
    pile: GreenPile[str] = GreenPile(tracker.pool(2))
    gate = tracker.gate()
    pile.spawn(gate.wait)
    pile.spawn(lambda: "second")
    reader = tracker.spawn(next, pile)
    wait_until(lambda: parked(reader))
    run_bounded(reader.kill)
    with pytest.raises(GreenletExit):
        reader.wait()
    assert pile.counter == 2
    gate.send("first")
    assert list(pile) == ["first", "second"]


# -- imap and starmap ------------------------------------------------------------------------------------


def test_imap_gives_results_in_input_order(tracker: Tracker) -> None:
    pool = tracker.pool(4)
    gates = [tracker.gate() for _ in range(8)]
    it = pool.imap(lambda i: gates[i].wait() or i * 10, range(8))
    for gate in reversed(gates):
        gate.send(None)
    assert list(it) == [i * 10 for i in range(8)]
    assert list(pool.imap(pow, [2, 3, 4], [5, 2])) == [32, 9]  # in step, to the shortest, as zip
    assert list(pool.starmap(pow, [(2, 5), [3, 2]])) == [32, 9]
    assert list(pool.imap(abs)) == [] and list(pool.imap(abs, [])) == []


def test_imap_with_func_none_yields_the_argument_tuples(tracker: Tracker) -> None:
    pool = tracker.pool(2)
    assert list(pool.imap(None, [1, 2, 3])) == [(1,), (2,), (3,)]
    assert list(pool.imap(None, "ab", [1, 2, 3])) == [("a", 1), ("b", 2)]
    assert list(pool.starmap(None, [[1, 2], (3,), "xy"])) == [(1, 2), (3,), ("x", "y")]
    got = outcomes(pool.starmap(None, [(1,), 5, (2,)]))
    assert got[0] == (1,) and isinstance(got[1], TypeError) and got[2] == (2,)


def test_imap_raises_each_exception_at_its_item_and_goes_on(tracker: Tracker) -> None:
    pool = tracker.pool(3)

    def check(i: int) -> int:
        if i % 3 == 1:
            raise Boom(i)
        return i

    it = pool.imap(check, range(8))
    got = outcomes(it)
    assert [g if isinstance(g, int) else ("boom", g.args[0]) for g in got] == [
        0, ("boom", 1), 2, 3, ("boom", 4), 5, 6, ("boom", 7)
    ]  # fmt: skip
    boom = got[1]
    assert "check" in [f.name for f in traceback.extract_tb(boom.__traceback__)]
    with pytest.raises(StopIteration):
        next(it)


def test_an_error_of_the_input_itself_comes_at_its_place(tracker: Tracker) -> None:
    pool = tracker.pool(4)

    def source() -> Iterator[int]:
        yield 1
        yield 2
        raise Boom("input broke")

    got = outcomes(pool.imap(lambda x: x * 10, source()))
    assert got[:2] == [10, 20] and isinstance(got[2], Boom) and len(got) == 3


def test_imap_loses_no_item_when_the_os_refuses_its_first_thread(
    refuse_worker_threads: Callable[[bool], None],
) -> None:
    # Regression: imap() read up to 2 x size items and then raised the hub's RuntimeError from the
    # call itself; the iterator was never returned, and a retry on the same input skipped those items.
    retire_all()
    source = iter(range(20))
    refuse_worker_threads(True)
    results = GreenPool(4).imap(lambda x: x * 10, source)  # no thread yet: it does not raise here
    with pytest.raises(RuntimeError, match="could not start a worker thread"):
        next(results)
    refuse_worker_threads(False)
    assert list(results) == [x * 10 for x in range(20)]


def test_imap_reads_an_endless_input_lazily(tracker: Tracker) -> None:
    pool = tracker.pool(8)
    read = itertools.count()
    source = (next(read) for _ in itertools.count())
    assert run_bounded(lambda: list(itertools.islice(pool.imap(lambda x: -x, source), 100))) == [
        -i for i in range(100)
    ]
    # The window ahead is twice the pool's size: never more than that was read.
    assert 100 <= next(read) <= 100 + 2 * 8


@pytest.mark.parametrize(("size", "items"), [(1, 50_000), (8, 1_000_000)])
def test_imap_memory_stays_bounded_by_the_pool_size(tracker: Tracker, size: int, items: int) -> None:
    # Up to a million items: the items read ahead of the consumer never exceed twice the pool's size,
    # nor the pool's greenthreads its size, however long the input.
    pool = tracker.pool(size)
    read = [0]
    most_ahead = 0
    most_running = 0

    def source() -> Iterator[int]:
        for i in range(items):
            read[0] += 1
            yield i

    for consumed, value in enumerate(pool.imap(abs, source()), 1):
        assert value == consumed - 1
        if consumed % 1000 == 0:
            most_ahead = max(most_ahead, read[0] - consumed)
            most_running = max(most_running, hub.stats().running)  # the map's greenthreads
    assert consumed == items
    assert most_ahead <= 2 * size and most_running <= size


def test_imap_memory_does_not_grow_with_the_input(tracker: Tracker) -> None:
    pool = tracker.pool(16)

    def peak(n: int) -> int:
        list(pool.imap(abs, range(50)))  # warm: threads and free lists
        gc.collect()
        tracemalloc.start()
        try:
            for _ in pool.imap(abs, range(n)):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(2_000), peak(40_000)
    # Twenty times the items, about the same peak (a few KiB of noise allowed); an executor's map,
    # holding a future per item, would need megabytes more.
    assert large < small + 64 * 1024, (small, large)


def test_imap_runs_up_to_size_functions_at_once_and_never_more(tracker: Tracker) -> None:
    pool = tracker.pool(4)
    running = Concurrency()
    gate = tracker.gate()

    def work(i: int) -> int:
        with running:
            gate.wait()
        return i

    it = pool.imap(work, range(20))
    wait_until(lambda: running.now == 4, what="four functions running at once")
    gate.send(None)
    assert list(it) == list(range(20))
    assert running.most == 4


def test_imap_takes_none_of_the_pools_slots_as_in_eventlet(tracker: Tracker) -> None:
    pool = tracker.pool(2)
    gate = tracker.gate()
    blocked_on(pool, gate, 2)  # the pool is full
    running = Concurrency()
    item_gate = tracker.gate()

    def work(i: int) -> int:
        with running:
            item_gate.wait()
        return i

    it = pool.imap(work, range(6))
    wait_until(lambda: running.now == 2, what="size items running, though the pool has no free slot")
    assert (pool.running(), pool.free(), pool.waiting()) == (2, 0, 0)
    gate.send(None)
    run_bounded(pool.waitall)  # waits for the pool's own greenthreads, not for the map's
    assert running.now == 2
    item_gate.send(None)
    assert list(it) == list(range(6))
    assert running.most == 2


def test_an_abandoned_imap_leaves_nothing_blocked(tracker: Tracker) -> None:
    pool = tracker.pool(3)
    gate = tracker.gate()
    read = [0]

    def source() -> Iterator[int]:
        for i in itertools.count():
            read[0] += 1
            yield i

    it = pool.imap(lambda i: gate.wait() or i, source())
    gate.send(None)
    assert next(it) == 0
    del it
    run_bounded(pool.waitall)  # no greenthread of the pool waits for the abandoned iterator
    assert (pool.running(), pool.free()) == (0, 3)
    assert read[0] <= 2 * 3  # and nothing read the input on after it was dropped


def test_imap_from_inside_a_full_pool_does_not_deadlock(tracker: Tracker) -> None:
    pool = tracker.pool(1)
    assert run_bounded(
        lambda: pool.spawn(lambda: list(pool.imap(lambda x: x + 1, range(10)))).wait()
    ) == list(range(1, 11))


def test_imap_reads_its_input_only_in_the_iterating_thread(tracker: Tracker) -> None:
    pool = tracker.pool(4)
    readers: set[threading.Thread] = set()

    def source() -> Iterator[int]:
        for i in range(200):
            readers.add(threading.current_thread())
            yield i

    assert sum(pool.imap(lambda x: (sleep(0), x)[1], source())) == sum(range(200))
    assert readers == {threading.current_thread()}


def test_imap_cannot_be_iterated_from_two_threads_at_once(tracker: Tracker, threads: Threads) -> None:
    pool = tracker.pool(2)
    gate = tracker.gate()
    it = pool.imap(gate.wait, [None, None])
    first = threads.start(next, it)
    wait_until(lambda: internals.imap_reader_blocked(it), what="the first reader to block")
    with pytest.raises(ValueError, match="already being iterated"):
        next(it)
    gate.send("value")
    assert first.result() == "value" and list(it) == ["value"]


def test_a_killed_imap_reader_can_iterate_on(tracker: Tracker) -> None:
    pool = tracker.pool(2)
    gate = tracker.gate()
    it = pool.imap(lambda i: gate.wait() or i, range(4))
    reader = tracker.spawn(next, it)
    wait_until(lambda: parked(reader))
    run_bounded(reader.kill)
    with pytest.raises(GreenletExit):
        reader.wait()
    gate.send(None)
    assert list(it) == [0, 1, 2, 3]


def test_the_end_of_imap_repeats(tracker: Tracker) -> None:
    it = tracker.pool(2).imap(abs, [-1])
    assert list(it) == [1]
    for _ in range(3):
        with pytest.raises(StopIteration):
            next(it)


@pytest.mark.parametrize("how", ["imap", "starmap"])
def test_the_imap_and_starmap_iterators_have_eventlets_next_method(tracker: Tracker, how: str) -> None:
    # eventlet code calls ``it.next()`` on what imap returns, as on a GreenPile.
    pool = tracker.pool(2)

    def halve(x: int) -> int:
        if x % 2:
            raise ValueError(x)
        return x // 2

    items = [4, 3, 8]
    it: Any = pool.imap(halve, items) if how == "imap" else pool.starmap(halve, [(x,) for x in items])
    assert it.next() == 2
    with pytest.raises(ValueError, match="3"):
        it.next()
    assert it.next() == 4  # an error at its item, and the iteration goes on after it
    with pytest.raises(StopIteration):
        it.next()


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 6),
    count=st.integers(0, 40),
    failing=st.sets(st.integers(0, 39)),
    seed=st.integers(0, 2**32 - 1),
    star=st.booleans(),
)
def test_imap_keeps_order_and_errors_for_any_size_count_and_failures(
    size: int, count: int, failing: set[int], seed: int, star: bool
) -> None:
    pool = GreenPool(size)
    running = Concurrency()
    pauses = random.Random(seed).choices([0, 0, 0.0005, 0.002], k=count)

    def work(i: int) -> int:
        with running:
            sleep(pauses[i])  # finish in a scrambled order
            if i in failing:
                raise Boom(i)
            return i * i

    it = pool.starmap(work, ((i,) for i in range(count))) if star else pool.imap(work, range(count))
    got = run_bounded(lambda: outcomes(it))
    expected = [("boom", i) if i in failing else i * i for i in range(count)]
    assert [("boom", g.args[0]) if isinstance(g, Boom) else g for g in got] == expected
    assert running.most <= size
    run_bounded(pool.waitall)
    assert (pool.running(), pool.free()) == (0, size)
