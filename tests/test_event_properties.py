"""Property-based tests: random schedules of send / send_exception / reset / wait / interrupt on one Event.

The property (docs/design.md, reliability rules): every waiter gets exactly the outcome of the send it was
blocked on.  A controller thread runs the schedule's send/reset/interrupt operations one after the
other; waiter threads wait in various ways.  Every operation and every wait is stamped with a logical
clock (under a lock), which bounds what each waiter may have received:

- a waiter seen blocked (registered) after operation ``c`` must get the first send after ``c``, or,
  if it has a timeout or was interrupted, time out / raise that interrupt; never any other send;
- a waiter that was not watched while registering may get any send that was current at some moment
  between its start and its end, or time out / be interrupted where that is possible;
- nothing ever hangs: once the event is finally sent, every waiter returns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import internals
import pytest
from conftest import HANDOFFS, PATIENCE, handoff, wait_until
from hypothesis import event, given, settings
from hypothesis import strategies as st

from threadevent import Event

# -- what a schedule is made of ----------------------------------------------------------------------


@dataclass(frozen=True)
class Spawn:
    """Start a waiter thread.  ``watched``: the controller waits until it is blocked (or done)."""

    mode: str
    timeout: float
    watched: bool


@dataclass(frozen=True)
class Send:
    as_exception: bool


@dataclass(frozen=True)
class Reset:
    pass


@dataclass(frozen=True)
class Interrupt:
    target: int  # modulo the number of waiters so far


FOREVER = ("wait", "result", "exception")
TIMED = ("timed_wait", "timed_result", "timed_exception")
NO_WAIT = ("zero_wait", "zero_result")  # timeout <= 0: never blocks

spawns = st.builds(
    Spawn,
    mode=st.sampled_from(FOREVER + TIMED + NO_WAIT),
    timeout=st.sampled_from([0.0005, 0.002, 0.01]),
    watched=st.booleans(),
)
operations = st.one_of(
    spawns,
    st.builds(Send, as_exception=st.booleans()),
    st.just(Reset()),
    st.builds(Interrupt, target=st.integers(0, 30)),
)
schedules = st.lists(operations, min_size=1, max_size=24)


# -- outcomes, and who sent them -----------------------------------------------------------------------


class SentError(Exception):
    """Sent by send operation ``op``."""

    def __init__(self, op: int) -> None:
        super().__init__(op)
        self.op = op


class Interrupted(Exception):
    """Delivered by interrupt operation ``op``."""

    def __init__(self, op: int) -> None:
        super().__init__(op)
        self.op = op


class Clock:
    """Logical time: how many controller operations have started, and how many have completed."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started = 0
        self.completed = 0

    @contextmanager
    def operation(self) -> Iterator[int]:
        with self.lock:
            self.started += 1
            op = self.started
        try:
            yield op
        finally:
            with self.lock:
                self.completed = op


@dataclass
class Waiter:
    number: int
    spawn: Spawn
    has_state: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    state: internals.ThreadState | None = None
    thread: threading.Thread | None = None
    start_completed: int = -1  # operations completed before it called wait
    end_started: int = -1  # operations started before it returned
    #: ("send", op) | ("value-send",) (exception() of a result) | ("timeout",) | ("interrupted", op)
    outcome: tuple[Any, ...] = ()
    registered_after: int | None = None  # watched and seen blocked: operations completed by then
    current_send_when_seen_done: int | None = None  # watched and already done: the send current then
    seen_done: bool = False
    interrupts: list[int] = field(default_factory=list)

    def parked(self) -> bool:
        return self.state is not None and self.state.parked is not None


def _normalise(mode: str, call: Callable[[], Any]) -> tuple[Any, ...]:
    """What a wait gave, by which send: ("send", op, "raised" | "returned"), ("value-send",) for
    exception() of a result (which does not say which send), ("timeout",), ("interrupted", op)."""
    try:
        value = call()
    except SentError as exc:
        return ("send", exc.op, "raised")
    except Interrupted as exc:
        return ("interrupted", exc.op)
    except TimeoutError:
        return ("timeout",)
    if mode.endswith("exception"):
        if value is None:
            return ("value-send",)
        if isinstance(value, SentError):
            return ("send", value.op, "returned")
    elif value is None:
        return ("timeout",)
    elif isinstance(value, tuple) and len(value) == 2 and value[0] == "value":
        return ("send", value[1], "returned")
    return ("unexpected", repr(value))


def _call_for(evt: Event[Any], spawn: Spawn) -> Callable[[], Any]:
    method = getattr(evt, spawn.mode.rpartition("_")[2])
    if spawn.mode in FOREVER:
        return method  # type: ignore[no-any-return]
    if spawn.mode in TIMED:
        return lambda: method(spawn.timeout)
    # Never blocks: a zero or a negative timeout (the drawn value only picks which).
    timeout = 0 if spawn.timeout < 0.001 else -spawn.timeout
    return lambda: method(timeout)


def _run_waiter(evt: Event[Any], clock: Clock, waiter: Waiter) -> None:
    waiter.state = internals.current_state(create=True)
    waiter.has_state.set()
    call = _call_for(evt, waiter.spawn)
    try:
        with clock.lock:
            waiter.start_completed = clock.completed
        outcome = _normalise(waiter.spawn.mode, call)
        with clock.lock:
            waiter.end_started = clock.started
        waiter.outcome = outcome
    finally:
        waiter.finished.set()


# -- the checker -------------------------------------------------------------------------------------


@dataclass
class History:
    sends: dict[int, bool] = field(default_factory=dict)  # successful send op -> as_exception
    resets: list[int] = field(default_factory=list)  # successful reset ops

    def first_send_after(self, op: int) -> int | None:
        return min((s for s in self.sends if s > op), default=None)

    def reset_after(self, send: int) -> int | None:
        return min((r for r in self.resets if r > send), default=None)

    def current_at_some_point(self, waiter: Waiter) -> set[int]:
        """Sends that may have been current while ``waiter`` was waiting (for an unwatched waiter)."""
        possible = set()
        for send in self.sends:
            if send > waiter.end_started:
                continue  # started only after the waiter had returned
            reset = self.reset_after(send)
            if reset is not None and reset <= waiter.start_completed:
                continue  # reset before the waiter even started
            possible.add(send)
        return possible


def check_waiter(waiter: Waiter, history: History) -> None:
    spawn = waiter.spawn
    if spawn.watched and waiter.registered_after is not None:
        expected = history.first_send_after(waiter.registered_after)
        allowed_sends = set() if expected is None else {expected}
    elif spawn.watched:
        current = waiter.current_send_when_seen_done
        allowed_sends = set() if current is None else {current}
    else:
        allowed_sends = history.current_at_some_point(waiter)
    may_time_out = spawn.mode not in FOREVER and not (
        spawn.watched and waiter.current_send_when_seen_done is not None
    )

    outcome = waiter.outcome
    # Shown by --hypothesis-show-statistics: how often each kind of case was exercised.
    watched = (
        "registered" if waiter.registered_after is not None else "done" if spawn.watched else "unwatched"
    )
    event(f"{watched} {spawn.mode.rpartition('_')[0] or 'forever'} -> {outcome[0]}")
    context = f"waiter {waiter}: allowed sends {sorted(allowed_sends)}, history {history}"
    if outcome[0] == "send":
        op, form = outcome[1], outcome[2]
        assert op in allowed_sends, context
        # The right form: wait()/result() raise a sent exception and return a sent result;
        # exception() returns a sent exception.
        if history.sends[op]:
            assert form == ("returned" if spawn.mode.endswith("exception") else "raised"), context
        else:
            assert form == "returned" and not spawn.mode.endswith("exception"), context
    elif outcome[0] == "value-send":
        assert spawn.mode.endswith("exception"), context
        assert any(not history.sends[s] for s in allowed_sends), context
    elif outcome[0] == "timeout":
        assert may_time_out, context
    elif outcome[0] == "interrupted":
        assert outcome[1] in waiter.interrupts, context
        assert outcome[1] <= waiter.end_started, context
    else:
        raise AssertionError(f"unexpected outcome: {context}")


# -- running a schedule --------------------------------------------------------------------------------


def run_schedule(schedule: list[Any]) -> None:
    pending_before = internals.pending_interrupts()
    evt: Event[tuple[str, int]] = Event()
    clock = Clock()
    history = History()
    waiters: list[Waiter] = []
    current_send: int | None = None  # the model: which send the event holds now, if any

    def send(as_exception: bool) -> None:
        nonlocal current_send
        with clock.operation() as op:
            try:
                if as_exception:
                    evt.send_exception(SentError(op))
                else:
                    evt.send(("value", op))
            except AssertionError as exc:
                assert current_send is not None, "send() of a fresh event refused"
                assert str(exc) == "Trying to re-send() an already-triggered event."
            else:
                assert current_send is None, "a second send() was accepted"
                history.sends[op] = as_exception
                current_send = op

    try:
        for operation in schedule:
            if isinstance(operation, Spawn):
                waiter = Waiter(len(waiters), operation)
                waiters.append(waiter)
                waiter.thread = threading.Thread(
                    target=_run_waiter, args=(evt, clock, waiter), name=f"waiter-{waiter.number}", daemon=True
                )
                waiter.thread.start()
                assert waiter.has_state.wait(PATIENCE), "waiter thread never started"
                if operation.watched:
                    wait_until(
                        lambda w=waiter: w.finished.is_set() or w.parked(), what="waiter blocks or returns"
                    )
                    if waiter.parked():
                        # Blocked on a fresh event, registered before any later operation.
                        assert current_send is None, (
                            f"a wait blocked although send {current_send} was current"
                        )
                        waiter.registered_after = clock.completed
                    else:
                        waiter.seen_done = True
                        waiter.current_send_when_seen_done = current_send
            elif isinstance(operation, Send):
                send(operation.as_exception)
            elif isinstance(operation, Reset):
                with clock.operation() as op:
                    try:
                        evt.reset()
                    except AssertionError as exc:
                        assert current_send is None, "reset() of a sent event refused"
                        assert str(exc) == "Trying to re-reset() a fresh event."
                    else:
                        assert current_send is not None, "reset() of a fresh event accepted"
                        history.resets.append(op)
                        current_send = None
            elif isinstance(operation, Interrupt) and waiters:
                target = waiters[operation.target % len(waiters)]
                assert target.state is not None
                with clock.operation() as op:
                    target.interrupts.append(op)
                    internals.interrupt(target.state, Interrupted(op))
        if current_send is None:
            send(False)  # so that every waiter that is still blocked has something to return
    finally:
        if not evt.ready():
            evt.send(("value", -1))  # the schedule failed half-way: still let the threads go
        hung = []
        for waiter in waiters:
            assert waiter.thread is not None
            waiter.thread.join(PATIENCE)
            if waiter.thread.is_alive():
                hung.append(waiter)
        for waiter in waiters:
            if waiter.state is not None:  # an interrupt that came after its wait had returned
                with waiter.state.lock:
                    waiter.state.take()
    assert not hung, f"waiters hang: {hung}"
    for waiter in waiters:
        check_waiter(waiter, history)
    assert internals.pending_interrupts() == pending_before, "an interrupt was left pending"


@pytest.mark.parametrize("mode", HANDOFFS)
@settings(deadline=None, max_examples=settings.default.max_examples)
@given(schedule=schedules)
def test_every_waiter_gets_the_outcome_of_the_send_it_was_blocked_on(schedule: list[Any], mode: str) -> None:
    with handoff(mode):
        run_schedule(schedule)


# A schedule shaped to stress the cascade: many waiters watched into place, then bursts of
# send/reset with interrupts and short timeouts expiring in the middle of them.
burst_schedules = st.builds(
    lambda waiting, bursts: waiting + bursts,
    st.lists(
        st.builds(
            Spawn, mode=st.sampled_from(FOREVER + TIMED), timeout=st.just(0.002), watched=st.just(True)
        ),
        min_size=2,
        max_size=12,
    ),
    st.lists(
        st.one_of(
            st.builds(Send, as_exception=st.booleans()),
            st.just(Reset()),
            st.builds(Interrupt, st.integers(0, 30)),
        ),
        min_size=1,
        max_size=10,
    ),
)


@pytest.mark.parametrize("mode", HANDOFFS)
@settings(deadline=None, max_examples=max(10, settings.default.max_examples // 2))
@given(schedule=burst_schedules)
def test_bursts_of_send_reset_and_interrupt_never_lose_or_swap_a_wake_up(
    schedule: list[Any], mode: str
) -> None:
    with handoff(mode):
        run_schedule(schedule)


@settings(deadline=None, max_examples=max(10, settings.default.max_examples // 2))
@given(
    senders=st.lists(st.booleans(), min_size=2, max_size=5),
    n_waiters=st.integers(0, 8),
)
def test_concurrent_sends_one_wins_and_every_waiter_gets_the_winner(
    senders: list[bool], n_waiters: int
) -> None:
    evt: Event[tuple[str, int]] = Event()
    waiters: list[Waiter] = []
    clock = Clock()
    for number in range(n_waiters):
        waiter = Waiter(number, Spawn("wait", 0.0, True))
        waiter.thread = threading.Thread(target=_run_waiter, args=(evt, clock, waiter), daemon=True)
        waiters.append(waiter)
        waiter.thread.start()
    # Blocked when sent: they must all get the winner's outcome.
    wait_until(lambda: all(w.parked() for w in waiters), what="waiters blocked")

    barrier = threading.Barrier(len(senders), timeout=PATIENCE)
    refusals: list[str] = []
    accepted: list[int] = []

    def sender(number: int, as_exception: bool) -> None:
        barrier.wait()
        try:
            if as_exception:
                evt.send_exception(SentError(number))
            else:
                evt.send(("value", number))
        except AssertionError as exc:
            refusals.append(str(exc))
        else:
            accepted.append(number)

    threads = [threading.Thread(target=sender, args=(i, exc), daemon=True) for i, exc in enumerate(senders)]
    for thread in threads:
        thread.start()
    for thread in threads + [w.thread for w in waiters if w.thread is not None]:
        thread.join(PATIENCE)
    assert not any(t.is_alive() for t in threads), "a sender hangs"
    assert not any(w.thread is not None and w.thread.is_alive() for w in waiters), "a waiter hangs"
    assert len(accepted) == 1
    assert refusals == ["Trying to re-send() an already-triggered event."] * (len(senders) - 1)
    (winner,) = accepted
    assert all(w.outcome == ("send", winner, "raised" if senders[winner] else "returned") for w in waiters), [
        w.outcome for w in waiters
    ]
    assert evt.has_exception() == senders[winner]
