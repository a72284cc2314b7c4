"""threadevent.lock against its contract (docs/design.md: "Lock() ... release() of an unlocked lock raises
RuntimeError, as threading.Lock", "usable wherever a threading.Lock is (including
threading.Condition(lock))", "acquire is a checkpoint", "fair").

What is checked: the lock as a ``threading.Lock`` (no owner: any thread releases it, a second acquire
by the holder waits for itself; ``RuntimeError`` for an unlocked release), as the lock of a
``threading.Condition`` between real threads, as a checkpoint (kill and Timeout reach a thread waiting
for it, which then holds nothing), and its fairness (the lock goes to the longest waiter).

Blocked acquirers are real threads: a test starts them one by one and waits (``wait_until``) for
``balance`` to count each; nothing is ordered with ``sleep`` and nothing asserts on elapsed time.  The
race of a release against a kill is run many times, every outcome accepted as long as the lock ends up
with exactly one owner or none; it is also made certain once, through the checkpoint seam of
``internals.py``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from conftest import (
    PATIENCE,
    Catch,
    Greenthreads,
    KillError,
    Threads,
    interrupt_this_thread,
    kill_parked,
    spawn_victim,
    storm_of_kills_and_timeouts,
    wait_until,
)

import threadevent
from threadevent import Event, GreenletExit, Timeout, sleep
from threadevent.lock import Lock

# -- helpers -------------------------------------------------------------------------------------------


def waiters_are(lock: Lock, count: int) -> None:
    """Wait until ``count`` threads are blocked in ``lock.acquire`` (the lock being held)."""
    wait_until(lambda: lock.balance == -count, what=f"{count} acquirers to block: {lock!r}")


# -- as a threading.Lock -------------------------------------------------------------------------------


def test_lock_is_exported_at_the_top_level() -> None:
    assert threadevent.Lock is Lock
    assert "Lock" in threadevent.__all__


def test_a_new_lock_is_unlocked_and_takes_no_value() -> None:
    lock = Lock()
    assert (lock.locked(), lock.counter, lock.balance) == (False, 1, 1)
    with pytest.raises(TypeError):
        Lock(2)  # type: ignore[call-arg]


def test_acquire_locks_it_and_release_unlocks_it() -> None:
    lock = Lock()
    assert lock.acquire() is True
    assert (lock.locked(), lock.counter, lock.balance) == (True, 0, 0)
    assert lock.acquire(blocking=False) is False
    assert lock.acquire(False) is False
    assert lock.release() is None
    assert (lock.locked(), lock.counter, lock.balance) == (False, 1, 1)
    assert lock.acquire(True, 0.01) is True
    lock.release()


def test_the_holder_acquiring_again_waits_for_itself_as_with_threading_lock() -> None:
    lock = Lock()
    lock.acquire()
    assert lock.acquire(timeout=0.01) is False
    assert lock.acquire(timeout=0) is False
    assert (lock.locked(), lock.balance) == (True, 0)
    lock.release()


@pytest.mark.parametrize("lock_class", [Lock, threading.Lock], ids=["threadevent", "threading"])
def test_releasing_an_unlocked_lock_raises_runtime_error_and_changes_nothing(lock_class: type[Any]) -> None:
    lock = lock_class()
    with pytest.raises(RuntimeError):
        lock.release()
    lock.acquire()
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
    assert not lock.locked()
    assert lock.acquire(blocking=False) is True
    assert lock.acquire(blocking=False) is False  # still a lock of one, not a semaphore of two
    lock.release()
    if lock_class is Lock:
        assert (lock.counter, lock.balance) == (1, 1)


def test_any_thread_may_release_it_as_it_has_no_owner(threads: Threads) -> None:
    lock = Lock()
    threads.start(lock.acquire).result()
    assert lock.locked()
    lock.release()
    assert not lock.locked()
    lock.acquire()
    threads.start(lock.release).result()
    assert not lock.locked()


def test_the_context_manager_unlocks_however_the_block_ends() -> None:
    lock = Lock()
    with lock as got:
        assert got is True and lock.locked()
    assert not lock.locked()
    with pytest.raises(KeyError), lock:
        raise KeyError("inside")
    assert not lock.locked() and lock.counter == 1


def test_timeouts_are_checked_as_the_stdlibs() -> None:
    lock = Lock()
    with pytest.raises(ValueError):
        lock.acquire(blocking=False, timeout=1)
    with pytest.raises(ValueError):
        threading.Lock().acquire(blocking=False, timeout=1)
    with pytest.raises(ValueError):
        lock.acquire(timeout=-5)
    with pytest.raises(ValueError):
        threading.Lock().acquire(timeout=-5)
    with pytest.raises(TypeError):
        lock.acquire(timeout="1")
    with pytest.raises(TypeError):
        threading.Lock().acquire(timeout="1")
    assert not lock.locked()


def test_repr_shows_whether_it_is_held_and_how_many_wait(threads: Threads) -> None:
    lock = Lock()
    assert repr(lock).startswith("<Lock at 0x") and repr(lock).endswith("counter=1 waiters=0>")
    lock.acquire()
    waiter = threads.start(lock.acquire)
    waiters_are(lock, 1)
    assert repr(lock).endswith("counter=0 waiters=1>")
    lock.release()
    assert waiter.result() is True
    lock.release()


# -- with threading.Condition --------------------------------------------------------------------------


def test_a_condition_on_it_hands_items_between_real_threads(threads: Threads) -> None:
    lock = Lock()
    cond = threading.Condition(lock)
    items: list[int] = []
    inside = threading.Event()

    def consumer() -> int:
        with cond:
            inside.set()
            while not items:
                cond.wait()
            assert lock.locked()  # wait() took the lock back before returning
            return items.pop()

    worker = threads.start(consumer)
    assert inside.wait(PATIENCE)
    wait_until(lambda: not lock.locked(), what="the consumer to wait, its lock released")
    with cond:
        items.append(42)
        cond.notify()
    assert worker.result() == 42
    assert not lock.locked()


def test_a_condition_wait_with_a_timeout_returns_false_holding_the_lock_again() -> None:
    lock = Lock()
    cond = threading.Condition(lock)
    with cond:
        assert cond.wait(timeout=0.01) is False
        assert lock.locked()
        assert cond.wait_for(lambda: False, timeout=0.01) is False
        assert cond.wait_for(lambda: True, timeout=0.01) is True
        assert lock.locked()
    assert not lock.locked()


def test_a_condition_refuses_wait_and_notify_without_the_lock() -> None:
    lock = Lock()
    cond = threading.Condition(lock)
    with pytest.raises(RuntimeError):
        cond.wait(timeout=0.01)
    with pytest.raises(RuntimeError):
        cond.notify()
    assert not lock.locked()


def test_notify_all_wakes_every_waiter_of_the_condition(threads: Threads) -> None:
    lock = Lock()
    cond = threading.Condition(lock)
    state = {"go": False, "waiting": 0}

    def waiter() -> bool:
        with cond:
            state["waiting"] += 1
            return cond.wait_for(lambda: state["go"], timeout=PATIENCE)

    workers = [threads.start(waiter) for _ in range(5)]
    wait_until(lambda: state["waiting"] == 5 and not lock.locked(), what="five waiters")
    with cond:
        state["go"] = True
        cond.notify_all()
    assert [w.result() for w in workers] == [True] * 5
    assert not lock.locked()


def test_a_condition_ping_pong_between_two_threads_loses_no_turn(threads: Threads) -> None:
    lock = Lock()
    cond = threading.Condition(lock)
    turns = 500
    state = {"turn": 0}

    def player(me: int) -> int:
        played = 0
        for _ in range(turns):
            with cond:
                assert cond.wait_for(lambda: state["turn"] % 2 == me, timeout=PATIENCE)
                state["turn"] += 1
                played += 1
                cond.notify()
        return played

    first = threads.start(player, 0)
    second = threads.start(player, 1)
    assert (first.result(), second.result()) == (turns, turns)
    assert state["turn"] == 2 * turns and not lock.locked()


# -- fairness ------------------------------------------------------------------------------------------


def test_releases_hand_the_lock_to_the_waiters_in_the_order_they_blocked(threads: Threads) -> None:
    lock = Lock()
    lock.acquire()
    got: list[int] = []

    def acquirer(n: int) -> None:
        lock.acquire()
        got.append(n)

    for n in range(5):
        threads.start(acquirer, n)
        waiters_are(lock, n + 1)
    for served in range(1, 6):
        lock.release()
        wait_until(lambda n=served: len(got) == n, what=f"acquirer {served - 1} to get the lock")
        assert got == list(range(served))
        assert lock.locked()
    lock.release()
    assert not lock.locked()


def test_a_released_lock_goes_to_its_waiter_not_to_a_later_acquire(threads: Threads) -> None:
    lock = Lock()
    for _ in range(50):
        lock.acquire()
        waiter = threads.start(lock.acquire)
        waiters_are(lock, 1)
        lock.release()
        assert lock.acquire(blocking=False) is False  # the waiter's already, though it may not have run
        assert lock.locked() and lock.counter == 0
        assert waiter.result() is True
        lock.release()  # on the waiter's behalf
    assert not lock.locked()


# -- kill and Timeout ----------------------------------------------------------------------------------


def test_kill_of_a_greenthread_waiting_for_the_lock_leaves_it_with_its_holder(gts: Greenthreads) -> None:
    lock = Lock()
    lock.acquire()
    gt = gts.spawn(lock.acquire)
    waiters_are(lock, 1)
    sent = KillError("stop waiting")
    assert kill_parked(gt, sent) is sent
    assert (lock.locked(), lock.balance) == (True, 0)
    lock.release()
    assert (lock.locked(), lock.counter) == (False, 1)


@pytest.mark.parametrize("where", ["greenthread", "thread"])
def test_a_timeout_around_a_blocked_acquire_raises_and_takes_nothing(
    gts: Greenthreads, threads: Threads, where: str
) -> None:
    lock = Lock()
    lock.acquire()

    def body() -> bool:
        timeout = Timeout(0.01)
        try:
            with timeout:
                lock.acquire()
        except Timeout as exc:
            return exc is timeout
        return False

    raised = gts.spawn(body).wait(PATIENCE) if where == "greenthread" else threads.start(body).result()
    assert raised is True
    assert (lock.locked(), lock.balance) == (True, 0)
    lock.release()
    assert not lock.locked()


def test_a_pending_interrupt_is_raised_by_acquire_and_the_lock_stays_free(threads: Threads) -> None:
    lock = Lock()
    sent = KillError("pending")

    def body() -> None:
        interrupt_this_thread(sent)
        lock.acquire()

    assert threads.start(body).exception() is sent
    assert not lock.locked()


@pytest.mark.parametrize("queued_behind", [False, True], ids=["alone", "with a waiter behind"])
def test_the_lock_handed_to_a_waiter_as_it_is_killed_goes_on(
    monkeypatch: pytest.MonkeyPatch, gts: Greenthreads, catches: list[Catch], queued_behind: bool
) -> None:
    # The race made certain: the kill has woken the waiter, and before it can leave the line, release()
    # hands it the lock.  It dies without it: the lock goes to the next waiter, or is unlocked.
    lock = Lock()
    lock.acquire()
    victim, catch = spawn_victim(monkeypatch, catches, gts, lock.acquire)
    waiters_are(lock, 1)
    second = gts.spawn(lock.acquire) if queued_behind else None
    waiters_are(lock, 2 if queued_behind else 1)
    sent = KillError("as the lock comes")
    killing = catch.kill(gts, victim, sent)
    lock.release()
    assert lock.locked()  # handed over, not unlocked
    catch.let_go()
    killing.wait(PATIENCE)  # the kill returned: the victim has ended
    assert victim.exception() is sent
    if second is not None:
        assert second.wait(PATIENCE) is True
        assert (lock.locked(), lock.balance) == (True, 0)
        lock.release()
    assert (lock.locked(), lock.counter, lock.balance) == (False, 1, 1)
    with pytest.raises(RuntimeError):
        lock.release()


@pytest.mark.parametrize("queued_behind", [False, True], ids=["alone", "with a waiter behind"])
def test_a_release_and_a_kill_arriving_together_leave_one_owner_or_none(
    gts: Greenthreads, threads: Threads, queued_behind: bool
) -> None:
    # The real race, many times.  The victim holds the lock in a ``with`` block, so whether the kill
    # reached it before or after the lock did, it dies and the lock ends up with the waiter behind it,
    # or unlocked.
    for _ in range(150):
        lock = Lock()
        lock.acquire()

        def victim(lock: Lock = lock) -> None:
            with lock:
                Event().wait()  # never sent: only the kill ends it

        first = gts.spawn(victim)
        waiters_are(lock, 1)
        second = gts.spawn(lock.acquire) if queued_behind else None
        waiters_are(lock, 2 if queued_behind else 1)
        go = threading.Barrier(2)
        releasing = threads.start(lambda lock=lock, go=go: (go.wait(), lock.release()))
        go.wait()
        first.kill()
        releasing.result()
        assert isinstance(first.exception(), GreenletExit)
        if second is not None:
            assert second.wait(PATIENCE) is True
            assert (lock.locked(), lock.balance) == (True, 0)
            lock.release()
        assert (lock.locked(), lock.counter, lock.balance) == (False, 1, 1), f"{lock!r}"


# -- a storm -------------------------------------------------------------------------------------------


def test_a_storm_of_lockers_with_kills_and_timeouts_keeps_mutual_exclusion(gts: Greenthreads) -> None:
    lock = Lock()
    inside: set[int] = set()
    overlaps: list[set[int]] = []
    shared = {"n": 0}
    completed: list[int] = []

    def use(n: int) -> None:
        with lock:
            try:
                inside.add(n)
                if len(inside) > 1:
                    overlaps.append(set(inside))
                before = shared["n"]
                sleep(0)  # a checkpoint between the read and the write: a kill may land here
                shared["n"] = before + 1
                completed.append(n)
            finally:
                inside.discard(n)

    doomed = storm_of_kills_and_timeouts(gts, 20, use)
    assert not overlaps, f"two held the lock at once: {overlaps[:5]}"
    # Every increment that completed was made under the lock, so none was lost.  (A worker killed after
    # its write but before it recorded it is the one way to differ, by one per kill.)
    assert len(completed) <= shared["n"] <= len(completed) + len(doomed)
    assert completed
    assert (lock.locked(), lock.counter, lock.balance) == (False, 1, 1), f"{lock!r}"
