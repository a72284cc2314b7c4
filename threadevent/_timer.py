"""The timer: one thread that runs short functions at their deadlines, for every delayed call.

``Timer.call_later`` pushes a deadline on a heap; the one timer thread sleeps until the earliest, runs
what is due (one call at a time, outside the lock), and sleeps again.  A call scheduled earlier than the
one the thread sleeps towards wakes it; cancelling leaves the entry in the heap (removing one is O(n))
until cancelled entries make up half of it.  The thread starts on the first call and exits after it has
been idle for the hub's idle timeout.

What it deliberately is not: a scheduler.  The functions must be quick (each delays every later call);
the real work goes to the hub's workers (``spawn_after`` hands its greenthread to ``hub.submit``).
"""

from __future__ import annotations

import itertools
import math
import threading
from _thread import allocate_lock
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from time import monotonic as _monotonic

from threadevent._api import TIMEOUT_MAX, check_delay, report_exception
from threadevent._checkpoint import release

__all__ = ["Timer", "TimerHandle"]

Task = Callable[[], object]

#: Cancelled timer entries are left in the heap (removing one is O(n)) until they make up half of it
#: and number more than this; then the heap is rebuilt without them.
COMPACT_MIN = 64


class TimerHandle:
    """A call scheduled by ``call_later``; ``cancel()`` stops it if it has not run yet."""

    __slots__ = ("_fn", "_timer", "_when")

    def __init__(self, timer: Timer, when: float, fn: Task) -> None:
        self._timer = timer
        self._when = when
        #: The function to call; None once it has run or been cancelled.  Changed under the timer's lock.
        self._fn: Task | None = fn

    @property
    def when(self) -> float:
        """The deadline, on the ``time.monotonic()`` clock."""
        return self._when

    def cancel(self) -> bool:
        """Stop the call.  True if this stopped it; False if it has run (or started) or was cancelled."""
        return self._timer.cancel(self)

    @property
    def pending(self) -> bool:
        """True until the call has run (or started) or was cancelled."""
        return self._fn is not None

    def __repr__(self) -> str:
        state = "pending" if self._fn is not None else "done"
        return f"<{type(self).__name__} at {id(self):#x} when={self._when:.6f} {state}>"


class Timer:
    """The one timer thread and its heap of deadlines.  One lock guards everything below it.

    The thread sleeps on ``_wake`` (normally held) until the earliest deadline; ``call_later`` releases
    it only when the new deadline is earlier than the one the thread sleeps towards.  The functions run
    in the timer thread, one at a time, outside the lock.
    """

    __slots__ = ("_alive", "_cancelled", "_heap", "_idle_wait", "_lock", "_seq", "_sleeping_until", "_wake")

    def __init__(self, idle_wait: float) -> None:
        #: How long the thread waits with nothing scheduled before it exits, as ``lock.acquire`` takes it.
        self._idle_wait = idle_wait
        self.reset()

    def reset(self) -> None:
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
        delay = check_delay(seconds)
        if not callable(fn):
            raise TypeError(f"call_later() needs a callable, not {type(fn).__name__}")
        handle = TimerHandle(self, _monotonic() + delay, fn)
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
            release(self._wake)
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
            if self._cancelled > COMPACT_MIN and 2 * self._cancelled > len(heap):
                heap[:] = [entry for entry in heap if entry[2]._fn is not None]
                heapify(heap)
                self._cancelled = 0
        if wake:
            release(self._wake)
        return True

    def set_idle_wait(self, idle_wait: float) -> None:
        """Change how long the thread lingers with nothing scheduled, and make it look again."""
        with self._lock:
            self._idle_wait = idle_wait
            if not self._alive or self._sleeping_until == -math.inf:
                return
            self._sleeping_until = -math.inf
        release(self._wake)

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
                        timeout = min(heap[0][0] - now, TIMEOUT_MAX)
                    elif idled_out:
                        self._alive = False
                        return
                    else:
                        waiting_idle = True
                        self._sleeping_until = math.inf
                        timeout = self._idle_wait
            if fn is not None:
                idled_out = False
                try:
                    fn()
                except BaseException:
                    report_exception()
                continue
            idled_out = not wake.acquire(True, timeout) and waiting_idle


