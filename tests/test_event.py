"""threadevent.Event against its contract (README, "Event", and the reliability rules in docs/design.md).

Ordering between threads is always made with events, barriers or polled conditions under a generous
deadline, never with sleeps; nothing here asserts on elapsed time.  A few tests look at private state
through the seam in ``internals.py`` (the blocked waiters, the interrupt protocol) where the public API
cannot tell "blocked" from "not started yet".
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from fractions import Fraction
from types import FrameType
from typing import Any

import internals
import pytest
from conftest import (
    HANDOFFS,
    PATIENCE,
    InterruptError,
    Interruptible,
    Threads,
    Worker,
    ctrl_c_child,
    handoff,
    interrupt_this_thread,
    run_bounded,
    spurious_wake_up_9_s_into_the_wait,
    wait_until,
)
from internals import drop_pending_interrupt, interrupt, patch_block, real_block

import threadevent
from threadevent import Event
from threadevent import event as event_module

NOT_READY = object()


@pytest.fixture(autouse=True, params=HANDOFFS)
def handoff_mode(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs twice: waits that block at once, and waits that yield the CPU first."""
    with handoff(request.param):
        yield


class SentError(Exception):
    """An exception a test sends through an event."""


# -- helpers -----------------------------------------------------------------------------------------


def waiter_count(evt: Event[Any]) -> int:
    """How many waits are blocked on ``evt`` (private: the public API cannot tell)."""
    return internals.waiters(evt)


def start_blocked(
    threads: Threads, evt: Event[Any], n: int, call: Callable[[], Any] | None = None
) -> list[Worker]:
    """Start ``n`` threads running ``call`` (default ``evt.wait``) and return once all are blocked."""
    before = waiter_count(evt)
    workers = [threads.start(call or evt.wait, name=f"waiter-{before + i}") for i in range(n)]
    wait_until(lambda: waiter_count(evt) == before + n, what=f"{n} more waiters blocked on {evt!r}")
    return workers


def start_interruptible(
    threads: Threads, evt: Event[Any], call: Callable[[], Any]
) -> tuple[Worker, Interruptible]:
    """One interruptible waiter, returned once it is blocked (and so appended last to the waiters)."""
    body = Interruptible(call)
    before = waiter_count(evt)
    worker = threads.start(body, name=f"interruptible-{before}")
    wait_until(lambda: body.parked() and waiter_count(evt) == before + 1, what="interruptible waiter blocked")
    return worker, body


@pytest.fixture(autouse=True)
def no_leaked_interrupts() -> Iterator[None]:
    # An interrupt left pending would make every later wait in the process take the slow path, and
    # would hide whether a test consumed the interrupt it delivered.
    before = internals.pending_interrupts()
    yield
    assert internals.pending_interrupts() == before, "an interrupt was left pending"


def origin_of_the_error() -> None:
    """Raises; tests look for this function's name in the waiters' tracebacks."""
    raise SentError("raised in origin_of_the_error")


def raised_error() -> SentError:
    """An exception instance that has been raised (it carries a traceback through the origin)."""
    try:
        origin_of_the_error()
    except SentError as exc:
        return exc
    raise AssertionError("unreachable")


def frame_names(exc: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(exc.__traceback__)]


def run_python(code: str, *flags: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *flags, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# -- Event() -----------------------------------------------------------------------------------------


def test_new_event_is_fresh_and_unsent() -> None:
    evt: Event[int] = Event()
    assert not evt.ready()
    assert not evt.done()
    assert not evt.has_result()
    assert not evt.has_exception()
    assert evt.poll(NOT_READY) is NOT_READY
    assert run_bounded(lambda: evt.wait(0)) is None
    with pytest.raises(TimeoutError):
        run_bounded(lambda: evt.result(0))
    assert "unsent" in repr(evt)


def test_events_are_independent() -> None:
    first: Event[str] = Event()
    second: Event[str] = Event()
    first.send("one")
    assert not second.ready()
    second.send("two")
    assert (first.wait(), second.wait()) == ("one", "two")


def test_event_is_exported_from_the_package_and_the_event_module() -> None:
    assert threadevent.Event is event_module.Event


def test_event_is_generic_at_runtime() -> None:
    evt = Event[int]()
    assert isinstance(evt, Event)
    evt.send(7)
    assert evt.wait() == 7
    assert Event[int].__origin__ is Event  # type: ignore[attr-defined]


# -- send() ------------------------------------------------------------------------------------------


def test_send_wakes_every_blocked_waiter(threads: Threads) -> None:
    evt: Event[str] = Event()
    waiters = start_blocked(threads, evt, 20)
    evt.send("value")
    assert [w.result() for w in waiters] == ["value"] * 20


def test_send_without_arguments_sends_none_as_a_result() -> None:
    evt: Event[None] = Event()
    evt.send()
    assert evt.ready()
    assert evt.has_result()
    assert not evt.has_exception()
    assert evt.wait() is None
    assert evt.poll(NOT_READY) is None


@pytest.mark.parametrize(
    "make_exc",
    [
        pytest.param(lambda: SentError("instance"), id="instance"),
        pytest.param(lambda: SentError, id="class"),
        pytest.param(lambda: (SentError,), id="tuple-class"),
        pytest.param(lambda: (SentError, "tuple-value"), id="tuple-class-value"),
        pytest.param(lambda: (SentError, SentError("v"), None), id="tuple-class-instance-none"),
    ],
)
def test_send_exc_accepts_the_arguments_of_raise(threads: Threads, make_exc: Callable[[], Any]) -> None:
    evt: Event[str] = Event()
    (waiter,) = start_blocked(threads, evt, 1)
    exc_arg = make_exc()
    evt.send("ignored result", exc=exc_arg)
    error = waiter.exception()
    assert type(error) is SentError
    if isinstance(exc_arg, BaseException):
        assert error is exc_arg
    assert evt.has_exception()
    assert not evt.has_result()
    assert evt.exception() is error  # every waiter sees the same instance
    with pytest.raises(SentError) as raised:
        evt.wait()
    assert raised.value is error


def test_send_exc_tuple_with_traceback_attaches_that_traceback() -> None:
    error = raised_error()
    evt: Event[str] = Event()
    evt.send(exc=(SentError, error, error.__traceback__))
    with pytest.raises(SentError) as raised:
        evt.wait()
    assert raised.value is error
    assert "origin_of_the_error" in frame_names(raised.value)


class _TraceGate:
    """Holds every thread that runs ``wait`` under it at the moment ``Event.wait`` returns.

    Built on ``sys.settrace`` so that it does not depend on how ``Event`` is implemented: a thread
    under it cannot get out of ``Event.wait()`` until the gate opens.
    """

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.held = 0  # threads stopped at the gate
        self.done = 0  # threads through the gate
        self.gate_timed_out = False

    def _local(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "return":
            with self.lock:
                self.held += 1
            if not self.gate.wait(PATIENCE):
                self.gate_timed_out = True
        return self._local

    def _tracer(self, frame: FrameType, event: str, arg: object) -> Any:
        if event == "call" and frame.f_code is Event.wait.__code__:
            return self._local
        return None

    def wait(self, evt: Event[Any]) -> Any:
        sys.settrace(self._tracer)
        try:
            value = evt.wait()
        finally:
            sys.settrace(None)
        with self.lock:
            self.done += 1
        return value


def test_send_returns_without_waiting_for_the_waiters(threads: Threads) -> None:
    evt: Event[str] = Event()
    gate = _TraceGate()
    waiters = start_blocked(threads, evt, 5, call=lambda: gate.wait(evt))
    try:
        # Every waiter is now held inside Event.wait() until the gate opens, which happens only after
        # send() has returned here.  A send() that waited for its waiters would block until the gate
        # gave up (PATIENCE), and the waiters would have finished by the time it returned.
        evt.send("value")
        assert gate.done == 0
        # ... and the send did wake them all: each reaches the end of its wait() while the sender is
        # already back (and still no waiter is done).
        wait_until(lambda: gate.held == 5, what="all waiters woken by the send")
        assert gate.done == 0
    finally:
        gate.gate.set()
    assert [w.result() for w in waiters] == ["value"] * 5
    assert not gate.gate_timed_out


def count_steps(call: Callable[[], object]) -> int:
    """How much work ``call()`` does inside threadevent, in this thread, counted not timed.

    Counts every line of threadevent's code that runs and every function (Python or C, such as a
    lock's ``release``) that threadevent's code calls; work done by other threads is not counted.
    """
    package = os.path.dirname(threadevent.__file__)
    steps = 0

    def in_package(frame: FrameType) -> bool:
        return frame.f_code.co_filename.startswith(package)

    def local_trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal steps
        if event == "line":
            steps += 1
        return local_trace

    def trace(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal steps
        if in_package(frame):
            steps += 1  # the call itself
            return local_trace
        return None

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal steps
        if event == "c_call" and in_package(frame):
            steps += 1

    sys.settrace(trace)
    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
        sys.settrace(None)
    return steps


def test_send_cost_does_not_grow_with_the_number_of_waiters(threads: Threads) -> None:
    # Structural, not timed: the work send() does in the sending thread (lines run, calls made, lock
    # releases included) is the same with 1 or 200 blocked waiters.  The waiters wake each other.
    steps = {}
    for n in (1, 200):
        evt: Event[int] = Event()
        waiters = start_blocked(threads, evt, n)
        steps[n] = count_steps(lambda evt=evt, n=n: evt.send(n))
        assert [w.result() for w in waiters] == [n] * n
    assert steps[1] > 0, "the instrumentation saw nothing of send()"
    assert steps[200] == steps[1], steps


def test_send_with_a_waiter_that_timed_out_before_it_still_works(threads: Threads) -> None:
    evt: Event[str] = Event()
    assert evt.wait(0.001) is None
    (waiter,) = start_blocked(threads, evt, 1)
    evt.send("value")
    assert waiter.result() == "value"


@pytest.mark.parametrize("first_is_exception", [False, True])
def test_second_send_raises_and_changes_nothing(threads: Threads, first_is_exception: bool) -> None:
    evt: Event[str] = Event()
    calls: list[Event[str]] = []
    evt.add_done_callback(calls.append)
    (waiter,) = start_blocked(threads, evt, 1)
    first_error = SentError("first")
    if first_is_exception:
        evt.send_exception(first_error)
    else:
        evt.send("first")

    for second_send in (lambda: evt.send("second"), lambda: evt.send_exception(SentError("second"))):
        with pytest.raises(AssertionError) as raised:
            second_send()
        assert str(raised.value) == "Trying to re-send() an already-triggered event."

    assert evt.ready()
    assert len(calls) == 1  # callbacks did not run again
    if first_is_exception:
        assert waiter.exception() is first_error
        assert evt.exception() is first_error
        assert evt.has_exception()
    else:
        assert waiter.result() == "first"
        assert evt.wait() == "first"
        assert evt.has_result()


def test_double_send_and_fresh_reset_raise_under_python_O() -> None:
    # The checks must be explicit raises, not assert statements that -O strips.
    proc = run_python(
        """
        import json, sys
        from threadevent import Event

        report = {"optimize": sys.flags.optimize}
        evt = Event()
        evt.send("first")
        try:
            evt.send("second")
        except AssertionError as exc:
            report["send"] = str(exc)
        report["value"] = evt.wait()

        failed = Event()
        failed.send_exception(KeyError("first"))
        try:
            failed.send_exception(ValueError("second"))
        except AssertionError as exc:
            report["send_exception"] = str(exc)
        report["exception"] = repr(failed.exception())

        fresh = Event()
        try:
            fresh.reset()
        except AssertionError as exc:
            report["reset"] = str(exc)
        report["fresh_ready"] = fresh.ready()
        print(json.dumps(report))
        """,
        "-O",
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report == {
        "optimize": 1,
        "send": "Trying to re-send() an already-triggered event.",
        "value": "first",
        "send_exception": "Trying to re-send() an already-triggered event.",
        "exception": repr(KeyError("first")),
        "reset": "Trying to re-reset() a fresh event.",
        "fresh_ready": False,
    }


BAD_SENDS: dict[str, Callable[[Event[Any]], None]] = {
    "send_exception(42)": lambda evt: evt.send_exception(42),
    "send_exception()": lambda evt: evt.send_exception(),
    "send(exc='x')": lambda evt: evt.send(exc="x"),
    "send(exc=int)": lambda evt: evt.send(exc=int),
    "send(exc=())": lambda evt: evt.send(exc=()),
    "send_exception(instance, value)": lambda evt: evt.send_exception(SentError("a"), "b"),
    "send_exception(cls, value, not-a-traceback)": lambda evt: evt.send_exception(SentError, "v", "tb"),
    "send_exception(4 arguments)": lambda evt: evt.send_exception(SentError, None, None, None),
}


@pytest.mark.parametrize("bad_send", list(BAD_SENDS.values()), ids=list(BAD_SENDS))
def test_bad_exception_arguments_raise_type_error_and_leave_the_event_unsent(
    threads: Threads, bad_send: Callable[[Event[Any]], None]
) -> None:
    evt: Event[str] = Event()
    (waiter,) = start_blocked(threads, evt, 1)
    with pytest.raises(TypeError):
        bad_send(evt)
    assert not evt.ready()
    assert not evt.has_exception()
    assert waiter_count(evt) == 1  # the blocked waiter was not woken
    evt.send("good")  # the event is still sendable, and the waiter gets this send
    assert waiter.result() == "good"


# -- send_exception() --------------------------------------------------------------------------------


def _send_exc_info(evt: Event[Any], error: SentError) -> None:
    try:
        raise error
    except SentError:
        evt.send_exception(*sys.exc_info())


def _send_from_exc_info_fresh(evt: Event[Any], error: SentError) -> None:
    # The usual idiom: send_exception(*sys.exc_info()) straight from the except block of the origin.
    try:
        origin_of_the_error()
    except SentError:
        evt.send_exception(*sys.exc_info())


ORIGINAL_FRAME_SENDS: dict[str, Callable[[Event[Any], SentError], None]] = {
    "send_exception(*sys.exc_info())": _send_from_exc_info_fresh,
    "send_exception(*sys.exc_info()) re-raised": _send_exc_info,
    "send(exc=raised instance)": lambda evt, error: evt.send(exc=error),
    "send_exception(raised instance)": lambda evt, error: evt.send_exception(error),
    "send_exception(cls, raised instance)": lambda evt, error: evt.send_exception(SentError, error),
}


@pytest.mark.parametrize("send", list(ORIGINAL_FRAME_SENDS.values()), ids=list(ORIGINAL_FRAME_SENDS))
def test_sent_exception_keeps_the_frames_where_it_was_raised(
    threads: Threads, send: Callable[[Event[Any], SentError], None]
) -> None:
    evt: Event[str] = Event()
    (blocked,) = start_blocked(threads, evt, 1)
    send(evt, raised_error())
    for error in (blocked.exception(), run_bounded(evt.exception)):
        assert isinstance(error, SentError)
    # A waiter that was blocked, and one that comes later, both see the origin's frames.
    assert "origin_of_the_error" in frame_names(blocked.exception())
    with pytest.raises(SentError) as raised:
        evt.wait()
    assert "origin_of_the_error" in frame_names(raised.value)


@pytest.mark.parametrize(
    ("send", "expected_args"),
    [
        pytest.param(lambda evt: evt.send_exception(SentError), (), id="cls"),
        pytest.param(lambda evt: evt.send_exception(SentError, "message"), ("message",), id="cls-value"),
        pytest.param(lambda evt: evt.send_exception(SentError("message")), ("message",), id="instance"),
    ],
)
def test_send_exception_forms_that_were_never_raised(
    threads: Threads, send: Callable[[Event[Any]], None], expected_args: tuple[Any, ...]
) -> None:
    evt: Event[str] = Event()
    (blocked,) = start_blocked(threads, evt, 1)
    send(evt)
    error = blocked.exception()
    assert type(error) is SentError
    assert error.args == expected_args
    assert evt.exception() is error
    # Nothing raised it before the send, so no origin frames, only the waiter's own.
    assert "origin_of_the_error" not in frame_names(error)
    assert "_run" in frame_names(error)  # the waiting thread's own frame is there (conftest.Worker)


def test_waiting_again_does_not_accumulate_frames() -> None:
    evt: Event[str] = Event()
    _send_from_exc_info_fresh(evt, SentError())
    this_test = sys._getframe().f_code.co_name
    for wait in (evt.wait, evt.result, evt.poll, evt.poll_exception):
        seen = []
        for _ in range(3):
            with pytest.raises(SentError) as raised:
                wait()
            names = frame_names(raised.value)
            # Once each: where it was raised, and here where it was caught (frames of an earlier
            # wait would show up as a second copy of this function).
            assert names.count("origin_of_the_error") == 1, names
            assert names.count(this_test) == 1, names
            seen.append(names)
        assert seen[0] == seen[1] == seen[2]


# -- wait() ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_exception", [False, True])
def test_wait_gives_every_waiter_the_outcome(threads: Threads, as_exception: bool) -> None:
    evt: Event[str] = Event()
    waiters = start_blocked(threads, evt, 5)
    error = SentError("boom")
    if as_exception:
        evt.send_exception(error)
        assert all(w.exception() is error for w in waiters)
    else:
        evt.send("value")
        assert [w.result() for w in waiters] == ["value"] * 5


def test_wait_returns_at_once_and_repeatedly_when_already_sent() -> None:
    evt: Event[list[int]] = Event()
    value = [1, 2]
    evt.send(value)
    # Would hang (and fail after PATIENCE) if wait() blocked on a sent event.
    assert run_bounded(lambda: [evt.wait() for _ in range(3)]) == [value] * 3
    assert evt.wait() is value
    assert waiter_count(evt) == 0


@pytest.mark.parametrize("timeout", [0.001, Fraction(1, 1000)], ids=["float", "fraction"])
def test_wait_timeout_expiry_returns_none_and_leaves_no_waiter_behind(timeout: float) -> None:
    evt: Event[str] = Event()
    assert evt.wait(timeout) is None
    assert waiter_count(evt) == 0
    assert not evt.ready()
    evt.send("later")  # a send after the expiry still works for later waiters
    assert evt.wait(timeout) == "later"


@pytest.mark.parametrize("method", ["result", "exception"])
def test_result_and_exception_timeout_raise_builtin_timeout_error_and_leave_no_waiter(method: str) -> None:
    evt: Event[str] = Event()
    with pytest.raises(TimeoutError) as raised:
        getattr(evt, method)(0.001)
    assert isinstance(raised.value, TimeoutError)
    assert waiter_count(evt) == 0
    assert not evt.ready()


@pytest.mark.parametrize("timeout", [0, 0.0, -0.0, -1, -1e9, float("-inf")])
def test_zero_or_negative_timeout_never_blocks(timeout: float) -> None:
    evt: Event[str] = Event()
    # run_bounded: a call that blocked forever would fail the test instead of hanging it.
    assert run_bounded(lambda: evt.wait(timeout)) is None
    with pytest.raises(TimeoutError):
        run_bounded(lambda: evt.result(timeout))
    with pytest.raises(TimeoutError):
        run_bounded(lambda: evt.exception(timeout))
    assert waiter_count(evt) == 0
    evt.send("value")
    assert run_bounded(lambda: (evt.wait(timeout), evt.result(timeout), evt.exception(timeout))) == (
        "value",
        "value",
        None,
    )


@pytest.mark.parametrize(
    "timeout", [float("inf"), threading.TIMEOUT_MAX * 2, 1e300, pytest.param(10**400, id="int-beyond-float")]
)
def test_timeout_beyond_the_platform_maximum_waits_until_sent(threads: Threads, timeout: float) -> None:
    evt: Event[str] = Event()
    (waiter,) = start_blocked(threads, evt, 1, call=lambda: evt.wait(timeout))
    evt.send("value")
    assert waiter.result() == "value"


BAD_TIMEOUTS = [
    pytest.param("1", TypeError, id="str"),
    pytest.param([1], TypeError, id="list"),
    pytest.param(object(), TypeError, id="object"),
    pytest.param(1j, TypeError, id="complex"),
    pytest.param(float("nan"), ValueError, id="nan"),
]


@pytest.mark.parametrize("method", ["wait", "result", "exception"])
@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_bad_timeout_raises_at_once_on_an_unsent_event(
    method: str, timeout: object, error: type[Exception]
) -> None:
    evt: Event[str] = Event()
    with pytest.raises(error):
        run_bounded(lambda: getattr(evt, method)(timeout))  # must not block first
    assert waiter_count(evt) == 0  # nothing was registered before the check
    assert not evt.ready()


@pytest.mark.parametrize("method", ["wait", "result", "exception"])
@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS)
def test_bad_timeout_raises_on_a_sent_event_too(method: str, timeout: object, error: type[Exception]) -> None:
    # "Bad input gets a clear exception at the call": whether the event is sent does not matter.
    evt: Event[str] = Event()
    evt.send("value")
    with pytest.raises(error):
        getattr(evt, method)(timeout)
    assert evt.wait() == "value"


def test_wait_with_timeout_gets_the_value_when_sent_in_time(threads: Threads) -> None:
    evt: Event[str] = Event()
    waiters = start_blocked(threads, evt, 3, call=lambda: evt.wait(PATIENCE * 100))
    evt.send("value")
    assert [w.result() for w in waiters] == ["value"] * 3


@pytest.mark.parametrize("call", ["wait()", "wait(timeout)", "result()"])
def test_ping_pong_between_two_threads_hands_every_value_over_in_order(threads: Threads, call: str) -> None:
    # The hand-off both ways, many times: under "yield first", most waits see the send while yielding.
    rounds = 2000
    pairs: list[tuple[Event[int], Event[int]]] = [(Event(), Event()) for _ in range(rounds)]

    def take(evt: Event[int]) -> int | None:
        if call == "wait()":
            return evt.wait()
        if call == "result()":
            return evt.result()
        return evt.wait(PATIENCE)

    def echo() -> None:
        for there, back in pairs:
            value = take(there)
            assert value is not None
            back.send(value + 1)

    echoer = threads.start(echo, name="echo")
    got = []
    for number, (there, back) in enumerate(pairs):
        there.send(number * 2)
        got.append(take(back))
    echoer.join()
    assert echoer.error is None
    assert got == [number * 2 + 1 for number in range(rounds)]


def test_a_send_during_the_yields_is_taken_without_blocking(monkeypatch: pytest.MonkeyPatch) -> None:
    evt: Event[str] = Event()
    yields = []

    def sched_yield() -> None:
        yields.append(waiter_count(evt))
        if len(yields) == 2:
            evt.send("sent while yielding")

    internals.patch_yield(monkeypatch, sched_yield)
    with handoff("yield first"):
        assert evt.wait() == "sent while yielding"
    assert yields == [0, 0]  # it yielded twice, registered nowhere, and stopped once sent
    assert waiter_count(evt) == 0


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_a_wait_that_must_not_block_does_not_yield_either(
    monkeypatch: pytest.MonkeyPatch, timeout: float
) -> None:
    yields: list[None] = []
    internals.patch_yield(monkeypatch, lambda: yields.append(None))
    evt: Event[str] = Event()
    with handoff("yield first"):
        assert evt.wait(timeout) is None
        with pytest.raises(TimeoutError):
            evt.result(timeout)
    assert yields == []


def test_the_forced_yield_first_mode_holds_through_slow_yields(monkeypatch: pytest.MonkeyPatch) -> None:
    # The tests' "yield first" mode must not turn itself off on a loaded machine, where a yield can be
    # slow: the tests run under it would then quietly test blocking at once instead.
    clock = [500.0]
    yields: list[float] = []

    def sched_yield() -> None:
        yields.append(clock[0])
        clock[0] += 0.005  # as slow as a yield to a busy thread

    internals.fake_clock(monkeypatch, clock)
    internals.patch_yield(monkeypatch, sched_yield)
    evt: Event[str] = Event()
    with handoff("yield first"):
        for _ in range(20):
            evt.wait(0.001)
    assert len(yields) == 20 * 3


@pytest.mark.parametrize(
    ("per_yield", "blocked_for"), [(0.002, [0.004]), (0.004, [])], ids=["time left", "time used up"]
)
def test_the_yields_count_against_the_timeout(
    monkeypatch: pytest.MonkeyPatch, per_yield: float, blocked_for: list[float]
) -> None:
    # A fake clock that each yield moves on; the block records how long it was asked to wait.
    clock = [500.0]

    def sched_yield() -> None:
        clock[0] += per_yield

    def fake_block(lock: Any, timeout: float) -> bool:
        timeouts.append(round(timeout, 9))
        return False

    timeouts: list[float] = []
    internals.fake_clock(monkeypatch, clock)
    internals.patch_yield(monkeypatch, sched_yield)
    patch_block(monkeypatch, fake_block)
    evt: Event[str] = Event()
    with handoff("yield first"):
        assert evt.wait(0.01) is None
    # The 3 yields took 6 ms of the 10, or all of them: no block at all.
    assert timeouts == blocked_for
    assert waiter_count(evt) == 0


@pytest.mark.parametrize(
    ("affinity", "expected"),
    [({3}, True), ({0, 1}, False), (OSError("no affinity here"), False), (None, False)],
    ids=["one CPU", "two CPUs", "affinity fails", "no affinity API"],
)
def test_waits_yield_first_only_when_the_process_has_one_cpu(
    monkeypatch: pytest.MonkeyPatch,
    affinity: set[int] | OSError | None,
    expected: bool,
    real_yield_policy: None,
) -> None:
    def getaffinity(pid: int) -> set[int]:
        assert pid == 0
        if isinstance(affinity, OSError):
            raise affinity
        assert affinity is not None
        return affinity

    internals.patch_affinity(monkeypatch, None if affinity is None else getaffinity)
    clock = [500.0]
    internals.fake_clock(monkeypatch, clock)
    yields: list[None] = []
    internals.patch_yield(monkeypatch, lambda: yields.append(None))
    internals.set_policy(monkeypatch, 0.0, not expected, 0)  # due for a look, and wrong
    evt: Event[str] = Event()
    assert evt.wait(0.001) is None
    assert yields == ([None] * 3 if expected else [])
    # Looked at, and one wait let try (which this wait's fruitless yields used, on one CPU).
    credit = 0 if expected else 1
    assert internals.policy() == (500.0 + internals.AFFINITY_CHECK_EVERY, expected, credit)


@pytest.mark.parametrize("call", ["wait()", "wait(timeout)", "result()"])
def test_waits_stop_yielding_when_yielding_keeps_finding_nothing(
    monkeypatch: pytest.MonkeyPatch, call: str, real_yield_policy: None
) -> None:
    yields: list[None] = []
    internals.patch_affinity(monkeypatch, lambda pid: {0})
    clock = [500.0]
    internals.fake_clock(monkeypatch, clock)
    internals.patch_yield(monkeypatch, lambda: yields.append(None))
    internals.set_policy(monkeypatch, 600.0, True, 8)  # one CPU, full credit, next look at 600

    def one_wait() -> int:
        """A wait that nothing is sent to (a timed one, or one freed by a send from its block)."""
        before = len(yields)
        evt: Event[str] = Event()
        if call == "wait(timeout)":
            assert evt.wait(0.001) is None
        else:

            def fake_block(lock: Any, timeout: float) -> bool:
                evt.send("freed")
                return True

            patch_block(monkeypatch, fake_block)
            assert (evt.wait() if call == "wait()" else evt.result()) == "freed"
        return len(yields) - before

    assert [one_wait() for _ in range(10)] == [3] * 8 + [0, 0]
    clock[0] = 600.0  # the next look at the affinity lets one wait try again
    assert [one_wait() for _ in range(2)] == [3, 0]
    assert internals.policy() == (601.0, True, 0)


def test_a_slow_yield_turns_yielding_off_until_the_next_look(
    monkeypatch: pytest.MonkeyPatch, real_yield_policy: None
) -> None:
    clock = [500.0]
    yields: list[float] = []

    def sched_yield() -> None:
        yields.append(clock[0])
        clock[0] += 0.005  # a busy thread kept the GIL for a switch interval

    internals.fake_clock(monkeypatch, clock)
    internals.patch_yield(monkeypatch, sched_yield)
    internals.patch_affinity(monkeypatch, lambda pid: {0})
    internals.set_policy(monkeypatch, 600.0, True, 8)
    evt: Event[str] = Event()
    assert evt.wait(0.1) is None
    assert yields == [500.0]  # one yield, slow: it stopped there
    assert internals.policy()[2] == -1
    evt.wait(0.1)
    assert len(yields) == 1
    # The next look lets one wait try again; its yields find the outcome, and the credit is full again.
    clock[0] = 600.0
    internals.patch_yield(monkeypatch, lambda: evt.send("found"))
    assert evt.wait() == "found"
    assert internals.policy()[2] == 8


def test_a_wait_whose_yields_find_the_outcome_refills_the_credit(
    monkeypatch: pytest.MonkeyPatch, real_yield_policy: None
) -> None:
    evt: Event[str] = Event()
    internals.patch_yield(monkeypatch, lambda: evt.send("found"))
    internals.set_policy(monkeypatch, math.inf, True, 1)
    assert evt.wait() == "found"
    assert internals.policy()[2] == internals.YIELD_CREDIT


def test_the_cpu_count_is_looked_at_again_only_after_a_while(
    monkeypatch: pytest.MonkeyPatch, real_yield_policy: None
) -> None:
    cpus = [{0}]
    looks: list[None] = []

    def getaffinity(pid: int) -> set[int]:
        looks.append(None)
        return cpus[0]

    internals.patch_affinity(monkeypatch, getaffinity)
    clock = [500.0]
    internals.fake_clock(monkeypatch, clock)
    internals.patch_yield(monkeypatch, lambda: None)
    internals.set_policy(monkeypatch, 0.0, False, 0)
    evt: Event[str] = Event()
    assert evt.wait(0.001) is None
    assert (len(looks), internals.policy()[1]) == (1, True)
    cpus[0] = {0, 1}  # moved to two CPUs: taken into account at the next look, not before
    evt.wait(0.001)
    assert (len(looks), internals.policy()[1]) == (1, True)
    clock[0] += internals.AFFINITY_CHECK_EVERY
    evt.wait(0.001)
    assert (len(looks), internals.policy()[1]) == (2, False)


# -- wait() in the main thread: Ctrl-C ---------------------------------------------------------------

# The child blocks its main thread in wait(); a helper thread prints the marker only once the main
# thread is registered as a waiter, so the SIGINT lands while it is blocked (not before the wait).
_CTRL_C_CHILD = """
import signal, sys, threading, time
from threadevent import Event

# Python leaves SIGINT ignored if it was ignored when it started (as in a background job of a
# non-interactive shell, which is how a CI may run us): Ctrl-C must reach the child as a terminal's would.
signal.signal(signal.SIGINT, signal.default_int_handler)

evt = Event()

def announce():
    deadline = time.monotonic() + 60
    while evt._chain is None or evt._chain.count < 1:
        if time.monotonic() > deadline:
            print("never blocked", flush=True)
            return
        time.sleep(0.001)
    print("blocked", flush=True)

threading.Thread(target=announce, daemon=True).start()
evt.wait({timeout})
print("wait returned", flush=True)
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process")
@pytest.mark.parametrize("timeout", ["", "3600"], ids=["no-timeout", "timeout-3600"])
def test_wait_in_the_main_thread_is_interruptible_by_ctrl_c(timeout: str) -> None:
    returncode, stdout, stderr = ctrl_c_child(_CTRL_C_CHILD.format(timeout=timeout))
    assert "wait returned" not in stdout
    assert stderr.strip().endswith("KeyboardInterrupt"), stderr
    assert "in wait" in stderr  # raised from inside Event.wait, where the main thread was blocked
    # CPython ends an uncaught KeyboardInterrupt by re-raising SIGINT on itself.
    assert returncode == -signal.SIGINT, (returncode, stderr)


@pytest.mark.skipif(os.name != "posix", reason="SIGINT to a child process")
def test_ctrl_c_in_a_waiting_main_thread_leaves_the_other_waiters_intact() -> None:
    code = """
    import json, signal, threading, time
    from threadevent import Event

    signal.signal(signal.SIGINT, signal.default_int_handler)  # see _CTRL_C_CHILD
    evt = Event()
    results = []
    helpers = [threading.Thread(target=lambda: results.append(evt.wait())) for _ in range(3)]
    for t in helpers:
        t.start()

    def announce():
        deadline = time.monotonic() + 60
        while evt._chain is None or evt._chain.count < 4:   # three helpers and the main thread
            if time.monotonic() > deadline:
                print("never blocked", flush=True)
                return
            time.sleep(0.001)
        print("blocked", flush=True)

    threading.Thread(target=announce, daemon=True).start()
    try:
        evt.wait()
        outcome = "returned"
    except KeyboardInterrupt:
        outcome = "KeyboardInterrupt"
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # in case the parent's re-sent SIGINT comes late
    left = evt._chain.count
    evt.send("value")
    for t in helpers:
        t.join(60)
    print(json.dumps({"main": outcome, "left": left, "helpers": results}), flush=True)
    """
    returncode, stdout, stderr = ctrl_c_child(code)
    assert returncode == 0, stderr
    assert json.loads(stdout) == {"main": "KeyboardInterrupt", "left": 3, "helpers": ["value"] * 3}


# -- wait() is a checkpoint: interrupts ----------------------------------------------------------


@pytest.mark.parametrize("position", [0, 1, 2], ids=["head", "middle", "tail"])
@pytest.mark.parametrize("interrupt_with", [InterruptError, KeyboardInterrupt])
def test_interrupting_a_blocked_waiter_unlinks_it_and_spares_the_others(
    threads: Threads, position: int, interrupt_with: type[BaseException]
) -> None:
    evt: Event[str] = Event()
    waiters = [start_interruptible(threads, evt, evt.wait) for _ in range(3)]
    victim, body = waiters[position]
    assert body.state is not None
    error = interrupt_with("stop")
    interrupt(body.state, error)
    assert victim.exception() is error
    wait_until(lambda: waiter_count(evt) == 2, what="the interrupted waiter unlinked")
    others = [worker for worker, _ in waiters if worker is not victim]
    assert not any(worker.finished.is_set() for worker in others)
    evt.send("value")
    assert [worker.result() for worker in others] == ["value", "value"]


@pytest.mark.parametrize("method", ["wait", "result", "exception"])
def test_interrupt_pending_before_a_wait_raises_there_even_if_sent(method: str) -> None:
    # "the thread's current or next checkpoint raises": a pending interrupt is not skipped just
    # because the event is already sent; it is consumed, and the next wait works normally.
    evt: Event[str] = Event()
    evt.send("value")
    error = InterruptError("pending")

    def body() -> tuple[BaseException | None, Any]:
        interrupt_this_thread(error)
        try:
            getattr(evt, method)()
        except InterruptError as exc:
            raised: BaseException | None = exc
        else:
            raised = None
        return raised, getattr(evt, method)()

    raised, again = run_bounded(body)
    assert raised is error
    assert again == (None if method == "exception" else "value")


def test_interrupt_pending_before_a_wait_on_an_unsent_event_raises_without_blocking() -> None:
    evt: Event[str] = Event()
    error = InterruptError("pending")

    def body() -> None:
        interrupt_this_thread(error)
        evt.wait()

    with pytest.raises(InterruptError) as raised:
        run_bounded(body)
    assert raised.value is error
    assert waiter_count(evt) == 0


@pytest.mark.parametrize("position", [0, 2, 4], ids=["head", "middle", "tail"])
def test_a_waiter_interrupted_right_after_the_send_woke_it_still_passes_the_wake_up_on(
    threads: Threads, monkeypatch: pytest.MonkeyPatch, position: int
) -> None:
    # Deterministic form of "an interrupt races a send": the victim is woken by the send and an
    # exception hits it before it returns.  The waiters behind it must still be woken.
    victim_ident: list[int] = []

    def block_then_interrupted(lock: Any, timeout: float) -> bool:
        acquired = real_block(lock, timeout)
        if threading.get_ident() in victim_ident:
            raise InterruptError("hit just after the wake-up")
        return acquired

    patch_block(monkeypatch, block_then_interrupted)
    evt: Event[str] = Event()
    waiters = [start_blocked(threads, evt, 1)[0] for _ in range(5)]  # one by one: a known order
    victim = waiters[position]
    assert victim.ident is not None
    victim_ident.append(victim.ident)
    evt.send("value")
    evt.reset()
    evt.send("other")
    assert isinstance(victim.exception(), InterruptError)
    assert [w.result() for i, w in enumerate(waiters) if i != position] == ["value"] * 4


def test_interrupts_racing_a_send_do_not_break_the_wake_up_of_the_others(threads: Threads) -> None:
    for round_number in range(15):
        evt: Event[int] = Event()
        waiters = [start_interruptible(threads, evt, evt.wait) for _ in range(8)]
        errors = {}
        for i, (_, body) in enumerate(waiters):
            if i % 2 == 0:
                assert body.state is not None
                errors[i] = InterruptError(f"round {round_number} waiter {i}")
                interrupt(body.state, errors[i])
        evt.send(round_number)  # at once: the interrupted waiters are still waking up
        for i, (worker, body) in enumerate(waiters):
            worker.join()
            if i in errors:
                # Either the interrupt won or the send did; never anything else.
                assert worker.error is errors[i] or (worker.error is None and worker.value == round_number)
                drop_pending_interrupt(body.state)  # if the send won, the interrupt is still pending
            else:
                assert worker.result() == round_number


def test_timeouts_racing_a_send_do_not_break_the_wake_up_of_the_others(threads: Threads) -> None:
    for round_number in range(15):
        evt: Event[int] = Event()
        patient = start_blocked(threads, evt, 4)
        # Short timeouts that expire around the time of the send below (no ordering intended), with
        # more patient waiters queued behind them: the chain loses nodes in the middle as it is sent.
        hasty = [threads.start(evt.wait, 0.0005 * (i + 1)) for i in range(6)]
        # The waiter count cannot tell these from the hasty ones, which come and go: wait until each
        # of them is parked in its checkpoint instead.
        bodies = [Interruptible(evt.wait) for _ in range(4)]
        more_patient = [threads.start(body) for body in bodies]
        wait_until(lambda bodies=bodies: all(b.parked() for b in bodies), what="patient waiters blocked")
        evt.send(round_number)
        assert [w.result() for w in patient + more_patient] == [round_number] * 8
        assert {w.result() for w in hasty} <= {None, round_number}


class _SpuriousWakeUp:
    """Wake a blocked waiter without a send or an interrupt: what a withdrawn interrupt leaves behind."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: dict[int, int] = {}

        def counting_block(lock: Any, timeout: float) -> bool:
            ident = threading.get_ident()
            self.calls[ident] = self.calls.get(ident, 0) + 1
            return real_block(lock, timeout)

        patch_block(monkeypatch, counting_block)

    @staticmethod
    def wake(body: Interruptible) -> None:
        state = body.state
        assert state is not None
        internals.wake_spuriously(state)


@pytest.mark.parametrize("timeout", [None, PATIENCE * 100])
def test_a_spurious_wake_up_does_not_end_the_wait(
    threads: Threads, monkeypatch: pytest.MonkeyPatch, timeout: float | None
) -> None:
    spurious = _SpuriousWakeUp(monkeypatch)
    evt: Event[str] = Event()
    worker, body = start_interruptible(threads, evt, lambda: evt.wait(timeout))
    spurious.wake(body)
    # It must go back to waiting (block again), not return None early.
    wait_until(
        lambda: worker.finished.is_set() or (spurious.calls.get(worker.ident or 0, 0) >= 2 and body.parked()),
        what="waiter woken spuriously blocks again",
    )
    assert not worker.finished.is_set(), worker.value
    assert waiter_count(evt) == 1
    evt.send("value")
    assert worker.result() == "value"


def test_after_a_spurious_wake_up_wait_only_waits_out_the_rest_of_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Regression: up to c4e6a03 the deadline was taken at the spurious wake-up, so wait(10) woken
    # spuriously at 9 s blocked 10 s more.
    # A fake clock and a fake block: single-threaded and deterministic, no real time involved.
    block_timeouts = spurious_wake_up_9_s_into_the_wait(monkeypatch)
    evt: Event[str] = Event()
    assert evt.wait(10.0) is None
    assert block_timeouts[0] == 10.0
    # 9 of the 10 s are gone: at most 1 s more.
    assert all(t <= 1.0 + 1e-9 for t in block_timeouts[1:]), block_timeouts


class _AsyncExceptionAfterWakeUp:
    """Thread body: wait on ``evt``; once armed, raise KeyboardInterrupt at the ``n``-th function entry
    or return in threadevent's code.

    That is where an asynchronous exception (Ctrl-C in the main thread, PyThreadState_SetAsyncExc as a
    kill "at the next bytecode" would use) can land on CPython 3.10+: the interpreter looks for one
    when a function starts and after a call returns.  Arm it while the thread is blocked, so that the
    count starts at its wake-up.
    """

    def __init__(self, evt: Event[Any], n: int) -> None:
        self.evt = evt
        self.n = n
        self.armed = False
        self.raised_at: str | None = None
        self.body = Interruptible(self._wait)
        self.package = os.path.dirname(threadevent.__file__)

    def _event(self, frame: FrameType, event: str) -> None:
        if self.armed and event in ("call", "return"):
            self.n -= 1
            if self.n == 0:
                self.raised_at = f"{event} of {frame.f_code.co_name}"
                raise KeyboardInterrupt(f"delivered at the {self.raised_at}")

    def _trace(self, frame: FrameType, event: str, arg: object) -> Any:
        if not frame.f_code.co_filename.startswith(self.package):
            return None
        self._event(frame, event)
        return self._local

    def _local(self, frame: FrameType, event: str, arg: object) -> Any:
        self._event(frame, event)
        return self._local

    def _wait(self) -> Any:
        sys.settrace(self._trace)
        try:
            return self.evt.wait()
        finally:
            sys.settrace(None)


def _nodes(evt: Event[Any]) -> list[Any]:
    """The nodes of the waiters blocked on ``evt``, head first (white-box: ``send`` drops the head)."""
    return internals.nodes(evt)


def _free_the_chain(nodes: list[Any]) -> None:
    """Release every node's lock, so that waiters stranded by a failure end (white-box)."""
    for node in nodes:
        internals.release(node.lock)


def test_an_asynchronous_exception_in_a_waiter_woken_by_the_send_does_not_strand_the_others(
    threads: Threads,
) -> None:
    for n in range(1, 8):
        evt: Event[int] = Event()
        victim = _AsyncExceptionAfterWakeUp(evt, n)
        victim_worker = threads.start(victim.body, name=f"victim-{n}")
        wait_until(lambda victim=victim: victim.body.parked(), what="victim blocked")  # first in line
        others = start_blocked(threads, evt, 3)
        nodes = _nodes(evt)
        victim.armed = True
        try:
            evt.send(n)
            victim_worker.join()
            assert victim_worker.error is None or isinstance(victim_worker.error, KeyboardInterrupt)
            # Short on purpose: in a correct run they are done at once; this only bounds a failure.
            wait_until(
                lambda others=others: all(w.finished.is_set() for w in others),
                timeout=5,
                what=f"the others woken although the victim was hit at the {victim.raised_at}",
            )
        finally:
            _free_the_chain(nodes)
        assert [w.result() for w in others] == [n] * 3


def test_an_asynchronous_exception_in_a_leaving_waiter_leaves_no_node_behind(threads: Threads) -> None:
    # Regression: up to c4e6a03 an exception landing at the entry of Event._leave (a waiter leaving
    # after a timeout or an interrupt) skipped the unlink, and the next send's cascade stopped at the
    # dead node.  Reproduced for real with PyThreadState_SetAsyncExc on an expiring wait(timeout).
    for n in range(1, 10):
        evt: Event[int] = Event()
        victim = _AsyncExceptionAfterWakeUp(evt, n)
        victim_worker = threads.start(victim.body, name=f"victim-{n}")
        wait_until(lambda victim=victim: victim.body.parked(), what="victim blocked")
        others = start_blocked(threads, evt, 3)  # queued behind the victim
        nodes = _nodes(evt)
        victim.armed = True
        assert victim.body.state is not None
        try:
            interrupt(victim.body.state, InterruptError("leave"))  # it leaves unsent
            victim_worker.join()
            assert isinstance(victim_worker.error, (InterruptError, KeyboardInterrupt))
            assert waiter_count(evt) == 3, f"the victim, hit at the {victim.raised_at}, is still in the chain"
            evt.send(n)
            assert [w.result() for w in others] == [n] * 3
        finally:
            if not evt.ready():
                evt.send(-1)
            _free_the_chain(nodes)
            # Hit before it took its interrupt, the victim leaves it pending (raised at its next
            # checkpoint, which a finished thread never reaches).
            drop_pending_interrupt(victim.body.state)


# -- ready(), done(), has_result(), has_exception(), poll*() ------------------------------------------


def _sent_with_result() -> Event[str]:
    evt: Event[str] = Event()
    evt.send("value")
    return evt


def _sent_with_exception() -> Event[str]:
    evt: Event[str] = Event()
    evt.send_exception(SentError("boom"))
    return evt


@pytest.mark.parametrize(
    ("make", "ready", "has_result", "has_exception"),
    [
        pytest.param(Event, False, False, False, id="unsent"),
        pytest.param(_sent_with_result, True, True, False, id="result"),
        pytest.param(_sent_with_exception, True, False, True, id="exception"),
    ],
)
def test_state_queries(
    make: Callable[[], Event[str]], ready: bool, has_result: bool, has_exception: bool
) -> None:
    evt = make()
    assert evt.ready() is ready
    assert evt.done() is ready
    assert evt.has_result() is has_result
    assert evt.has_exception() is has_exception
    if ready:
        evt.reset()
        assert (evt.ready(), evt.done(), evt.has_result(), evt.has_exception()) == (False,) * 4


def test_poll_family_on_an_unsent_event_returns_notready() -> None:
    evt: Event[str] = Event()
    assert evt.poll() is None
    assert evt.poll_result() is None
    assert evt.poll_exception() is None
    assert evt.poll(NOT_READY) is NOT_READY
    assert evt.poll_result(NOT_READY) is NOT_READY
    assert evt.poll_exception(NOT_READY) is NOT_READY
    assert waiter_count(evt) == 0


def test_poll_family_with_a_result() -> None:
    evt = _sent_with_result()
    assert evt.poll(NOT_READY) == "value"
    assert evt.poll_result(NOT_READY) == "value"
    assert evt.poll_exception(NOT_READY) is NOT_READY  # a result is not an exception


def test_poll_family_with_an_exception() -> None:
    evt = _sent_with_exception()
    error = evt.exception()
    with pytest.raises(SentError) as raised:
        evt.poll(NOT_READY)
    assert raised.value is error
    assert evt.poll_result(NOT_READY) is NOT_READY  # never raises the sent exception
    with pytest.raises(SentError) as raised:
        evt.poll_exception(NOT_READY)
    assert raised.value is error


def test_poll_family_after_reset_returns_notready_again() -> None:
    evt = _sent_with_result()
    evt.reset()
    assert (evt.poll(NOT_READY), evt.poll_result(NOT_READY), evt.poll_exception(NOT_READY)) == (
        NOT_READY,
    ) * 3


# -- reset() -----------------------------------------------------------------------------------------


def test_reset_makes_the_event_fresh_and_sendable_again(threads: Threads) -> None:
    evt: Event[str] = Event()
    evt.send("first")
    evt.reset()
    assert not evt.ready()
    assert evt.wait(0) is None
    (waiter,) = start_blocked(threads, evt, 1)  # a new wait blocks again
    evt.send("second")
    assert waiter.result() == "second"
    assert evt.wait() == "second"


def test_reset_of_a_fresh_event_raises_and_changes_nothing(threads: Threads) -> None:
    evt: Event[str] = Event()
    (waiter,) = start_blocked(threads, evt, 1)
    with pytest.raises(AssertionError) as raised:
        evt.reset()
    assert str(raised.value) == "Trying to re-reset() a fresh event."
    assert waiter_count(evt) == 1
    assert not evt.ready()
    evt.send("value")
    assert waiter.result() == "value"
    evt.reset()
    with pytest.raises(AssertionError, match=r"^Trying to re-reset\(\) a fresh event\.$"):
        evt.reset()  # a second reset is a reset of a fresh event


@pytest.mark.parametrize("first_is_exception", [False, True])
def test_waiters_blocked_at_a_send_get_it_even_if_reset_and_resend_follow_at_once(
    threads: Threads, first_is_exception: bool
) -> None:
    for round_number in range(3):
        evt: Event[tuple[str, int]] = Event()
        # Untimed and timed waits take different paths; both must keep their send.
        waiters = start_blocked(threads, evt, 25) + start_blocked(
            threads, evt, 25, call=lambda evt=evt: evt.wait(PATIENCE * 100)
        )
        first_error = SentError(round_number)
        if first_is_exception:
            evt.send_exception(first_error)
        else:
            evt.send(("first", round_number))
        evt.reset()
        evt.send(("second", round_number))
        for waiter in waiters:
            if first_is_exception:
                assert waiter.exception() is first_error
            else:
                assert waiter.result() == ("first", round_number)
        assert evt.wait() == ("second", round_number)  # a wait after the second send sees it


def test_waiters_of_successive_sends_each_get_their_own(threads: Threads) -> None:
    evt: Event[int] = Event()
    generations = []
    for value in range(4):
        generations.append((value, start_blocked(threads, evt, 5)))
        evt.send(value)
        evt.reset()
    for value, waiters in generations:
        assert [w.result() for w in waiters] == [value] * 5


# -- result(), exception() ---------------------------------------------------------------------------


def test_result_returns_the_result_or_raises_the_exception(threads: Threads) -> None:
    evt: Event[str] = Event()
    (blocked,) = start_blocked(threads, evt, 1, call=evt.result)
    evt.send("value")
    assert blocked.result() == "value"
    assert evt.result() == "value"
    assert evt.result(0) == "value"

    failed: Event[str] = Event()
    (blocked,) = start_blocked(threads, failed, 1, call=failed.result)
    error = SentError("boom")
    failed.send_exception(error)
    assert blocked.exception() is error
    with pytest.raises(SentError) as raised:
        failed.result()
    assert raised.value is error


def test_exception_returns_the_instance_or_none(threads: Threads) -> None:
    evt: Event[str] = Event()
    (blocked,) = start_blocked(threads, evt, 1, call=evt.exception)
    error = SentError("boom")
    evt.send_exception(error)
    assert blocked.result() is error  # returned, not raised
    assert evt.exception() is error

    succeeded: Event[str] = Event()
    (blocked,) = start_blocked(threads, succeeded, 1, call=succeeded.exception)
    succeeded.send("value")
    assert blocked.result() is None
    assert succeeded.exception(0) is None


# -- add_done_callback(), remove_done_callback() -----------------------------------------------------


def test_done_callback_runs_once_in_the_sending_thread_with_the_event(threads: Threads) -> None:
    evt: Event[str] = Event()
    calls: list[tuple[int, Event[str], bool]] = []
    evt.add_done_callback(lambda e: calls.append((threading.get_ident(), e, e.ready())))
    assert calls == []
    sender = threads.start(evt.send, "value", name="sender")
    sender.join()
    assert calls == [(sender.ident, evt, True)]
    evt.reset()
    evt.send("again")
    assert len(calls) == 1  # once: a later send does not run it again


def test_done_callback_added_after_the_send_runs_at_once_in_the_caller() -> None:
    evt: Event[str] = Event()
    evt.send("value")
    calls: list[tuple[int, str]] = []
    evt.add_done_callback(lambda e: calls.append((threading.get_ident(), e.wait())))
    assert calls == [(threading.get_ident(), "value")]


def test_done_callbacks_run_for_an_exception_too() -> None:
    evt: Event[str] = Event()
    seen: list[BaseException | None] = []
    evt.add_done_callback(lambda e: seen.append(e.exception()))
    error = SentError("boom")
    evt.send_exception(error)
    assert seen == [error]


def test_done_callback_racing_the_send_runs_exactly_once(threads: Threads) -> None:
    for _ in range(50):
        evt: Event[int] = Event()
        calls: list[int] = []
        barrier = threading.Barrier(2, timeout=PATIENCE)

        def add(
            evt: Event[int] = evt, calls: list[int] = calls, barrier: threading.Barrier = barrier
        ) -> None:
            barrier.wait()
            evt.add_done_callback(lambda e: calls.append(e.wait()))

        def send(evt: Event[int] = evt, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            evt.send(1)

        adder, sender = threads.start(add), threads.start(send)
        adder.result()
        sender.result()
        assert calls == [1]


def test_a_raising_callback_is_logged_and_the_others_still_run(caplog: pytest.LogCaptureFixture) -> None:
    evt: Event[str] = Event()
    ran: list[str] = []

    def broken(event: Event[str]) -> None:
        ran.append("broken")
        raise SentError("callback failed")

    evt.add_done_callback(lambda e: ran.append("before"))
    evt.add_done_callback(broken)
    evt.add_done_callback(lambda e: ran.append("after"))
    with caplog.at_level(logging.ERROR, logger="threadevent"):
        evt.send("value")  # does not raise
    assert sorted(ran) == ["after", "before", "broken"]
    records = [r for r in caplog.records if r.name == "threadevent"]
    assert len(records) == 1
    assert records[0].levelno >= logging.ERROR
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], SentError)
    assert evt.wait() == "value"


def test_a_raising_callback_added_after_the_send_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    evt: Event[str] = Event()
    evt.send("value")

    def broken(event: Event[str]) -> None:
        raise SentError("callback failed")

    with caplog.at_level(logging.ERROR, logger="threadevent"):
        evt.add_done_callback(broken)
    records = [r for r in caplog.records if r.name == "threadevent"]
    assert len(records) == 1
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], SentError)


@pytest.mark.parametrize("not_callable", [None, 42, "fn"])
def test_add_done_callback_rejects_a_non_callable(not_callable: object) -> None:
    evt: Event[str] = Event()
    with pytest.raises(TypeError):
        evt.add_done_callback(not_callable)  # type: ignore[arg-type]
    evt.send("value")  # nothing was registered that could break the send
    evt.reset()
    evt.send("again")
    sent: Event[str] = Event()
    sent.send("value")
    with pytest.raises(TypeError):
        sent.add_done_callback(not_callable)  # type: ignore[arg-type]


def test_remove_done_callback_removes_every_registration_and_counts_them() -> None:
    evt: Event[str] = Event()
    ran: list[str] = []

    def removed(event: Event[str]) -> None:
        ran.append("removed")

    def kept(event: Event[str]) -> None:
        ran.append("kept")

    evt.add_done_callback(removed)
    evt.add_done_callback(kept)
    evt.add_done_callback(removed)
    assert evt.remove_done_callback(removed) == 2
    assert evt.remove_done_callback(removed) == 0
    evt.send("value")
    assert ran == ["kept"]
    assert evt.remove_done_callback(kept) == 0  # already run: nothing left to remove


def test_remove_done_callback_of_a_bound_method() -> None:
    evt: Event[str] = Event()
    ran: list[str] = []

    class Listener:
        def on_done(self, event: Event[str]) -> None:
            ran.append("ran")

    listener = Listener()
    evt.add_done_callback(listener.on_done)
    assert evt.remove_done_callback(listener.on_done) == 1  # a new but equal bound method
    evt.send("value")
    assert ran == []


# -- await event -------------------------------------------------------------------------------------


class _Watchdog:
    """Sends ``WATCHDOG`` to an event after PATIENCE, so a test whose loop is wrongly blocked fails
    (with a wrong value) instead of hanging."""

    VALUE = "watchdog"

    def __init__(self, evt: Event[str]) -> None:
        self._evt = evt
        self._timer = threading.Timer(PATIENCE, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        try:
            self._evt.send(self.VALUE)
        except AssertionError:
            pass

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        self._timer.join(PATIENCE)


def _has_hook(evt: Event[Any]) -> bool:
    return bool(evt._callbacks)


def _hooks(evt: Event[Any]) -> int:
    return len(evt._callbacks or ())


async def _until(predicate: Callable[[], object]) -> int:
    """Let the loop run other coroutines until ``predicate`` holds; how many turns that took.

    Fails after PATIENCE rather than spinning forever if it never holds.
    """
    deadline = time.monotonic() + PATIENCE
    turns = 0
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"never held within {PATIENCE} s: {predicate}")
        turns += 1
        await asyncio.sleep(0)
    return turns


@pytest.mark.parametrize("as_exception", [False, True])
def test_await_suspends_the_coroutine_not_the_loop(threads: Threads, as_exception: bool) -> None:
    evt: Event[str] = Event()
    error = SentError("boom")
    senders: list[Worker] = []

    async def awaiter() -> str:
        return await evt

    async def main() -> tuple[str | BaseException, int, bool]:
        task = asyncio.ensure_future(awaiter())
        # The loop goes on running other coroutines while `task` waits.
        ticks = await _until(lambda: _has_hook(evt) or task.done())
        for _ in range(10):
            ticks += 1
            await asyncio.sleep(0)
        pending_while_loop_ran = not task.done()
        send = (lambda: evt.send_exception(error)) if as_exception else (lambda: evt.send("value"))
        senders.append(threads.start(send, name="sender"))
        try:
            outcome: str | BaseException = await task
        except SentError as exc:
            outcome = exc
        return outcome, ticks, pending_while_loop_ran

    with _Watchdog(evt):
        outcome, ticks, pending_while_loop_ran = asyncio.run(main())
    senders[0].result()
    assert pending_while_loop_ran
    assert ticks >= 10
    if as_exception:
        assert outcome is error
    else:
        assert outcome == "value"


@pytest.mark.parametrize("as_exception", [False, True])
def test_await_an_already_sent_event(as_exception: bool) -> None:
    evt: Event[str] = Event()
    error = SentError("boom")
    if as_exception:
        evt.send_exception(error)
    else:
        evt.send("value")

    async def main() -> str | BaseException:
        try:
            return await evt
        except SentError as exc:
            return exc

    outcome = asyncio.run(main())
    assert outcome is error if as_exception else outcome == "value"
    assert not _has_hook(evt)


def test_await_gets_its_send_even_if_reset_and_resend_follow_at_once(threads: Threads) -> None:
    evt: Event[str] = Event()

    def send_reset_send() -> None:
        evt.send("first")
        evt.reset()
        evt.send("second")

    async def main() -> list[str]:
        tasks = [asyncio.ensure_future(_await(evt)) for _ in range(3)]
        await _until(lambda: _hooks(evt) == 3)
        sender = threads.start(send_reset_send)
        results = await asyncio.gather(*tasks)
        sender.result()
        return results

    with _Watchdog(evt):
        assert asyncio.run(main()) == ["first"] * 3


async def _await(evt: Event[str]) -> str:
    return await evt


def test_cancelling_an_await_removes_its_hook_and_leaves_the_event_usable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    evt: Event[str] = Event()

    async def main() -> tuple[bool, bool, bool]:
        task = asyncio.ensure_future(_await(evt))
        await _until(lambda: _has_hook(evt))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        hook_gone = not _has_hook(evt)
        untouched = not evt.ready()
        evt.send("later")  # would fail, or log, if the cancelled await's hook were still there
        for _ in range(5):
            await asyncio.sleep(0)  # let anything the send scheduled on the loop run
        return hook_gone, untouched, await _await(evt) == "later"

    with caplog.at_level(logging.DEBUG):
        hook_gone, untouched, later_await_works = asyncio.run(main())
    assert hook_gone
    assert evt._callbacks in (None, [])
    assert untouched
    assert later_await_works
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_cancelling_one_await_leaves_the_others(threads: Threads) -> None:
    evt: Event[str] = Event()

    async def main() -> list[str]:
        cancelled = asyncio.ensure_future(_await(evt))
        kept = [asyncio.ensure_future(_await(evt)) for _ in range(2)]
        await _until(lambda: _hooks(evt) == 3)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert evt._callbacks is not None
        assert len(evt._callbacks) == 2
        sender = threads.start(evt.send, "value")
        results = await asyncio.gather(*kept)
        sender.result()
        return results

    with _Watchdog(evt):
        assert asyncio.run(main()) == ["value", "value"]


# -- repr() ------------------------------------------------------------------------------------------


def test_repr_of_an_unsent_event_shows_class_id_state_and_waiter_count(threads: Threads) -> None:
    evt: Event[str] = Event()
    text = repr(evt)
    assert text.startswith("<Event")
    assert hex(id(evt)) in text
    assert "unsent" in text
    assert "0 waiters" in text
    start_blocked(threads, evt, 3)
    assert "3 waiters" in repr(evt)
    evt.send("done")


def test_repr_of_a_sent_event_shows_the_outcome() -> None:
    evt: Event[str] = Event()
    evt.send("the-value")
    assert "result" in repr(evt)
    assert repr("the-value") in repr(evt)
    assert "unsent" not in repr(evt)

    failed: Event[str] = Event()
    error = SentError("the-error")
    failed.send_exception(error)
    assert "exception" in repr(failed)
    assert repr(error) in repr(failed)

    evt.reset()
    assert "unsent" in repr(evt)


def test_repr_of_a_sent_event_counts_no_waiters(threads: Threads) -> None:
    # The waiters blocked at the send have been handed its outcome: none is left waiting.
    evt: Event[str] = Event()
    waiters = start_blocked(threads, evt, 2)
    assert "2 waiters" in repr(evt)
    evt.send("value")
    assert "0 waiters" in repr(evt)
    assert [w.result() for w in waiters] == ["value", "value"]


def test_the_last_waiter_to_time_out_leaves_no_chain_behind() -> None:
    evt: Event[str] = Event()
    assert evt.wait(0.001) is None
    assert not internals.has_chain(evt)
    assert "0 waiters" in repr(evt)


def test_repr_names_a_subclass() -> None:
    class Ticket(Event[int]):
        __slots__ = ()

    assert repr(Ticket()).startswith("<Ticket")


# -- odds and ends -----------------------------------------------------------------------------------


def test_timeout_of_a_numeric_type_other_than_float_is_accepted() -> None:
    evt: Event[str] = Event()
    assert evt.wait(Fraction(0)) is None
    assert evt.wait(0) is None
    evt.send("value")
    assert evt.wait(Fraction(1, 2)) == "value"
