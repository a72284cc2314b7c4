"""Stress scenarios for greenthreads: spawn churn, kill storms, links and callbacks, Timeouts, pool imap.

The Timeout and GreenPool scenarios import their subject when they run, and report themselves as skipped
(``Unavailable``) while it is not part of threadevent yet.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import importlib
import itertools
import logging
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from time import perf_counter
from typing import Any

from stress.harness import Context, Tally, Unavailable
from threadevent import Event, GreenletExit, GreenThread, hub, sleep, spawn, spawn_after, spawn_n

__all__ = ["kill_storm", "links_callbacks", "pool_imap", "spawn_churn", "timeout_storm"]

#: How much earlier than its deadline a Timeout may seem to fire before that counts as firing early
#: (clocks and timer rounding are not exact, but not off by a millisecond either).
_EARLY = 0.001


def _hub_limits() -> tuple[int | None, float]:
    # A scenario that changes the hub's configuration must put back what it found.
    config = hub.configuration()
    return config.max_threads, config.idle_timeout


def _stagger(rng: random.Random) -> None:
    """Nothing, a yield, or up to half a millisecond: so the other side is caught at every stage."""
    draw = rng.random()
    if draw < 0.3:
        return
    time.sleep(0 if draw < 0.6 else rng.uniform(0.0, 0.0005))


# -- spawn churn -----------------------------------------------------------------------------------


def spawn_churn(ctx: Context) -> None:
    """Many short greenthreads from many threads: each runs exactly once, and the thread count stays bounded.

    Every thread spawns batch after batch of 1-32 short functions, through ``spawn``, ``spawn_n`` and
    ``spawn_after`` (half of the delayed ones cancelled at a random moment), and waits for each batch.
    The hub is capped at ``max_threads = 2 * threads`` meanwhile, so tasks also queue.  Invariant: a
    function runs exactly once, unless ``cancel()`` returned True, and then never; ``wait()`` returns
    what it returned (``GreenletExit`` if cancelled); the hub never has more threads than the cap.
    Operations: functions run; latency: from ``spawn()`` to the function starting.
    """
    cap = 2 * ctx.threads
    runs: dict[tuple[int, int], int] = {}
    cancelled: set[tuple[int, int]] = set()
    lock = threading.Lock()

    def work(key: tuple[int, int], spawned_at: float, ran: Tally) -> tuple[int, int]:
        started = perf_counter()
        with lock:
            runs[key] = runs.get(key, 0) + 1
        if spawned_at:
            ctx.latency(started - spawned_at)
        ran.add()
        return key

    def spawner(index: int) -> None:
        rng = ctx.rng("spawner", index)
        serial = itertools.count()
        while ctx.running():
            ran = Tally()
            batch: list[tuple[tuple[int, int], GreenThread[tuple[int, int]] | None, bool]] = []
            for _ in range(rng.randint(1, 32)):
                key = (index, next(serial))
                draw = rng.random()
                if draw < 0.4:
                    batch.append((key, spawn(work, key, perf_counter(), ran), False))
                elif draw < 0.7:
                    spawn_n(work, key, perf_counter(), ran)
                    batch.append((key, None, False))
                else:
                    delayed = spawn_after(rng.uniform(0.0, 0.002), work, key, 0.0, ran)
                    batch.append((key, delayed, rng.random() < 0.5))
            for key, greenthread, cancel in batch:
                if cancel and greenthread is not None:
                    _stagger(rng)
                    if greenthread.cancel():
                        with lock:
                            cancelled.add(key)
            threads = hub.stats().threads
            if threads > cap:
                ctx.violation(f"the hub has {threads} threads, over its max_threads of {cap}")
                return
            if not _check_batch(ctx, batch, cancelled, lock, ran):
                return

    max_threads, idle_timeout = _hub_limits()
    hub.configure(max_threads=cap, idle_timeout=idle_timeout)
    try:
        # Workers over the new limit (left idle by an earlier scenario) exit at once; let them go first.
        deadline = time.monotonic() + ctx.patience
        while hub.stats().threads > cap and time.monotonic() < deadline:
            time.sleep(0.001)
        ctx.run(*(functools.partial(spawner, i) for i in range(ctx.threads)))
    finally:
        hub.configure(max_threads=max_threads, idle_timeout=idle_timeout)
    # Once more at the end: a second run of some function may have come after its batch was checked.
    with lock:
        twice = [key for key, count in runs.items() if count != 1]
        ghosts = [key for key in cancelled if key in runs]
    if twice:
        ctx.violation(f"{len(twice)} functions ran more than once, e.g. {twice[:3]}")
    if ghosts:
        ctx.violation(f"{len(ghosts)} cancelled functions ran anyway, e.g. {ghosts[:3]}")


def _check_batch(
    ctx: Context,
    batch: list[tuple[tuple[int, int], GreenThread[tuple[int, int]] | None, bool]],
    cancelled: set[tuple[int, int]],
    lock: threading.Lock,
    ran: Tally,
) -> bool:
    """Wait (bounded) for a batch of spawned functions, and check each ran once with its own outcome."""
    with lock:
        expected = sum(1 for key, _, _ in batch if key not in cancelled)
    for key, greenthread, _ in batch:
        if greenthread is None:
            continue
        try:
            got = greenthread.result(ctx.patience)
        except GreenletExit:
            if key not in cancelled:
                ctx.violation(f"function {key} raised GreenletExit, but it was never cancelled")
                return False
            continue
        except TimeoutError:
            ctx.lost(f"function {key}'s greenthread never finished")
            return False
        if key in cancelled:
            ctx.violation(f"function {key} ran, though its cancel() returned True")
            return False
        if got != key:
            ctx.violation(f"function {key}'s greenthread returned {got!r}")
            return False
    # spawn_n leaves nothing to wait on: count the runs instead.
    if not ran.wait_for(expected, ctx.patience, stop=lambda: ctx.failed):
        ctx.lost(f"only {ran.value} of {expected} functions of a batch ran")
        return False
    ctx.count(expected)
    return True


# -- kill storm ------------------------------------------------------------------------------------

_BLOCKING = ("Event.wait", "sleep", "GreenThread.wait", "busy loop", "busy calls", "finalizers")

#: CPython 3.13 and later can raise an asynchronous exception past ``finally`` blocks, so
#: threadevent delivers kills there at checkpoints only: a busy victim reaches one on every round.
_CHECKPOINTS_ONLY = sys.version_info >= (3, 13)


class _Victim:
    """A greenthread to kill, and what it did: whether it got going, and how often its ``finally`` ran."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.started = threading.Event()
        self.cleanups = 0


class _Stop(Exception):
    """A kill exception of the scenario's own, one that needs arguments (CPython's async raise cannot)."""

    def __init__(self, serial: int) -> None:
        super().__init__(serial)


def _spin(x: int) -> int:
    return x + 1


class _Finalized(int):
    """Its ``__del__`` runs Python code, called from C: a kill raised there is dropped by the interpreter
    (and reported to ``sys.unraisablehook``), and must be raised again at the next checkpoint."""

    def __del__(self) -> None:
        _spin(self)


def _victim(ctx: Context, victim: _Victim) -> str:
    never: Event[None] = Event()
    try:
        victim.started.set()
        kind = victim.kind
        if kind == "Event.wait":
            never.wait(ctx.patience)
        elif kind == "sleep":
            sleep(ctx.patience)
        elif kind == "GreenThread.wait":
            inner = spawn(never.wait, ctx.patience)
            try:
                inner.wait()
            finally:
                inner.kill()
        elif kind == "busy loop":
            deadline = perf_counter() + ctx.patience
            while perf_counter() < deadline:
                if _CHECKPOINTS_ONLY:
                    sleep(0)
        elif kind == "finalizers":
            deadline = perf_counter() + ctx.patience
            while perf_counter() < deadline:
                collections.deque(map(_Finalized, range(20_000)), maxlen=0)
                sleep(0)
        else:
            deadline = perf_counter() + ctx.patience
            x = 0
            while perf_counter() < deadline:
                x = _spin(x)
                if _CHECKPOINTS_ONLY:
                    sleep(0)
        return "ran to its end"
    finally:
        victim.cleanups += 1


def _short(n: int) -> int:
    return sum(range(n))


def kill_storm(ctx: Context) -> None:
    """Kills aimed at greenthreads blocked in checkpoints, spinning in busy loops, or just starting.

    Each thread spawns a greenthread blocked in ``Event.wait``, ``sleep``, ``GreenThread.wait`` (of one
    it kills in its ``finally``), a busy loop, a loop of ``__del__`` calls (where the interpreter drops
    the exceptions it raises) and ``sleep(0)``, or doing short work; then kills it, at once (before it
    may have started) or once it runs, with ``GreenletExit`` or an exception of its own, sometimes
    from a second killer at the same moment, sometimes while another greenthread waits on it.
    Invariant: ``kill()`` returns only once the greenthread is dead; a blocked or busy one never runs
    to its end (each would only after the patience); its outcome is the kill's very exception, for its
    waiters too; once started, its ``finally`` runs exactly once.
    Operations: kills; latency: from ``kill()`` to its return.
    """
    previous = sys.unraisablehook
    sys.unraisablehook = functools.partial(_dropped, ctx, previous)
    try:
        ctx.run(*(functools.partial(_killer, ctx, i) for i in range(ctx.threads)))
    finally:
        sys.unraisablehook = previous


def _dropped(ctx: Context, previous: Callable[[Any], object], report: Any) -> None:
    """``sys.unraisablehook`` during the storm: a kill the interpreter dropped in a ``__del__`` is a note."""
    if report.exc_type is not None and issubclass(report.exc_type, (GreenletExit, _Stop)):
        ctx.note("kill dropped in a __del__ (raised again at the next checkpoint)")
    else:
        previous(report)


def _killer(ctx: Context, index: int) -> None:
    rng = ctx.rng("killer", index)
    serial = itertools.count()
    while ctx.running():
        kind = rng.choice((*_BLOCKING, "short work"))
        victim = _Victim(kind)
        if kind == "short work":
            greenthread: GreenThread[Any] = spawn(_short, rng.randint(0, 2000))
        else:
            greenthread = spawn(_victim, ctx, victim)
        watcher = spawn(_outcome, greenthread) if rng.random() < 0.3 else None
        if rng.random() < 0.7 and kind != "short work":
            if not victim.started.wait(ctx.patience):
                ctx.lost(f"a greenthread for {kind} never started")
                return
        _stagger(rng)
        exc: BaseException = _Stop(next(serial)) if rng.random() < 0.5 else GreenletExit()
        # A second kill at the same moment (not of one that must kill another in its finally block: the
        # second kill may land there, as it would in eventlet, and leave that one running).
        rival = GreenletExit() if kind != "GreenThread.wait" and rng.random() < 0.2 else None
        second = spawn(greenthread.kill, rival) if rival is not None else None
        started = perf_counter()
        greenthread.kill(exc)
        ctx.latency(perf_counter() - started)
        ctx.count()
        if not greenthread.dead:
            ctx.violation(f"kill() returned, but the greenthread in {kind} is not dead")
            return
        if not _check_kill(ctx, victim, greenthread, (exc, rival), watcher, second):
            return


def _outcome(greenthread: GreenThread[Any]) -> Any:
    """What ``wait()`` gives: the return value, or the exception it raises (returned, not raised)."""
    try:
        return greenthread.wait()
    except BaseException as exc:
        return exc


def _check_kill(
    ctx: Context,
    victim: _Victim,
    greenthread: GreenThread[Any],
    kills: tuple[BaseException, BaseException | None],
    watcher: GreenThread[Any] | None,
    second: GreenThread[Any] | None,
) -> bool:
    kind = victim.kind
    outcome = _outcome(greenthread)
    if isinstance(outcome, BaseException):
        if not any(outcome is exc for exc in kills if exc is not None):
            ctx.violation(
                f"a greenthread killed in {kind} ended with {outcome!r}, not the kill's {kills[0]!r}"
            )
            return False
        ctx.note("killed")
    elif kind != "short work":
        ctx.violation(f"kill() did not stop a greenthread in {kind}: it {outcome}")
        return False
    else:
        ctx.note("finished before the kill")
    if watcher is not None:
        try:
            seen = watcher.result(ctx.patience)
        except TimeoutError:
            ctx.lost(f"a greenthread waiting on one killed in {kind} never woke")
            return False
        if seen is not outcome and seen != outcome:
            ctx.violation(f"a waiter of a greenthread killed in {kind} got {seen!r}, not {outcome!r}")
            return False
    if second is not None:
        try:
            second.result(ctx.patience)
        except TimeoutError:
            ctx.lost(f"a second, simultaneous kill() of a greenthread in {kind} never returned")
            return False
    # Delivered once, the kill cannot also land in the finally block; a second kill could.
    once = kills[1] is None
    if once and kind != "short work" and victim.started.is_set() and victim.cleanups != 1:
        ctx.violation(f"the finally block of a greenthread killed in {kind} ran {victim.cleanups} times")
        return False
    return True


# -- links and done-callbacks ----------------------------------------------------------------------


class _Boom(Exception):
    """Raised by a callback on purpose: the others must run anyway."""


class _Registry:
    """One target's callbacks: which must run, which were removed, how often each ran."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.cond = threading.Condition(threading.Lock())
        self.expected: set[int] = set()
        self.removed: set[int] = set()
        self.runs: dict[int, int] = {}
        self.wrong: list[str] = []

    def expect(self, key: int) -> None:
        with self.cond:
            self.expected.add(key)

    def remove(self, key: int) -> None:
        with self.cond:
            self.expected.discard(key)
            self.removed.add(key)

    def ran(self, key: int, arg: Any, args: tuple[Any, ...]) -> None:
        with self.cond:
            self.runs[key] = self.runs.get(key, 0) + 1
            if arg is not self.target:
                self.wrong.append(f"callback {key} was called with {arg!r}, not its target {self.target!r}")
            if args and args != (key,):
                self.wrong.append(f"link {key} was called with the curried arguments {args!r}")
            self.cond.notify_all()

    def wait(self, timeout: float) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: all(self.runs.get(k, 0) for k in self.expected), timeout)

    def problems(self) -> list[str]:
        with self.cond:
            found = list(self.wrong)
            found += [
                f"callback {k} ran {self.runs.get(k, 0)} times"
                for k in self.expected
                if self.runs.get(k) != 1
            ]
            found += [
                f"callback {k} ran though its removal succeeded" for k in self.removed if k in self.runs
            ]
        return found


class _Callback:
    """A registered callback: records its run; a nested one registers another from inside its run."""

    def __init__(self, registry: _Registry, key: int, keys: Iterator[int], nested: bool, boom: bool) -> None:
        self.registry = registry
        self.key = key
        self.keys = keys
        self.nested = nested
        self.boom = boom

    def __call__(self, arg: Any, *args: Any) -> None:
        registry = self.registry
        if self.nested:
            inner = _Callback(registry, next(self.keys), self.keys, nested=False, boom=False)
            registry.expect(inner.key)
            _register(registry.target, inner, link=isinstance(arg, GreenThread))
        registry.ran(self.key, arg, args)
        if self.boom:
            raise _Boom(self.key)


def _register(target: Any, callback: _Callback, link: bool) -> None:
    if link:
        target.link(callback, callback.key)
    else:
        target.add_done_callback(callback)


def _send_soon(event: Event[int], delay: float) -> None:
    if delay:
        time.sleep(delay)
    event.send(1)


def _quiet_booms(record: logging.LogRecord) -> bool:
    """Drop the log records of the callbacks that raise on purpose (and only those)."""
    return not (record.exc_info and isinstance(record.exc_info[1], _Boom))


def links_callbacks(ctx: Context) -> None:
    """Links and done-callbacks added, removed and fired at the same time: each runs exactly once.

    Each thread makes, over and over, a greenthread (that finishes on its own) or an event (sent from a
    greenthread a random moment later), and registers 1-8 callbacks on it as it finishes: links with
    curried arguments, done-callbacks, some that raise, some that register another from inside their
    run; it removes some of them again at a random moment (``unlink``, ``remove_done_callback``).
    Invariant: a callback whose removal succeeded never runs; every other one runs exactly once, with
    its target (and its curried arguments), even when another one raised.
    Operations: callbacks run.
    """
    logger = logging.getLogger("threadevent")
    logger.addFilter(_quiet_booms)
    try:
        ctx.run(*(functools.partial(_registrant, ctx, i) for i in range(ctx.threads)))
    finally:
        logger.removeFilter(_quiet_booms)


def _registrant(ctx: Context, index: int) -> None:
    rng = ctx.rng("registrant", index)
    keys = itertools.count()
    recent: list[_Registry] = []
    while ctx.running():
        target: Any
        if rng.random() < 0.5:
            target = spawn(_short, rng.randint(0, 500))
        else:
            target = Event()
            spawn_n(_send_soon, target, rng.choice((0.0, 0.0, rng.uniform(0.0, 0.0005))))
        registry = _Registry(target)
        for _ in range(rng.randint(1, 8)):
            link = isinstance(target, GreenThread) and rng.random() < 0.6
            callback = _Callback(
                registry, next(keys), keys, nested=rng.random() < 0.15, boom=rng.random() < 0.1
            )
            registry.expect(callback.key)
            _register(target, callback, link)
            if not callback.nested and rng.random() < 0.25:
                _stagger(rng)
                if _unregister(target, callback, link):
                    registry.remove(callback.key)
        if not registry.wait(ctx.patience):
            ctx.lost("callbacks of a finished target never all ran")
            return
        problems = registry.problems()
        if problems:
            ctx.violation("; ".join(problems[:3]))
            return
        with registry.cond:
            ctx.count(sum(registry.runs.values()))
            ctx.note("callbacks removed in time", len(registry.removed))
        recent = [*recent[-200:], registry]
    # Once more at the end: a second run may have come after a target's check.
    for registry in recent:
        problems = registry.problems()
        if problems:
            ctx.violation("; ".join(problems[:3]))
            return


def _unregister(target: Any, callback: _Callback, link: bool) -> bool:
    if link:
        return bool(target.unlink(callback, callback.key))
    return bool(target.remove_done_callback(callback) == 1)


# -- Timeout storm ---------------------------------------------------------------------------------


class _Custom(Exception):
    """The exception a Timeout is given to raise instead of itself."""


def timeout_storm(ctx: Context) -> None:
    """Timeouts expiring on greenthreads blocked in checkpoints or spinning through them, racing sends.

    Each thread runs, over and over, a block under ``with Timeout(t)`` (t of 0.1-3 ms), in a greenthread
    or in itself: blocked in ``Event.wait``, ``sleep`` or ``GreenThread.wait``, spinning through
    ``sleep(0)``, or waiting for an event sent at about the deadline; variants give ``exception=False``
    or an exception of their own, cancel the Timeout early, or nest two.  Invariant: a block ends with
    the Timeout (or its exception, or silently with ``False``) no earlier than its deadline, or with the
    value, never both; a Timeout never fires after ``cancel()`` or once its block is left (the next
    checkpoints run clean); ``pending`` is false afterwards.
    Operations: timed blocks; latency: how late a Timeout fired, past its deadline.
    """
    try:
        from threadevent.timeout import Timeout
    except ImportError:
        raise Unavailable("threadevent.timeout is not there yet") from None
    ctx.run(*(functools.partial(_timer_user, ctx, Timeout, i) for i in range(ctx.threads)))


_TIMED = (
    "Event.wait",
    "sleep",
    "GreenThread.wait",
    "spin",
    "race",
    "silent",
    "custom",
    "cancelled",
    "nested",
)


def _timer_user(ctx: Context, timeout_class: type[BaseException], index: int) -> None:
    rng = ctx.rng("timer", index)
    while ctx.running():
        kind = rng.choice(_TIMED)
        seconds = rng.uniform(0.0001, 0.003)
        if rng.random() < 0.6:
            runner = spawn(_timed_block, ctx, timeout_class, kind, seconds, rng.random())
            try:
                problem = runner.result(2 * ctx.patience)
            except TimeoutError:
                ctx.lost(f"a greenthread running a timed block ({kind}) never ended")
                return
        else:
            problem = _timed_block(ctx, timeout_class, kind, seconds, rng.random())
        ctx.count()
        if problem:
            ctx.violation(f"Timeout({seconds:.6f}), {kind}: {problem}")
            return


def _timed_block(ctx: Context, timeout_class: Any, kind: str, seconds: float, draw: float) -> str | None:
    """Run one timed block of ``kind``; what went wrong, or None."""
    try:
        problem = _TIMED_BLOCKS[kind](ctx, timeout_class, seconds, draw)
    except timeout_class as stray:
        return f"a Timeout escaped its block: {stray!r}"
    if problem:
        return problem
    # Its block is left: no deadline may fire now, at any checkpoint.
    try:
        sleep(0)
        Event().wait(0)
        sleep(min(seconds, 0.001))
    except BaseException as late:
        return f"{late!r} was raised at a checkpoint after its block was left"
    return None


def _blocked_until_timeout(
    ctx: Context, timeout_class: Any, seconds: float, block: Callable[[], object]
) -> str | None:
    started = perf_counter()
    with timeout_class(seconds) as timer:
        try:
            block()
        except timeout_class as fired:
            elapsed = perf_counter() - started
            if fired is not timer:
                return f"raised {fired!r}, not its own Timeout"
            if elapsed < seconds - _EARLY:
                return f"fired after {elapsed:.6f} s, before its deadline"
            ctx.latency(elapsed - seconds)
            return _not_pending(timer)
        return f"never fired: the block ran to its end after {perf_counter() - started:.3f} s"


def _not_pending(timer: Any) -> str | None:
    return "pending is still true after it fired" if timer.pending else None


def _block_event(ctx: Context, timeout_class: Any, seconds: float, draw: float) -> str | None:
    never: Event[None] = Event()
    return _blocked_until_timeout(ctx, timeout_class, seconds, functools.partial(never.wait, ctx.patience))


def _block_sleep(ctx: Context, timeout_class: Any, seconds: float, draw: float) -> str | None:
    return _blocked_until_timeout(ctx, timeout_class, seconds, functools.partial(sleep, ctx.patience))


def _block_greenthread(ctx: Context, timeout_class: Any, seconds: float, draw: float) -> str | None:
    never: Event[None] = Event()
    inner = spawn(never.wait, ctx.patience)
    try:
        return _blocked_until_timeout(ctx, timeout_class, seconds, inner.wait)
    finally:
        inner.kill()


def _block_spin(ctx: Context, timeout_class: Any, seconds: float, draw: float) -> str | None:
    def spin() -> None:
        deadline = perf_counter() + ctx.patience
        while perf_counter() < deadline:
            sleep(0)

    return _blocked_until_timeout(ctx, timeout_class, seconds, spin)


def _block_race(ctx: Context, timeout_class: Any, seconds: float, draw: float) -> str | None:
    """The event is sent at about the deadline: the block ends with the value or the Timeout, not both."""
    event: Event[str] = Event()
    sender = spawn_after(seconds * (0.5 + draw), event.send, "value")
    started = perf_counter()
    got = None
    try:
        with timeout_class(seconds) as timer:
            got = event.wait(ctx.patience)
    except timeout_class as fired:
        elapsed = perf_counter() - started
        if fired is not timer:
            return f"raised {fired!r}, not its own Timeout"
        if elapsed < seconds - _EARLY:
            return f"fired after {elapsed:.6f} s, before its deadline"
        ctx.note("race: Timeout first")
    else:
        if got != "value":
            return f"the wait ended with {got!r}, neither the value nor the Timeout"
        ctx.note("race: value first")
    try:
        sender.result(ctx.patience)
    except TimeoutError:
        return "the sender never ran"
    return _not_pending(timer)


def _block_silent(ctx: Context, timeout_class: Any, seconds: float, draw: float) -> str | None:
    never: Event[None] = Event()
    started = perf_counter()
    went_on = False
    with timeout_class(seconds, False) as timer:
        never.wait(ctx.patience)
        went_on = True
    elapsed = perf_counter() - started
    if went_on:
        return f"exception=False: the block ran to its end after {elapsed:.3f} s instead of being left"
    if elapsed < seconds - _EARLY:
        return f"exception=False: left after {elapsed:.6f} s, before the deadline"
    return _not_pending(timer)


def _block_custom(ctx: Context, timeout_class: Any, seconds: float, draw: float) -> str | None:
    never: Event[None] = Event()
    mine = _Custom("deadline")
    try:
        with timeout_class(seconds, mine) as timer:
            never.wait(ctx.patience)
    except _Custom as raised:
        if raised is not mine:
            return f"raised {raised!r}, not the exception it was given"
        return _not_pending(timer)
    return "never raised the exception it was given"


def _block_cancelled(ctx: Context, timeout_class: Any, seconds: float, draw: float) -> str | None:
    with timeout_class(seconds) as timer:
        timer.cancel()
        sleep(seconds * 2)  # past the deadline: it must not fire
    return _not_pending(timer)


def _block_nested(ctx: Context, timeout_class: Any, seconds: float, draw: float) -> str | None:
    """Inner deadline first, then the outer: each raises itself (or the outer alone, once both passed)."""
    never: Event[None] = Event()
    first = None
    try:
        with timeout_class(seconds * 3) as outer:
            try:
                with timeout_class(seconds) as inner:
                    never.wait(ctx.patience)
            except timeout_class as fired:
                if fired is not inner:
                    raise
                first = fired
            never.wait(ctx.patience)
    except timeout_class as fired:
        if fired is not outer:
            return f"raised {fired!r}, neither of the two Timeouts"
        return _not_pending(outer) or (_not_pending(inner) if first is not None else None)
    return "the outer Timeout never fired"


_TIMED_BLOCKS: dict[str, Callable[[Context, Any, float, float], str | None]] = {
    "Event.wait": _block_event,
    "sleep": _block_sleep,
    "GreenThread.wait": _block_greenthread,
    "spin": _block_spin,
    "race": _block_race,
    "silent": _block_silent,
    "custom": _block_custom,
    "cancelled": _block_cancelled,
    "nested": _block_nested,
}


# -- GreenPool imap --------------------------------------------------------------------------------


class _ItemFailed(Exception):
    def __init__(self, item: int) -> None:
        super().__init__(item)
        self.item = item


class _Stuck(Exception):
    """Raised by the bounding Timeout when ``imap`` does not produce the next item in time."""


def pool_imap(ctx: Context) -> None:
    """GreenPool.imap over long inputs with failing items: results in order, each failure at its item.

    A few threads share one GreenPool of 2-32 greenthreads, and each maps, over and over, a function over
    a long input (hundreds to a few thousand items; ``imap`` of one or two inputs, or ``starmap``),
    some of which raise and all of which take a random short time.  Invariant: the i-th result is
    f(i), or the i-th item's own exception, raised at that position, after which iteration goes on;
    it ends right after the last item; no more than ``size`` of its functions run at once (per imap:
    as in eventlet, an imap's runners do not take the pool's slots); the input is read only a bounded
    distance ahead of the results (memory bounded by the pool's size, not the input's length).
    Operations: items.
    """
    try:
        green_pool: Any = importlib.import_module("threadevent.greenpool").GreenPool
    except ImportError:
        raise Unavailable("threadevent.greenpool is not there yet") from None
    try:
        timeout_class: Any = importlib.import_module("threadevent.timeout").Timeout
    except ImportError:
        timeout_class = None  # then a stuck imap shows as a hung thread instead
    size = ctx.rng("pool").randint(2, 32)
    pool = green_pool(size)
    consumers = max(1, ctx.threads // 4)
    ctx.run(*(functools.partial(_consumer, ctx, pool, size, timeout_class, i) for i in range(consumers)))


class _Gauge:
    """How many of one imap's functions run at once, and the most ever."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


def _mapped(gauge: _Gauge, failing: frozenset[int], delay: float, item: int, zero: int = 0) -> int:
    with gauge:
        if delay:
            sleep(delay * (item % 7) / 7)
        if item in failing:
            raise _ItemFailed(item)
        return item * item + 1 + zero


def _consumer(ctx: Context, pool: Any, size: int, timeout_class: Any, index: int) -> None:
    rng = ctx.rng("consumer", index)
    # Results may run ahead of the consumer by the pool's size, and as many again may be in flight;
    # a generous bound that any implementation which does not read the whole input ahead meets.
    ahead_limit = 4 * size + 8
    while ctx.running():
        n = rng.randint(200, 3000)
        failing = frozenset(i for i in range(n) if rng.random() < 0.05)
        pulled = [0]

        def source(n: int = n, pulled: list[int] = pulled) -> Iterator[int]:
            for i in range(n):
                pulled[0] += 1
                yield i

        delay = rng.choice((0.0, 0.0, 0.0002))
        gauge = _Gauge()
        func = functools.partial(_mapped, gauge, failing, delay)
        shape = rng.randrange(3)
        if shape == 0:
            results = pool.imap(func, source())
        elif shape == 1:  # two inputs, the second endless: zip's rule, the shortest one ends it
            results = pool.imap(func, source(), itertools.repeat(0))
        else:
            results = pool.starmap(func, ((i,) for i in source()))
        # One bound for the whole input (an imap that stops producing raises _Stuck where it hangs).
        bound = ctx.patience + n * 0.001
        i = 0
        try:
            with timeout_class(bound, _Stuck()) if timeout_class is not None else contextlib.nullcontext():
                for i in range(n + 1):
                    problem = _next_item(results, i, n, failing)
                    if problem:
                        ctx.violation(f"imap over {n} items in a GreenPool({size}): {problem}")
                        return
                    if pulled[0] - i > ahead_limit:
                        ctx.violation(
                            f"imap read {pulled[0]} items of its input while yielding item {i}: more than "
                            f"{ahead_limit} ahead in a GreenPool({size}): memory not bounded by the pool"
                        )
                        return
        except _Stuck:
            ctx.lost(f"imap over {n} items in a GreenPool({size}) got stuck at item {i}", waited=bound)
            return
        if gauge.peak > size:
            ctx.violation(f"{gauge.peak} functions of one imap ran at once in a GreenPool({size})")
            return
        ctx.count(n)
        ctx.note("items failed on purpose", len(failing))


def _next_item(results: Iterator[int], i: int, n: int, failing: frozenset[int]) -> str | None:
    """Take item ``i`` from ``results``; what is wrong with it, or None."""
    got: Any
    try:
        got = next(results)
    except _ItemFailed as failed:
        got = failed
    except StopIteration:
        got = StopIteration
    return _check_item(i, n, got, failing)


def _check_item(i: int, n: int, got: Any, failing: frozenset[int]) -> str | None:
    if i == n:
        return None if got is StopIteration else f"yielded {got!r} after the last item"
    if got is StopIteration:
        return f"ended after {i} items"
    if isinstance(got, _ItemFailed):
        if got.item != i:
            return f"raised item {got.item}'s exception at item {i}"
        return None if i in failing else f"item {i} raised, though it does not fail"
    if i in failing:
        return f"item {i} gave {got!r}, though it raises"
    return None if got == i * i + 1 else f"item {i} gave {got!r}, not {i * i + 1}"
