"""threadevent.semaphore against its contract (docs/design.md: "Semaphore(value=1), BoundedSemaphore,
CappedSemaphore", "acquire is a checkpoint", "fair"), and eventlet's Semaphore where the contract is silent.

What is checked: the counting (``counter``, ``balance``, ``locked()``, ``bounded()``), the timeouts (as
the stdlib's), that an acquire ending without a permit (timeout, kill, Timeout) holds none, that a permit
handed to a waiter interrupted at that moment goes on to the next waiter or back to the counter, and
that the line is fair: a release goes to the longest waiter, never to a later acquire.

Blocked acquirers are real threads: a test starts them one by one and waits (``wait_until``) for
``balance`` to count each, so their order in line is known; nothing is ordered with ``sleep`` and
nothing asserts on elapsed time.  A race that is real (a permit and a kill arriving together) is run
many times and every outcome is accepted, as long as the count comes out whole; the same race is also
made certain once, by holding the interrupted thread between its wake-up and its reaction to it (the
checkpoint seam of ``internals.py``).
"""

from __future__ import annotations

import math
import random
import threading
from typing import Any

import pytest
from conftest import (
    PATIENCE,
    Catch,
    Greenthreads,
    Index,
    KillError,
    Threads,
    interrupt_this_thread,
    kill_parked,
    run_bounded,
    spawn_victim,
    storm_of_kills_and_timeouts,
    wait_until,
)

import threadevent
from threadevent import GreenletExit, Timeout, sleep
from threadevent.semaphore import BoundedSemaphore, CappedSemaphore, Semaphore

# -- helpers -------------------------------------------------------------------------------------------


def balance_is(sem: Any, expected: int, what: str = "") -> None:
    """Wait until ``sem.balance`` reaches ``expected``: the blocked acquirers have taken their place."""
    wait_until(lambda: sem.balance == expected, what=what or f"balance to reach {expected}: {sem!r}")


# -- construction and bad values -----------------------------------------------------------------------


def test_the_semaphores_are_exported_at_the_top_level() -> None:
    assert threadevent.Semaphore is Semaphore
    assert threadevent.BoundedSemaphore is BoundedSemaphore
    assert threadevent.CappedSemaphore is CappedSemaphore
    assert {"Semaphore", "BoundedSemaphore", "CappedSemaphore"} <= set(threadevent.__all__)


@pytest.mark.parametrize("cls", [Semaphore, BoundedSemaphore])
def test_the_value_defaults_to_one_and_takes_ints_and_index_objects(cls: type[Semaphore]) -> None:
    assert cls().counter == 1
    assert cls(0).counter == 0
    assert cls(value=5).counter == 5
    sem = cls(Index(3))  # type: ignore[arg-type]
    assert sem.counter == 3 and type(sem.counter) is int
    assert [sem.acquire(blocking=False) for _ in range(4)] == [True, True, True, False]


@pytest.mark.parametrize(
    ("value", "error"),
    [(-1, ValueError), (Index(-2), ValueError), (True, TypeError), (False, TypeError), (1.0, TypeError),
     ("1", TypeError), (None, TypeError), ([1], TypeError)],
)  # fmt: skip
def test_bad_values_are_rejected_naming_the_argument(value: Any, error: type[Exception]) -> None:
    for cls in (Semaphore, BoundedSemaphore):
        with pytest.raises(error, match="value"):
            cls(value)
    with pytest.raises(error, match="count"):
        CappedSemaphore(value, 5)
    with pytest.raises(error, match="limit"):
        CappedSemaphore(0, value)


def test_a_capped_count_above_its_limit_is_rejected() -> None:
    with pytest.raises(ValueError, match="count"):
        CappedSemaphore(3, 2)
    sem = CappedSemaphore(Index(2), Index(2))  # type: ignore[arg-type]
    assert sem.acquire(blocking=False) and sem.acquire(blocking=False) and not sem.acquire(blocking=False)


# -- acquire, release, counter, balance, locked --------------------------------------------------------


@pytest.mark.parametrize("cls", [Semaphore, BoundedSemaphore])
def test_acquire_takes_permits_until_none_is_left_and_release_gives_them_back(cls: type[Semaphore]) -> None:
    sem = cls(2)
    assert (sem.counter, sem.balance, sem.locked()) == (2, 2, False)
    assert sem.acquire() is True
    assert (sem.counter, sem.balance, sem.locked()) == (1, 1, False)
    assert sem.acquire(blocking=False) is True
    assert (sem.counter, sem.balance, sem.locked()) == (0, 0, True)
    assert sem.acquire(blocking=False) is False
    assert sem.acquire(timeout=0.01) is False
    assert (sem.counter, sem.balance, sem.locked()) == (0, 0, True)
    assert sem.release() is None
    assert (sem.counter, sem.balance, sem.locked()) == (1, 1, False)
    sem.release(blocking=False)  # eventlet's argument: accepted, changes nothing
    assert (sem.counter, sem.balance) == (2, 2)


def test_a_plain_semaphore_can_be_released_above_its_initial_value() -> None:
    sem = Semaphore(1)
    assert sem.bounded() is False
    sem.release()
    sem.release()
    assert (sem.counter, sem.balance) == (3, 3)
    assert [sem.acquire(blocking=False) for _ in range(4)] == [True, True, True, False]


def test_a_semaphore_of_zero_is_locked_from_the_start_and_opens_with_a_release() -> None:
    sem = Semaphore(0)
    assert sem.locked() and (sem.counter, sem.balance) == (0, 0)
    assert sem.acquire(blocking=False) is False
    sem.release()
    assert not sem.locked()
    assert sem.acquire(blocking=False) is True


@pytest.mark.parametrize("cls", [Semaphore, BoundedSemaphore])
def test_the_context_manager_acquires_and_releases_however_the_block_ends(cls: type[Semaphore]) -> None:
    sem = cls(1)
    with sem as got:
        assert got is True
        assert (sem.counter, sem.locked()) == (0, True)
    assert (sem.counter, sem.locked()) == (1, False)
    with pytest.raises(KeyError), sem:
        assert sem.counter == 0
        raise KeyError("inside")
    assert (sem.counter, sem.balance) == (1, 1)


def test_balance_counts_blocked_acquirers_as_releases_owed(threads: Threads) -> None:
    sem = Semaphore(1)
    sem.acquire()
    assert sem.balance == 0
    waiters = []
    for n in range(1, 4):
        waiters.append(threads.start(sem.acquire, name=f"acquirer-{n}"))
        balance_is(sem, -n)
        assert sem.counter == 0 and sem.locked()
    for n in range(3):
        sem.release()
        assert waiters[n].result() is True
        assert (sem.counter, sem.balance) == (0, n - 2)
    sem.release()
    assert (sem.counter, sem.balance, sem.locked()) == (1, 1, False)


def test_locked_is_true_while_anyone_waits_even_if_the_count_is_up_for_grabs(threads: Threads) -> None:
    # The permit a release hands to a waiter is the waiter's: the counter stays at 0, and the semaphore
    # stays locked for everyone else.
    sem = Semaphore(0)
    waiter = threads.start(sem.acquire)
    balance_is(sem, -1)
    sem.release()
    assert sem.counter == 0 and sem.locked()
    assert waiter.result() is True
    assert sem.counter == 0 and sem.locked()


def test_repr_shows_the_counter_and_the_waiters(threads: Threads) -> None:
    sem = BoundedSemaphore(1)
    assert repr(sem).startswith("<BoundedSemaphore at 0x") and "counter=1 waiters=0>" in repr(sem)
    sem.acquire()
    waiter = threads.start(sem.acquire)
    balance_is(sem, -1)
    assert "counter=0 waiters=1>" in repr(sem)
    sem.release()
    assert waiter.result() is True


# -- timeouts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("timeout", [0.01, 0, 0.0])
def test_an_acquire_that_times_out_returns_false_and_holds_nothing(threads: Threads, timeout: float) -> None:
    sem = Semaphore(0)
    assert sem.acquire(timeout=timeout) is False
    assert (sem.counter, sem.balance) == (0, 0)
    # No ticket was left in line to swallow the next permit: it is counted, and a waiter behind gets it.
    sem.release()
    assert (sem.counter, sem.balance) == (1, 1)
    assert sem.acquire(timeout=timeout) is True
    waiter = threads.start(sem.acquire)
    balance_is(sem, -1)
    sem.release()
    assert waiter.result() is True and (sem.counter, sem.balance) == (0, 0)


def test_an_acquire_with_a_timeout_returns_true_when_a_permit_comes_in_time(threads: Threads) -> None:
    sem = Semaphore(0)
    waiter = threads.start(lambda: sem.acquire(timeout=PATIENCE))
    balance_is(sem, -1)
    sem.release()
    assert waiter.result() is True
    assert (sem.counter, sem.balance) == (0, 0)


def test_a_permit_released_as_the_timeout_passes_is_kept_not_lost(
    monkeypatch: pytest.MonkeyPatch, threads: Threads, catches: list[Catch]
) -> None:
    # The waiter's wait has timed out, but before it takes the semaphore's lock to leave the line, a
    # release hands it the permit: the acquire then succeeds (it holds the permit) rather than returning
    # False with the permit gone to nobody.
    sem = Semaphore(0)
    catch = Catch(monkeypatch, lambda: threading.current_thread().name == "timed", when="timed out")
    catches.append(catch)
    waiter = threads.start(lambda: sem.acquire(timeout=0.01), name="timed")
    catch.wait_caught()
    assert sem.balance == -1  # timed out, still in line
    sem.release()
    assert (sem.counter, sem.balance) == (0, 0)  # handed to the waiter
    catch.let_go()
    assert waiter.result() is True
    assert (sem.counter, sem.balance) == (0, 0)
    sem.release()
    assert (sem.counter, sem.balance) == (1, 1)


@pytest.mark.parametrize("timeout", [1, 0.5, 0, Index(1)])
def test_a_timeout_with_blocking_false_is_a_value_error(timeout: Any) -> None:
    sem = Semaphore(1)
    with pytest.raises(ValueError, match="non-blocking"):
        sem.acquire(blocking=False, timeout=timeout)
    with pytest.raises(ValueError, match="non-blocking"):
        sem.acquire(False, timeout)
    assert (sem.counter, sem.balance) == (1, 1)


@pytest.mark.parametrize("timeout", [-0.5, -2, -1.5, -math.inf, math.nan])
def test_a_negative_timeout_other_than_minus_one_is_a_value_error(timeout: float) -> None:
    sem = Semaphore(1)
    with pytest.raises(ValueError, match="timeout"):
        sem.acquire(timeout=timeout)
    assert (sem.counter, sem.balance) == (1, 1)


@pytest.mark.parametrize("timeout", ["1", b"1", [], object(), Index(1)])
def test_a_timeout_that_is_not_a_number_is_a_type_error(timeout: Any) -> None:
    sem = Semaphore(1)
    with pytest.raises(TypeError, match="timeout"):
        sem.acquire(timeout=timeout)
    assert (sem.counter, sem.balance) == (1, 1)


@pytest.mark.parametrize("timeout", [None, -1, -1.0, 1e100, math.inf, 10**400])
def test_minus_one_none_and_timeouts_beyond_any_wait_mean_for_ever(threads: Threads, timeout: Any) -> None:
    sem = Semaphore(0)
    waiter = threads.start(lambda: sem.acquire(timeout=timeout))
    wait_until(lambda: sem.balance == -1 or waiter.finished.is_set(), what="the acquirer to block")
    assert not waiter.finished.is_set(), f"acquire(timeout={timeout!r}) returned {waiter.value!r} at once"
    sem.release()
    assert waiter.result() is True
    assert (sem.counter, sem.balance) == (0, 0)


def test_minus_one_with_blocking_false_means_no_timeout_as_threading_lock_takes_it() -> None:
    sem = Semaphore(1)
    assert sem.acquire(False, -1) is True
    assert sem.acquire(blocking=False, timeout=-1) is False
    assert threading.Lock().acquire(False, -1) is True  # the stdlib's behaviour that this mirrors


# -- BoundedSemaphore ----------------------------------------------------------------------------------


def test_a_bounded_release_above_the_initial_value_raises_and_changes_nothing() -> None:
    sem = BoundedSemaphore(2)
    assert sem.bounded() is True
    with pytest.raises(ValueError, match="released too many times"):
        sem.release()
    assert (sem.counter, sem.balance) == (2, 2)
    sem.acquire()
    sem.release()
    with pytest.raises(ValueError):
        sem.release()
    assert (sem.counter, sem.balance) == (2, 2)
    sem.acquire()
    sem.acquire()
    sem.release()
    sem.release()
    with pytest.raises(ValueError):
        sem.release()
    assert (sem.counter, sem.balance) == (2, 2)


def test_a_bounded_semaphore_of_zero_refuses_every_release_as_the_stdlibs() -> None:
    sem = BoundedSemaphore(0)
    with pytest.raises(ValueError):
        sem.release()
    with pytest.raises(ValueError):
        threading.BoundedSemaphore(0).release()
    assert (sem.counter, sem.balance) == (0, 0)


def test_a_bounded_release_hands_the_permit_to_a_waiter(threads: Threads) -> None:
    sem = BoundedSemaphore(1)
    sem.acquire()
    waiter = threads.start(sem.acquire)
    balance_is(sem, -1)
    sem.release()  # not above the initial value: the waiter's permit
    assert waiter.result() is True
    assert (sem.counter, sem.balance) == (0, 0)
    sem.release()  # the waiter's release
    with pytest.raises(ValueError):
        sem.release()
    assert (sem.counter, sem.balance) == (1, 1)


# -- CappedSemaphore -----------------------------------------------------------------------------------


def test_a_capped_semaphore_counts_between_zero_and_its_limit() -> None:
    sem = CappedSemaphore(1, 2)
    assert (sem.locked(), sem.bounded()) == (False, False)
    assert sem.release() is True  # count 2: at the limit
    assert (sem.locked(), sem.bounded()) == (False, True)
    assert sem.release(blocking=False) is False
    assert sem.acquire() is True
    assert sem.acquire(blocking=False) is True  # count 0
    assert (sem.locked(), sem.bounded()) == (True, False)
    assert sem.acquire(blocking=False) is False
    assert sem.acquire(timeout=0.01) is False
    assert sem.release(blocking=False) is True
    assert sem.release(blocking=False) is True
    assert sem.release(blocking=False) is False


def test_capped_balance_is_eventlets_lower_less_upper_balance(threads: Threads) -> None:
    # eventlet: lower_bound.balance - upper_bound.balance, lower_bound = Semaphore(count) and
    # upper_bound = Semaphore(limit - count).
    assert CappedSemaphore(0, 0).balance == 0
    assert CappedSemaphore(1, 3).balance == 1 - 2
    assert CappedSemaphore(3, 3).balance == 3 - 0
    sem = CappedSemaphore(0, 1)
    assert sem.balance == 0 - 1
    acquirer = threads.start(sem.acquire)
    balance_is(sem, -1 - 1)  # the blocked acquirer counts on the lower side
    sem.release()
    assert acquirer.result() is True
    assert sem.balance == 0 - 1
    full = CappedSemaphore(1, 1)
    assert full.balance == 1 - 0
    releaser = threads.start(full.release)
    balance_is(full, 1 - (-1))  # the blocked releaser counts on the upper side
    assert full.acquire() is True
    assert releaser.result() is True
    assert full.balance == 1 - 0


def test_a_capped_release_at_the_limit_waits_until_an_acquire_makes_room(threads: Threads) -> None:
    sem = CappedSemaphore(2, 2)
    releasers = []
    for n in range(1, 3):
        releasers.append(threads.start(sem.release, name=f"releaser-{n}"))
        balance_is(sem, 2 + n)
    assert sem.acquire() is True
    assert releasers[0].result() is True  # the first to block is the first to go
    assert sem.balance == 2 + 1 and sem.bounded()
    assert sem.acquire() is True
    assert releasers[1].result() is True
    assert sem.balance == 2 and sem.bounded()
    assert [sem.acquire(blocking=False) for _ in range(3)] == [True, True, False]


def test_a_capped_acquire_at_zero_waits_for_a_release(threads: Threads) -> None:
    sem = CappedSemaphore(0, 2)
    acquirer = threads.start(lambda: sem.acquire(timeout=PATIENCE))
    balance_is(sem, -1 - 2)
    assert sem.release() is True
    assert acquirer.result() is True
    assert (sem.locked(), sem.bounded(), sem.balance) == (True, False, -2)


def test_a_capped_acquire_with_a_timeout_and_blocking_false_is_a_value_error() -> None:
    sem = CappedSemaphore(1, 1)
    with pytest.raises(ValueError):
        sem.acquire(blocking=False, timeout=1)
    with pytest.raises(ValueError):
        sem.acquire(timeout=-3)
    with pytest.raises(TypeError):
        sem.acquire(timeout="soon")
    assert sem.balance == 1 and sem.acquire(blocking=False)


def test_the_capped_context_manager_acquires_and_releases_however_the_block_ends() -> None:
    sem = CappedSemaphore(1, 1)
    with sem as got:
        assert got is True and sem.locked()
    assert not sem.locked() and sem.bounded()
    with pytest.raises(KeyError), sem:
        raise KeyError("inside")
    assert not sem.locked() and sem.bounded()
    assert repr(sem).startswith("<CappedSemaphore at 0x") and repr(sem).endswith("balance=1>")


@pytest.mark.parametrize("side", ["acquire", "release"])
@pytest.mark.parametrize("interrupt", ["kill", "Timeout"])
def test_a_greenthread_blocked_on_either_side_of_a_capped_semaphore_can_be_interrupted(
    gts: Greenthreads, side: str, interrupt: str
) -> None:
    # acquire waits while the count is 0, release while it is at the limit: both are checkpoints, and
    # either one interrupted leaves the count as it was.
    sem = CappedSemaphore(0, 0) if side == "acquire" else CappedSemaphore(1, 1)
    before = sem.balance
    blocked_balance = before - 1 if side == "acquire" else before + 1
    call = getattr(sem, side)

    def body() -> Any:
        if interrupt == "Timeout":
            with Timeout(0.01):
                return call()
        return call()

    gt = gts.spawn(body)
    if interrupt == "kill":
        balance_is(sem, blocked_balance)
        sent = KillError("stop")
        assert kill_parked(gt, sent) is sent
    else:
        assert isinstance(gt.exception(PATIENCE), Timeout)
    assert sem.balance == before
    if side == "acquire":
        assert sem.locked() and not sem.acquire(blocking=False)
    else:
        assert sem.bounded() and not sem.release(blocking=False)
        assert sem.acquire(blocking=False) and not sem.acquire(blocking=False)


# -- fairness ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Semaphore, BoundedSemaphore])
def test_releases_wake_blocked_acquirers_in_the_order_they_blocked(threads: Threads, cls: type[Any]) -> None:
    sem = cls(1)
    sem.acquire()
    got: list[int] = []

    def acquirer(n: int) -> None:
        sem.acquire()
        got.append(n)

    for n in range(6):
        threads.start(acquirer, n, name=f"acquirer-{n}")
        balance_is(sem, -1 - n)  # it has taken its place in line before the next one starts
    for served in range(1, 7):
        sem.release()
        wait_until(lambda n=served: len(got) == n, what=f"acquirer {served - 1} to get its permit")
        assert got == list(range(served))  # one permit at a time, so only the longest waiter can run
        assert sem.balance == served - 6
    sem.release()
    assert (sem.counter, sem.balance) == (1, 1)


def test_a_release_goes_to_the_waiter_and_not_to_a_later_acquire(threads: Threads) -> None:
    # The test thread releases and then at once tries to take the permit back, before the woken waiter
    # has had a chance to run: an unfair semaphore (count the permit, notify the waiter) would let it.
    sem = Semaphore(1)
    for _ in range(50):
        sem.acquire()
        waiter = threads.start(sem.acquire)
        balance_is(sem, -1)
        sem.release()
        assert sem.acquire(blocking=False) is False
        assert sem.acquire(timeout=0) is False
        assert waiter.result() is True
        assert (sem.counter, sem.balance) == (0, 0)
        sem.release()
    assert (sem.counter, sem.balance) == (1, 1)


def test_an_acquire_with_a_timeout_queues_behind_the_blocked_ones(threads: Threads) -> None:
    sem = Semaphore(0)
    first = threads.start(sem.acquire, name="first")
    balance_is(sem, -1)
    later = threads.start(lambda: sem.acquire(timeout=PATIENCE), name="later")
    balance_is(sem, -2)
    sem.release()
    assert first.result() is True
    assert not later.finished.is_set() and sem.balance == -1
    sem.release()
    assert later.result() is True


# -- kill and Timeout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Semaphore, BoundedSemaphore])
def test_kill_of_a_greenthread_blocked_in_acquire_holds_no_permit(gts: Greenthreads, cls: type[Any]) -> None:
    sem = cls(1)
    sem.acquire()
    gt = gts.spawn(sem.acquire)
    balance_is(sem, -1)
    sent = KillError("stop waiting")
    assert kill_parked(gt, sent) is sent
    assert (sem.counter, sem.balance) == (0, 0)
    sem.release()  # counted, not handed to the dead acquirer
    assert (sem.counter, sem.balance) == (1, 1)


def test_kill_of_the_longest_waiter_passes_its_place_to_the_next(gts: Greenthreads) -> None:
    sem = Semaphore(0)
    first = gts.spawn(sem.acquire)
    balance_is(sem, -1)
    second = gts.spawn(sem.acquire)
    balance_is(sem, -2)
    run_bounded(first.kill)
    assert isinstance(first.exception(), GreenletExit)
    assert sem.balance == -1
    sem.release()
    assert second.wait(PATIENCE) is True
    assert (sem.counter, sem.balance) == (0, 0)


@pytest.mark.parametrize("where", ["greenthread", "thread"])
def test_a_timeout_around_a_blocked_acquire_raises_and_holds_no_permit(
    gts: Greenthreads, threads: Threads, where: str
) -> None:
    sem = Semaphore(1)
    sem.acquire()

    def body() -> tuple[bool, bool | None]:
        timeout = Timeout(0.01)
        try:
            with timeout:
                sem.acquire()
        except Timeout as exc:
            raised = exc is timeout
        else:
            raised = False
        with Timeout(0.01, False):
            return raised, sem.acquire()
        return raised, None  # the silent Timeout ended the block

    outcome = gts.spawn(body).wait(PATIENCE) if where == "greenthread" else threads.start(body).result()
    assert outcome == (True, None)
    assert (sem.counter, sem.balance) == (0, 0)
    sem.release()
    assert (sem.counter, sem.balance) == (1, 1)


@pytest.mark.parametrize("blocking", [True, False])
def test_a_pending_interrupt_is_raised_by_acquire_even_with_a_permit_free(
    threads: Threads, blocking: bool
) -> None:
    # acquire is a checkpoint on every path: an interrupt waiting to be raised (a kill held back, a
    # Timeout expired while the thread was busy) is raised there, and the permit stays free.
    sem = Semaphore(1)
    sent = KillError("pending")

    def body() -> None:
        interrupt_this_thread(sent)
        sem.acquire(blocking)

    assert threads.start(body).exception() is sent
    assert (sem.counter, sem.balance) == (1, 1)


@pytest.mark.parametrize("cls", [Semaphore, BoundedSemaphore])
@pytest.mark.parametrize("queued_behind", [False, True], ids=["alone", "with a waiter behind"])
def test_a_permit_handed_to_an_acquirer_as_it_is_killed_goes_on(
    monkeypatch: pytest.MonkeyPatch,
    gts: Greenthreads,
    catches: list[Catch],
    cls: type[Any],
    queued_behind: bool,
) -> None:
    # The race made certain: the kill has woken the acquirer, and before it can leave the line a
    # release hands it the permit.  It dies holding nothing; the permit goes to the next waiter, or back
    # to the counter.
    sem = cls(1)
    sem.acquire()
    victim, catch = spawn_victim(monkeypatch, catches, gts, sem.acquire)
    balance_is(sem, -1)
    second = gts.spawn(sem.acquire) if queued_behind else None
    balance_is(sem, -2 if queued_behind else -1)
    sent = KillError("as the permit comes")
    killing = catch.kill(gts, victim, sent)
    sem.release()  # the victim is still first in line: the permit is handed to it
    assert sem.counter == 0
    catch.let_go()
    killing.wait(PATIENCE)  # the kill returned: the victim has ended
    assert victim.exception() is sent
    if second is not None:
        assert second.wait(PATIENCE) is True
        assert (sem.counter, sem.balance) == (0, 0)
        sem.release()
    assert (sem.counter, sem.balance) == (1, 1)


@pytest.mark.parametrize("queued_behind", [False, True], ids=["alone", "with a waiter behind"])
def test_a_permit_and_a_kill_arriving_together_conserve_the_count(
    gts: Greenthreads, threads: Threads, queued_behind: bool
) -> None:
    # The real race, many times: a release and a kill of the longest waiter start at the same moment.
    # The victim holds its permit in a ``with`` block, so whether the kill reached it before or after the
    # permit did, it dies and the permit ends up with the waiter behind it, or back in the counter.
    rounds = 150
    outcomes = {"before": 0, "after": 0}
    for _ in range(rounds):
        sem = Semaphore(1)
        sem.acquire()
        entered: list[bool] = []

        def victim(sem: Semaphore = sem, entered: list[bool] = entered) -> None:
            with sem:
                entered.append(True)
                threadevent.Event().wait()  # never sent: only the kill ends it

        first = gts.spawn(victim)
        balance_is(sem, -1)
        second = gts.spawn(sem.acquire) if queued_behind else None
        balance_is(sem, -2 if queued_behind else -1)
        go = threading.Barrier(2)
        releasing = threads.start(lambda sem=sem, go=go: (go.wait(), sem.release()))
        go.wait()
        first.kill()
        releasing.result()
        assert isinstance(first.exception(), GreenletExit)
        outcomes["after" if entered else "before"] += 1
        if second is not None:
            assert second.wait(PATIENCE) is True
            assert (sem.counter, sem.balance) == (0, 0)
            sem.release()
        assert (sem.counter, sem.balance) == (1, 1), f"the count came out wrong: {sem!r}"
    print(f"kill landed before / after the permit: {outcomes}")


def test_a_permit_and_a_timeout_arriving_together_conserve_the_count(gts: Greenthreads) -> None:
    # The same race with Timeouts of a few milliseconds against a release made as soon as the waiter is
    # in line: an acquire that timed out holds nothing, one that got the permit holds it.
    rng = random.Random()
    seed = rng.randrange(2**32)
    print(f"seed {seed}")
    rng.seed(seed)
    for _ in range(100):
        sem = Semaphore(1)
        sem.acquire()
        delay = rng.choice([0.0, 0.0005, 0.001, 0.002])

        def timed(sem: Semaphore = sem, delay: float = delay) -> bool:
            try:
                with Timeout(delay):
                    return sem.acquire()
            except Timeout:
                return False

        first = gts.spawn(timed)
        wait_until(lambda sem=sem, first=first: sem.balance == -1 or first.dead, what="the acquirer")
        second = gts.spawn(sem.acquire)
        sem.release()
        if first.wait(PATIENCE):
            sem.release()  # on the first's behalf: it held the permit
        assert second.wait(PATIENCE) is True
        assert (sem.counter, sem.balance) == (0, 0)
        sem.release()
        assert (sem.counter, sem.balance) == (1, 1)


# -- a storm -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [Semaphore, BoundedSemaphore])
@pytest.mark.parametrize("value", [1, 3])
def test_a_storm_of_acquirers_with_kills_and_timeouts_never_overfills_and_leaves_the_count_whole(
    gts: Greenthreads, cls: type[Any], value: int
) -> None:
    sem = cls(value)
    holding: set[int] = set()
    seen: list[int] = []

    def use(n: int) -> None:
        # Every interrupt it can get (one kill, its own Timeouts) lands at a checkpoint or, for the kill
        # of a busy greenthread, at a bytecode: in both cases inside the ``try``, or before the permit.
        with sem:
            try:
                holding.add(n)
                seen.append(len(holding))
                sleep(0)
            finally:
                holding.discard(n)

    storm_of_kills_and_timeouts(gts, 24, use)
    assert seen, "no worker ever held a permit"
    assert max(seen) <= value, f"{max(seen)} held a permit at once, of {value}"
    assert not holding
    assert (sem.counter, sem.balance) == (value, value), f"the count came out wrong: {sem!r}"
