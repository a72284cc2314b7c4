"""Stress scenarios for ``Event``: fan-out, ping-pong rings, send/reset cycles, timeouts racing sends.

Each takes the events it hammers from ``ctx.make_event`` and uses only ``send``, ``send_exception``,
``wait``, ``reset`` and ``ready``, so that any Event-like class can be put to the test (the suite's own
tests inject deliberately broken ones and check that they are caught).
"""

from __future__ import annotations

import functools
import random
import threading
import time
from time import perf_counter
from typing import Any

from stress.harness import Context, Tally

__all__ = ["fan_out", "ping_pong", "reset_races", "timeout_races"]

#: How much earlier than its timeout a timed wait may return ``None`` before that counts as waking with
#: nothing: clocks and timer rounding are not exact, but they are not off by a millisecond either.
_EARLY = 0.001


class _Sent(Exception):
    """An exception a scenario sends: a fresh instance each time, so a receiver can tell it got that one."""

    def __init__(self, serial: int, after: Any = None) -> None:
        super().__init__(serial)
        self.serial = serial
        self.after = after
        self.sent_at = 0.0


class _Value:
    """A value a scenario sends: a fresh object each time, compared by identity."""

    __slots__ = ("after", "sent_at", "serial")

    def __init__(self, serial: int, after: Any = None) -> None:
        self.serial = serial
        self.after = after
        self.sent_at = 0.0

    def __repr__(self) -> str:
        return f"<value #{self.serial}>"


_Payload = _Value | _Sent


def _make_payload(rng: random.Random, serial: int, after: Any = None) -> _Payload:
    """A fresh value, or now and then a fresh exception, to send."""
    return _Sent(serial, after) if rng.random() < 0.25 else _Value(serial, after)


def _send(event: Any, payload: _Payload) -> None:
    payload.sent_at = perf_counter()
    if isinstance(payload, _Sent):
        event.send_exception(payload)
    else:
        event.send(payload)


def _wait(event: Any, timeout: float) -> Any:
    """``event.wait(timeout)``, with a sent ``_Sent`` exception returned rather than raised."""
    try:
        return event.wait(timeout)
    except _Sent as exc:
        return exc


def _late(woke: float, got: _Payload) -> str:
    return f"it woke {woke - got.sent_at:.2f} s after the send (when its timeout ran out?)"


def _pause(rng: random.Random) -> None:
    """Nothing, a yield, or up to a millisecond: so the other side is caught at every stage of its work."""
    draw = rng.random()
    if draw < 0.3:
        return
    if draw < 0.6:
        time.sleep(0)
        return
    time.sleep(rng.uniform(0.0, 0.001))


# -- fan-out ---------------------------------------------------------------------------------------


def fan_out(ctx: Context) -> None:
    """One sender, many waiters: every waiter gets exactly the value (or exception) that was sent.

    Round after round, the sender makes a fresh event, waits until every waiter is done with the
    previous round, pauses a random moment (so that some waiters are already blocked and some not yet
    waiting) and sends a fresh value or exception, which also carries the next round's event.
    Invariant: every waiter's ``wait()`` returns that very object (or raises that very exception), and
    a second ``wait()`` gives the same; a wait that runs out of patience is a lost wake-up.
    Operations: waits that returned; latency: from ``send()`` to the waiter running again.
    """
    waiters = max(1, ctx.threads - 1)
    first = ctx.make_event()
    sent: dict[int, _Payload] = {}  # round -> what was sent in it
    done = Tally()  # waits completed, all rounds together

    def sender() -> None:
        rng = ctx.rng("sender")
        event = first
        serial = 0
        while True:
            serial += 1
            if not done.wait_for(waiters * (serial - 1), 2 * ctx.patience, stop=lambda: ctx.failed):
                ctx.lost(f"waiters did not all finish round {serial - 1}")
                return
            sent.pop(serial - 2, None)  # nobody looks at it any more
            after = ctx.make_event() if ctx.running() else None  # None: the last round
            payload = _make_payload(rng, serial, after)
            sent[serial] = payload
            _pause(rng)
            _send(event, payload)
            if after is None:
                return
            event = after

    def waiter(index: int) -> None:
        event = first
        serial = 0
        while True:
            serial += 1
            got = _wait(event, ctx.patience)
            woke = perf_counter()
            if got is None:
                ctx.lost(f"waiter {index} never woke in round {serial}")
                return
            want = sent.get(serial)
            if want is None or got is not want:
                ctx.violation(f"waiter {index} got {got!r} in round {serial}, but {want!r} was sent")
                return
            if ctx.late(woke - got.sent_at):
                ctx.violation(f"waiter {index}: lost wake-up in round {serial}, {_late(woke, got)}")
                return
            again = _wait(event, 0)
            if again is not got:
                ctx.violation(
                    f"waiter {index}: a second wait() in round {serial} gave {again!r}, not {got!r}"
                )
                return
            ctx.count()
            ctx.latency(woke - got.sent_at)
            done.add()
            if got.after is None:
                return
            event = got.after

    ctx.run(sender, *(functools.partial(waiter, i) for i in range(waiters)))


# -- ping-pong and chains --------------------------------------------------------------------------


class _Stop:
    """Passed round a ring to end it."""

    def __repr__(self) -> str:
        return "<stop>"


def _ring_sizes(rng: random.Random, threads: int) -> list[int]:
    """Split ``threads`` (>= 2) into rings of 2 (ping-pong) and more (chains), none of size 1."""
    sizes = []
    left = max(2, threads)
    while left:
        size = min(left, rng.choice((2, 2, 3, 5, 8)))
        if left - size == 1:
            size += 1
        sizes.append(size)
        left -= size
    return sizes


def ping_pong(ctx: Context) -> None:
    """Tokens passed round rings of threads, one event per thread, reset and re-used every lap.

    The threads form rings: rings of two are ping-pong, longer ones chains.  Each thread waits on its
    own event, resets it, checks the token and sends it on, its hop count one higher, to the next
    thread's event (as a value, or now and then as an exception).  Invariant: each thread receives
    every lap's token exactly once, in order (its hop count is exactly one lap more than last time),
    ``ready()`` is false right after ``reset()``, and no wait runs out of patience.
    Operations: hops; latency: from ``send()`` to the next thread running.
    """
    layout = ctx.rng("layout")
    members = []
    for ring, size in enumerate(_ring_sizes(layout, ctx.threads)):
        inboxes = [ctx.make_event() for _ in range(size)]
        members += [functools.partial(_ring_member, ctx, ring, member, inboxes) for member in range(size)]
    ctx.run(*members)


def _ring_member(ctx: Context, ring: int, member: int, inboxes: list[Any]) -> None:
    rng = ctx.rng("ring", ring, member)
    size = len(inboxes)
    inbox, outbox = inboxes[member], inboxes[(member + 1) % size]
    who = f"ring {ring} (of {size}), member {member}"
    if member == 0:
        _send(outbox, _make_payload(rng, 1))
    expect = member if member else size  # the hops the token has made when it reaches us
    while True:
        got = _wait(inbox, ctx.patience)
        woke = perf_counter()
        if got is None:
            ctx.lost(f"{who} never received hop {expect}")
            return
        if isinstance(got, _Stop):
            inbox.reset()
            outbox.send(got)
            return
        if got.serial != expect:
            ctx.violation(f"{who} received hop {got.serial}, expected hop {expect}")
            return
        if ctx.late(woke - got.sent_at):
            ctx.violation(f"{who}: lost wake-up for hop {expect}, {_late(woke, got)}")
            return
        inbox.reset()
        if inbox.ready():
            ctx.violation(f"{who}: ready() is true right after reset()")
            return
        ctx.count()
        ctx.latency(woke - got.sent_at)
        expect += size
        if member == 0 and not ctx.running():
            _end_ring(ctx, who, inbox, outbox)
            return
        if rng.random() < 0.1:
            _pause(rng)
        _send(outbox, _make_payload(rng, got.serial + 1))


def _end_ring(ctx: Context, who: str, inbox: Any, outbox: Any) -> None:
    """Send a stop token round the ring, and wait for it to come back: every member has left then."""
    stop = _Stop()
    outbox.send(stop)
    back = _wait(inbox, ctx.patience)
    if back is None:
        ctx.lost(f"{who}: the stop token never came back round")
    elif back is not stop:
        ctx.violation(f"{who}: expected the stop token back, got {back!r}")


# -- reset races -----------------------------------------------------------------------------------


class _Cycles:
    """The controller's progress, published for the waiters (plain attributes: each write is atomic)."""

    def __init__(self) -> None:
        self.sending = 0  # the serial of the latest send begun
        self.reset_done = 0  # the serial of the latest send whose reset() has returned
        self.finished = False


def reset_races(ctx: Context) -> None:
    """One event sent and reset over and over while waiters come and go.

    A controller cycles ``send(fresh value) / reset()`` with random pauses; the other threads wait on
    the event again and again, most with a long timeout, some with one of a millisecond or two (leaving
    in the middle of a cycle), some with none.  Invariant: no stale wake-up (a wait never returns the
    value of a send that had already been reset when the wait began), no phantom one (never a value not
    yet sent), and no lost one (a long wait always ends with a value: the controller keeps sending).
    Operations: waits that returned a value; latency: from ``send()`` to a blocked waiter running again.
    """
    event = ctx.make_event()
    cycles = _Cycles()
    sent: dict[int, _Payload] = {}

    def controller() -> None:
        rng = ctx.rng("controller")
        serial = 0
        try:
            while ctx.running():
                serial += 1
                payload = sent[serial] = _make_payload(rng, serial)
                cycles.sending = serial
                _send(event, payload)
                _pause(rng)
                event.reset()
                cycles.reset_done = serial
                sent.pop(serial - 64, None)  # a waiter a long way behind may still look one up
                _pause(rng)
        finally:
            try:
                # The last send stays: every waiter still blocked wakes, and the rest return at once.
                # (Unless the loop broke off with the event sent: then that send stays.)
                if not event.ready():
                    serial += 1
                    payload = sent[serial] = _make_payload(rng, serial)
                    cycles.sending = serial
                    _send(event, payload)
            finally:
                cycles.finished = True

    def waiter(index: int) -> None:
        rng = ctx.rng("waiter", index)
        while not cycles.finished and not ctx.failed:
            draw = rng.random()
            timeout = ctx.patience if draw < 0.6 else rng.uniform(0.0, 0.002) if draw < 0.9 else 0.0
            floor = cycles.reset_done
            started = perf_counter()
            got = _wait(event, timeout)
            woke = perf_counter()
            latest = cycles.sending
            if got is None:
                if timeout == ctx.patience:
                    ctx.lost(f"waiter {index} never woke, though the controller kept sending")
                    return
                ctx.note("short waits timed out")
                continue
            if not isinstance(got, _Payload) or sent.get(got.serial, got) is not got:
                ctx.violation(f"waiter {index} got {got!r}, which was never sent")
                return
            if got.serial <= floor:
                ctx.violation(
                    f"waiter {index} got a stale wake-up: send #{got.serial}, whose reset() had returned "
                    f"before the wait began"
                )
                return
            if got.serial > latest:
                ctx.violation(f"waiter {index} got send #{got.serial} before it was sent (latest: #{latest})")
                return
            ctx.count()
            if got.sent_at > started:  # it was blocked when the send came
                if ctx.late(woke - got.sent_at):
                    ctx.violation(f"waiter {index}: lost wake-up for send #{got.serial}, {_late(woke, got)}")
                    return
                ctx.note("woken by a send")
                ctx.latency(woke - got.sent_at)
            _pause(rng)  # else it spins on the sent event, starving the controller

    ctx.run(controller, *(functools.partial(waiter, i) for i in range(max(1, ctx.threads - 1))))


# -- timeout races ---------------------------------------------------------------------------------


class _Race:
    """One round of ``timeout_races``: a fresh event, and when (and what) the sender sends."""

    def __init__(self, event: Any, payload: _Payload, delay: float) -> None:
        self.event = event
        self.payload = payload
        self.delay = delay
        self.sent = False  # set once send() has returned


def timeout_races(ctx: Context) -> None:
    """Timed waits whose timeouts expire just as the send lands.

    Rounds start together (a ``threading.Barrier``): the sender sleeps a random 0.1-3 ms and sends a
    fresh value or exception, while each waiter waits with a random timeout in the same range (a few
    with a long one).  Invariant: each wait ends with the sent object or with ``None``, never anything
    else; ``None`` only after its full timeout, never when the send had completed before the wait began,
    and never for a long wait (that would be a lost wake-up); after a timed-out wait, the event still
    delivers the object to a new wait (the leaving waiter did not strand the others).
    Operations: timed waits; latency: from ``send()`` to a waiter that got the object running again.
    """
    parties = max(2, ctx.threads)
    rounds = ctx.rng("rounds")
    current: list[_Race | None] = [None]
    serials = iter(range(1, 1 << 62))

    def next_round() -> None:  # the barrier's action: runs in one thread while the others wait
        # The first round runs even if the deadline passed before every thread reached the barrier: a run
        # of no round would have checked nothing, and passed.
        if not ctx.running() and (ctx.failed or current[0] is not None):
            current[0] = None
            return
        payload = _make_payload(rounds, next(serials))
        current[0] = _Race(ctx.make_event(), payload, rounds.uniform(0.0001, 0.003))

    barrier = threading.Barrier(parties, action=next_round, timeout=3 * ctx.patience)
    ctx.on_stop(barrier.abort)

    def party(index: int) -> None:
        rng = ctx.rng("party", index)
        while True:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                if not ctx.failed:
                    ctx.lost("a thread never reached the start of the next round")
                return
            race = current[0]
            if race is None:
                return
            if index == 0:
                time.sleep(race.delay)
                _send(race.event, race.payload)
                race.sent = True
            elif not _race_once(ctx, rng, index, race):
                barrier.abort()
                return

    ctx.run(*(functools.partial(party, i) for i in range(parties)))


def _race_once(ctx: Context, rng: random.Random, index: int, race: _Race) -> bool:
    long_wait = rng.random() < 0.1
    timeout = ctx.patience if long_wait else rng.uniform(0.0001, 0.003)
    sent_before = race.sent
    started = perf_counter()
    got = _wait(race.event, timeout)
    woke = perf_counter()
    want = race.payload
    ctx.count()
    if got is want:
        if ctx.late(woke - want.sent_at):
            ctx.violation(f"waiter {index}: lost wake-up, {_late(woke, want)}")
            return False
        ctx.note("woke with the value")
        ctx.latency(woke - want.sent_at)
        return True
    if got is not None:
        ctx.violation(f"waiter {index} got {got!r}, but {want!r} was sent")
        return False
    ctx.note("timed out")
    if long_wait:
        ctx.lost(f"waiter {index} never woke, though {want!r} was sent")
        return False
    if sent_before:
        ctx.violation(f"waiter {index} timed out on an event already sent before its wait began")
        return False
    if woke - started < timeout - _EARLY:
        ctx.violation(
            f"waiter {index}: wait({timeout:.6f}) returned None after {woke - started:.6f} s, "
            "neither sent nor timed out"
        )
        return False
    again = _wait(race.event, ctx.patience)
    if again is None:
        ctx.lost(f"waiter {index}: after a timed-out wait, a new wait never woke with {want!r}")
        return False
    if again is not want:
        ctx.violation(f"waiter {index}: after a timed-out wait, a new wait got {again!r}, not {want!r}")
        return False
    if ctx.late(perf_counter() - want.sent_at):
        ctx.violation(f"waiter {index}: lost wake-up after a timed-out wait, {_late(perf_counter(), want)}")
        return False
    return True
