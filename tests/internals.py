"""The tests' one seam into threadevent's internals.

Some properties cannot be seen through the public API: how many waits are blocked on an event, whether
a thread is parked inside a checkpoint right now, how a wait that must block hands off on one CPU.
Every test that needs to know goes through the helpers here, so that a change inside threadevent is
mended in this one file, not in every test that looked.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import monotonic
from typing import Any

import pytest

from threadevent import _checkpoint, _handoff, _parking, _timer, _waitable, hub, timeout, waiting
from threadevent._checkpoint import ThreadState, current_state, interrupt, release

#: Whether kills reach busy code asynchronously (not on CPython 3.13 and later).
ASYNC_KILLS = _checkpoint.ASYNC_KILLS

__all__ = [
    "ASYNC_KILLS",
    "HANDOFFS",
    "ThreadState",
    "current_state",
    "drop_pending_interrupt",
    "expire",
    "fake_clock",
    "forget_warned_sites",
    "handoff",
    "hooks",
    "interrupt",
    "nodes",
    "parked",
    "patch_block",
    "pending_interrupts",
    "real_block",
    "release",
    "timer_entries",
    "timer_held",
    "waiters",
]


def waiters(waitable: Any) -> int:
    """How many waits are blocked on an Event or GreenThread right now."""
    return _waitable.waiters(waitable)


def hooks(waitable: Any) -> int:
    """How many internal outcome hooks (``await``, the waiting functions) are on an Event or GreenThread."""
    return _waitable.hooks(waitable)


def nodes(evt: Any) -> list[Any]:
    """The nodes of the waits blocked on ``evt``, head first (each has the ``lock`` its thread sleeps on)."""
    found = []
    chain = evt._chain
    node = None if chain is None else chain.head
    while node is not None:
        found.append(node)
        node = node.next
    return found


def parked(target: Any) -> bool:
    """Whether a greenthread's function (or the thread owning a ThreadState) is blocked in a checkpoint."""
    state = target if isinstance(target, ThreadState) else target._state
    return state is not None and state.is_parked()


def pending_interrupts() -> int:
    """How many threads have an interrupt recorded and not yet raised."""
    return _checkpoint.PENDING[0]


def drop_pending_interrupt(state: ThreadState | None) -> None:
    """Withdraw an interrupt that arrived after its thread had stopped waiting, so none leaks."""
    if state is not None:
        with state.lock:
            state.take()


def wake_spuriously(state: ThreadState) -> None:
    """Release the lock a parked thread sleeps on, with no send and no interrupt behind it: what a
    withdrawn interrupt leaves behind."""
    with state.lock:
        assert state.parked is not None, "the thread is not parked"
        release(state.parked)


def expire(state: ThreadState, exc: BaseException, rank: int, owner: object = None) -> None:
    """Fire, in ``state``'s thread, a deadline raising ``exc`` armed with ``rank`` by ``owner``, as the
    timer thread does at a Timeout's moment."""
    _checkpoint.expire(state, _checkpoint.Deadline(monotonic(), exc, rank, owner))


@contextmanager
def timer_held() -> Iterator[None]:
    """Keep the hub's timer thread busy in one call until the block ends: every timer call that falls
    due meanwhile (a Timeout's deadline among them) runs late, as on a loaded machine where the timer
    thread is scheduled late."""
    holding = threading.Event()
    go = threading.Event()

    def hold() -> None:
        holding.set()
        go.wait(120.0)  # bounded, so that a test failing inside the block cannot hang the timer for good

    hub.call_later(0, hold)
    try:
        assert holding.wait(120.0), "the timer thread never ran the holding call"
        yield
    finally:
        go.set()


def forget_warned_sites(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every ``with Timeout`` line warn afresh during this test (each warns once per process)."""
    monkeypatch.setattr(timeout, "_warned", set())


def timer_entries() -> int:
    """How many calls the timer thread's heap holds (cancelled ones included until compaction)."""
    return len(hub._TIMER._heap)


def timer_alive() -> bool:
    """Whether the hub's timer thread is running (or being started)."""
    return hub._TIMER._alive


#: The real blocking call of every checkpoint, for replacements that wrap it.
real_block = _checkpoint.block


def patch_block(monkeypatch: pytest.MonkeyPatch, replacement: Callable[[Any, float], bool]) -> None:
    """Replace the checkpoint's blocking call everywhere threadevent waits (the seam through which
    interrupts arrive), for every thread: plain threads too go through it."""
    for module in (_checkpoint, _waitable, _parking):
        monkeypatch.setattr(module, "block", replacement)


def fake_clock(monkeypatch: pytest.MonkeyPatch, clock: list[float]) -> None:
    """Make every deadline threadevent computes read ``clock[0]`` instead of ``time.monotonic()``."""
    for module in (_waitable, _handoff, _parking, waiting, _checkpoint, timeout):
        monkeypatch.setattr(module, "monotonic", lambda: clock[0])


def patch_yield(monkeypatch: pytest.MonkeyPatch, sched_yield: Callable[[], object]) -> None:
    """Replace the CPU yield of a wait that yields before it blocks."""
    monkeypatch.setattr(_handoff, "sched_yield", sched_yield)


def patch_affinity(monkeypatch: pytest.MonkeyPatch, getaffinity: Callable[[int], set[int]] | None) -> None:
    """Replace ``os.sched_getaffinity`` as the hand-off policy sees it (None: the platform has none)."""
    monkeypatch.setattr(_handoff, "sched_getaffinity", getaffinity)


def set_policy(monkeypatch: pytest.MonkeyPatch, next_look: float, one_cpu: bool, credit: float) -> None:
    """Put the hand-off policy in a known state (restored after the test)."""
    policy = _handoff.POLICY
    for name, value in (("next_look", next_look), ("one_cpu", one_cpu), ("credit", credit)):
        monkeypatch.setattr(policy, name, value)


def policy() -> tuple[float, bool, float]:
    """The hand-off policy's state: when it looks at the CPUs next, whether it saw one CPU, the credit."""
    state = _handoff.POLICY
    return (state.next_look, state.one_cpu, state.credit)


YIELD_CREDIT = _handoff.YIELD_CREDIT
AFFINITY_CHECK_EVERY = _handoff.AFFINITY_CHECK_EVERY


#: The two ways a wait that must block can go: block at once (several CPUs), or first yield the CPU a
#: few times, which ``Event`` does when the process has one CPU.  Tests of waiting run under both.
HANDOFFS = ("block at once", "yield first")

#: The library's own yielding policy, as imported (``handoff`` replaces it during a test).
_YIELD_POLICY = {"YIELD_CREDIT": _handoff.YIELD_CREDIT, "YIELD_AT_MOST": _handoff.YIELD_AT_MOST}


@contextmanager
def handoff(mode: str) -> Iterator[None]:
    """Make every wait that must block go ``mode`` (one of ``HANDOFFS``), whatever the CPU count."""
    if mode not in HANDOFFS:
        raise ValueError(f"unknown hand-off {mode!r}")
    policy = _handoff.POLICY
    saved = (policy.next_look, policy.one_cpu, policy.credit), {
        name: getattr(_handoff, name) for name in _YIELD_POLICY
    }
    # The mode holds for the whole test: the CPU count is never looked at again, the credit of yielding
    # waits never runs out, and no yield is slow enough (on a loaded machine) to turn yielding off.
    policy.next_look, policy.one_cpu, policy.credit = math.inf, mode == "yield first", math.inf
    for name in _YIELD_POLICY:
        setattr(_handoff, name, math.inf)
    try:
        yield
    finally:
        policy.next_look, policy.one_cpu, policy.credit = saved[0]
        for name, value in saved[1].items():
            setattr(_handoff, name, value)


def restore_yield_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's own credit and slow-yield limit, for tests of that policy under ``handoff``."""
    for name, value in _YIELD_POLICY.items():
        monkeypatch.setattr(_handoff, name, value)


def callbacks(waitable: Any) -> int:
    """How many done-callbacks of any kind (links, hooks, the user's) wait to run on it."""
    return len(waitable._callbacks or ())


def has_chain(evt: Any) -> bool:
    """Whether an Event holds a chain of waiters (none may be left once the last waiter has gone)."""
    return evt._chain is not None


#: Cancelled timer entries are compacted away once there are more than this (and half the heap).
COMPACT_MIN = _timer.COMPACT_MIN


def thread_state(gt: Any) -> ThreadState | None:
    """The interrupt state of the thread a greenthread's function runs in, while it runs."""
    return gt._state  # type: ignore[no-any-return]


def slots_taken(pool: Any) -> int:
    """How many of a GreenPool's slots are counted as taken (members and spawners starting theirs)."""
    return pool._taken  # type: ignore[no-any-return]


def give_slot_back(pool: Any, member: Any) -> None:
    """Do what a member's done-callback does: drop ``member`` and give its slot back.  Hold ``pool._lock``."""
    pool._members.remove(member)
    pool._slot_back()


def live_future_hooks(future: Any) -> int:
    """How many callbacks of threadevent.waiting on a Future can still act (a Future keeps them all:
    the spent ones are emptied instead)."""
    with future._condition:
        found = list(future._done_callbacks)
    return sum(1 for cb in found if isinstance(cb, waiting._Hook) and cb.watch is not None)


def pile_readers(pile: Any) -> int:
    """How many threads iterating a GreenPile are blocked until a spawn in progress lands."""
    return len(pile._getters)


def imap_reader_blocked(iterator: Any) -> bool:
    """Whether the thread iterating an imap/starmap iterator is blocked waiting for its next result."""
    return iterator._awaited is not None


def patch_ticket_locks(monkeypatch: pytest.MonkeyPatch, factory: Callable[[], Any]) -> None:
    """Make the locks parked threads sleep on (the hub's idle workers among them) come from ``factory``."""
    monkeypatch.setattr(_parking, "allocate_lock", factory)
