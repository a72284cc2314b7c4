"""Stress scenarios for the blocking primitives: queues and semaphores under kills and Timeouts.

The victims are greenthreads that block in the primitive over and over; driver threads kill them at
random moments and start new ones, and some of their waits run under a short ``Timeout``.  A victim
keeps no books of its own beyond one C-level append per item: the driver, a plain thread, reads after
each death where the kill landed (the last frame of its traceback: inside threadevent, at a checkpoint,
or in the victim's own code, asynchronously) and so what the interrupted call did.
"""

from __future__ import annotations

import collections
import functools
import os
import threading
from collections.abc import Callable
from typing import Any

import threadevent
from stress.harness import Context
from threadevent import GreenletExit, GreenThread, Timeout, sleep, spawn

__all__ = ["queue_storm", "semaphore_storm"]

_PACKAGE = os.path.dirname(threadevent.__file__) + os.sep
#: Where the checkpoints raise: a kill raised there was raised by the blocking call, at its checkpoint.
_CHECKPOINTS = os.path.join(_PACKAGE, "_checkpoint.py")
#: The queues the storm runs on at once: (name, maxsize).
_KINDS = (("bounded", 4), ("unbounded", None), ("channel", 0))


def _landed(exc: BaseException | None) -> str:
    """Where a victim's kill landed: "before it ran" (cancelled), "at a checkpoint" (raised by one),
    "in its own code" (raised asynchronously there), or "inside threadevent, asynchronously".

    The last: a kill is sent asynchronously only while its target runs its own code, but the target
    may enter threadevent's in the instant between that look and the send, and the interpreter then
    raises it there, at any bytecode (best effort, as for any Python code: CPython 3.10 looks for one
    at almost every bytecode).  What that call was doing is then as uncertain as in the victim's code.
    """
    tb = None if exc is None else exc.__traceback__
    if tb is None:
        return "before it ran"
    while tb.tb_next is not None:
        tb = tb.tb_next
    filename = tb.tb_frame.f_code.co_filename
    if filename == _CHECKPOINTS:
        return "at a checkpoint"
    return "inside threadevent, asynchronously" if filename.startswith(_PACKAGE) else "in its own code"


def _death(greenthread: GreenThread[Any], ctx: Context) -> BaseException | None:
    """The exception a killed victim ended with (None if it returned); a violation if it does not end."""
    try:
        return greenthread.exception(ctx.patience)
    except TimeoutError:
        ctx.lost("a victim did not end after kill()")
        return None


# -- queues --------------------------------------------------------------------------------------------


class _Books:
    """Everything one queue's storm knows: what was put, what failed, what was got, by whom."""

    def __init__(self) -> None:
        self.done: set[tuple[int, int]] = set()  # put() returned
        self.failed: set[tuple[int, int]] = set()  # put() raised at its checkpoint: nothing was put
        self.unsure: set[tuple[int, int]] = set()  # killed asynchronously around put(): 0 or 1 copies
        self.got: list[list[tuple[int, int]]] = []  # per consumer life, in the order got
        self.unsure_gets = 0  # consumers killed outside a checkpoint: each may have dropped one item got
        self.lock = threading.Lock()


class _Producer:
    """One producer's place in the sequence: its id, the next number, the item in flight."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.seq = 0
        self.item: tuple[int, int] | None = None


def _produce(q: Any, me: _Producer, books: _Books, timeouts: list[float]) -> None:
    done_add = books.done.add
    failed_add = books.failed.add
    draws = iter(timeouts)
    while True:
        item = (me.pid, me.seq)
        me.item = item
        seconds = next(draws, 0.0)
        if seconds:
            timer = Timeout(seconds)
            try:
                q.put(item)
            except Timeout as exc:
                if exc is not timer:
                    raise
                failed_add(item)  # a Timeout is raised at a checkpoint only: nothing was put
                me.item = None
                me.seq += 1
                continue
            finally:
                timer.cancel()
        else:
            q.put(item)
        done_add(item)
        me.item = None
        me.seq += 1


def _consume(q: Any, got: list[tuple[int, int]], timeouts: list[float]) -> None:
    append = got.append
    draws = iter(timeouts)
    nothing = object()
    while True:
        seconds = next(draws, 0.0)
        if seconds:
            item: Any = nothing
            with Timeout(seconds, False):
                item = q.get()
            if item is not nothing:
                append(item)
        else:
            append(q.get())


def queue_storm(ctx: Context) -> None:
    """Producers and consumers on a bounded, an unbounded and a channel queue, killed and timed out.

    On each queue, producer and consumer greenthreads put and get numbered items; driver threads kill
    them at random moments (some waits also run under a short ``Timeout``) and start new ones.
    Invariant: every item whose ``put`` returned is got exactly once (less at most one per consumer
    killed outside a checkpoint, which may have dropped what it got), an item whose ``put`` raised at
    its checkpoint is never got, nothing is got twice, each consumer gets each producer's items in the
    order put, and once every victim is dead and the queue drained it holds nothing and nobody waits.
    Operations: items got.
    """
    per_kind = max(1, ctx.threads // (2 * len(_KINDS)))
    queues = {name: ctx.make_queue(maxsize) for name, maxsize in _KINDS}
    books = {name: _Books() for name, _ in _KINDS}
    drivers: list[Callable[[], object]] = []
    for name, _ in _KINDS:
        for i in range(per_kind):
            drivers.append(functools.partial(_drive_producer, ctx, queues[name], books[name], name, i))
            drivers.append(functools.partial(_drive_consumer, ctx, queues[name], books[name], name, i))
    ctx.run(*drivers)
    if not ctx.failed:
        for name, _ in _KINDS:
            _check_queue(ctx, name, queues[name], books[name])


def _drive_producer(ctx: Context, q: Any, books: _Books, kind: str, index: int) -> None:
    rng = ctx.rng(kind, "producer", index)
    me = _Producer(index)
    while ctx.running():
        timeouts = [rng.choice((0.0, 0.0, 0.0, 0.0005, 0.002)) for _ in range(64)]
        victim = spawn(_produce, q, me, books, timeouts)
        threading.Event().wait(rng.uniform(0.0, 0.005))
        victim.kill()
        _bury_producer(ctx, victim, me, books)
        me.seq += 1  # the number of an item in flight is never used again


def _bury_producer(ctx: Context, victim: GreenThread[None], me: _Producer, books: _Books) -> None:
    exc = _death(victim, ctx)
    item = me.item
    if exc is not None and not isinstance(exc, GreenletExit):
        ctx.violation(f"a producer died of {exc!r}, not of its kill")
        return
    if item is None or item in books.done or item in books.failed:
        return
    if _landed(exc) == "at a checkpoint":
        books.failed.add(item)  # the kill was raised by put() itself: nothing was put
        ctx.note("put interrupted at its checkpoint")
    else:
        books.unsure.add(item)
        ctx.note("producer killed outside a checkpoint")


def _drive_consumer(ctx: Context, q: Any, books: _Books, kind: str, index: int) -> None:
    rng = ctx.rng(kind, "consumer", index)
    while ctx.running():
        got: list[tuple[int, int]] = []
        with books.lock:
            books.got.append(got)
        timeouts = [rng.choice((0.0, 0.0, 0.0, 0.0005, 0.002)) for _ in range(64)]
        victim = spawn(_consume, q, got, timeouts)
        threading.Event().wait(rng.uniform(0.0, 0.005))
        victim.kill()
        exc = _death(victim, ctx)
        if exc is not None and not isinstance(exc, GreenletExit):
            ctx.violation(f"a consumer died of {exc!r}, not of its kill")
            return
        if _landed(exc) != "at a checkpoint":
            with books.lock:
                books.unsure_gets += 1
        ctx.count(len(got))


def _check_queue(ctx: Context, kind: str, q: Any, books: _Books) -> None:
    drained: list[tuple[int, int]] = []
    while True:
        try:
            drained.append(q.get_nowait())
        except threadevent.Empty:
            break
    counts = collections.Counter(item for got in (*books.got, drained) for item in got)
    twice = [item for item, n in counts.items() if n > 1]
    if twice:
        ctx.violation(f"{kind}: {len(twice)} items got twice, e.g. {twice[:3]}")
    never_put = [i for i in counts if i not in books.done and i not in books.unsure]
    if never_put:
        ctx.violation(f"{kind}: {len(never_put)} items got whose put failed or never ran: {never_put[:3]}")
    lost = [item for item in books.done if counts[item] == 0]
    if len(lost) > books.unsure_gets:
        ctx.violation(
            f"{kind}: {len(lost)} items put were never got (at most {books.unsure_gets} could have "
            f"been dropped by consumers killed outside a checkpoint), e.g. {sorted(lost)[:3]}"
        )
    for got in (*books.got, drained):
        last: dict[int, int] = {}
        for pid, seq in got:
            if last.get(pid, -1) >= seq:
                ctx.violation(f"{kind}: producer {pid}'s item {seq} came after its item {last[pid]}")
                return
            last[pid] = seq
    if q.qsize() or q.getting() or q.putting():
        ctx.violation(f"{kind}: left behind: {q.qsize()} items, {q.getting()} getters, {q.putting()} putters")
    ctx.note(f"{kind}: items got", sum(counts.values()))


# -- semaphores ----------------------------------------------------------------------------------------


class _Holders:
    """Who holds a permit right now, checked against the limit at every acquire."""

    def __init__(self, ctx: Context, limit: int) -> None:
        self.ctx = ctx
        self.limit = limit
        self.now: list[object] = []
        #: Holders killed outside a checkpoint: each may have lost its permit (taken, and the kill
        #: raised before the ``with`` protected it).
        self.unsure = 0


def _hold(sem: Any, holders: _Holders, me: object, timeouts: list[float]) -> None:
    now = holders.now
    draws = iter(timeouts)
    while True:
        # None: no deadline.  The Timeout may fire in acquire() or while the permit is held.
        with Timeout(next(draws, 0.0) or None, False), sem:
            try:
                now.append(me)
                if len(now) > holders.limit:
                    holders.ctx.violation(f"{len(now)} holders of a Semaphore({holders.limit})")
                sleep(0)  # a checkpoint while holding: a kill may land here too
            finally:
                if me in now:
                    now.remove(me)


def semaphore_storm(ctx: Context) -> None:
    """Greenthreads acquiring and releasing one Semaphore, killed and timed out at random.

    Each holds its permit across a checkpoint, releasing it in ``finally``.  Invariant: never more
    holders than the semaphore's value; once every victim is dead, nobody waits, no permit is made
    up, and none is lost (but at most one per holder killed outside a checkpoint, where the kill may
    land between the acquire and the ``with`` that would release it).  Operations: kills.
    """
    value = 3
    sem = ctx.make_semaphore(value)
    holders = _Holders(ctx, value)
    ctx.run(*(functools.partial(_drive_holder, ctx, sem, holders, i) for i in range(ctx.threads)))
    if ctx.failed:
        return
    counter, balance = sem.counter, sem.balance
    if counter > value or balance != counter or value - counter > holders.unsure:
        ctx.violation(
            f"after the storm: counter {counter}, balance {balance}, for a value of {value} "
            f"(at most {holders.unsure} permits could have been lost by holders killed outside a checkpoint)"
        )


def _drive_holder(ctx: Context, sem: Any, holders: _Holders, index: int) -> None:
    rng = ctx.rng("holder", index)
    while ctx.running():
        timeouts = [rng.choice((0.0, 0.0, 0.0005, 0.002)) for _ in range(64)]
        victim = spawn(_hold, sem, holders, object(), timeouts)
        threading.Event().wait(rng.uniform(0.0, 0.003))
        victim.kill()
        exc = _death(victim, ctx)
        if exc is not None and not isinstance(exc, GreenletExit):
            ctx.violation(f"a holder died of {exc!r}, not of its kill")
            return
        ctx.count()
        landed = _landed(exc)
        ctx.note(f"killed {landed}")
        if landed not in ("at a checkpoint", "before it ran"):
            holders.unsure += 1
