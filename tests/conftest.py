"""Shared helpers: threads that are always joined, waiting on a condition with a generous deadline, and
the greenthreads, interrupts, storms and child processes that several test files need alike."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import random
import selectors
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any

import internals
import pytest
from hypothesis import settings
from internals import HANDOFFS, handoff, restore_yield_policy
from internals import parked as parked

from threadevent import Event, GreenletExit, GreenThread, Timeout, getcurrent, hub, spawn

__all__ = ["HANDOFFS", "handoff"]

# "ci" keeps the property tests short on CI's slow shared machine; "default" digs a little deeper.
settings.register_profile("default", max_examples=300, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")

#: How long to wait for something that should happen almost at once.  Generous on purpose: the machine
#: is slow and noisy, and a correct run never comes near it; only a broken one pays it.
PATIENCE = 30.0


class KillError(Exception):
    """What a test kills (or cancels) a greenthread with, instead of GreenletExit (an Exception, on
    purpose)."""


class InterruptError(Exception):
    """What a test interrupts a blocked call with."""


class Index:
    """Not an int, but usable as one (``__index__``), as a size or a value must be accepted."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def wait_until(predicate: Callable[[], object], timeout: float = PATIENCE, what: str = "") -> None:
    """Poll ``predicate`` until it holds; fail the test if it does not within ``timeout`` seconds.

    This waits for a condition, it does not sleep "long enough": the short sleep only keeps the poll
    from hogging the CPU that the threads it waits for need.
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition never held within {timeout} s: {what or predicate}")
        time.sleep(0.0005)


class Worker:
    """A thread running one call, keeping its return value or the exception it raised."""

    def __init__(self, target: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        self.finished = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None
        self.ident: int | None = None
        self._target = target
        self._args = args
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        self.ident = threading.get_ident()
        try:
            self.value = self._target(*self._args)
        except BaseException as exc:  # KeyboardInterrupt too: tests deliver it on purpose
            self.error = exc
        finally:
            self.finished.set()

    def join(self, timeout: float = PATIENCE) -> None:
        """Wait for the call to end; fail the test if it does not (it hangs)."""
        self.thread.join(timeout)
        if self.thread.is_alive():
            pytest.fail(f"{self.thread.name} still running after {timeout} s: it hangs")

    def result(self, timeout: float = PATIENCE) -> Any:
        """The call's return value; fail the test if it raised instead."""
        self.join(timeout)
        if self.error is not None:
            raise AssertionError(f"{self.thread.name} raised instead of returning") from self.error
        return self.value

    def exception(self, timeout: float = PATIENCE) -> BaseException:
        """The exception the call raised; fail the test if it returned instead."""
        self.join(timeout)
        if self.error is None:
            pytest.fail(f"{self.thread.name} returned {self.value!r} instead of raising")
        return self.error


class Threads:
    """Starts worker threads and, at teardown, joins every one of them (or fails naming the hung ones)."""

    def __init__(self) -> None:
        self.workers: list[Worker] = []

    def start(self, target: Callable[..., Any], *args: Any, name: str | None = None) -> Worker:
        worker = Worker(target, args, name or f"worker-{len(self.workers)}")
        self.workers.append(worker)
        worker.thread.start()
        return worker

    def join_all(self, timeout: float = PATIENCE) -> None:
        # One deadline for all of them, so a test that leaves many threads hung fails in bounded time.
        deadline = time.monotonic() + timeout
        for worker in self.workers:
            worker.thread.join(max(deadline - time.monotonic(), 0.0))
        hung = [w.thread.name for w in self.workers if w.thread.is_alive()]
        if hung:
            pytest.fail(f"threads still running at teardown (hung): {hung}")


@pytest.fixture
def threads() -> Iterator[Threads]:
    started = Threads()
    yield started
    started.join_all()


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., None]:
    return wait_until


def run_bounded(call: Callable[[], Any], timeout: float = PATIENCE) -> Any:
    """Run ``call`` in a helper thread and return what it returns (or re-raise what it raises).

    For calls that must not block: a call that does block fails the test after ``timeout`` instead of
    hanging the run.
    """
    worker = Worker(call, (), "bounded-call")
    worker.thread.start()
    worker.join(timeout)
    if worker.error is not None:
        raise worker.error
    return worker.value


@pytest.fixture(name="run_bounded")
def run_bounded_fixture() -> Callable[..., Any]:
    return run_bounded


class Interruptible:
    """A thread body that makes the thread interruptible (it gets a ThreadState), then runs ``call``."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call
        self.state: internals.ThreadState | None = None

    def __call__(self) -> Any:
        self.state = internals.current_state(create=True)
        return self.call()

    def parked(self) -> bool:
        """Blocked inside a checkpoint right now."""
        return self.state is not None and internals.parked(self.state)


def ctrl_c_child(code: str) -> tuple[int, str, str]:
    """Run ``code`` in a child Python, press Ctrl-C (SIGINT) once it prints ``blocked``, and return its
    exit status, stdout and stderr.

    The child prints ``blocked`` (from a helper thread) once its main thread is blocked in the call under
    test, so the SIGINT lands while it waits, not before.  SIGINT is sent again until the child ends: a
    signal that lands in the instant before the blocking system call waits until that call ends, as with
    ``threading.Event.wait``, and a user presses Ctrl-C again.  A child that prints nothing within 60 s,
    or still runs 60 s after the first SIGINT (its wait is not interruptible), fails the test; it is
    killed whatever happens.
    """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            if not selector.select(60):
                pytest.fail("the child printed nothing within 60 s")
        line = proc.stdout.readline().strip()
        assert line == "blocked", line
        deadline = time.monotonic() + 60
        while True:
            proc.send_signal(signal.SIGINT)
            try:
                stdout, stderr = proc.communicate(timeout=10)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    pytest.fail("the child still blocked 60 s after SIGINTs: the wait is not interruptible")
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    return proc.returncode, stdout, stderr


def interrupt_this_thread(exc: BaseException) -> None:
    """Make ``exc`` an interrupt pending in the calling thread (made interruptible if it was not): what a
    kill held back, or a Timeout that expired while the thread was busy, leaves.  Its next checkpoint
    raises it."""
    state = internals.current_state(create=True)
    assert state is not None
    internals.interrupt(state, exc)


def spurious_wake_up_9_s_into_the_wait(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Fake the clock and every block of a checkpoint: the first block returns at once, as if woken
    spuriously 9 s into its wait (the clock moves on 9 s); every later one times out (the clock moves on
    by its timeout).  Returns the timeouts the blocks are given, in order.

    Single-threaded and deterministic, no real time involved: a ``wait(10.0)`` must then block once more
    for at most the 1 s left.
    """
    clock = [1000.0]
    timeouts: list[float] = []

    def fake_block(lock: Any, timeout: float) -> bool:
        timeouts.append(timeout)
        if len(timeouts) == 1:
            clock[0] += 9.0  # woken spuriously 9 s into a 10 s wait
            return True
        clock[0] += max(timeout, 0.0)
        return False  # then times out

    internals.patch_block(monkeypatch, fake_block)
    internals.fake_clock(monkeypatch, clock)
    return timeouts


class ExceptHookCalls:
    """The calls of ``threading.excepthook`` (see ``record_excepthook``): ``called`` is set at the first."""

    def __init__(self) -> None:
        self.calls: list[threading.ExceptHookArgs] = []
        self.called = threading.Event()

    def hook(self, args: threading.ExceptHookArgs) -> None:
        self.calls.append(args)
        self.called.set()


def record_excepthook(monkeypatch: pytest.MonkeyPatch) -> ExceptHookCalls:
    """From now until the test ends, ``threading.excepthook`` records its calls instead of printing them.

    Each call is an ``ExceptHookArgs``, which unpacks as ``(exc_type, exc_value, exc_traceback, thread)``.
    """
    recorded = ExceptHookCalls()
    monkeypatch.setattr(threading, "excepthook", recorded.hook)
    return recorded


@pytest.fixture(autouse=True)
def restore_hub_config() -> Iterator[None]:
    """Every test leaves the hub configured as it found it."""
    saved = hub.configuration()
    yield
    hub.configure(max_threads=saved.max_threads, idle_timeout=saved.idle_timeout)


@pytest.fixture
def real_yield_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's own credit and slow-yield limit, for tests of that policy under ``handoff``."""
    restore_yield_policy(monkeypatch)


#: The kinds of item that ``wait_any``, ``result()``, ``await`` and the like take, for ``Items.make``.
ITEM_KINDS = ("event", "greenthread", "future")


class Items:
    """Makes items of each kind and completes them; ``close()`` completes whatever is left.

    A greenthread item runs ``gate.wait()`` on a gate of its own: completing it sends the gate, and the
    greenthread finishes a moment later, on its worker thread.
    """

    def __init__(self) -> None:
        self.gates: dict[int, Event[Any]] = {}
        self.made: list[Any] = []

    def make(self, kind: str) -> Any:
        item: Any
        if kind == "event":
            item = Event()
        elif kind == "future":
            item = Future()
        else:
            gate: Event[Any] = Event()
            item = spawn(gate.wait)
            self.gates[id(item)] = gate
        self.made.append(item)
        return item

    def mix(self, kinds: Sequence[str] = ITEM_KINDS) -> list[Any]:
        return [self.make(kind) for kind in kinds]

    def complete(self, item: Any, value: Any = "value", error: BaseException | None = None) -> None:
        """Complete ``item`` (a greenthread: release it; it finishes on its worker a moment later)."""
        if isinstance(item, Future):
            if error is None:
                item.set_result(value)
            else:
                item.set_exception(error)
            return
        target = self.gates[id(item)] if isinstance(item, GreenThread) else item
        if error is None:
            target.send(value)
        else:
            target.send_exception(error)

    def finish(self, item: Any, value: Any = "value", error: BaseException | None = None) -> None:
        """Complete ``item`` and return once it is done, greenthreads included."""
        self.complete(item, value, error)
        wait_until(item.done, what=f"{item!r} to finish")

    def close(self) -> None:
        for item in self.made:
            if isinstance(item, Future):
                if not item.done():
                    item.set_result(None)
            else:
                target = self.gates.get(id(item), item)
                if not target.ready():
                    target.send(None)
        for item in self.made:
            if isinstance(item, GreenThread):
                item.exception(PATIENCE)  # also marks a failure as retrieved: no log at collection


def settled() -> hub.HubStats:
    """The hub's stats once every task has finished and every worker is parked (or gone)."""
    wait_until(lambda: (s := hub.stats()).running == 0 and s.queued == 0, what="the hub to settle")
    return hub.stats()


def retire_all() -> None:
    """Let every idle worker time out, and wait until they have: the next task needs a new thread."""
    hub.configure(max_threads=hub.configuration().max_threads, idle_timeout=0.01)
    wait_until(lambda: hub.stats().threads == 0, what="every worker to retire")


@pytest.fixture
def refuse_worker_threads(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """``refuse(True)``: from now on, starting a worker thread fails as when the OS is out of threads."""
    real_start = threading.Thread.start
    refusing = [False]

    def start(self: threading.Thread) -> None:
        if refusing[0] and self.name.startswith("threadevent-worker-"):
            raise RuntimeError("can't start new thread")
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)

    def refuse(on: bool) -> None:
        refusing[0] = on

    return refuse


# -- greenthreads and held checkpoints, for the tests of the blocking primitives ----------------------


class Greenthreads:
    """The greenthreads of one test, and the gates they block on: at teardown every greenthread still
    alive is killed and waited for, and every gate not yet sent is sent, so a failing test leaves nothing
    blocked (a kill that hangs fails the teardown instead)."""

    def __init__(self) -> None:
        self.spawned: list[GreenThread[Any]] = []
        self.gates: list[Event[Any]] = []

    def spawn(self, func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> GreenThread[Any]:
        """``spawn(func, *args, **kwargs)``, killed at teardown if still alive."""
        return self.track(spawn(func, *args, **kwargs))

    def track(self, gt: GreenThread[Any]) -> GreenThread[Any]:
        """Kill ``gt`` at teardown too (one made by ``spawn_after`` and the like)."""
        self.spawned.append(gt)
        return gt

    def gate(self) -> Event[Any]:
        """An Event that a greenthread can block on; sent (if it was not) at teardown."""
        evt: Event[Any] = Event()
        self.gates.append(evt)
        return evt

    def blocked(self, value: Any = None) -> tuple[GreenThread[Any], Event[Any], threading.Event]:
        """A greenthread that signals it started, then returns what its gate is sent (or ``value``)."""
        gate = self.gate()
        started = threading.Event()

        def body() -> Any:
            started.set()
            got = gate.wait()
            return value if got is None else got

        return self.spawn(body), gate, started

    def cleanup(self) -> None:
        def finish() -> None:
            for gt in self.spawned:
                gt.kill()
                gt.exception()  # retrieved: no "never retrieved" log at collection
            for gate in self.gates:
                if not gate.ready():
                    gate.send(None)

        run_bounded(finish)


@pytest.fixture
def gts() -> Iterator[Greenthreads]:
    made = Greenthreads()
    yield made
    made.cleanup()
    # Nothing a test started may still run: every greenthread finished, every spawn_n returned.
    settled()


def kill_parked(gt: GreenThread[Any], exc: BaseException | None = None) -> BaseException:
    """Kill ``gt`` (with ``exc``, default GreenletExit) once it is parked in a checkpoint; what it died of."""
    wait_until(lambda: parked(gt), what=f"{gt!r} to block")
    run_bounded(gt.kill if exc is None else lambda: gt.kill(exc))
    error = gt.exception(PATIENCE)
    assert error is not None, f"{gt!r} returned {gt.result(0)!r} instead of dying"
    return error


def storm_of_kills_and_timeouts(gts: Greenthreads, count: int, use: Callable[[int], object]) -> set[int]:
    """Run ``use(n)`` again and again in ``count`` greenthreads, each call under a random Timeout (or
    none), while a third of them, chosen at random, are killed at random moments; return their numbers.

    ``use(n)`` is one round of greenthread ``n``: it takes the primitive under test, works while holding
    it (with a checkpoint inside, where a kill or a Timeout can land) and gives it back, usually as a
    ``with`` block.  A Timeout that expires is caught and the greenthread goes on.  Every greenthread
    that is not killed makes 20 rounds and must return; a killed one goes round until its kill comes and
    must die of it.  The caller then checks what the primitive is left with.  The seed is printed.

        def use(n: int) -> None:
            with lock:
                sleep(0)  # a checkpoint while holding it

        killed = storm_of_kills_and_timeouts(gts, 20, use)
    """
    rng = random.Random()
    seed = rng.randrange(2**32)
    print(f"seed {seed}")
    rng.seed(seed)
    progress: dict[int, int] = {}

    def worker(n: int, plan: list[float | None], endless: bool) -> None:
        for delay in itertools.cycle(plan) if endless else plan:
            try:
                with Timeout(delay) if delay is not None else contextlib.nullcontext():
                    use(n)
            except Timeout:
                pass
            progress[n] = progress.get(n, 0) + 1

    def gone_round(n: int, rounds: int) -> bool:
        return progress.get(n, 0) >= rounds

    doomed = set(rng.sample(range(count), count // 3))
    spawned: list[GreenThread[Any]] = []
    for n in range(count):
        plan = [rng.choice([None, None, 0.0, 0.0005, 0.001]) for _ in range(20)]
        spawned.append(gts.spawn(worker, n, plan, n in doomed))
    for n in rng.sample(sorted(doomed), len(doomed)):
        rounds = rng.randrange(1, 15)
        wait_until(functools.partial(gone_round, n, rounds), what=f"worker {n} to go on")
        run_bounded(spawned[n].kill)
    for n, gt in enumerate(spawned):
        error = gt.exception(PATIENCE)
        assert isinstance(error, GreenletExit) if n in doomed else error is None, f"worker {n}: {error!r}"
    return doomed


class Catch:
    """Holds one thread between its checkpoint waking and threadevent's reaction to why it woke.

    ``when="interrupted"``: the blocking call raised (a kill, an expired Timeout); ``when="timed out"``:
    it returned without the wake-up.  The thread is held until ``let_go()``, which leaves the test the
    moment in between to hand it a permit, an item or a slot: the race of a hand-off against an
    interrupt (or a timeout), made certain.  Only the first such wake-up of a thread for which
    ``mine()`` is true is held.
    """

    def __init__(
        self, monkeypatch: pytest.MonkeyPatch, mine: Callable[[], bool], when: str = "interrupted"
    ) -> None:
        assert when in ("interrupted", "timed out")
        self.mine = mine
        self.when = when
        self.caught = threading.Event()
        self.go = threading.Event()
        internals.patch_block(monkeypatch, self._block)

    def _block(self, lock: Any, timeout: float) -> bool:
        try:
            acquired = internals.real_block(lock, timeout)
        except BaseException:
            if self.when == "interrupted":
                self._hold()
            raise
        if not acquired and self.when == "timed out":
            self._hold()
        return acquired

    def _hold(self) -> None:
        if self.caught.is_set() or not self.mine():
            return
        self.caught.set()
        self.go.wait(PATIENCE)

    def wait_caught(self) -> None:
        assert self.caught.wait(PATIENCE), "the thread never woke in its checkpoint"

    def let_go(self) -> None:
        self.go.set()

    def kill(self, gts: Greenthreads, victim: GreenThread[Any], exc: BaseException) -> GreenThread[Any]:
        """Kill ``victim`` with ``exc`` once it is parked, and return when the kill has woken it and it is
        held here; the kill runs in a greenthread of ``gts``, returned (it ends once the victim has)."""
        wait_until(lambda: parked(victim), what="the victim to block")
        killing = gts.spawn(victim.kill, exc)
        assert self.caught.wait(PATIENCE), "the kill never woke the victim"
        return killing


def spawn_victim(
    monkeypatch: pytest.MonkeyPatch, catches: list[Catch], gts: Greenthreads, func: Callable[[], Any]
) -> tuple[GreenThread[Any], Catch]:
    """A greenthread of ``gts`` running ``func``, and a Catch (kept in ``catches``) that will hold it when
    an interrupt wakes it: for the race of a hand-off against a kill (see ``Catch.kill``).

        victim, catch = spawn_victim(monkeypatch, catches, gts, lock.acquire)
        killing = catch.kill(gts, victim, KillError("as the lock comes"))
        lock.release()  # handed to the victim, already woken by the kill
        catch.let_go()
    """
    victim: list[GreenThread[Any]] = []
    catch = Catch(monkeypatch, lambda: getcurrent() in victim)
    catches.append(catch)
    victim.append(gts.spawn(func))
    return victim[0], catch


@pytest.fixture
def catches() -> Iterator[list[Catch]]:
    """Catch objects register here, so that a failing test never leaves a thread held."""
    made: list[Catch] = []
    yield made
    for catch in made:
        catch.let_go()


@pytest.fixture
def gil_kept_until_blocking() -> Iterator[None]:
    """A thread keeps the GIL until it blocks: a switch interval far longer than any step of the test.

    What a worker does "before spawn() (or submit()) returns" is then what it can do without the GIL,
    which is nothing: a thread woken while the spawner runs on waits for the spawner to block.
    """
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("needs the GIL: on a free-threaded build the function runs in parallel at once")
    saved = sys.getswitchinterval()
    sys.setswitchinterval(5.0)
    try:
        yield
    finally:
        sys.setswitchinterval(saved)
