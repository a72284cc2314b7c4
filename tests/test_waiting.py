"""threadevent.waiting against its contract (README: "Waiting on many", "Checkpoints, kill and Timeout").

The three functions watch any mix of ``Event``, ``GreenThread`` and ``concurrent.futures.Future``.  Each
test builds its items with ``Items``, which completes them on demand and, at teardown, releases every
greenthread it made.  Nothing is ordered with sleeps: a test waits until the call under test has hooked
its callbacks onto the items (private state: ``_callbacks`` of an Event or GreenThread, ``_done_callbacks``
of a Future) or is parked in its checkpoint, and only then completes, kills or interrupts.  Where a race
is the point (a completion against the registration, a timeout against a completion), the test accepts
every outcome the contract allows and checks the invariants: nothing left hooked, nothing lost.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import random
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import internals
import pytest
from conftest import (
    ITEM_KINDS,
    PATIENCE,
    InterruptError,
    Interruptible,
    Items,
    Threads,
    Worker,
    ctrl_c_child,
    interrupt_this_thread,
    parked,
    run_bounded,
    spurious_wake_up_9_s_into_the_wait,
    wait_until,
)
from hypothesis import given
from hypothesis import strategies as st

from threadevent import Event, GreenletExit, GreenThread, getcurrent, spawn, spawn_after
from threadevent.waiting import as_completed, wait_all, wait_any

KINDS = ITEM_KINDS


class Failure(Exception):
    """What a test completes an item with when it completes it with an exception."""


# -- helpers -----------------------------------------------------------------------------------------


@contextmanager
def making() -> Iterator[Items]:
    made = Items()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def items() -> Iterator[Items]:
    with making() as made:
        yield made


def live_hooks(item: Any) -> int:
    """How many callbacks of threadevent.waiting are still hooked on ``item`` and able to act.

    On an Event or GreenThread: every internal hook there (waiting's are the only ones these tests make).
    On a Future, whose callbacks cannot be removed: the ones not yet emptied.
    """
    if isinstance(item, Future):
        return internals.live_future_hooks(item)
    assert isinstance(item, (Event, GreenThread))
    return internals.hooks(item)


def assert_nothing_left(watched: Sequence[Any]) -> None:
    for item in watched:
        assert live_hooks(item) == 0, f"a callback left behind on {item!r}"
        if not isinstance(item, Future):
            assert internals.callbacks(item) == 0


def wait_hooked(watched: Sequence[Any], count: int = 1) -> None:
    wait_until(
        lambda: all(live_hooks(item) == count for item in watched),
        what=f"callbacks hooked on {watched!r}",
    )


def drain(watched: Any, timeout: float | None = None) -> tuple[list[Any], bool]:
    """What ``as_completed`` yields, and whether it raised TimeoutError at the end."""
    seen: list[Any] = []
    try:
        for item in as_completed(watched, timeout):
            seen.append(item)
    except TimeoutError:
        return seen, True
    return seen, False


def complete_in_order(
    made: Items, sequence: Sequence[Any], errors: Sequence[BaseException | None] | None = None
) -> None:
    """Complete the items one after the other, each only once the waiters' hooks on it have run.

    A probe callback added after the waiters' hooks runs after them: waiting for the probe orders the
    completions as the waiters see them (a greenthread finishes on its own worker thread).
    """
    for i, item in enumerate(sequence):
        probe = threading.Event()
        item.add_done_callback(lambda _, probe=probe: probe.set())
        made.complete(item, error=None if errors is None else errors[i])
        assert probe.wait(PATIENCE)


CALLS: dict[str, Callable[..., Any]] = {
    "wait_any": wait_any,
    "wait_all": wait_all,
    "as_completed": lambda watched, timeout=None: list(as_completed(watched, timeout)),
}


# -- wait_any ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_wait_any_returns_an_item_done_already_at_once_and_hooks_nothing(items: Items, kind: str) -> None:
    pending = items.mix()
    done = items.make(kind)
    items.finish(done)
    watched = [*pending, done]
    assert run_bounded(lambda: wait_any(watched)) is done
    assert_nothing_left(watched)
    for item in pending:
        if not isinstance(item, Future):
            assert internals.callbacks(item) == 0  # nothing was registered


def test_wait_any_of_several_done_returns_the_first_in_the_order_given(items: Items) -> None:
    watched = items.mix(KINDS * 2)
    for item in watched[2:]:
        items.finish(item)
    assert wait_any(watched) is watched[2]
    assert wait_any(watched[::-1]) is watched[-1]


@pytest.mark.parametrize("kind", KINDS)
def test_wait_any_wakes_when_one_completes_in_another_thread(
    items: Items, threads: Threads, kind: str
) -> None:
    others = items.mix()
    target = items.make(kind)
    watched = [*others, target]
    waiter = threads.start(wait_any, watched, PATIENCE * 100)
    wait_hooked(watched)
    assert not waiter.finished.is_set()
    items.complete(target, "the value")
    assert waiter.result() is target
    assert target.result() == "the value"  # the caller retrieves the outcome itself
    assert_nothing_left(watched)
    assert not any(item.done() for item in others)


def test_wait_any_returns_the_first_to_complete(items: Items, threads: Threads) -> None:
    watched = items.mix(KINDS * 2)
    waiter = threads.start(wait_any, watched)
    wait_hooked(watched)
    complete_in_order(items, [watched[4], watched[1]])
    assert waiter.result() is watched[4]
    assert_nothing_left(watched)


@pytest.mark.parametrize("timeout", [0.01, 0.0005])
def test_wait_any_times_out_with_none_and_unhooks(items: Items, timeout: float) -> None:
    watched = items.mix()
    assert run_bounded(lambda: wait_any(watched, timeout)) is None
    assert_nothing_left(watched)
    # The spent hooks stay harmless: completing the items afterwards works and wakes nobody.
    for item in watched:
        items.finish(item)
    assert wait_any(watched, 0) is watched[0]


@pytest.mark.parametrize("timeout", [0, 0.0, -1, -0.5])
@pytest.mark.parametrize("name", list(CALLS))
def test_timeout_zero_or_negative_never_blocks(items: Items, name: str, timeout: float) -> None:
    watched = items.mix()

    def outcome() -> Any:
        if name == "as_completed":
            return run_bounded(lambda: drain(watched, timeout))
        return run_bounded(lambda: CALLS[name](watched, timeout))

    assert outcome() == {"wait_any": None, "wait_all": False, "as_completed": ([], True)}[name]
    items.finish(watched[1])
    expected = {"wait_any": watched[1], "wait_all": False, "as_completed": ([watched[1]], True)}
    assert outcome() == expected[name]
    items.finish(watched[0])
    items.finish(watched[2])
    expected = {"wait_any": watched[0], "wait_all": True, "as_completed": (watched, False)}
    assert outcome() == expected[name]
    assert_nothing_left(watched)


BAD_TIMEOUTS = [
    pytest.param("1", TypeError, id="str"),
    pytest.param([1], TypeError, id="list"),
    pytest.param(object(), TypeError, id="object"),
    pytest.param(1j, TypeError, id="complex"),
    pytest.param(True, TypeError, id="bool"),
    pytest.param(float("nan"), ValueError, id="nan"),
]


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
@pytest.mark.parametrize("name", list(CALLS))
def test_bad_timeout_raises_at_the_call_before_waiting(
    items: Items, name: str, timeout: object, error: type[Exception]
) -> None:
    watched = items.mix()
    with pytest.raises(error, match="timeout"):
        run_bounded(lambda: CALLS[name](watched, timeout))  # must not block first
    for item in watched:
        if not isinstance(item, Future):
            assert internals.callbacks(item) == 0  # nothing was hooked before the check
        else:
            assert item._done_callbacks == []  # type: ignore[attr-defined]
    # Also when something is done already: bad input is bad input.
    items.finish(watched[0])
    with pytest.raises(error):
        CALLS[name](watched, timeout)


def test_as_completed_checks_its_arguments_at_the_call_not_at_the_first_step(items: Items) -> None:
    watched = items.mix()
    with pytest.raises(ValueError):
        as_completed(watched, float("nan"))
    with pytest.raises(TypeError):
        as_completed([*watched, 42])
    with pytest.raises(TypeError):
        as_completed(watched[0])


#: The calls themselves: ``as_completed`` is checked at the call, not at its first step.
SELF_WAITS: dict[str, Callable[..., Any]] = {
    "wait_any": wait_any,
    "wait_all": wait_all,
    "as_completed": as_completed,
}


@pytest.mark.parametrize("timeout", [None, 0, PATIENCE])
@pytest.mark.parametrize("name", list(SELF_WAITS))
def test_waiting_on_the_calling_greenthread_raises_runtime_error_at_the_call(
    items: Items, name: str, timeout: float | None
) -> None:
    """As ``GreenThread.wait()`` inside itself (and ``threading.Thread.join()``): the calling greenthread
    cannot end while it waits, so the call would wait for ever, or till its timeout for nothing.  Raised
    at the call, before anything is hooked, also when another item is done already.  (It used to wait.)"""
    pending_event, pending_future, done = items.mix(["event", "future", "event"])
    items.finish(done)

    def body() -> Any:
        me = getcurrent()
        try:
            SELF_WAITS[name]([pending_event, done, me, pending_future], timeout)
        except RuntimeError as exc:
            return str(exc), internals.callbacks(pending_event), internals.callbacks(me)
        return "returned", None, None

    gt = spawn(body)
    message, hooked_on_event, hooked_on_itself = gt.result(PATIENCE)
    assert message == f"{name}(): cannot wait for the greenthread it is called from"
    assert hooked_on_event == 0 and hooked_on_itself == 0
    assert pending_future._done_callbacks == []  # type: ignore[attr-defined]
    assert not pending_event.ready() and not pending_future.done()


@pytest.mark.parametrize("name", list(CALLS))
def test_a_link_may_wait_on_its_own_greenthread_which_has_ended(items: Items, name: str) -> None:
    # The link runs in the greenthread's worker thread once its function has ended: nothing to refuse.
    gate = items.make("event")
    gt = spawn(gate.wait)
    got: list[Any] = []
    ran = threading.Event()

    def link(g: GreenThread[Any]) -> None:
        try:
            got.append(CALLS[name]([g], PATIENCE))
        finally:
            ran.set()

    gt.link(link)
    items.complete(gate)
    assert ran.wait(PATIENCE)
    assert got == [{"wait_any": gt, "wait_all": True, "as_completed": [gt]}[name]]


def test_huge_timeouts_mean_forever(items: Items, threads: Threads) -> None:
    watched = items.mix()
    waiters = [
        threads.start(wait_any, watched, 10.0**300),
        threads.start(wait_all, watched, 2**2000),
        threads.start(CALLS["as_completed"], watched, float("inf")),
    ]
    wait_hooked(watched, count=3)
    for item in watched:
        items.complete(item)
    assert waiters[0].result() in watched
    assert waiters[1].result() is True
    assert set(map(id, waiters[2].result())) == set(map(id, watched))
    assert_nothing_left(watched)


@pytest.mark.parametrize("name", list(CALLS))
def test_items_must_be_an_iterable_of_events_greenthreads_and_futures(items: Items, name: str) -> None:
    evt, gt, fut = items.mix()
    call = CALLS[name]
    for single in (evt, gt, fut):
        with pytest.raises(TypeError, match="pass a list"):
            call(single)
    with pytest.raises(TypeError, match="int"):
        call(3)
    with pytest.raises(TypeError, match="NoneType"):
        call(None)
    loop = asyncio.new_event_loop()
    try:
        for wrong in (42, "a", threading.Event(), loop.create_future()):
            with pytest.raises(TypeError, match=type(wrong).__name__):
                run_bounded(lambda wrong=wrong: call([evt, gt, fut, wrong]))
    finally:
        loop.close()
    # Checked before anything was hooked.
    assert evt._callbacks is None and gt._callbacks is None
    assert fut._done_callbacks == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", list(CALLS))
def test_items_may_be_any_iterable(items: Items, name: str) -> None:
    watched = items.mix()
    for item in watched:
        items.finish(item)
    outcome = CALLS[name](item for item in watched)
    expected: Any = {"wait_any": watched[0], "wait_all": True, "as_completed": watched}[name]
    assert outcome == expected


def test_empty_items() -> None:
    # As concurrent.futures.wait([]) returns at once with nothing done: wait_any has nothing to return
    # (None, without waiting out the timeout), wait_all has nothing to wait for (True), and
    # as_completed has nothing to yield.
    assert run_bounded(lambda: wait_any([])) is None
    assert run_bounded(lambda: wait_any([], PATIENCE * 100)) is None
    assert run_bounded(lambda: wait_all([])) is True
    assert run_bounded(lambda: list(as_completed([]))) == []
    assert run_bounded(lambda: list(as_completed([], 0))) == []


def test_duplicates_are_watched_once(items: Items, threads: Threads) -> None:
    evt, gt, fut = items.mix()
    watched = [evt, gt, evt, fut, gt, evt]
    any_waiter = threads.start(wait_any, watched)
    all_waiter = threads.start(wait_all, watched)
    each_waiter = threads.start(CALLS["as_completed"], watched)
    wait_hooked([evt, gt, fut], count=3)  # one hook per call and item, not one per mention
    complete_in_order(items, [gt, evt, fut])
    assert any_waiter.result() is gt
    assert all_waiter.result() is True
    assert each_waiter.result() == [gt, evt, fut]
    assert_nothing_left(watched)


def test_nothing_is_retrieved_failures_stay_with_the_items(items: Items, threads: Threads) -> None:
    watched = items.mix()
    evt = watched[0]
    errors = [Failure("event"), Failure("greenthread"), Failure("future")]
    waiter = threads.start(CALLS["as_completed"], watched)
    wait_hooked(watched)
    complete_in_order(items, watched, errors)
    assert waiter.result() == watched  # as_completed itself raised nothing
    assert wait_any(watched) is evt
    assert wait_all(watched) is True
    assert [item.exception() for item in watched] == errors


def test_a_failed_greenthread_seen_only_by_the_waiting_functions_is_still_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Waiting on it is not retrieving its outcome: nobody saw the exception, so it is logged when
    # the greenthread is collected, as it would be without the wait.
    def fail() -> None:
        raise Failure("nobody looked")

    gt = spawn(fail)
    assert wait_any([gt], PATIENCE) is gt
    assert wait_all([gt], PATIENCE) is True
    assert list(as_completed([gt], PATIENCE)) == [gt]
    ref = weakref.ref(gt)
    del gt

    def collected() -> bool:
        gc.collect()
        return ref() is None

    with caplog.at_level(logging.ERROR, logger="threadevent"):
        wait_until(collected, what="the greenthread to be collected")
    assert any("never retrieved" in r.getMessage() for r in caplog.records), caplog.records


def test_cancelled_items_count_as_done(items: Items) -> None:
    fut: Future[Any] = Future()
    assert fut.cancel()
    later = spawn_after(3600, lambda: None)
    assert later.cancel()
    evt = items.make("event")
    assert wait_any([evt, fut]) is fut
    assert wait_any([evt, later]) is later
    assert wait_all([fut, later]) is True
    gen = as_completed([evt, later, fut], 0.001)
    assert [next(gen), next(gen)] == [later, fut]
    with pytest.raises(TimeoutError):
        next(gen)
    assert_nothing_left([evt, later, fut])


def test_an_event_sent_then_reset_at_once_counts_as_done(items: Items, threads: Threads) -> None:
    # The hook fires in send(), before the reset: the event did complete, even if it is fresh again.
    first, second = items.mix(["event", "event"])
    any_waiter = threads.start(wait_any, [first, second])
    all_waiter = threads.start(wait_all, [first, second])
    wait_hooked([first, second], count=2)
    first.send("gone")
    first.reset()
    assert any_waiter.result() is first
    assert not all_waiter.finished.is_set()
    second.send("here")
    assert all_waiter.result() is True
    assert_nothing_left([first, second])


# -- wait_all ----------------------------------------------------------------------------------------


def test_wait_all_is_true_at_once_when_all_are_done(items: Items) -> None:
    watched = items.mix()
    for item in watched:
        items.finish(item)
    assert run_bounded(lambda: wait_all(watched)) is True
    assert_nothing_left(watched)


def test_wait_all_waits_for_every_item_completed_from_several_threads(items: Items, threads: Threads) -> None:
    watched = items.mix(KINDS * 3)
    waiter = threads.start(wait_all, watched)
    wait_hooked(watched)
    for item in watched[:-1]:
        threads.start(items.complete, item)
    wait_until(lambda: all(item.done() for item in watched[:-1]), what="all but the last done")
    assert not waiter.finished.is_set()  # still missing the last one
    assert live_hooks(watched[-1]) == 1
    items.complete(watched[-1])
    assert waiter.result() is True
    assert_nothing_left(watched)


def test_wait_all_times_out_with_false_and_unhooks(items: Items) -> None:
    watched = items.mix()
    items.finish(watched[0])
    items.finish(watched[2])
    assert run_bounded(lambda: wait_all(watched, 0.01)) is False
    assert_nothing_left(watched)
    items.finish(watched[1])
    assert wait_all(watched, 0.01) is True


# -- as_completed ------------------------------------------------------------------------------------


def test_as_completed_yields_those_done_first_in_order_then_in_completion_order(
    items: Items, threads: Threads
) -> None:
    watched = items.mix(KINDS * 2)
    items.finish(watched[3])
    items.finish(watched[1])
    pending = [watched[i] for i in (0, 2, 4, 5)]
    seen: list[Any] = []
    step = threading.Semaphore(0)

    def consume() -> None:
        for item in as_completed(watched, PATIENCE * 100):
            seen.append(item)
            step.release()

    consumer = threads.start(consume)
    for _ in range(2):
        assert step.acquire(timeout=PATIENCE)
    assert seen == [watched[1], watched[3]]  # done before: in the order given
    wait_hooked(pending)
    order = [watched[5], watched[0], watched[4], watched[2]]
    for count, item in enumerate(order, start=3):
        items.complete(item)
        assert step.acquire(timeout=PATIENCE)
        assert len(seen) == count
    consumer.result()
    assert seen == [watched[1], watched[3], *order]
    assert_nothing_left(watched)


def test_as_completed_raises_timeout_error_after_yielding_what_is_done(items: Items) -> None:
    watched = items.mix()
    items.finish(watched[1])
    gen = as_completed(watched, 0.01)
    assert run_bounded(lambda: next(gen)) is watched[1]
    with pytest.raises(TimeoutError, match="2 of 3"):
        run_bounded(lambda: next(gen))
    assert_nothing_left(watched)
    with pytest.raises(StopIteration):
        next(gen)  # a generator that raised is finished


def test_as_completed_counts_its_timeout_from_the_call(items: Items, monkeypatch: pytest.MonkeyPatch) -> None:
    # concurrent.futures.as_completed documents "timeout seconds from the original call".  A fake
    # clock: if the deadline were taken at the first step instead, that step would block (and hang).
    clock = [1000.0]
    internals.fake_clock(monkeypatch, clock)
    watched = items.mix()
    gen = as_completed(watched, 10)
    clock[0] += 11
    with pytest.raises(TimeoutError):
        run_bounded(lambda: next(gen))
    assert_nothing_left(watched)


def test_as_completed_yields_what_completed_in_time_however_slow_the_loop(
    items: Items, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What completed is yielded even if the loop only asks for it after the deadline; the
    # TimeoutError is for the items that did not complete.
    clock = [1000.0]
    internals.fake_clock(monkeypatch, clock)
    watched = items.mix()
    gen = as_completed(watched, 10)
    items.finish(watched[2])
    assert run_bounded(lambda: next(gen)) is watched[2]  # hooks are on from here on
    items.finish(watched[0])
    clock[0] += 11  # the loop body took its time
    assert run_bounded(lambda: next(gen)) is watched[0]
    with pytest.raises(TimeoutError, match="1 of 3"):
        run_bounded(lambda: next(gen))
    assert_nothing_left(watched)


def test_as_completed_hooks_nothing_until_iteration_starts(items: Items) -> None:
    watched = items.mix()
    gen = as_completed(watched)
    assert all(live_hooks(item) == 0 for item in watched)
    del gen  # never started: nothing to take off
    assert_nothing_left(watched)


@pytest.mark.parametrize("how", ["close", "del", "break"])
def test_as_completed_abandoned_half_way_unhooks(items: Items, how: str) -> None:
    watched = items.mix(KINDS * 2)
    items.finish(watched[2])
    pending = [item for item in watched if item is not watched[2]]
    if how == "break":

        def loop() -> None:
            for item in as_completed(watched):
                assert item is watched[2]
                assert all(live_hooks(other) == 1 for other in pending)
                break

        run_bounded(loop)
    else:
        gen = as_completed(watched)
        assert run_bounded(lambda: next(gen)) is watched[2]
        assert all(live_hooks(item) == 1 for item in pending)
        if how == "close":
            gen.close()
        else:
            del gen
    assert_nothing_left(watched)
    for item in pending:
        items.finish(item)  # late completions find nothing hooked, or only emptied hooks


def test_as_completed_of_items_all_done_yields_them_in_order(items: Items) -> None:
    watched = items.mix(KINDS * 2)
    for item in reversed(watched):
        items.finish(item)
    assert run_bounded(lambda: list(as_completed(watched, 0))) == watched
    assert_nothing_left(watched)


# -- checkpoints: kill and interrupts ----------------------------------------------------------------


@pytest.mark.parametrize("name", list(CALLS))
def test_kill_interrupts_a_greenthread_blocked_in_a_waiting_function(items: Items, name: str) -> None:
    watched = items.mix()
    if name == "as_completed":
        items.finish(watched[2])  # so that it blocks after a first step
    gt = spawn(CALLS[name], watched)
    wait_until(lambda: parked(gt), what=f"{name} to block in its checkpoint")
    run_bounded(gt.kill)
    with pytest.raises(GreenletExit):
        gt.wait()
    assert_nothing_left(watched)
    assert not watched[0].done() and not watched[1].done()
    # The items are untouched: a later wait on them works.
    items.complete(watched[0])
    assert wait_any(watched[:2], PATIENCE) is watched[0]


@pytest.mark.parametrize("name", list(CALLS))
def test_an_interrupt_of_a_blocked_thread_raises_there_and_unhooks(
    items: Items, threads: Threads, name: str
) -> None:
    watched = items.mix()
    body = Interruptible(lambda: CALLS[name](watched))
    worker = threads.start(body)
    wait_until(lambda: body.parked() and all(live_hooks(i) == 1 for i in watched), what="blocked")
    error = InterruptError("stop")
    assert body.state is not None
    internals.interrupt(body.state, error)
    assert worker.exception() is error
    assert_nothing_left(watched)


@pytest.mark.parametrize("name", list(CALLS))
def test_an_interrupt_pending_before_the_call_raises_even_if_an_item_is_done(items: Items, name: str) -> None:
    watched = items.mix()
    for item in watched:
        items.finish(item)
    error = InterruptError("pending")

    def body() -> Any:
        interrupt_this_thread(error)
        try:
            CALLS[name](watched)
        except InterruptError as exc:
            raised: BaseException | None = exc
        else:
            raised = None
        return raised, CALLS[name](watched)  # consumed: the next call works

    raised, again = run_bounded(body)
    assert raised is error
    assert again == {"wait_any": watched[0], "wait_all": True, "as_completed": watched}[name]


@pytest.mark.parametrize("after", [1, 3])
def test_every_step_of_as_completed_is_a_checkpoint(items: Items, after: int) -> None:
    # An interrupt that arrives while the loop body runs is raised at the next step, even when an
    # item is ready to be yielded there (after 1) or nothing has to be waited for yet.
    watched = items.mix()
    for item in watched:
        items.finish(item)
    error = InterruptError("between steps")
    pending_item = items.make("event")
    seen: list[Any] = []

    def body() -> None:
        state = internals.current_state(create=True)
        assert state is not None
        for item in as_completed([*watched, pending_item]):
            seen.append(item)
            if len(seen) == after:
                internals.interrupt(state, error)

    with pytest.raises(InterruptError) as raised:
        run_bounded(body)
    assert raised.value is error
    assert seen == watched[:after]
    assert_nothing_left([*watched, pending_item])


def test_a_spurious_wake_up_does_not_end_the_wait(
    items: Items, threads: Threads, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A release of the private lock without a completion (what a withdrawn interrupt leaves) sends
    # the waiter back to sleep.
    blocks: list[int] = []
    real_block = internals.real_block

    def counting_block(lock: Any, timeout: float) -> bool:
        blocks.append(threading.get_ident())
        return real_block(lock, timeout)

    internals.patch_block(monkeypatch, counting_block)
    watched = items.mix()
    body = Interruptible(lambda: wait_any(watched))
    worker = threads.start(body)
    # Counted in the waiting thread only: the greenthread items block too.
    wait_until(lambda: body.parked() and blocks.count(worker.ident) == 1, what="wait_any blocked")
    assert body.state is not None
    internals.wake_spuriously(body.state)
    wait_until(
        lambda: worker.finished.is_set() or (blocks.count(worker.ident) == 2 and body.parked()),
        what="blocked again",
    )
    assert not worker.finished.is_set(), worker.value
    items.complete(watched[2])
    assert worker.result() is watched[2]
    assert_nothing_left(watched)


def test_after_a_spurious_wake_up_only_the_rest_of_the_timeout_is_waited(
    items: Items, monkeypatch: pytest.MonkeyPatch
) -> None:
    timeouts = spurious_wake_up_9_s_into_the_wait(monkeypatch)
    watched = items.mix()
    assert wait_any(watched, 10.0) is None
    assert timeouts[0] == 10.0
    assert all(t <= 1.0 + 1e-9 for t in timeouts[1:]), timeouts
    assert_nothing_left(watched)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process")
@pytest.mark.parametrize(
    "call", ["wait_any([evt, fut])", "wait_all([evt, fut])", "list(as_completed([evt, fut]))"]
)
def test_ctrl_c_interrupts_a_waiting_main_thread_and_unhooks(call: str) -> None:
    code = f"""
    import json, signal, threading, time
    from concurrent.futures import Future
    from threadevent import Event
    from threadevent.waiting import as_completed, wait_all, wait_any

    # Python leaves SIGINT ignored if it was ignored at its start (a background job): undo that.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    evt, fut = Event(), Future()

    def announce():
        deadline = time.monotonic() + 60
        while not evt._callbacks:
            if time.monotonic() > deadline:
                print("never blocked", flush=True)
                return
            time.sleep(0.001)
        print("blocked", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    try:
        {call}
        outcome = "returned"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a SIGINT sent again comes late: ignore it
    print(json.dumps({{
        "outcome": outcome,
        "event": len(evt._callbacks or ()),
        "future": sum(cb.watch is not None for cb in fut._done_callbacks),
    }}), flush=True)
    """
    returncode, stdout, stderr = ctrl_c_child(code)
    assert returncode == 0, stderr
    assert json.loads(stdout) == {"outcome": "KeyboardInterrupt", "event": 0, "future": 0}


# -- races -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CALLS))
def test_completions_racing_the_registration_are_never_missed(
    items: Items, threads: Threads, name: str
) -> None:
    # Completers start just before the call, so items complete before, during and after the hooks go on.
    for _ in range(10):
        watched = items.mix(KINDS * 2)
        go = threading.Barrier(3)

        def complete_some(chosen: list[Any], go: threading.Barrier = go) -> None:
            go.wait(PATIENCE)
            for item in chosen:
                items.complete(item)

        completers = [threads.start(complete_some, watched[i::2]) for i in range(2)]
        go.wait(PATIENCE)
        outcome = CALLS[name](watched, PATIENCE * 100)
        for completer in completers:
            completer.result()
        if name == "wait_any":
            assert any(outcome is item for item in watched)
            assert outcome.done()
        elif name == "wait_all":
            assert outcome is True
            assert all(item.done() for item in watched)
        else:
            assert sorted(map(id, outcome)) == sorted(map(id, watched))  # each exactly once
        assert_nothing_left(watched)


@pytest.mark.parametrize("name", list(CALLS))
def test_timeouts_racing_completions_leave_nothing_behind(items: Items, threads: Threads, name: str) -> None:
    # Hooks may fire after the call returned: harmless, and nothing stays hooked.
    for round_number in range(10):
        watched = items.mix(KINDS * 2)
        timeout = 0.0002 * (round_number + 1)
        completer = threads.start(lambda watched=watched: [items.complete(item) for item in watched])
        try:
            outcome = CALLS[name](watched, timeout)
        except TimeoutError:
            assert name == "as_completed"
        else:
            if name == "wait_any":
                assert outcome is None or outcome.done()
            elif name == "wait_all":
                assert outcome in (True, False)
            else:
                assert sorted(map(id, outcome)) == sorted(map(id, watched))
        completer.result()
        assert_nothing_left(watched)


def test_many_threads_wait_on_the_same_items(items: Items, threads: Threads) -> None:
    watched = items.mix(KINDS * 2)
    waiters: list[Worker] = []
    for _ in range(4):
        waiters += [threads.start(wait_any, watched), threads.start(wait_all, watched)]
        waiters.append(threads.start(CALLS["as_completed"], watched))
    wait_hooked(watched, count=12)
    order = watched[:]
    random.shuffle(order)
    for item in order:
        threads.start(items.complete, item)
    for i, waiter in enumerate(waiters):
        outcome = waiter.result()
        if i % 3 == 0:
            assert any(outcome is item for item in watched)
        elif i % 3 == 1:
            assert outcome is True
        else:
            assert sorted(map(id, outcome)) == sorted(map(id, watched))
    assert_nothing_left(watched)


# -- white-box corners -------------------------------------------------------------------------------


def test_a_hook_deferred_by_a_thread_running_callbacks_is_not_waited_for(
    items: Items, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside a greenthread's callbacks, hooking onto a GreenThread already done defers the hook until
    # the callbacks in hand have run: a wait there must see the item done without its hook.  To get
    # there, the first done() check is made to miss the completion (as a completion landing just after
    # the check would).
    done_gt = items.make("greenthread")
    items.finish(done_gt)
    unseen = miss_the_first_look(monkeypatch, done_gt)
    outcome: list[Any] = []
    other = items.make("greenthread")
    items.finish(other)
    # ``other`` is done: its link runs at once, here, with this thread running callbacks.
    run_bounded(lambda: other.link(lambda _: outcome.append(wait_any([done_gt], PATIENCE * 100))))
    assert outcome == [done_gt]
    assert not unseen
    assert_nothing_left([done_gt])


def miss_the_first_look(monkeypatch: pytest.MonkeyPatch, target: Any) -> list[bool]:
    """Make the first ``target.done()`` answer False even though it is done: as if it completed just
    after that look.  Returns a flag list, emptied once the lie has been told."""
    unseen = [True]
    cls = type(target)
    real_done = cls.done

    def done(self: Any) -> bool:
        if self is target and unseen:
            unseen.pop()
            return False
        return real_done(self)  # type: ignore[no-any-return]

    monkeypatch.setattr(cls, "done", done)
    return unseen


@pytest.mark.parametrize("kind", KINDS)
def test_an_item_completing_between_the_check_and_the_hook_counts_once(
    items: Items, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # Both the hook (run at once on an item already done) and the look after hooking report it: it
    # must count once, or wait_all would stop short and as_completed would yield it twice.
    target = items.make(kind)
    other = items.make("event")
    items.finish(target)
    unseen = miss_the_first_look(monkeypatch, target)
    assert run_bounded(lambda: wait_all([target, other], 0.01)) is False
    assert not unseen
    unseen = miss_the_first_look(monkeypatch, target)
    assert run_bounded(lambda: drain([target, other], 0.01)) == ([target], True)
    assert not unseen
    assert_nothing_left([target, other])


def test_a_futures_spent_callback_keeps_nothing_alive(items: Items) -> None:
    # A Future keeps its callbacks for ever: they must not keep the call's state, or the other items,
    # alive.
    fut = items.make("future")
    evt = Event()
    ref = weakref.ref(evt)
    assert wait_any([fut, evt], 0.001) is None
    assert drain([fut, evt], 0.001) == ([], True)
    assert wait_all([evt, fut], 0.001) is False
    assert len(fut._done_callbacks) == 3  # type: ignore[attr-defined]
    del evt
    gc.collect()
    assert ref() is None
    items.complete(fut)  # the spent callbacks run, harmlessly
    assert wait_any([fut]) is fut


# -- properties --------------------------------------------------------------------------------------

kind_lists = st.lists(st.sampled_from(KINDS), min_size=1, max_size=6)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[str], list[int], list[int], list[int]]:
    """Kinds of the distinct items; the items as given (with repeats); those done before; the order
    in which the others complete (all of them, or only some)."""
    kinds = draw(kind_lists)
    n = len(kinds)
    given_order = draw(st.lists(st.integers(0, n - 1), min_size=n, max_size=2 * n))
    given_order += [i for i in range(n) if i not in given_order]  # every item at least once
    given_order = draw(st.permutations(given_order))
    done_before = draw(st.lists(st.integers(0, n - 1), unique=True))
    rest = [i for i in range(n) if i not in done_before]
    order = draw(st.permutations(rest))
    return kinds, list(given_order), done_before, list(order)


@given(scenarios())
def test_property_as_completed_yields_every_item_once_in_completion_order(
    scenario: tuple[list[str], list[int], list[int], list[int]],
) -> None:
    kinds, given_order, done_before, order = scenario
    with making() as made, threads_for_property() as threads:
        distinct = made.mix(kinds)
        for i in done_before:
            made.finish(distinct[i])
        watched = [distinct[i] for i in given_order]
        consumer = threads.start(CALLS["as_completed"], watched, PATIENCE * 100)
        later = [distinct[i] for i in order]
        wait_hooked(later)
        complete_in_order(made, later)
        seen = consumer.result()
        first_mentions = list(dict.fromkeys(given_order))
        expected_first = [distinct[i] for i in first_mentions if i in done_before]
        assert [id(item) for item in seen] == [id(item) for item in expected_first + later]
        assert_nothing_left(distinct)


@given(scenarios(), st.booleans())
def test_property_wait_any_returns_a_done_item(
    scenario: tuple[list[str], list[int], list[int], list[int]], complete_later: bool
) -> None:
    kinds, given_order, done_before, order = scenario
    with making() as made, threads_for_property() as threads:
        distinct = made.mix(kinds)
        for i in done_before:
            made.finish(distinct[i])
        watched = [distinct[i] for i in given_order]
        if done_before or not order or not complete_later:
            outcome = wait_any(watched, 0.001)
            if done_before:
                first_done = next(i for i in given_order if i in done_before)
                assert outcome is distinct[first_done]
            else:
                assert outcome is None
        else:
            waiter = threads.start(wait_any, watched, PATIENCE * 100)
            later = [distinct[i] for i in order]
            wait_hooked(later)
            complete_in_order(made, later)
            outcome = waiter.result()
            assert outcome is later[0]
        assert outcome is None or outcome.done()
        assert_nothing_left(distinct)


@given(scenarios(), st.integers(0, 6))
def test_property_wait_all_is_true_exactly_when_all_complete(
    scenario: tuple[list[str], list[int], list[int], list[int]], how_many_later: int
) -> None:
    kinds, given_order, done_before, order = scenario
    with making() as made, threads_for_property() as threads:
        distinct = made.mix(kinds)
        for i in done_before:
            made.finish(distinct[i])
        watched = [distinct[i] for i in given_order]
        later = [distinct[i] for i in order[:how_many_later]]
        everything = len(done_before) + len(later) == len(distinct)
        # Completed concurrently, with no regard for the hooks: racing the registration too.
        completer = threads.start(lambda: [made.complete(item) for item in later])
        outcome = wait_all(watched, PATIENCE * 100 if everything else 0.001)
        completer.result()
        assert outcome is everything
        assert_nothing_left(distinct)


@contextmanager
def threads_for_property() -> Iterator[Threads]:
    """The ``threads`` fixture for one hypothesis example (function-scoped fixtures are shared by all)."""
    started = Threads()
    try:
        yield started
    finally:
        started.join_all()
