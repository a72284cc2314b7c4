"""The hub: the process-wide pool of worker threads that greenthreads run on, and the one timer thread.

Starting an OS thread per greenthread costs far more than the function usually does, and an executor's
shared queue costs a condition-variable round trip per call.  The hub keeps finished worker threads
parked, each on a lock of its own, on a stack of idle workers: ``submit`` pops the most recently idled
one, stores the task in it and releases its lock, which is about as cheap as handing work to another
thread gets.  Only when no worker is idle does it start a thread (up to ``max_threads``; past that, tasks
wait in a FIFO queue that finishing workers drain).  Idle workers exit after ``idle_timeout`` seconds,
and because hand-offs go to the most recently idled worker, the surplus ones are the ones that time out.

``call_later`` runs a function after a delay on one shared timer thread: a heap of deadlines, never a
thread per timer.

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
import math
import numbers
import operator
import os
import sys
import threading
from _thread import allocate_lock
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heapify, heappop, heappush
from time import monotonic as _monotonic
from typing import TypeVar

from threadevent import _checkpoint
from threadevent._checkpoint import release as _release

__all__ = ["HubStats", "TimerHandle", "call_later", "configure", "stats", "submit"]

Task = Callable[[], object]
_T = TypeVar("_T")

_TIMEOUT_MAX = threading.TIMEOUT_MAX
_UNLIMITED = sys.maxsize
_DEFAULT_IDLE_TIMEOUT = 60.0
_MAX_THREADS_ENV = "THREADEVENT_MAX_THREADS"
_IDLE_TIMEOUT_ENV = "THREADEVENT_IDLE_TIMEOUT"
#: Cancelled timer entries are left in the heap (removing one is O(n)) until they make up half of it
#: and number more than this; then the heap is rebuilt without them.
_COMPACT_MIN = 64


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
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"max_threads must be a whole number >= 1 or None, not {type(value).__name__}")
    limit = operator.index(value)
    if limit < 1:
        raise ValueError(f"max_threads must be >= 1 (or None for no limit), not {limit}")
    return limit


def _check_idle_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"idle_timeout must be a number of seconds, not {type(value).__name__}")
    seconds = float(value)
    if math.isnan(seconds) or seconds <= 0.0:
        raise ValueError(f"idle_timeout must be a positive number of seconds, not {value!r}")
    return seconds


def _check_delay(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"seconds must be a number, not {type(value).__name__}")
    seconds = float(value)
    if math.isnan(seconds):
        raise ValueError("seconds must be a number, not NaN")
    return seconds if seconds > 0.0 else 0.0


def _lock_timeout(seconds: float) -> float:
    """``seconds`` as a timeout that ``lock.acquire`` accepts (``-1``: forever; it rejects larger ones)."""
    return -1.0 if seconds > _TIMEOUT_MAX else seconds


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


# -- reporting errors ------------------------------------------------------------------------------


def _report_exception() -> None:
    """Hand the exception being handled to ``threading.excepthook``, as a thread's uncaught exception is.

    Call from an ``except`` block.  Like ``threading``, a hook that raises is reported through
    ``sys.excepthook``; nothing escapes, so the calling worker or timer thread carries on.
    """
    exc_type, exc_value, exc_tb = sys.exc_info()
    try:
        args = threading.ExceptHookArgs((exc_type, exc_value, exc_tb, threading.current_thread()))
        threading.excepthook(args)
    except BaseException:
        try:
            if sys.stderr is not None:
                print("Exception in threading.excepthook:", file=sys.stderr, flush=True)
            sys.excepthook(*sys.exc_info())
        except BaseException:
            pass  # interpreter shutdown, or no usable stderr: nowhere left to report to


# -- the worker pool -------------------------------------------------------------------------------


class _Worker:
    """One worker thread's mailbox: the lock it sleeps on while idle, and the task it is handed.

    The lock is held whenever the worker has nothing to do; whoever takes the worker off the idle stack
    (under the hub's lock) stores ``task`` and then releases ``lock``, exactly once.
    """

    __slots__ = ("lock", "task")

    def __init__(self) -> None:
        self.lock = allocate_lock()
        self.lock.acquire()
        self.task: Task | None = None


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
        "_lock",
        "_idle",
        "_queue",
        "_threads",
        "_spawned",
        "_names",
        "_limit",
        "_max_threads",
        "_idle_timeout",
        "_idle_wait",
    )

    def __init__(self, max_threads: int | None, idle_timeout: float) -> None:
        #: ``max_threads`` as given (None: unlimited), and as the number compared against.
        self._max_threads = max_threads
        self._limit = _UNLIMITED if max_threads is None else max_threads
        self._idle_timeout = idle_timeout
        #: ``idle_timeout`` as ``lock.acquire`` takes it.
        self._idle_wait = _lock_timeout(idle_timeout)
        self._reset()

    def _reset(self) -> None:
        """Forget every thread and task: at construction, and in the child after a fork."""
        self._lock = allocate_lock()
        #: Idle workers, the most recently idled last: hand-offs pop from the end.
        self._idle: list[_Worker] = []
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
                idle = self._idle
                if idle:
                    worker = idle.pop()
                    worker.task = task
                    # Woken under the lock, by a direct C call: an exception raised asynchronously in
                    # this thread (Ctrl-C) cannot fall between taking the worker and waking it.
                    worker.lock.release()
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
            if keep:
                limit = self._limit
            else:
                self._max_threads = None if max_threads is None else limit
                self._limit = limit
            idle = self._idle
            if seconds is not None and seconds < self._idle_timeout:
                # Parked workers would sleep out their old, longer timeout: wake them all to start the
                # new one.  (Under a longer one they merely leave a little early: no need to wake them.)
                woken = len(idle)
            else:
                # Idle workers over a lowered limit would linger: wake as many as are surplus.
                woken = min(len(idle), self._threads - limit)
            if seconds is not None:
                self._idle_timeout = seconds
                self._idle_wait = _lock_timeout(seconds)
            # Take them off the stack (so that no submitter hands them work meanwhile), the oldest first,
            # and have them re-check.  Workers cache the stack, so change it in place.
            parked = idle[:woken] if woken > 0 else []
            del idle[: len(parked)]
            for worker in parked:
                worker.task = _recheck
                worker.lock.release()  # under the lock, as in submit()
        if seconds is not None:
            _TIMER.nudge()
        self._drain()

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

        If the OS refuses, undo the count, put ``first`` back at the head of the queue if it came from
        there (``requeue``), and raise ``RuntimeError``.
        """
        worker = _Worker()
        # Handed over in the mailbox, not as a thread argument: ``Thread`` would keep its arguments
        # alive until the thread ends.
        worker.task = first
        thread = threading.Thread(
            target=self._work,
            args=(worker,),
            name=f"threadevent-worker-{next(self._names)}",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError as exc:
            # Raised before any thread exists (``start_new_thread`` failed), so the undo is exact.
            # Anything else (KeyboardInterrupt while ``start`` waits for the thread to come up) may come
            # after the thread started, and then the thread counts and runs ``first`` as usual.
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

    # -- the worker thread ---------------------------------------------------------------------

    def _work(self, worker: _Worker) -> None:
        """A worker thread: run tasks until idle for ``idle_timeout``, or over the limit."""
        _checkpoint.current_state(create=True)  # so that a kill or a Timeout can interrupt its tasks
        _no_wakeup_preemption()
        task = worker.task
        worker.task = None
        lock = worker.lock
        hub_lock = self._lock
        idle = self._idle
        queue = self._queue
        while True:
            if task is not None:
                try:
                    task()
                except BaseException:
                    _report_exception()
                task = None  # do not keep the task's closure alive while idle
            with hub_lock:
                if self._threads > self._limit:
                    self._threads -= 1
                    return
                if queue:
                    task = queue.popleft()
                    continue
                idle.append(worker)
            if not lock.acquire(True, self._idle_wait):
                with hub_lock:
                    if worker.task is None:
                        idle.remove(worker)  # timed-out workers sit at the bottom: found at once
                        self._threads -= 1
                        return
                # We timed out just as a submitter (or configure) took us off the stack: it has
                # stored our task and is about to release our lock, if it has not already.  Wait for
                # that release, so that the lock is held again for our next idle wait, and run the task.
                lock.acquire()
            task = worker.task
            worker.task = None


# -- the timer -------------------------------------------------------------------------------------


class TimerHandle:
    """A call scheduled by ``call_later``; ``cancel()`` stops it if it has not run yet."""

    __slots__ = ("_when", "_fn")

    def __init__(self, when: float, fn: Task) -> None:
        self._when = when
        #: The function to call; None once it has run or been cancelled.  Changed under the timer's lock.
        self._fn: Task | None = fn

    @property
    def when(self) -> float:
        """The deadline, on the ``time.monotonic()`` clock."""
        return self._when

    def cancel(self) -> bool:
        """Stop the call.  True if this stopped it; False if it has run (or started) or was cancelled."""
        return _TIMER.cancel(self)

    def __repr__(self) -> str:
        state = "pending" if self._fn is not None else "done"
        return f"<{type(self).__name__} at {id(self):#x} when={self._when:.6f} {state}>"


class _Timer:
    """The one timer thread and its heap of deadlines.  One lock guards everything below it.

    The thread sleeps on ``_wake`` (normally held) until the earliest deadline; ``call_later`` releases
    it only when the new deadline is earlier than the one the thread sleeps towards.  The functions run
    in the timer thread, one at a time, outside the lock.
    """

    __slots__ = ("_lock", "_wake", "_heap", "_seq", "_cancelled", "_alive", "_sleeping_until")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Forget the thread and every pending call: at construction, and in the child after a fork."""
        self._lock = allocate_lock()
        self._wake = allocate_lock()
        self._wake.acquire()
        #: ``(when, seq, handle)``: ``seq`` orders equal deadlines by scheduling and spares comparing handles.
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._seq = itertools.count()
        #: How many heap entries are cancelled.  A handle from before a fork, cancelled in the child,
        #: counts here without being in the heap; the next compaction sets the count right again.
        self._cancelled = 0
        #: A timer thread is running, or being started.
        self._alive = False
        #: When the timer thread will wake by itself; -inf while it is awake or already being woken.
        self._sleeping_until = -math.inf

    def call_later(self, seconds: float, fn: Task) -> TimerHandle:
        """Call ``fn()`` in the timer thread after ``seconds`` (negative: 0); return its handle.

        ``fn`` must be quick (it delays every later call), e.g. hand the real work to ``submit``.  If it
        raises, the exception goes to ``threading.excepthook`` and the timer carries on.  Calls due at
        the same moment run in the order they were scheduled.
        """
        delay = _check_delay(seconds)
        if not callable(fn):
            raise TypeError(f"call_later() needs a callable, not {type(fn).__name__}")
        handle = TimerHandle(_monotonic() + delay, fn)
        wake = start = False
        with self._lock:
            heappush(self._heap, (handle._when, next(self._seq), handle))
            if not self._alive:
                self._alive = start = True
            elif handle._when < self._sleeping_until:
                self._sleeping_until = -math.inf
                wake = True
        if wake:
            # A stale release (the thread timed out meanwhile) only costs it one extra look at the heap.
            _release(self._wake)
        elif start:
            self._start(handle)
        return handle

    def cancel(self, handle: TimerHandle) -> bool:
        wake = False
        with self._lock:
            if handle._fn is None:
                return False
            handle._fn = None
            self._cancelled += 1
            heap = self._heap
            if heap and heap[0][2] is handle and self._sleeping_until != -math.inf:
                # The thread sleeps towards this very call: let it find the next one (or go idle).
                self._sleeping_until = -math.inf
                wake = True
            if self._cancelled > _COMPACT_MIN and 2 * self._cancelled > len(heap):
                heap[:] = [entry for entry in heap if entry[2]._fn is not None]
                heapify(heap)
                self._cancelled = 0
        if wake:
            _release(self._wake)
        return True

    def nudge(self) -> None:
        """Make a sleeping timer thread look again (``idle_timeout`` changed)."""
        with self._lock:
            if not self._alive or self._sleeping_until == -math.inf:
                return
            self._sleeping_until = -math.inf
        _release(self._wake)

    def _start(self, handle: TimerHandle) -> None:
        thread = threading.Thread(target=self._run, name="threadevent-timer", daemon=True)
        try:
            thread.start()
        except RuntimeError as exc:
            # Other calls stay in the heap for the next call_later to start a thread for; this one fails.
            with self._lock:
                self._alive = False
                if handle._fn is not None:
                    handle._fn = None
                    self._cancelled += 1
            raise RuntimeError(f"threadevent could not start its timer thread: {exc}") from exc

    def _run(self) -> None:
        wake = self._wake
        idled_out = False
        while True:
            fn: Task | None = None
            with self._lock:
                self._sleeping_until = -math.inf  # awake: it looks at the heap before sleeping again
                heap = self._heap
                now = _monotonic()
                # Cancelled entries at the top go at once, due or not, so that the thread never sleeps
                # towards (or stays alive for) a call that will not happen.  Due calls are taken one at
                # a time, so that a call can still cancel a later one due at the same moment.
                while heap:
                    when, _, handle = heap[0]
                    fn = handle._fn
                    if fn is None:
                        heappop(heap)
                        self._cancelled -= 1
                    elif when <= now:
                        heappop(heap)
                        handle._fn = None
                        break
                    else:
                        fn = None
                        break
                if fn is None:
                    if heap:
                        waiting_idle = False
                        self._sleeping_until = heap[0][0]
                        timeout = min(heap[0][0] - now, _TIMEOUT_MAX)
                    elif idled_out:
                        self._alive = False
                        return
                    else:
                        waiting_idle = True
                        self._sleeping_until = math.inf
                        timeout = _HUB._idle_wait
            if fn is not None:
                idled_out = False
                try:
                    fn()
                except BaseException:
                    _report_exception()
                continue
            idled_out = not wake.acquire(True, timeout) and waiting_idle


# -- the process-wide instances --------------------------------------------------------------------

_HUB = _Hub(
    _from_env(_MAX_THREADS_ENV, _env_max_threads),
    _from_env(_IDLE_TIMEOUT_ENV, _env_idle_timeout) or _DEFAULT_IDLE_TIMEOUT,
)
_TIMER = _Timer()

submit = _HUB.submit
configure = _HUB.configure
stats = _HUB.stats
call_later = _TIMER.call_later


def _after_fork_in_child() -> None:
    _HUB._reset()
    _TIMER._reset()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
