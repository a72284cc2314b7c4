"""What a stress scenario is given: its settings, its clock, its threads, and where it reports.

A scenario is a function ``scenario(ctx: Context) -> None``.  It starts its threads with ``ctx.run``,
loops while ``ctx.running()``, counts its operations with ``ctx.count``, and reports every broken
invariant with ``ctx.violation``.  Every wait it does is bounded by ``ctx.patience``, so that a lost
wake-up shows as a violation ("never woke") instead of a hung run.

The harness itself synchronises only with the standard library (``threading``), never with the
primitives under test: a broken ``Event`` must not be able to hide its own failure by breaking the
bookkeeping that is meant to catch it.
"""

from __future__ import annotations

import math
import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from threadevent import Event, Queue, Semaphore

__all__ = ["Context", "Settings", "Tally", "Unavailable"]

#: How many latency samples a scenario keeps (a uniform sample of all of them, once there are more).
_SAMPLES = 50_000
#: How many violation messages a scenario keeps; the rest are only counted.
_MESSAGES = 20
#: How often ``Context.run`` looks up from joining its threads to report progress, in seconds.
_TICK = 0.2


@dataclass(frozen=True)
class Settings:
    """One run's knobs: the same for every scenario in it."""

    duration: float = 5.0
    """Seconds each scenario runs (then it winds down, which may take a little longer)."""
    threads: int = 16
    """Threads each scenario hammers with (each scenario says how it uses them)."""
    seed: int = 0
    """Everything random derives from it: the same seed replays the same choices, as far as the
    interleaving of real threads allows."""
    patience: float = 20.0
    """The bound on every single wait: past it, the wait is reported as one that never ended."""
    event: Callable[[], Any] = Event
    """Makes the events that the Event scenarios hammer: ``threadevent.Event`` unless another is given."""
    queue: Callable[[int | None], Any] = Queue
    """Makes the queues (from a ``maxsize``) that the queue scenario hammers: ``threadevent.Queue``."""
    semaphore: Callable[[int], Any] = Semaphore
    """Makes the semaphore (from a value) that the semaphore scenario hammers: ``threadevent.Semaphore``."""


class Unavailable(Exception):
    """Raised by a scenario whose subject is not part of threadevent yet: the run reports it as skipped."""


class Tally:
    """A counter that threads add to and others wait on, built on ``threading.Condition`` only."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._value = 0

    @property
    def value(self) -> int:
        return self._value

    def add(self, n: int = 1) -> None:
        with self._cond:
            self._value += n
            self._cond.notify_all()

    def wait_for(self, target: int, timeout: float, stop: Callable[[], bool] = lambda: False) -> bool:
        """Wait until the count reaches ``target``; False after ``timeout`` or once ``stop()`` holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._value < target:
                if stop():
                    return False
                left = deadline - time.monotonic()
                if left <= 0.0:
                    return False
                # Short slices, so that ``stop`` (another thread's violation) is seen soon.
                self._cond.wait(min(left, _TICK))
            return True


class Context:
    """One scenario run: its settings, its deadline, and what it reports (operations, latencies, violations).

    Thread-safe: every method may be called from any of the scenario's threads.
    """

    def __init__(self, name: str, settings: Settings, progress: Callable[[Context], None] | None = None):
        self.name = name
        self.settings = settings
        self.duration = settings.duration
        self.threads = settings.threads
        self.seed = settings.seed
        self.patience = settings.patience
        self.make_event = settings.event
        self.make_queue = settings.queue
        self.make_semaphore = settings.semaphore
        self.ops = 0
        self.violations = 0
        self.messages: list[str] = []
        self.details: list[str] = []
        self.notes: dict[str, int] = {}
        self.skipped: str | None = None
        self.hung: list[str] = []
        self._progress = progress
        self._lock = threading.Lock()
        self._samples: list[float] = []
        self._seen = 0
        self._sampler = random.Random(f"{settings.seed}/{name}/samples")
        self._stop_hooks: list[Callable[[], object]] = []
        self._stopped = False
        self.started = time.monotonic()
        self.deadline = self.started + settings.duration
        self.finished: float | None = None

    # -- randomness ------------------------------------------------------------------------------

    def rng(self, *key: object) -> random.Random:
        """A generator of its own for ``key`` (e.g. a thread's index), derived from the run's seed."""
        return random.Random("/".join(map(str, (self.seed, self.name, *key))))

    # -- the clock -------------------------------------------------------------------------------

    def running(self) -> bool:
        """True until the duration has passed, a violation was reported, or ``stop()`` was called."""
        return not self._stopped and time.monotonic() < self.deadline

    @property
    def failed(self) -> bool:
        return self.violations > 0

    def stop(self) -> None:
        """End the scenario early: ``running()`` turns false and the stop hooks run (once)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            hooks = self._stop_hooks[:]
        for hook in hooks:
            hook()

    def on_stop(self, hook: Callable[[], object]) -> None:
        """Call ``hook()`` when the scenario is stopped, e.g. ``barrier.abort`` to free blocked threads."""
        with self._lock:
            if not self._stopped:
                self._stop_hooks.append(hook)
                return
        hook()

    # -- reporting -------------------------------------------------------------------------------

    def count(self, n: int = 1) -> None:
        with self._lock:
            self.ops += n

    def note(self, key: str, n: int = 1) -> None:
        """Count something worth showing besides the operations (e.g. how many waits timed out)."""
        with self._lock:
            self.notes[key] = self.notes.get(key, 0) + n

    def latency(self, seconds: float) -> None:
        """Record one latency sample (kept as a uniform sample once there are very many)."""
        with self._lock:
            self._seen += 1
            if len(self._samples) < _SAMPLES:
                self._samples.append(seconds)
            else:
                slot = self._sampler.randrange(self._seen)
                if slot < _SAMPLES:
                    self._samples[slot] = seconds

    def samples(self) -> list[float]:
        with self._lock:
            return self._samples[:]

    def violation(self, message: str, detail: str | None = None) -> None:
        """Report a broken invariant; the scenario then winds down (its first report is the news).

        ``detail`` (e.g. a traceback) is kept for the first few reports, for the final listing.
        """
        with self._lock:
            self.violations += 1
            if len(self.messages) < _MESSAGES:
                self.messages.append(f"[{threading.current_thread().name}] {message}")
                if detail is not None:
                    self.details.append(detail)
        self.stop()

    def lost(self, message: str, waited: float | None = None) -> None:
        """Report a wait that ran out of patience (or of ``waited`` seconds, if given).

        A violation, unless the scenario is failing already: then threads waiting on a partner that
        stopped at the first violation time out too, and that is a consequence, not news.
        """
        if not self.failed:
            self.violation(f"{message} (waited {self.patience if waited is None else waited:g} s)")

    def late(self, delay: float) -> bool:
        """Whether a wake-up ``delay`` seconds after its send came too late to be anything but a lost one.

        An event that loses a wake-up may still return the value when the waiter's timeout runs out
        (``threading.Condition.wait_for`` re-checks its predicate then): a wake-up more than half the
        patience after the send is that, not a slow machine.
        """
        return delay > self.patience / 2

    # -- threads ---------------------------------------------------------------------------------

    def run(self, *targets: Callable[[], object]) -> None:
        """Run each target in a thread of its own and wait for all of them, reporting progress meanwhile.

        An exception escaping a target is a violation (nothing in a scenario is meant to raise).  A
        thread still running long after the scenario's end is reported as hung and left behind (it is
        a daemon thread, and shows as a leaked thread).
        """
        threads = [
            threading.Thread(target=self._guard, args=(target,), name=f"{self.name}-{i}", daemon=True)
            for i, target in enumerate(targets)
        ]
        # The duration counts from when every thread runs: starting them can take a good part of a brief
        # run (a new thread waits for the GIL while others hold it), and threads that started after the
        # deadline would do nothing: the run would check nothing, and pass.
        self.deadline = math.inf
        try:
            for thread in threads:
                thread.start()
        finally:
            self.deadline = time.monotonic() + self.duration
        # Every wait in a scenario is bounded by the patience; a thread may do a few of them in a row
        # while it winds down, so it gets several before it counts as hung.
        give_up = self.deadline + 4 * self.patience
        for thread in threads:
            while thread.is_alive():
                left = give_up - time.monotonic()
                if left <= 0.0:
                    break
                thread.join(min(left, _TICK))
                self.tick()
        self.hung = [thread.name for thread in threads if thread.is_alive()]
        if self.hung:
            self.violation(
                f"threads still running {4 * self.patience:.0f} s after the end (hung): {self.hung}"
            )

    def _guard(self, target: Callable[[], object]) -> None:
        try:
            target()
        except BaseException as exc:
            at = traceback.extract_tb(exc.__traceback__)[-1]
            self.violation(
                f"unexpected {type(exc).__name__}: {exc} (at {at.filename}:{at.lineno}, in {at.name})",
                detail=traceback.format_exc(),
            )

    def tick(self) -> None:
        if self._progress is not None:
            self._progress(self)
