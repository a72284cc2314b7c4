"""threadevent.hub against its contract (README and docs/design.md: "The hub", the reliability rules).

Tasks are held in place with events (gates), and every wait is for a condition under a generous
deadline, never a sleep; nothing asserts on elapsed time.  A few tests read private state through the
seam in ``internals.py`` (the timer's heap, whether its thread runs) where the public API cannot show it,
and two replace internals to force the rare interleavings deterministically: a worker timing out at
the moment it is handed a task, and the OS refusing a thread.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import threading
import time
from _thread import allocate_lock
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import internals
import pytest
from conftest import PATIENCE, Threads, record_excepthook, retire_all, settled, wait_until

from threadevent import hub
from threadevent.hub import HubStats, TimerHandle

# -- helpers -----------------------------------------------------------------------------------------


class Gates:
    """Tasks that block until the test lets them go; every gate is opened at teardown, so none hangs."""

    def __init__(self) -> None:
        self.gates: list[threading.Event] = []

    def task(self, started: threading.Event | None = None) -> tuple[Callable[[], None], threading.Event]:
        """A task that sets ``started`` (if given), then waits for the returned gate."""
        gate = threading.Event()
        self.gates.append(gate)

        def blocked() -> None:
            if started is not None:
                started.set()
            if not gate.wait(PATIENCE):
                raise AssertionError("a gate was never opened")

        return blocked, gate

    def hold(self, n: int) -> list[threading.Event]:
        """Submit ``n`` blocking tasks, return their gates once all of them are running."""
        gates = []
        for _ in range(n):
            started = threading.Event()
            task, gate = self.task(started)
            hub.submit(task)
            gates.append(gate)
            assert started.wait(PATIENCE), "a held task never started"
        return gates

    def open_all(self) -> None:
        for gate in self.gates:
            gate.set()


@pytest.fixture
def gates() -> Iterator[Gates]:
    made = Gates()
    yield made
    made.open_all()


class Recorder:
    """Tasks that record, under a lock, that they ran; ``wait_for(n)`` blocks until ``n`` have."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.ran: list[Any] = []

    def task(self, key: Any) -> Callable[[], None]:
        def record() -> None:
            with self.changed:
                self.ran.append(key)
                self.changed.notify_all()

        return record

    def wait_for(self, n: int) -> list[Any]:
        """What has run, once ``n`` tasks have (fails the test if they do not)."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.ran) >= n, PATIENCE):
                pytest.fail(f"only {len(self.ran)} of {n} tasks ran")
            return list(self.ran)


def worker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("threadevent-worker-")]


def run_python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


# -- submit -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("max_threads", "per_submitter"),
    [
        # Bounded: hand-offs, thread starts and a busy queue, all at once.
        (8, 2000),
        # Unbounded: every burst that finds no idle worker starts threads (hundreds of them, under the
        # GIL), so fewer tasks; the threads are retired afterwards so that they burden no other test.
        (None, 300),
    ],
)
def test_every_task_runs_exactly_once_under_concurrent_submitters(
    threads: Threads, max_threads: int | None, per_submitter: int
) -> None:
    hub.configure(max_threads=max_threads)
    recorder = Recorder()
    submitters = 8
    start = threading.Barrier(submitters)

    def submit_many(s: int) -> None:
        start.wait(PATIENCE)
        for i in range(per_submitter):
            hub.submit(recorder.task((s, i)))

    for s in range(submitters):
        threads.start(submit_many, s)
    threads.join_all()
    ran = recorder.wait_for(submitters * per_submitter)
    expected = {(s, i) for s in range(submitters) for i in range(per_submitter)}
    assert set(ran) == expected
    assert len(ran) == len(expected), [k for k, n in Counter(ran).items() if n > 1][:10]
    stats = settled()
    assert len(recorder.ran) == len(expected)  # nothing ran late, twice
    if max_threads is not None:
        assert stats.threads <= max_threads
    retire_all()


def test_worker_threads_are_named_daemons_that_can_be_interrupted() -> None:
    seen: list[tuple[str, bool, bool]] = []
    done = threading.Event()

    def look() -> None:
        thread = threading.current_thread()
        seen.append((thread.name, thread.daemon, internals.current_state() is not None))
        done.set()

    hub.submit(look)
    assert done.wait(PATIENCE)
    ((name, daemon, interruptible),) = seen
    assert name.startswith("threadevent-worker-") and name.rsplit("-", 1)[1].isdigit()
    assert daemon
    assert interruptible


def test_submit_rejects_a_non_callable_and_schedules_nothing() -> None:
    before = settled()
    with pytest.raises(TypeError, match="callable"):
        hub.submit(42)  # type: ignore[arg-type]
    assert hub.stats() == before


def test_tasks_queue_in_fifo_order_past_max_threads(gates: Gates) -> None:
    hub.configure(max_threads=1)
    (gate,) = gates.hold(1)
    recorder = Recorder()
    for i in range(50):
        hub.submit(recorder.task(i))
    wait_until(lambda: hub.stats().queued == 50, what="50 queued tasks")
    assert recorder.ran == []
    gate.set()
    assert recorder.wait_for(50) == list(range(50))


def test_raising_max_threads_starts_queued_tasks_at_once(gates: Gates) -> None:
    hub.configure(max_threads=1)
    (first,) = gates.hold(1)
    started = [threading.Event() for _ in range(3)]
    for event in started:
        task, _ = gates.task(event)
        hub.submit(task)
    wait_until(lambda: hub.stats().queued == 3, what="3 queued tasks")
    hub.configure(max_threads=4)
    # The first task still holds its worker: only new workers can be running the others.
    for event in started:
        assert event.wait(PATIENCE), "a queued task did not start when max_threads was raised"
    assert hub.stats().queued == 0
    assert not first.is_set()


def test_lowering_max_threads_stops_no_running_task_and_extra_workers_retire(gates: Gates) -> None:
    hub.configure(max_threads=None)
    held = gates.hold(3)
    hub.configure(max_threads=1)
    recorder = Recorder()
    hub.submit(recorder.task("queued"))
    stats = hub.stats()
    assert stats.running >= 3 and stats.queued == 1  # nobody was stopped; the new task waits
    for gate in held:
        gate.set()
    assert recorder.wait_for(1) == ["queued"]
    wait_until(lambda: hub.stats().threads <= 1, what="the workers over the limit to retire")


def test_stats_are_consistent(gates: Gates) -> None:
    retire_all()
    hub.configure(max_threads=2)
    before = hub.stats()
    assert before == HubStats(threads=0, idle=0, running=0, queued=0, spawned=before.spawned)
    held = gates.hold(2)
    queued = [gates.task() for _ in range(3)]
    for task, _ in queued:
        hub.submit(task)
    assert hub.stats() == HubStats(threads=2, idle=0, running=2, queued=3, spawned=before.spawned + 2)
    for gate in held + [gate for _, gate in queued]:
        gate.set()
    after = settled()
    assert after == HubStats(threads=2, idle=2, running=0, queued=0, spawned=before.spawned + 2)
    with pytest.raises(AttributeError):
        after.threads = 5  # type: ignore[misc]


def test_idle_workers_retire_after_idle_timeout(gates: Gates) -> None:
    hub.configure(max_threads=None, idle_timeout=0.05)
    held = gates.hold(4)
    assert hub.stats().threads >= 4
    for gate in held:
        gate.set()
    wait_until(lambda: hub.stats().threads == 0, timeout=10, what="idle workers to time out")
    wait_until(lambda: not worker_threads(), timeout=10, what="worker threads to end")


def test_new_idle_timeout_applies_to_already_idle_workers(gates: Gates) -> None:
    hub.configure(max_threads=None, idle_timeout=3600)
    for gate in gates.hold(2):
        gate.set()
    wait_until(lambda: hub.stats().idle >= 2, what="two idle workers")
    hub.configure(max_threads=None, idle_timeout=0.01)
    wait_until(lambda: hub.stats().threads == 0, timeout=10, what="idle workers to time out")


def test_a_task_on_a_new_thread_starts_only_after_submit_returns(gil_kept_until_blocking: None) -> None:
    """The race: ``Thread.start()`` waits for the new thread to come up, and the new thread used to run
    its first task right then, while its submitter waited: the task could end before ``submit()``
    returned.  Now the new worker waits for a go-ahead that ``submit()`` gives once the thread is up
    and counted, as it hands a task to an idle worker: by releasing a lock, never blocking, so the
    task runs once the submitter lets go of the GIL."""
    retire_all()
    hub.configure(max_threads=None, idle_timeout=3600)
    before = hub.stats()
    returned: list[bool] = []
    seen: list[bool] = []
    ran = threading.Event()

    def task() -> None:
        seen.append(bool(returned))
        ran.set()

    hub.submit(task)
    returned.append(True)
    # The new worker is counted as running its task already: nothing idle, nothing queued.
    stats = hub.stats()
    assert (stats.threads, stats.idle, stats.running, stats.queued) == (1, 0, 1, 0)
    assert stats.spawned == before.spawned + 1
    assert ran.wait(PATIENCE)
    assert seen == [True], "the task ran before submit() returned"
    assert settled().idle == 1


@pytest.mark.timeout(900)  # 100k round trips: seconds normally, far more on an overloaded single CPU
def test_sequential_submit_and_wait_reuses_a_few_threads() -> None:
    before = hub.stats().spawned
    lock = allocate_lock()
    for _ in range(100_000):
        lock.acquire()
        hub.submit(lock.release)
        if not lock.acquire(True, PATIENCE):
            pytest.fail("a task never ran")
        lock.release()
    assert hub.stats().spawned - before <= 4


def test_worker_timing_out_while_handed_a_task_runs_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The race, forced: the worker's idle wait times out after a submitter unparked it."""
    retire_all()
    hub.configure(max_threads=None, idle_timeout=3600)
    timing_out = threading.Event()
    gate = threading.Event()

    class TimesOutOnce:
        """A parked worker's lock whose first timed wait 'times out' only when the test says so."""

        def __init__(self) -> None:
            self.lock = allocate_lock()
            self.armed = True

        def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
            if timeout >= 0 and self.armed:
                self.armed = False
                timing_out.set()
                gate.wait(PATIENCE)
                return False  # timed out, though the lock may have been released meanwhile
            return self.lock.acquire(blocking, timeout)

        def release(self) -> None:
            self.lock.release()

    internals.patch_ticket_locks(monkeypatch, TimesOutOnce)
    recorder = Recorder()
    hub.submit(recorder.task("first"))
    assert timing_out.wait(PATIENCE)  # the new worker ran "first" and is timing out, still parked
    monkeypatch.undo()
    stats = hub.stats()
    assert (stats.threads, stats.idle) == (1, 1)
    hub.submit(recorder.task("handed over"))  # unparks the worker, handing it the task
    assert hub.stats().idle == 0
    gate.set()
    assert recorder.wait_for(2) == ["first", "handed over"]
    hub.submit(recorder.task("after"))  # the worker is back at work, its lock in order
    assert recorder.wait_for(3)[2] == "after"
    assert settled().threads == 1 and hub.stats().spawned == stats.spawned


def test_no_task_lost_when_idle_timeouts_race_hand_offs(threads: Threads) -> None:
    hub.configure(max_threads=None, idle_timeout=0.0002)
    recorder = Recorder()
    submitters, rounds = 4, 500

    def submit_and_wait(s: int) -> None:
        lock = allocate_lock()
        for i in range(rounds):
            lock.acquire()
            task = recorder.task((s, i))

            def run(task: Callable[[], None] = task) -> None:
                task()
                lock.release()

            hub.submit(run)
            if not lock.acquire(True, PATIENCE):
                raise AssertionError(f"task {(s, i)} never ran")
            lock.release()

    workers = [threads.start(submit_and_wait, s) for s in range(submitters)]
    for worker in workers:
        worker.result()
    ran = recorder.wait_for(submitters * rounds)
    assert Counter(ran) == Counter((s, i) for s in range(submitters) for i in range(rounds))


def test_a_raising_task_goes_to_threading_excepthook_and_the_worker_survives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub.configure(max_threads=1)
    # Workers still finishing earlier tests' tasks exit once done (over the limit): wait for that, so
    # that the one worker left is the one to fail and then to serve again.
    wait_until(lambda: hub.stats().threads <= 1, what="workers over the limit exit")
    reported = record_excepthook(monkeypatch)
    failing_thread: list[threading.Thread] = []

    def fail() -> None:
        failing_thread.append(threading.current_thread())
        raise ValueError("boom")

    hub.submit(fail)
    assert reported.called.wait(PATIENCE)
    ((exc_type, exc_value, tb, thread),) = reported.calls
    assert exc_type is ValueError and str(exc_value) == "boom" and tb is not None
    assert thread is failing_thread[0]
    # Same worker (max_threads=1, and it is the only one needed): it survived.
    served: list[threading.Thread] = []
    done = threading.Event()

    def serve() -> None:
        served.append(threading.current_thread())
        done.set()

    hub.submit(serve)
    assert done.wait(PATIENCE)
    assert served[0] is thread and thread.is_alive()


def test_a_raising_excepthook_is_reported_and_the_worker_survives(monkeypatch: pytest.MonkeyPatch) -> None:
    reported: list[Any] = []
    hooked = threading.Event()

    def broken_hook(args: Any) -> None:
        raise RuntimeError("the hook itself fails")

    def sys_hook(*exc_info: Any) -> None:
        reported.append(exc_info)
        hooked.set()

    monkeypatch.setattr(threading, "excepthook", broken_hook)
    monkeypatch.setattr(sys, "excepthook", sys_hook)
    hub.submit(lambda: 1 / 0)
    assert hooked.wait(PATIENCE)
    assert reported[0][0] is RuntimeError
    done = threading.Event()
    hub.submit(done.set)
    assert done.wait(PATIENCE)


def test_thread_start_failure_raises_and_loses_nothing(
    gates: Gates, refuse_worker_threads: Callable[[bool], None]
) -> None:
    retire_all()
    hub.configure(max_threads=2)
    recorder = Recorder()
    held = gates.hold(2)
    for i in range(3):
        hub.submit(recorder.task(i))
    before = hub.stats()
    assert before.queued == 3
    refuse_worker_threads(True)

    # configure starts a worker for the queue, which fails: the settings stay, the queue is intact.
    with pytest.raises(RuntimeError, match=r"could not start a worker thread \(2 running, max_threads=3\)"):
        hub.configure(max_threads=3)
    assert hub.stats() == before
    # submit finds room for a thread: the OS refuses it.
    with pytest.raises(RuntimeError, match=r"max_threads=3.*can't start new thread") as info:
        hub.submit(recorder.task("refused"))
    assert isinstance(info.value.__cause__, RuntimeError)
    assert hub.stats() == before

    refuse_worker_threads(False)
    hub.submit(recorder.task(3))  # starts the worker the queue was waiting for; the queue goes first
    # The two held workers are still busy: the new one runs the whole queue, in order, the new task last.
    # (Once the held ones are free too, tasks run side by side, and their order is the threads'.)
    assert recorder.wait_for(4) == [0, 1, 2, 3]
    for gate in held:
        gate.set()
    settled()
    assert "refused" not in recorder.ran


def test_thread_start_failure_with_no_worker_at_all(
    refuse_worker_threads: Callable[[bool], None],
) -> None:
    retire_all()
    hub.configure(max_threads=None)
    before = hub.stats()
    refuse_worker_threads(True)
    with pytest.raises(RuntimeError, match=r"\(0 running, max_threads=None\): can't start new thread"):
        hub.submit(lambda: None)
    assert hub.stats() == before
    refuse_worker_threads(False)
    done = threading.Event()
    hub.submit(done.set)
    assert done.wait(PATIENCE)


# -- configure ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_threads": 0}, ValueError),
        ({"max_threads": -3}, ValueError),
        ({"max_threads": True}, TypeError),
        ({"max_threads": 1.5}, TypeError),
        ({"max_threads": "2"}, TypeError),
        ({"idle_timeout": 0}, ValueError),
        ({"idle_timeout": -1.0}, ValueError),
        ({"idle_timeout": math.nan}, ValueError),
        ({"idle_timeout": "1"}, TypeError),
        ({"idle_timeout": True}, TypeError),
        ({"idle_timeout": [1]}, TypeError),
    ],
)
def test_configure_rejects_bad_values_and_changes_nothing(kwargs: dict[str, Any], error: type) -> None:
    hub.configure(max_threads=7, idle_timeout=12.5)
    with pytest.raises(error):
        hub.configure(**{"max_threads": 5, **kwargs})
    assert hub.configuration() == hub.HubConfig(7, 12.5)


def test_configure_without_idle_timeout_keeps_it() -> None:
    hub.configure(max_threads=3, idle_timeout=12.5)
    hub.configure(max_threads=None)
    assert hub.configuration() == hub.HubConfig(None, 12.5)


def test_configure_without_max_threads_keeps_it() -> None:
    hub.configure(max_threads=3, idle_timeout=12.5)
    hub.configure(idle_timeout=7.0)
    assert hub.configuration() == hub.HubConfig(3, 7.0)
    hub.configure()
    assert hub.configuration() == hub.HubConfig(3, 7.0)


def test_configuration_from_the_environment() -> None:
    code = """
        from threadevent import hub
        print(hub.configuration().max_threads, hub.configuration().idle_timeout)
    """
    proc = run_python(code, {"THREADEVENT_MAX_THREADS": "3", "THREADEVENT_IDLE_TIMEOUT": "2.5"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3", "2.5"]
    proc = run_python(code, {"THREADEVENT_MAX_THREADS": "", "THREADEVENT_IDLE_TIMEOUT": ""})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["None", "60.0"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("THREADEVENT_MAX_THREADS", "lots"),
        ("THREADEVENT_MAX_THREADS", "0"),
        ("THREADEVENT_IDLE_TIMEOUT", "-1"),
        ("THREADEVENT_IDLE_TIMEOUT", "nan"),
    ],
)
def test_an_invalid_environment_value_fails_the_import_naming_the_variable(name: str, value: str) -> None:
    proc = run_python("import threadevent.hub", {name: value})
    assert proc.returncode != 0
    assert f"ValueError: invalid environment variable {name}={value!r}" in proc.stderr


# -- call_later ---------------------------------------------------------------------------------------


def test_delayed_calls_run_in_deadline_order_in_the_timer_thread() -> None:
    recorder = Recorder()
    delays = [0.05, 0.01, 0.03, 0.0, 0.02, -1, 0.04, 0.0, 0.01]
    handles = [hub.call_later(delay, recorder.task(i)) for i, delay in enumerate(delays)]
    ran = recorder.wait_for(len(delays))
    assert ran == sorted(range(len(delays)), key=lambda i: (handles[i].when, i))
    names: list[tuple[str, bool]] = []
    done = threading.Event()

    def look() -> None:
        names.append((threading.current_thread().name, threading.current_thread().daemon))
        done.set()

    hub.call_later(0, look)
    assert done.wait(PATIENCE)
    assert names == [("threadevent-timer", True)]


def test_an_earlier_deadline_wakes_the_sleeping_timer() -> None:
    far = hub.call_later(3600, lambda: None)
    done = threading.Event()
    hub.call_later(0.001, done.set)
    assert done.wait(PATIENCE)
    assert far.cancel()


def test_cancel_before_it_runs_stops_it(gates: Gates) -> None:
    started = threading.Event()
    block, gate = gates.task(started)
    hub.call_later(0, block)  # holds the timer thread, so nothing after it can run yet
    assert started.wait(PATIENCE)
    recorder = Recorder()
    victim = hub.call_later(0, recorder.task("victim"))
    hub.call_later(0, recorder.task("marker"))
    assert victim.cancel() is True
    assert victim.cancel() is False
    gate.set()
    assert recorder.wait_for(1) == ["marker"]  # the victim was due before the marker
    assert recorder.ran == ["marker"]


def test_cancel_after_it_ran_returns_false() -> None:
    done = threading.Event()
    handle = hub.call_later(0, done.set)
    assert done.wait(PATIENCE)
    assert handle.cancel() is False
    assert "done" in repr(handle)


def test_a_call_cancelling_itself_or_a_later_one() -> None:
    recorder = Recorder()
    results: dict[str, bool] = {}
    handles: dict[str, TimerHandle] = {}

    def first() -> None:
        results["self"] = handles["first"].cancel()
        results["later"] = handles["later"].cancel()

    # The timer is held until every handle is stored: a timer thread started afresh by the first call
    # could otherwise run ``first`` before its own handle is (KeyError, in one cold run of three).
    holding, release = threading.Event(), threading.Event()
    hub.call_later(0, lambda: (holding.set(), release.wait(PATIENCE)))
    assert holding.wait(PATIENCE)
    handles["first"] = hub.call_later(0, first)
    handles["later"] = hub.call_later(0, recorder.task("later"))
    hub.call_later(0, recorder.task("marker"))
    release.set()
    assert recorder.wait_for(1) == ["marker"]
    assert results == {"self": False, "later": True}


@pytest.mark.parametrize(
    ("seconds", "fn", "error"),
    [
        ("1", lambda: None, TypeError),
        (None, lambda: None, TypeError),
        (True, lambda: None, TypeError),
        (math.nan, lambda: None, ValueError),
        (0, "not callable", TypeError),
    ],
)
def test_call_later_rejects_bad_arguments(seconds: Any, fn: Any, error: type) -> None:
    size = internals.timer_entries()
    with pytest.raises(error):
        hub.call_later(seconds, fn)
    assert internals.timer_entries() == size


def test_a_raising_delayed_call_goes_to_excepthook_and_the_timer_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reported: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args))

    def fail() -> None:
        raise KeyError("timer")

    hub.call_later(0, fail)
    done = threading.Event()
    hub.call_later(0, done.set)
    assert done.wait(PATIENCE)
    assert [(a.exc_type, a.thread.name) for a in reported] == [(KeyError, "threadevent-timer")]


def test_cancelled_calls_do_not_pile_up_in_the_heap() -> None:
    handles = [hub.call_later(3600 + i, lambda: None) for i in range(5000)]
    assert all(handle.cancel() for handle in handles)
    assert internals.timer_entries() <= 2 * internals.COMPACT_MIN + 2
    assert not any(handle.cancel() for handle in handles)


def test_the_timer_thread_exits_when_idle_and_comes_back() -> None:
    hub.configure(max_threads=hub.configuration().max_threads, idle_timeout=0.02)

    def timer_alive() -> bool:
        return any(t.name == "threadevent-timer" for t in threading.enumerate())

    done = threading.Event()
    hub.call_later(0, done.set)
    assert done.wait(PATIENCE)
    # A cancelled call, even the one the timer sleeps towards, does not keep it alive.
    assert hub.call_later(3600, done.set).cancel()
    wait_until(
        lambda: not timer_alive() and not internals.timer_alive(), timeout=10, what="the timer to exit"
    )
    again = threading.Event()
    hub.call_later(0, again.set)
    assert again.wait(PATIENCE)


def test_timer_handle_when_is_the_monotonic_deadline() -> None:
    before = time.monotonic()
    handle = hub.call_later(100, lambda: None)
    after = time.monotonic()
    try:
        assert before + 100 <= handle.when <= after + 100
        with pytest.raises(AttributeError):
            handle.when = 0  # type: ignore[misc]
        assert "pending" in repr(handle)
    finally:
        assert handle.cancel()


# -- fork ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_the_child_of_a_fork_gets_a_fresh_hub() -> None:
    # In a subprocess: forking pytest's own multi-threaded process would be asking for trouble.
    code = """
        import os, sys, threading, warnings
        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running: on purpose
        from threadevent import hub

        hub.configure(max_threads=1)
        gate, started = threading.Event(), threading.Event()
        hub.submit(lambda: (started.set(), gate.wait()))
        started.wait()
        parent_queued = threading.Event()
        hub.submit(parent_queued.set)               # queued behind the held task
        timer_fired = threading.Event()
        pending = hub.call_later(3600, timer_fired.set)
        assert hub.stats().queued == 1 and hub.stats().spawned == 1

        pid = os.fork()
        if pid == 0:
            try:
                stats = hub.stats()
                assert stats == hub.HubStats(threads=0, idle=0, running=0, queued=0, spawned=0), stats
                done = threading.Event()
                hub.submit(done.set)
                assert done.wait(30), "no task ran in the child"
                assert hub.stats().spawned == 1
                assert not parent_queued.is_set()    # dropped in the child
                fired = threading.Event()
                hub.call_later(0, fired.set)
                assert fired.wait(30), "the timer does not run in the child"
                assert pending.cancel()              # never ran here, and now never will
                os._exit(0)
            except BaseException as exc:
                print("child:", repr(exc), flush=True)
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        gate.set()
        assert parent_queued.wait(30), "the parent lost its queued task"
        assert pending.cancel()
        print("child exit", os.waitstatus_to_exitcode(status))
    """
    proc = run_python(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "child exit 0", proc.stdout + proc.stderr
