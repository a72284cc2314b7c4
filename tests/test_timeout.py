"""Timeout: eventlet's deadline, raised at threadevent's checkpoints, in greenthreads and plain threads.

Deadlines are made to have passed without sleeping "long enough": the one timer thread runs its calls in
deadline order, so a marker scheduled with ``hub.call_later`` for a later moment has run only after the
Timeout's own timer call has.  ``_passed(seconds)`` waits for such a marker; ``_passed_busy`` does too,
but in a plain ``threading.Event.wait``, which is not a checkpoint, as a thread busy elsewhere would.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import random
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from typing import Any

import internals
import pytest
from conftest import PATIENCE, Threads, wait_until

import threadevent
import threadevent.timeout
from threadevent import (
    Event,
    GreenletExit,
    GreenPile,
    GreenPool,
    Lock,
    Pool,
    Queue,
    Semaphore,
    Timeout,
    as_completed,
    hub,
    is_timeout,
    sleep,
    spawn,
    wait_all,
    wait_any,
    with_timeout,
    wrap_is_timeout,
)

SHORT = 0.01


def _marker(seconds: float) -> threading.Event:
    """A ``threading.Event`` the timer thread sets ``seconds`` from now, after every earlier deadline."""
    marker = threading.Event()
    hub.call_later(seconds, marker.set)
    return marker


def _passed(seconds: float) -> None:
    """Wait in a checkpoint until every deadline up to ``seconds`` from now has been handled."""
    reached = Event[None]()
    hub.call_later(seconds, reached.send)
    assert reached.wait(PATIENCE) is None
    assert reached.ready(), "the timer never reached the marker"


def _passed_busy(seconds: float) -> None:
    """The same, in a wait that is not a checkpoint (a thread busy in someone else's code)."""
    assert _marker(seconds).wait(PATIENCE), "the timer never reached the marker"


def _busy_until(moment: float) -> None:
    """Stay out of every checkpoint until the clock reaches ``moment`` (``time.monotonic()``), as code
    busy in a call threadevent cannot interrupt does; with the timer held, nothing fires meanwhile."""
    while time.monotonic() < moment:
        time.sleep(0.0005)


# -- what it raises -----------------------------------------------------------------------------------


def test_is_a_base_exception_raised_as_itself_at_a_blocked_wait() -> None:
    assert issubclass(Timeout, BaseException) and not issubclass(Timeout, Exception)
    with pytest.raises(Timeout) as info:
        with Timeout(SHORT) as timeout:
            Event().wait()
    assert info.value is timeout
    assert not timeout.pending


def test_exception_false_leaves_the_block_silently() -> None:
    reached_after = False
    with Timeout(SHORT, False):
        Event().wait()
        reached_after = True  # pragma: no cover - the wait never returns
    assert not reached_after


def test_exception_class_is_raised_as_an_instance_of_it() -> None:
    class Slow(Exception):
        pass

    with pytest.raises(Slow):
        with Timeout(SHORT, Slow):
            Event().wait()


def test_exception_instance_is_raised_itself() -> None:
    error = ValueError("too slow")
    with pytest.raises(ValueError) as info:
        with Timeout(SHORT, error):
            Event().wait()
    assert info.value is error


def test_none_seconds_never_fires() -> None:
    with Timeout(None) as timeout:
        assert not timeout.pending
        assert Event().wait(SHORT) is None
        _passed(SHORT)


def test_it_starts_when_made_as_in_eventlet() -> None:
    with internals.timer_held():  # pending until the timer gets to it, however slow this thread is
        timeout = Timeout(SHORT)
        assert timeout.pending
    try:
        with pytest.raises(Timeout) as info:
            Event().wait()
        assert info.value is timeout
    finally:
        timeout.cancel()


def test_zero_and_negative_seconds_fire_at_the_next_checkpoint() -> None:
    for seconds in (0, -1):
        with pytest.raises(Timeout):
            with Timeout(seconds):
                _passed_busy(0.001)  # not a checkpoint: nothing raised yet
                sleep(0)


def test_a_timeout_that_fired_raises_at_the_next_checkpoint_of_a_busy_thread() -> None:
    with pytest.raises(Timeout) as info:
        with Timeout(SHORT) as timeout:
            _passed_busy(SHORT * 2)
            assert not timeout.pending  # fired, not raised yet
            Event().wait(0)  # a checkpoint, even when it would not block
    assert info.value is timeout


def _full_pool(release: Event[None]) -> GreenPool:
    pool = GreenPool(1)
    pool.spawn(release.wait)
    return pool


def _pile_of(release: Event[None]) -> GreenPile[None]:
    pile = GreenPile[None](2)
    pile.spawn(release.wait)
    return pile


@pytest.mark.parametrize(
    "checkpoint",
    [
        pytest.param(lambda never: never.wait(), id="Event.wait"),
        pytest.param(lambda never: never.wait(PATIENCE * 10), id="Event.wait(timeout)"),
        pytest.param(lambda never: never.result(), id="Event.result"),
        pytest.param(lambda never: never.exception(), id="Event.exception"),
        pytest.param(lambda never: sleep(PATIENCE * 10), id="sleep"),
        pytest.param(lambda never: spawn(never.wait).wait(), id="GreenThread.wait"),
        pytest.param(lambda never: wait_any([never, Event()]), id="wait_any"),
        pytest.param(lambda never: wait_all([never], timeout=PATIENCE * 10), id="wait_all"),
        pytest.param(lambda never: list(as_completed([never, spawn(never.wait)])), id="as_completed"),
        pytest.param(lambda never: _full_pool(never).spawn(sum, []), id="GreenPool.spawn-full"),
        pytest.param(lambda never: _full_pool(never).spawn_n(sum, []), id="GreenPool.spawn_n-full"),
        pytest.param(lambda never: _full_pool(never).waitall(), id="GreenPool.waitall"),
        pytest.param(lambda never: list(_pile_of(never)), id="GreenPile-iteration"),
        pytest.param(lambda never: list(GreenPool(2).imap(lambda e: e.wait(), [never])), id="imap"),
    ],
)
def test_every_checkpoint_is_released(checkpoint: Any) -> None:
    never = Event[None]()  # not sent while the Timeout runs; sent at the end so nothing is left blocked
    try:
        with pytest.raises(Timeout) as info:
            with Timeout(SHORT) as timeout:
                checkpoint(never)
        assert info.value is timeout
    finally:
        never.send()


def test_a_timeout_of_the_caller_escapes_an_inline_spawn_even_as_an_exception() -> None:
    """A full pool's greenthread spawning into it runs the function inline; the caller's deadline, even
    one raising an ``Exception``, belongs to the caller, not to the inline greenthread's outcome."""

    class Late(Exception):
        pass

    pool = GreenPool(1)

    def outer() -> str:
        try:
            with Timeout(SHORT, Late):
                pool.spawn(Event().wait)  # runs inline: the pool is full of us
        except Late:
            return "the caller got it"
        return "swallowed"  # pragma: no cover

    assert pool.spawn(outer).wait() == "the caller got it"


# -- where it works ------------------------------------------------------------------------------------


def test_in_a_plain_thread(threads: Threads) -> None:
    def body() -> Timeout:
        with Timeout(SHORT) as timeout:
            try:
                Event().wait()
            except Timeout as exc:
                assert exc is timeout
                return exc
        raise AssertionError("not released")  # pragma: no cover

    assert isinstance(threads.start(body).result(), Timeout)


def test_in_a_greenthread() -> None:
    def body() -> str:
        with Timeout(SHORT, False):
            Event().wait()
        return "left the block"

    assert spawn(body).wait() == "left the block"


def test_escaping_a_greenthread_its_waiters_get_it() -> None:
    def body() -> None:
        with Timeout(SHORT):
            Event().wait()

    with pytest.raises(Timeout):
        spawn(body).wait()


def test_a_timeout_is_per_thread(threads: Threads) -> None:
    """A Timeout armed in one thread never interrupts another thread's waits."""
    release = Event[str]()
    waiter = threads.start(release.wait)
    wait_until(lambda: internals.waiters(release) == 1, what="the other thread blocks")
    with pytest.raises(Timeout):
        with Timeout(SHORT):
            Event().wait()
    _passed(SHORT)
    release.send("not interrupted")
    assert waiter.result() == "not interrupted"


def test_a_kill_still_works_inside_a_timeout_block() -> None:
    started = Event[None]()

    def body() -> None:
        with Timeout(PATIENCE * 10):
            started.send()
            Event().wait()

    greenthread = spawn(body)
    started.wait(PATIENCE)
    greenthread.kill()
    with pytest.raises(GreenletExit):
        greenthread.wait()


# -- never outside its block -------------------------------------------------------------------------


def test_never_fires_after_cancel_over_a_later_long_wait() -> None:
    timeout = Timeout(SHORT)
    timeout.cancel()
    assert not timeout.pending
    _passed(SHORT * 5)  # a checkpoint blocked well past the deadline: nothing raised


def test_never_fires_after_its_block_is_left_over_a_later_long_wait() -> None:
    with Timeout(SHORT) as timeout:
        pass
    assert not timeout.pending
    _passed(SHORT * 5)


def test_never_fires_after_its_block_is_left_by_an_error() -> None:
    with pytest.raises(KeyError):
        with Timeout(SHORT):
            raise KeyError("out")
    _passed(SHORT * 5)


def test_fired_but_not_raised_is_withdrawn_when_the_block_is_left() -> None:
    with Timeout(SHORT) as timeout:
        _passed_busy(SHORT * 2)  # it fires while the thread is elsewhere
        assert not timeout.pending
    sleep(0)  # a checkpoint after the block: must not raise it
    Event().wait(0)


def test_fired_but_not_raised_is_withdrawn_by_cancel() -> None:
    timeout = Timeout(SHORT)
    _passed_busy(SHORT * 2)
    timeout.cancel()
    sleep(0)


def test_armed_in_a_greenthread_that_ended_it_never_hits_the_workers_next_task() -> None:
    hub.configure(max_threads=1)  # the next task runs on the same worker thread
    leaked = spawn(Timeout, SHORT).wait()  # never cancelled: eventlet code sometimes does this
    assert not leaked.pending  # its greenthread has ended: it can never fire (its timer call still runs)
    marker_passed = spawn(_passed, SHORT * 5)
    marker_passed.wait()  # its checkpoint spans the leaked deadline and is not interrupted


def test_start_again_after_cancel_arms_afresh() -> None:
    timeout = Timeout(PATIENCE * 10)
    timeout.cancel()
    timeout.seconds = SHORT
    timeout._delay = SHORT
    timeout.start()
    try:
        with pytest.raises(Timeout):
            Event().wait()
    finally:
        timeout.cancel()


def test_starting_a_pending_one_again_raises_as_in_eventlet_and_changes_nothing() -> None:
    """eventlet's ``start()`` asserts that the Timeout is not pending ("to restart it, cancel it
    first"); here the check is explicit, so it holds under ``python -O`` too."""
    with internals.timer_held():  # it stays pending however slowly this thread runs
        timeout = Timeout(SHORT)
        with pytest.raises(AssertionError, match="already started; to restart it, cancel it first"):
            timeout.start()
        assert timeout.pending
    try:
        with pytest.raises(Timeout) as info:
            Event().wait()  # still the first arming, firing once
        assert info.value is timeout
        _passed(SHORT * 2)
    finally:
        timeout.cancel()


def test_starting_one_that_fired_arms_it_afresh_as_in_eventlet() -> None:
    timeout = Timeout(SHORT)
    try:
        with pytest.raises(Timeout):
            Event().wait()
        assert not timeout.pending
        with internals.timer_held():
            timeout.start()
            assert timeout.pending
        with pytest.raises(Timeout) as info:
            Event().wait()
        assert info.value is timeout
    finally:
        timeout.cancel()


def test_a_with_block_on_a_pending_timeout_keeps_its_deadline() -> None:
    timeout = Timeout(SHORT)
    with pytest.raises(Timeout):
        with timeout:  # pending: entered without a restart
            Event().wait()
    assert not timeout.pending


# -- armed by one thread at a time ----------------------------------------------------------------------


def test_entering_or_starting_one_armed_by_another_thread_raises(threads: Threads) -> None:
    armed = threading.Event()
    tried = threading.Event()

    def owner() -> str:
        with Timeout(PATIENCE * 10) as timeout:
            box.append(timeout)
            armed.set()
            tried.wait(PATIENCE)
            assert timeout.pending  # nothing changed
        return "left its block"

    box: list[Timeout] = []
    first = threads.start(owner)
    assert armed.wait(PATIENCE)
    timeout = box[0]
    try:
        with pytest.raises(RuntimeError, match=r"Timeout is already armed by thread 'worker-0'"):
            with timeout:
                pass  # pragma: no cover - never entered
        with pytest.raises(RuntimeError, match=r"already armed by thread"):
            timeout.start()
        assert timeout.pending
    finally:
        tried.set()
    assert first.result() == "left its block"
    with timeout:  # cancelled by its block's end: free for this thread now
        assert timeout.pending


def test_one_that_fired_but_was_not_raised_is_still_armed_in_its_thread(threads: Threads) -> None:
    """Its exception is pending there: arming it here would let that thread raise it later."""
    timeout = Timeout(SHORT)
    try:
        _passed_busy(SHORT * 2)  # fired, not raised: no checkpoint yet
        error = threads.start(timeout.start).exception()
        assert isinstance(error, RuntimeError)
    finally:
        timeout.cancel()
    sleep(0)  # withdrawn by the cancel: nothing pending here


def test_one_armed_by_a_greenthread_that_ended_can_be_armed_again() -> None:
    leaked = spawn(Timeout, PATIENCE * 10).wait()
    with pytest.raises(Timeout):
        with Timeout(SHORT, leaked):  # (an exception instance: not armed, only raised)
            Event().wait()
    leaked.start()  # its greenthread has ended, so it is no longer armed anywhere
    leaked.cancel()


def test_two_threads_starting_one_timeout_at_once_only_one_arms_it(threads: Threads) -> None:
    """The race: both threads find it unarmed at the same moment; the claim is atomic, so exactly one
    arms it and the other gets RuntimeError, each round."""
    rounds = 200
    timeout = Timeout(PATIENCE * 10)
    timeout.cancel()
    barrier = threading.Barrier(2)
    outcomes: list[list[str]] = [[], []]

    def contender(me: int) -> None:
        for _ in range(rounds):
            barrier.wait(PATIENCE)
            try:
                timeout.start()
                outcomes[me].append("armed")
            except RuntimeError:
                outcomes[me].append("refused")
            barrier.wait(PATIENCE)
            if outcomes[me][-1] == "armed":
                timeout.cancel()
            barrier.wait(PATIENCE)

    workers = [threads.start(contender, me) for me in (0, 1)]
    for worker in workers:
        worker.result()
    for first, second in zip(*outcomes, strict=True):
        assert sorted((first, second)) == ["armed", "refused"]


# -- nesting ----------------------------------------------------------------------------------------


def test_nested_inner_shorter_fires_only_in_its_own_block() -> None:
    with Timeout(PATIENCE * 10) as outer:
        with pytest.raises(Timeout) as info:
            with Timeout(SHORT) as inner:
                Event().wait()
        assert info.value is inner
        assert outer.pending
        _passed(SHORT * 2)


def test_nested_inner_longer_the_outer_fires_and_the_inner_is_cancelled() -> None:
    with pytest.raises(Timeout) as info:
        with Timeout(SHORT) as outer:
            with Timeout(PATIENCE * 10) as inner:
                Event().wait()
    assert info.value is outer
    assert not inner.pending
    _passed(SHORT * 2)


@pytest.mark.parametrize("outer_first", [True, False], ids=["outer-fires-first", "inner-fires-first"])
def test_nested_both_passed_the_enclosing_one_is_raised(outer_first: bool) -> None:
    early, late = SHORT, SHORT * 2
    with pytest.raises(Timeout) as info:
        with Timeout(early if outer_first else late) as outer:
            with Timeout(late if outer_first else early):
                _passed_busy(late * 2)  # both fire while the thread is busy elsewhere
                sleep(0)
    assert info.value is outer


def test_a_silent_inner_does_not_swallow_the_outers() -> None:
    with pytest.raises(Timeout) as info:
        with Timeout(SHORT) as outer:
            with Timeout(PATIENCE * 10, False):
                Event().wait()
    assert info.value is outer


# -- with_timeout -------------------------------------------------------------------------------------


def test_with_timeout_returns_the_functions_value() -> None:
    assert with_timeout(PATIENCE, sum, [1, 2]) == 3
    _passed(SHORT)


def test_with_timeout_value_on_expiry() -> None:
    assert with_timeout(SHORT, Event().wait, timeout_value="late") == "late"


def test_with_timeout_raises_without_a_value() -> None:
    with pytest.raises(Timeout):
        with_timeout(SHORT, Event().wait)


def test_with_timeout_lets_an_outer_timeout_through() -> None:
    with pytest.raises(Timeout) as info:
        with Timeout(SHORT) as outer:
            with_timeout(PATIENCE * 10, Event().wait, timeout_value="inner's value")
    assert info.value is outer


# -- bad input, str, repr ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "exception", "error"),
    [
        ("1", None, TypeError),
        (True, None, TypeError),
        (float("nan"), None, ValueError),
        (1, "not an exception", TypeError),
        (1, int, TypeError),
    ],
)
def test_bad_arguments_raise_and_arm_nothing(seconds: Any, exception: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        Timeout(seconds, exception)
    assert internals.pending_interrupts() == 0


@pytest.mark.parametrize("seconds", [10**400, math.inf, threading.TIMEOUT_MAX * 2])
def test_a_deadline_beyond_any_clock_never_fires(seconds: float) -> None:
    # Regression: Timeout(10**400) raised a bare OverflowError, while wait, sleep and spawn_after
    # take the same value as "for ever".
    with Timeout(seconds):
        assert Event().wait(0.01) is None


def test_str_and_repr() -> None:
    assert str(Timeout()) == ""
    with Timeout(5) as five, Timeout(1, False) as one:
        assert str(five) == "5 seconds"
        assert str(one) == "1 second (silent)"
        assert "pending" in repr(five) and "seconds=5" in repr(five)
    assert "pending" not in repr(five)
    with Timeout(2, ValueError) as custom:  # it starts when made: the block cancels it
        assert "ValueError" in str(custom)
    assert Timeout().is_timeout


# -- races --------------------------------------------------------------------------------------------


def test_expire_never_replaces_a_pending_kill_or_an_outer_deadline() -> None:
    state = internals.ThreadState()
    kill = GreenletExit()
    internals.interrupt(state, kill)
    internals.expire(state, Timeout(), rank=5, owner=None)
    assert state.pending is kill
    with state.lock:
        state.take()
    outer, inner = Timeout(), Timeout()
    internals.expire(state, inner, rank=7, owner=None)
    internals.expire(state, outer, rank=3, owner=None)
    assert state.pending is outer
    internals.expire(state, inner, rank=7, owner=None)
    assert state.pending is outer
    with state.lock:
        state.take()


def test_deadlines_racing_sends_and_block_exits(threads: Threads) -> None:
    """Each wait ends with the value or its own Timeout, never hangs, and no Timeout escapes its block.

    The deadlines are tiny, so they fire at every moment: before the wait, during it, as the send lands,
    as the block is left.  A Timeout raised outside its block shows as a checkpoint raising after it.
    """
    rounds = 300

    def one_thread(seed: int) -> tuple[int, int]:
        rng = random.Random(seed)
        values = timeouts = 0
        for i in range(rounds):
            evt = Event[int]()
            spawn(lambda e=evt, i=i: e.send(i)) if rng.random() < 0.5 else hub.call_later(
                rng.random() * 0.001, lambda e=evt, i=i: e.send(i)
            )
            try:
                with Timeout(rng.random() * 0.001) as timeout:
                    got = evt.wait()
                assert got == i
                values += 1
            except Timeout as exc:
                assert exc is timeout
                timeouts += 1
            try:
                sleep(0)
                Event().wait(0)
            except Timeout as exc:  # pragma: no cover - the bug this test is for
                raise AssertionError(f"a Timeout fired outside its block: {exc!r}") from None
            assert evt.wait(PATIENCE) == i  # the send itself is never lost
        return values, timeouts

    workers = [threads.start(one_thread, seed) for seed in range(8)]
    totals = [w.result(PATIENCE * 4) for w in workers]
    assert sum(v + t for v, t in totals) == rounds * len(workers)


def test_released_and_precise_under_python_O() -> None:
    """The checks hold without asserts, and a Timeout still releases a blocked wait under -O."""
    code = textwrap.dedent(
        """
        from threadevent import Event, Timeout
        try:
            Timeout("1")
        except TypeError:
            pass
        else:
            raise SystemExit("no TypeError")
        with Timeout(0.01, False):
            Event().wait()
        pending = Timeout(60)
        try:
            pending.start()  # eventlet's assert, explicit: it holds without asserts too
        except AssertionError:
            pass
        else:
            raise SystemExit("restarted a pending Timeout")
        pending.cancel()
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=PATIENCE
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


# -- a late timer thread: the checkpoint checks the deadline itself -----------------------------------
#
# The race (issue 15): under load the timer thread is scheduled late, while the waiting thread's own
# wait ends on time (timed out, or woken); a wait that then returned normally would let the block run
# past its deadline, e.g. ``with Timeout(d): sleep(2 * d)`` running the sleep to its end.  Here the
# timer thread is held (``internals.timer_held``), so it is certainly late: only the checkpoint itself
# can raise the Timeout.

LONGER = SHORT * 2  # a wait that ends after the deadline, whatever the load: lock waits never end early


def _held_lock() -> Lock:
    lock = Lock()
    lock.acquire()
    return lock


def _full_queue() -> Queue[int]:
    queue: Queue[int] = Queue(1)
    queue.put(0)
    return queue


@pytest.mark.parametrize(
    "timed_wait",
    [
        pytest.param(lambda never: sleep(LONGER), id="sleep"),
        pytest.param(lambda never: never.wait(LONGER), id="Event.wait"),
        pytest.param(lambda never: never.result(LONGER), id="Event.result"),
        pytest.param(lambda never: spawn(never.wait).wait(LONGER), id="GreenThread.wait"),
        pytest.param(lambda never: Queue[int]().get(timeout=LONGER), id="Queue.get"),
        pytest.param(lambda never: _full_queue().put(1, timeout=LONGER), id="Queue.put-full"),
        pytest.param(lambda never: Semaphore(0).acquire(timeout=LONGER), id="Semaphore.acquire"),
        pytest.param(lambda never: _held_lock().acquire(timeout=LONGER), id="Lock.acquire"),
        pytest.param(lambda never: wait_any([never], timeout=LONGER), id="wait_any"),
        pytest.param(lambda never: wait_all([never], timeout=LONGER), id="wait_all"),
    ],
)
def test_a_wait_timing_out_past_the_deadline_raises_though_the_timer_is_late(timed_wait: Any) -> None:
    never = Event[None]()
    try:
        with internals.timer_held():
            with pytest.raises(Timeout) as info:
                with Timeout(SHORT) as timeout:
                    timed_wait(never)
            assert info.value is timeout
    finally:
        never.send()


def test_the_issue_example_sleep_twice_the_deadline() -> None:
    """``with Timeout(0.05): sleep(0.1)`` raises, however late the timer thread runs."""
    with internals.timer_held():
        started = time.monotonic()
        with pytest.raises(Timeout):
            with Timeout(0.05):
                sleep(0.1)
    assert time.monotonic() - started >= 0.05  # it did wait: raised at the end of the wait, not before


@pytest.fixture
def woken_late(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[], object]], Callable[[], None]]:
    """``woken_late(action)``: what a waker thread runs to wake the calling thread past its deadline.

    It waits until the calling thread is blocked in its checkpoint, then moves threadevent's clock past
    every deadline, then runs ``action``.  The clock is a fake one (``internals.fake_clock``): on a loaded
    machine the real deadline could pass before the thread even blocks, and a wait that raises before it
    blocks is not the case under test.
    """
    clock = [time.monotonic()]
    internals.fake_clock(monkeypatch, clock)
    state = internals.current_state(create=True)
    assert state is not None

    def make(action: Callable[[], object]) -> Callable[[], None]:
        def waker() -> None:
            wait_until(lambda: internals.parked(state), what="the waiter to block")
            clock[0] += PATIENCE  # the deadline has passed; the timer thread is held and says nothing
            action()

        return waker

    return make


Waker = Callable[[Callable[[], object]], Callable[[], None]]


def test_a_wait_woken_past_the_deadline_raises_and_the_send_stays(
    threads: Threads, woken_late: Waker
) -> None:
    evt = Event[str]()
    with internals.timer_held():
        with pytest.raises(Timeout):
            with Timeout(SHORT):
                threads.start(woken_late(lambda: evt.send("late")))
                evt.wait()
    assert evt.wait(0) == "late"


def test_a_greenthread_wait_woken_past_the_deadline_raises(threads: Threads, woken_late: Waker) -> None:
    gate = Event[str]()
    greenthread = spawn(gate.wait)
    with internals.timer_held():
        with pytest.raises(Timeout):
            with Timeout(SHORT):
                threads.start(woken_late(lambda: gate.send("done")))
                greenthread.wait()
    assert greenthread.wait(PATIENCE) == "done"


def test_a_semaphore_acquire_woken_past_the_deadline_raises_and_passes_the_permit_on(
    threads: Threads, woken_late: Waker
) -> None:
    sem = Semaphore(0)
    with internals.timer_held():
        with pytest.raises(Timeout):
            with Timeout(SHORT):
                threads.start(woken_late(sem.release))
                sem.acquire()
    assert sem.acquire(blocking=False)  # the permit it was handed is not lost


def test_a_pool_get_woken_past_the_deadline_raises_and_the_item_goes_back(
    threads: Threads, woken_late: Waker
) -> None:
    pool = Pool[str](max_size=1, create=lambda: "item")
    item = pool.get()
    with internals.timer_held():
        with pytest.raises(Timeout):
            with Timeout(SHORT):
                threads.start(woken_late(lambda: pool.put(item)))
                pool.get()
    assert pool.free() == 1


def test_a_full_greenpool_spawn_woken_past_the_deadline_raises_and_the_slot_goes_on(
    threads: Threads, woken_late: Waker
) -> None:
    release = Event[None]()
    pool = GreenPool(1)
    pool.spawn(release.wait)
    with internals.timer_held():
        with pytest.raises(Timeout):
            with Timeout(SHORT):
                threads.start(woken_late(release.send))
                pool.spawn(sum, [])
    pool.waitall()
    assert pool.free() == 1


def test_a_queue_get_woken_past_the_deadline_keeps_its_item(
    threads: Threads, woken_late: Waker, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A get handed an item keeps it (a queue never passes an item on: a later one would overtake it);
    the Timeout is left for the next checkpoint, and the block ends first: nothing raised, nothing
    lost, and no warning (a checkpoint saw the deadline)."""
    internals.forget_warned_sites(monkeypatch)
    caplog.set_level(logging.WARNING, logger="threadevent")
    queue: Queue[str] = Queue()
    with internals.timer_held():
        with Timeout(SHORT):
            threads.start(woken_late(lambda: queue.put("item")))
            got = queue.get()
        sleep(0)
        Event().wait(0)
    assert got == "item"
    assert _warnings(caplog) == []


def test_a_deadline_passed_before_the_wait_raises_without_blocking() -> None:
    with internals.timer_held():
        with pytest.raises(Timeout):
            with Timeout(SHORT):
                _busy_until(time.monotonic() + SHORT)
                Event().wait(PATIENCE)  # before the fix: waits it out, the timer being held


def test_sleep_0_past_the_deadline_raises_though_the_timer_is_late() -> None:
    """eventlet's idiom for a busy loop that lets a Timeout in: ``sleep(0)`` between steps."""
    with internals.timer_held():
        with pytest.raises(Timeout):
            with Timeout(SHORT):
                give_up = time.monotonic() + SHORT + 1.0
                while time.monotonic() < give_up:  # a busy loop, past the deadline after SHORT
                    sleep(0)


def test_fired_by_the_checkpoint_it_is_raised_once_though_the_timer_fires_later() -> None:
    timeout = Timeout(SHORT)  # no ``with``: nothing cancels it when it is raised
    try:
        with internals.timer_held():
            with pytest.raises(Timeout):
                sleep(LONGER)
            assert not timeout.pending
        _passed(SHORT * 3)  # the timer's own call for it runs meanwhile: not raised again
    finally:
        timeout.cancel()


def test_late_timer_both_nested_deadlines_passed_the_enclosing_one_is_raised() -> None:
    with internals.timer_held():
        with pytest.raises(Timeout) as info:
            with Timeout(SHORT) as outer:
                with Timeout(SHORT / 2):
                    sleep(LONGER)
    assert info.value is outer


def test_late_timer_a_pending_kill_goes_first() -> None:
    kill = GreenletExit()
    with internals.timer_held():
        with pytest.raises(GreenletExit) as info:
            with Timeout(SHORT):
                _busy_until(time.monotonic() + SHORT)
                internals.interrupt(internals.current_state(create=True), kill)  # as kill() does
                sleep(LONGER)
    assert info.value is kill


# -- never silent: a block that ran past its deadline unseen says where it is -------------------------


def _warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "threadevent" and r.levelno == logging.WARNING]


@pytest.fixture
def warnings_seen(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> Callable[[], list[str]]:
    """The messages of the warnings logged on ``threadevent`` so far; every line warns afresh."""
    internals.forget_warned_sites(monkeypatch)
    caplog.set_level(logging.WARNING, logger="threadevent")
    return lambda: [r.getMessage() for r in _warnings(caplog)]


def _line() -> int:
    """The caller's current line."""
    return sys._getframe(1).f_lineno


@pytest.mark.parametrize("timer", ["on time", "late"])
def test_a_block_that_ran_past_its_deadline_unseen_warns_naming_its_with_statement(
    timer: str, warnings_seen: Callable[[], list[str]]
) -> None:
    """The block spends the time where no checkpoint is (``time.sleep``, here a loop of them): the
    timer fires (or, late, does not even fire) and nothing raises.  The warning names the ``with``."""
    held = internals.timer_held() if timer == "late" else _no_hold()
    with held:
        line = _line() + 1
        with Timeout(SHORT):
            _busy_until(time.monotonic() + SHORT)
    (message,) = warnings_seen()
    assert f"{__file__}:{line}" in message
    assert "Timeout(0.01)" in message and "past the deadline and no checkpoint raised it" in message
    sleep(0)  # and nothing is left pending


class _no_hold:
    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc_info: object) -> None:
        pass


def test_it_warns_once_per_with_statement(warnings_seen: Callable[[], list[str]]) -> None:
    lines = []
    for _ in range(3):
        lines.append(_line() + 1)
        with Timeout(0):
            _busy_until(time.monotonic() + 0.001)
    assert len(warnings_seen()) == 1
    with Timeout(0):  # another line: its own warning
        _busy_until(time.monotonic() + 0.001)
    assert len(warnings_seen()) == 2


def test_left_by_its_own_error_after_the_deadline_it_warns(warnings_seen: Callable[[], list[str]]) -> None:
    """e.g. a socket read that timed out on its own, long after the Timeout's deadline."""
    with pytest.raises(TimeoutError):
        with Timeout(SHORT):
            _busy_until(time.monotonic() + SHORT)
            raise TimeoutError("timed out")
    assert len(warnings_seen()) == 1


@pytest.mark.parametrize(
    "block",
    [
        pytest.param("raised", id="raised-by-a-checkpoint"),
        pytest.param("raised-and-caught", id="raised-caught-inside-then-overran"),
        pytest.param("silent", id="exception-False-fired"),
        pytest.param("in-time", id="left-before-the-deadline"),
        pytest.param("error-in-time", id="left-by-an-error-before-the-deadline"),
        pytest.param("cancelled", id="cancelled-inside-then-overran"),
        pytest.param("outer", id="inner-passed-but-the-outer-was-raised"),
        pytest.param("never", id="seconds-None"),
    ],
)
def test_no_warning_when_a_checkpoint_saw_it_or_the_block_ended_in_time(
    block: str, warnings_seen: Callable[[], list[str]]
) -> None:
    if block == "raised":
        with pytest.raises(Timeout):
            with Timeout(SHORT):
                Event().wait()
    elif block == "raised-and-caught":
        with Timeout(SHORT):
            with pytest.raises(Timeout):
                Event().wait()
            _busy_until(time.monotonic() + SHORT)
    elif block == "silent":
        with Timeout(SHORT, False):
            Event().wait()
    elif block == "in-time":
        with Timeout(PATIENCE):
            pass
    elif block == "error-in-time":
        with pytest.raises(KeyError):
            with Timeout(PATIENCE):
                raise KeyError("out")
    elif block == "cancelled":
        with Timeout(SHORT) as timeout:
            timeout.cancel()
            _busy_until(time.monotonic() + SHORT)
    elif block == "outer":
        with internals.timer_held(), pytest.raises(Timeout):
            with Timeout(SHORT):
                with Timeout(SHORT):  # passes too, but the enclosing one is raised
                    _busy_until(time.monotonic() + SHORT)
                    sleep(0.001)
    else:
        with Timeout(None):
            _busy_until(time.monotonic() + SHORT)
    assert warnings_seen() == []


def test_with_timeout_that_ran_past_unseen_warns_naming_its_call(
    warnings_seen: Callable[[], list[str]],
) -> None:
    def overrun() -> None:
        _busy_until(time.monotonic() + SHORT)  # the clock read inside: past the deadline at the end

    line = _line() + 1
    assert with_timeout(SHORT, overrun, timeout_value="late") is None
    (message,) = warnings_seen()
    assert f"{__file__}:{line}" in message


def test_start_and_cancel_by_hand_never_warn(warnings_seen: Callable[[], list[str]]) -> None:
    timeout = Timeout(SHORT)
    _busy_until(time.monotonic() + SHORT)
    timeout.cancel()
    assert warnings_seen() == []


# -- is_timeout, wrap_is_timeout ---------------------------------------------------------------------------


class _Marked:
    def __init__(self, mark: object) -> None:
        self.is_timeout = mark


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(Timeout(), True, id="Timeout"),
        pytest.param(Timeout(None, ValueError), True, id="Timeout-with-exception"),
        pytest.param(socket.timeout("timed out"), True, id="socket.timeout"),  # noqa: UP041
        pytest.param(TimeoutError(), True, id="TimeoutError"),
        pytest.param(_Marked(True), True, id="is_timeout-attribute"),
        pytest.param(_Marked("yes"), True, id="truthy-attribute"),
        pytest.param(_Marked(0), False, id="falsy-attribute"),
        pytest.param(ValueError("no"), False, id="ValueError"),
        pytest.param(OSError(), False, id="OSError"),
        pytest.param(None, False, id="None"),
        pytest.param(GreenletExit(), False, id="GreenletExit"),
    ],
)
def test_is_timeout_as_eventlet(obj: object, expected: bool) -> None:
    assert is_timeout(obj) is expected


def test_is_timeout_of_results_own_expiry_and_futures() -> None:
    with pytest.raises(TimeoutError) as info:
        Event().result(0)
    assert is_timeout(info.value)
    # The same class as the builtin from Python 3.11 on; before, eventlet does not count it either.
    assert is_timeout(concurrent.futures.TimeoutError()) is (sys.version_info >= (3, 11))


def test_exported_from_the_package_and_the_module() -> None:
    for name in ("is_timeout", "wrap_is_timeout", "with_timeout", "Timeout"):
        assert getattr(threadevent, name) is getattr(threadevent.timeout, name)
        assert name in threadevent.__all__ and name in threadevent.timeout.__all__


def test_wrap_is_timeout_marks_a_class_in_place() -> None:
    class Slow(Exception):
        pass

    class Slower(Slow):
        pass

    assert wrap_is_timeout(Slow) is Slow  # as eventlet: ``except Slow`` elsewhere still matches
    assert Slow("x").is_timeout is True and is_timeout(Slow()) and is_timeout(Slower())
    with pytest.raises(AttributeError):
        Slow().is_timeout = False  # type: ignore[misc]  # read-only, as eventlet's property


def test_wrap_is_timeout_of_a_builtin_class() -> None:
    """eventlet fails here (TypeError: cannot set 'is_timeout' attribute of immutable type), which
    broke ``wrap_is_timeout(socket.timeout)`` from Python 3.10 on."""
    assert wrap_is_timeout(socket.timeout) is socket.timeout  # a TimeoutError: is_timeout already holds
    wrapped = wrap_is_timeout(ValueError)
    assert wrapped is not ValueError and issubclass(wrapped, ValueError)
    assert wrapped.__name__ == "ValueError"
    assert is_timeout(wrapped("late")) and wrapped("late").is_timeout
    assert not is_timeout(ValueError())
    with pytest.raises(ValueError):
        raise wrapped("caught as a ValueError")


def test_wrap_is_timeout_wraps_a_factory() -> None:
    def make_error(why: str) -> OSError:
        """Make an OSError."""
        return OSError(why)

    wrapped = wrap_is_timeout(make_error)
    assert wrapped.__name__ == "make_error" and wrapped.__doc__ == "Make an OSError."
    error = wrapped("no answer")
    assert isinstance(error, OSError) and error.args == ("no answer",)
    assert error.is_timeout is True and is_timeout(error)
    assert not is_timeout(make_error("plain"))


@pytest.mark.parametrize("bad", [42, "socket.timeout", None])
def test_wrap_is_timeout_refuses_what_is_neither_class_nor_callable(bad: Any) -> None:
    with pytest.raises(TypeError, match="wrap_is_timeout"):
        wrap_is_timeout(bad)


# -- with_timeout, the rest of eventlet's ---------------------------------------------------------------


def test_with_timeout_passes_arguments_and_returns_the_value_even_with_timeout_value() -> None:
    def add(a: int, b: int = 0, *, c: int = 0) -> int:
        return a + b + c

    assert with_timeout(PATIENCE, add, 1, 2, c=3, timeout_value="late") == 6
    # eventlet's own test: the function finishing in time returns its value (None here), not the flag
    flag = object()
    assert with_timeout(PATIENCE, sleep, 0.001, timeout_value=flag) is None


def test_with_timeout_value_none_is_returned_not_raised() -> None:
    assert with_timeout(SHORT, Event().wait, timeout_value=None) is None


def test_with_timeout_the_functions_error_propagates_and_the_deadline_is_cancelled() -> None:
    def fail() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError):
        with_timeout(SHORT, fail, timeout_value="late")
    _passed(SHORT * 3)  # the deadline never fires afterwards


def test_with_timeout_none_never_fires() -> None:
    assert with_timeout(None, Event().wait, SHORT, timeout_value="late") is None


def test_with_timeout_another_timeout_raised_inside_is_not_the_value() -> None:
    other = Timeout()

    def raise_other() -> None:
        raise other

    with pytest.raises(Timeout) as info:
        with_timeout(PATIENCE, raise_other, timeout_value="late")
    assert info.value is other
