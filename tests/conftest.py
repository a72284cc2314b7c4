"""Shared helpers: threads that are always joined, and waiting on a condition with a generous deadline."""

from __future__ import annotations

import os
import sys
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

from threadevent import Event, GreenThread, hub, spawn

__all__ = ["HANDOFFS", "handoff"]

# "ci" keeps the property tests short on CI's slow shared machine; "default" digs a little deeper.
settings.register_profile("default", max_examples=300, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "default")

#: How long to wait for something that should happen almost at once.  Generous on purpose: the machine
#: is slow and noisy, and a correct run never comes near it; only a broken one pays it.
PATIENCE = 30.0


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
    """The greenthreads of one test: at teardown every one still alive is killed and waited for, so a
    failing test leaves nothing blocked."""

    def __init__(self) -> None:
        self.spawned: list[GreenThread[Any]] = []

    def spawn(self, func: Callable[..., Any], /, *args: Any) -> GreenThread[Any]:
        gt = spawn(func, *args)
        self.spawned.append(gt)
        return gt

    def cleanup(self) -> None:
        def finish() -> None:
            for gt in self.spawned:
                gt.kill()
                gt.exception()  # retrieved: no "never retrieved" log at collection

        run_bounded(finish)


@pytest.fixture
def gts() -> Iterator[Greenthreads]:
    made = Greenthreads()
    yield made
    made.cleanup()
    settled()


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
