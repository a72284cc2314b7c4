"""The hub: the process-wide pool of worker threads that greenthreads run on, and the one timer thread.

Starting an OS thread per greenthread costs far more than the function usually does, and an executor's
shared queue costs a condition-variable round trip per call.  The hub keeps finished worker threads
parked in a ``ParkingLot``, each on a lock of its own: ``submit`` unparks the most recently idled one,
handing it the task, which is about as cheap as handing work to another thread gets.  Only when no
worker is idle does it start a thread (up to ``max_threads``; past that, tasks wait in a FIFO queue that
finishing workers drain), and that thread starts its task only once ``submit`` lets it, as it returns.
Either way a lock release wakes the worker and the submitter runs on: the task starts once the
submitter lets go of the GIL, in practice after ``spawn()`` has returned.  Idle workers exit after
``idle_timeout`` seconds, and because hand-offs go to the most recently idled worker, the surplus ones
are the ones that time out.

``call_later`` runs a function after a delay on one shared timer thread (``_timer.py``): a heap of
deadlines, never a thread per timer.

What it deliberately is not: an executor.  A task is a zero-argument callable whose return value is
thrown away; it publishes its own outcome (``greenthread.py`` wraps the user's function so that it does).
There are no futures, priorities, shutdown or join here, and worker threads are daemon threads, so
interpreter exit never waits for them.

After ``os.fork()`` the child starts with an empty hub and timer: the parent's worker and timer threads
do not exist there, and the parent's queued tasks and pending delayed calls are dropped in the child
(they still run in the parent).  The configuration is inherited.
"""

from __future__ import annotations

import itertools
import numbers
import os
import sys
import threading
from _thread import LockType, allocate_lock
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from threadevent._api import TIMEOUT_MAX, check_seconds, check_size, report_exception
from threadevent._checkpoint import current_state
from threadevent._parking import ParkingLot
from threadevent._timer import Timer, TimerHandle

__all__ = [
    "HubConfig",
    "HubStats",
    "TimerHandle",
    "call_later",
    "configuration",
    "configure",
    "stats",
    "submit",
]

Task = Callable[[], object]
_T = TypeVar("_T")

_UNLIMITED = sys.maxsize
_DEFAULT_IDLE_TIMEOUT = 60.0
_MAX_THREADS_ENV = "THREADEVENT_MAX_THREADS"
_IDLE_TIMEOUT_ENV = "THREADEVENT_IDLE_TIMEOUT"


@dataclass(frozen=True)
class HubStats:
    """A snapshot of the hub, taken under its lock: ``idle + running == threads``."""

    threads: int
    """Worker threads alive (including one being started)."""
    idle: int
    """Of those, how many wait for work."""
    running: int
    """Of those, how many run a task (or have just been handed one)."""
    queued: int
    """Tasks waiting because ``max_threads`` workers are all busy."""
    spawned: int
    """Worker threads ever started by this hub, since import or the last fork."""


@dataclass(frozen=True)
class HubConfig:
    """The hub's settings, as ``configure`` (or the environment) left them."""

    max_threads: int | None
    """The most worker threads alive at once; None: no limit."""
    idle_timeout: float
    """Seconds an idle worker (and the idle timer thread) waits for work before it exits."""


# -- checking arguments ----------------------------------------------------------------------------


class _Keep:
    """The default of ``configure``'s ``max_threads``: keep the current limit (``None`` means unlimited)."""

    def __repr__(self) -> str:
        return "<keep>"


_KEEP = _Keep()


def _check_max_threads(value: object) -> int:
    """``max_threads`` as a thread limit, ``_UNLIMITED`` for None; a clear error for anything else."""
    if value is None:
        return _UNLIMITED
    if not isinstance(value, numbers.Integral):
        raise TypeError(f"max_threads must be a whole number >= 1 or None, not {type(value).__name__}")
    return check_size(value, "max_threads", minimum=1)


def _check_idle_timeout(value: object) -> float:
    seconds = check_seconds(value, "idle_timeout")
    if seconds <= 0.0:
        raise ValueError(f"idle_timeout must be a positive number of seconds, not {value!r}")
    return seconds


def _from_env(name: str, check: Callable[[str], _T]) -> _T | None:
    """The checked value of environment variable ``name``; None when unset or empty."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return check(raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid environment variable {name}={raw!r}: {exc}") from None


def _env_max_threads(raw: str) -> int:
    try:
        number = int(raw)
    except ValueError:
        raise ValueError("must be a whole number >= 1 (unset or empty: no limit)") from None
    return _check_max_threads(number)


def _env_idle_timeout(raw: str) -> float:
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError("must be a positive number of seconds") from None
    return _check_idle_timeout(seconds)


# -- the worker pool -------------------------------------------------------------------------------


def _no_wakeup_preemption() -> None:
    """Put the calling worker thread under Linux's SCHED_BATCH policy, where the OS offers it.

    Handing a task to an idle worker wakes it; under the default policy the woken worker often preempts
    the thread that woke it, only to find the GIL taken and go back to sleep: two context switches
    for nothing on every hand-off.  A SCHED_BATCH thread does not preempt on wake-up (it runs when the
    waker blocks or its time slice ends), which is how greenthreads behave anyway: spawning never
    switches away from the spawner.  Its nice value, and so its share of the CPU, stays as it was.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))  # 0: this thread
    except (AttributeError, OSError):
        pass  # not Linux, or not allowed here: the default policy works, a little slower


def _recheck() -> None:
    """The task ``configure`` hands idle workers: running it does nothing, but afterwards the worker
    re-reads ``max_threads`` and ``idle_timeout`` before it parks again."""


class _Hub:
    """The worker pool.  One lock guards everything below it; tasks run outside it."""

    __slots__ = (
        "_idle",
        "_idle_timeout",
        "_idle_wait",
        "_limit",
        "_lock",
        "_max_threads",
        "_names",
        "_queue",
        "_spawned",
        "_threads",
    )

    def __init__(self, max_threads: int | None, idle_timeout: float) -> None:
        #: ``max_threads`` as given (None: unlimited), and as the number compared against.
        self._max_threads = max_threads
        self._limit = _UNLIMITED if max_threads is None else max_threads
        self._idle_timeout = idle_timeout
        #: ``idle_timeout`` as ``lock.acquire`` takes it.
        self._idle_wait = _lock_timeout(idle_timeout)
        self.reset()

    def reset(self) -> None:
        """Forget every thread and task: at construction, and in the child after a fork."""
        self._lock = allocate_lock()
        #: Idle workers; a hand-off goes to the most recently idled, so that the surplus ones time out.
        self._idle = ParkingLot(self._lock)
        #: Tasks waiting for a worker, oldest first.  Non-empty only while no worker is idle.
        self._queue: deque[Task] = deque()
        #: Worker threads alive or being started; idle ones included.
        self._threads = 0
        self._spawned = 0
        self._names = itertools.count(1)

    # -- public --------------------------------------------------------------------------------

    def submit(self, task: Task) -> None:
        """Run ``task()`` once on a worker thread; return at once.

        An idle worker is handed the task directly; if none is idle, a new worker thread starts, unless
        ``max_threads`` are alive already: then the task waits in a FIFO queue for the first worker to
        finish.  If ``task()`` raises, the exception goes to ``threading.excepthook`` and the worker
        carries on.

        Raises ``RuntimeError`` when a worker thread is needed and the OS refuses to start one; the task
        is then not run, and everything scheduled before it still is.
        """
        if not callable(task):
            raise TypeError(f"submit() needs a callable, not {type(task).__name__}")
        while True:
            with self._lock:
                if self._idle.unpark_newest(task):
                    return
                if self._threads >= self._limit:
                    self._queue.append(task)
                    return
                # Room for another thread.  If tasks are queued meanwhile (only after a thread failed
                # to start), the new worker takes the oldest, and ``task`` goes round again, so that
                # the queue keeps its order.
                self._threads += 1
                self._spawned += 1
                queue = self._queue
                from_queue = bool(queue)
                first = queue.popleft() if from_queue else task
            self._start(first, requeue=from_queue)
            if not from_queue:
                return

    def configure(self, max_threads: int | _Keep | None = _KEEP, idle_timeout: float | None = None) -> None:
        """Set the thread limit (``None``: unlimited) and the idle timeout; each only if given.

        Raising the limit starts workers for queued tasks at once.  Lowering it never stops a running
        task: workers over the limit exit when they finish theirs (idle ones at once).  A shorter idle
        timeout applies to already idle workers from now on.

        Bad arguments raise ``TypeError``/``ValueError`` and change nothing.  If the OS refuses a thread
        needed for queued tasks, the new settings stay, those tasks stay queued, and ``RuntimeError``
        is raised.
        """
        keep = isinstance(max_threads, _Keep)
        limit = 0 if keep else _check_max_threads(max_threads)
        seconds = None if idle_timeout is None else _check_idle_timeout(idle_timeout)
        with self._lock:
            if not keep:
                self._max_threads = None if max_threads is None else limit
                self._limit = limit
            shorter = seconds is not None and seconds < self._idle_timeout
            if seconds is not None:
                self._idle_timeout = seconds
                self._idle_wait = _lock_timeout(seconds)
            self._recheck_idle(shorter)
        if seconds is not None:
            _TIMER.set_idle_wait(self._idle_wait)
        self._drain()

    def _recheck_idle(self, all_of_them: bool) -> None:
        """Have idle workers re-read the settings, the oldest first.  Lock held.

        After a shorter idle timeout, all of them: parked ones would sleep out the old, longer one.
        (Under a longer one they merely leave a little early.)  After a lower limit, the surplus ones,
        which would linger otherwise.
        """
        idle = self._idle
        woken = len(idle) if all_of_them else min(len(idle), self._threads - self._limit)
        for _ in range(woken):
            idle.unpark(_recheck)

    def configuration(self) -> HubConfig:
        """The current settings: ``max_threads`` (None: no limit) and ``idle_timeout``."""
        with self._lock:
            return HubConfig(self._max_threads, self._idle_timeout)

    def stats(self) -> HubStats:
        """A consistent snapshot of the pool: threads, idle, running, queued, spawned."""
        with self._lock:
            threads = self._threads
            idle = len(self._idle)
            queued = len(self._queue)
            spawned = self._spawned
        return HubStats(threads, idle, threads - idle, queued, spawned)

    # -- starting threads ----------------------------------------------------------------------

    def _drain(self) -> None:
        """Start workers for queued tasks while there is room (after ``max_threads`` was raised)."""
        while True:
            with self._lock:
                queue = self._queue
                if not queue or self._threads >= self._limit:
                    return
                self._threads += 1
                self._spawned += 1
                first = queue.popleft()
            self._start(first, requeue=True)

    def _start(self, first: Task, requeue: bool) -> None:
        """Start a worker thread whose first task is ``first``; the caller has counted it already.

        The new thread runs ``first`` only once this returns (nearly: once it has released the go-ahead,
        its last step, which never blocks), so that the submitter returns from ``spawn()`` before the
        function can end, as when an idle worker is handed the task.  ``Thread.start()`` waits for the
        thread to come up, and a thread that ran its task at once would run it right then.

        If the OS refuses, undo the count, put ``first`` back at the head of the queue if it came from
        there (``requeue``), and raise ``RuntimeError``.
        """
        go = allocate_lock()
        go.acquire()
        # Handed over in a list the worker empties, not as a thread argument: ``Thread`` would keep its
        # arguments alive until the thread ends.
        thread = threading.Thread(
            target=self._work,
            args=([first], go),
            name=f"threadevent-worker-{next(self._names)}",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError as exc:
            # Raised before any thread exists (``start_new_thread`` failed), so the undo is exact.
            # Anything else (KeyboardInterrupt while ``start`` waits for the thread to come up) may come
            # after the thread started, and then the thread counts and runs ``first`` as usual: the
            # go-ahead is given on every way out.
            with self._lock:
                self._threads -= 1
                self._spawned -= 1
                if requeue:
                    self._queue.appendleft(first)
                running = self._threads
                limit = self._max_threads
            raise RuntimeError(
                f"threadevent could not start a worker thread ({running} running, max_threads={limit}): {exc}"
            ) from exc
        finally:
            go.release()  # a C call that never blocks: the worker may run ``first`` from now on

    # -- the worker thread ---------------------------------------------------------------------

    def _work(self, first: list[Task], go: LockType) -> None:
        """A worker thread: run tasks until idle for ``idle_timeout``, or over the limit.

        ``first`` starts once its submitter has given the go-ahead (see ``_start``).
        """
        current_state(create=True)  # so that a kill or a Timeout can interrupt its tasks
        _no_wakeup_preemption()
        go.acquire()  # not a checkpoint: nothing may interrupt a worker between tasks
        task: Task | None = first.pop()
        while True:
            if task is not None:
                try:
                    task()
                except BaseException:
                    report_exception()
                task = None  # do not keep the task's closure alive while idle
            task = self._next_task()
            if task is None:
                return

    def _next_task(self) -> Task | None:
        """The worker's next task: queued, or handed over while it is parked; None: the worker exits."""
        with self._lock:
            if self._threads > self._limit:
                self._threads -= 1
                return None
            if self._queue:
                return self._queue.popleft()
            ticket = self._idle.enqueue()
        if self._idle.park(ticket, self._idle_wait, interruptible=False):
            return ticket.value  # type: ignore[no-any-return]
        with self._lock:
            # Idle for the whole timeout.  A task queued meanwhile (the pool was at its limit, this
            # worker still counted) would wait for ever if this worker left it behind.
            if self._queue:
                return self._queue.popleft()
            self._threads -= 1
            return None


def _lock_timeout(seconds: float) -> float:
    """``seconds`` as a timeout that ``lock.acquire`` accepts (``-1``: forever; it rejects larger ones)."""
    return -1.0 if seconds > TIMEOUT_MAX else seconds


# -- the process-wide instances --------------------------------------------------------------------

_HUB = _Hub(
    _from_env(_MAX_THREADS_ENV, _env_max_threads),
    _from_env(_IDLE_TIMEOUT_ENV, _env_idle_timeout) or _DEFAULT_IDLE_TIMEOUT,
)
_TIMER = Timer(_HUB._idle_wait)

submit = _HUB.submit
configure = _HUB.configure
configuration = _HUB.configuration
stats = _HUB.stats
call_later = _TIMER.call_later


def _after_fork_in_child() -> None:
    _HUB.reset()
    _TIMER.reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
