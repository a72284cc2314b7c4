"""The benchmark report: every bar of docs/design.md ("The numbers"), against its stdlib rival, in one run.

    python -m stress.bench            # both CPU modes, 5 rounds: about 30 s on a 2-core machine
    python -m stress.bench --quick    # a smoke run for CI: small sizes, 3 rounds (about 10 s)
    python -m stress.bench --long     # the largest sizes, 7 rounds (about 2 minutes)
    python -m stress.bench --check    # exit 1 if a bar is missed

Each workload is measured twice, in two child processes: pinned to one CPU (the library's own overhead,
steady on a noisy machine) and free on all CPUs (real cross-core wake-ups).  Within a process, ours and the
rival alternate round by round, and the reported ratio is the median of the per-round ratios, so drift in
the machine's speed hits both sides alike; the spread of those ratios (lowest to highest round) comes
with a missed bar, to tell noise from a regression.  Times are per operation.  Each row prints a progress
line (on stderr) as it is measured.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import queue as stdlib_queue
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from threadevent import Event, Lock, Pool, Queue, Semaphore, Timeout, hub, sleep, spawn
from threadevent._waitable import waiters
from threadevent.greenpool import GreenPool

#: A measurement: given a size, returns the cost of one operation (seconds, or bytes for memory rows).
Measure = Callable[[int], float]


#: The run lengths: rounds per row, and which of a row's sizes, scaled by how much.
ROUNDS = {"quick": 3, "default": 5, "long": 7}
_QUICK_SCALE = 0.25
#: In a default run, a row that has taken this many seconds stops after its current round, once it has
#: ``_MIN_ROUNDS``: on a busy machine the run stays short, with the medians of fewer rounds.
_BUDGET = 2.5
_MIN_ROUNDS = 3


@dataclass(frozen=True)
class Row:
    name: str  # "{n}" in it stands for the size measured, e.g. "memory of {n} live events"
    ours: Measure
    rival_name: str
    rival: Measure | None  # None: an absolute count, measured once, whose bar is a limit on the count
    size: int  # operations per measurement in the default run (a quarter of it in a quick one)
    bar: float | None  # the one-CPU bar on ours/rival (or on the count), None for rows that only report
    unit: str = "us"  # "us" per operation, "B" per object, "KiB" in all, or "" for a count
    rounds: int | None = None  # at most this many rounds (slow rows whose value hardly varies)
    long_size: int | None = None  # operations per measurement in a long run, if more than ``size``

    def size_for(self, length: str, scale: float = 1.0) -> int:
        """The size measured in a run of this length ("quick", "default" or "long"), times ``scale``."""
        base = (self.long_size or self.size) if length == "long" else self.size
        if length == "quick":
            scale *= _QUICK_SCALE
        return max(1, int(base * scale))

    def title(self, size: int) -> str:
        return self.name.replace("{n}", _count(size))


def _count(n: int) -> str:
    """100000 as "100k", 2500 as "2,500": the size in a row's name."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else f"{n:,}"


# -- workloads -----------------------------------------------------------------------------------


def _ping_pong(make: Callable[[], Any], send: Callable[[Any], Any], wait: Callable[[Any], Any]) -> Measure:
    """Two threads bounce a one-shot event each way per round trip: time per round trip."""

    def measure(n: int) -> float:
        pairs = [(make(), make()) for _ in range(n)]

        def echo() -> None:
            for there, back in pairs:
                wait(there)
                send(back)

        thread = threading.Thread(target=echo)
        thread.start()
        start = time.perf_counter()
        for there, back in pairs:
            send(there)
            wait(back)
        elapsed = time.perf_counter() - start
        thread.join()
        return elapsed / n

    return measure


def _send_to_many(
    make: Callable[[], Any],
    send: Callable[[Any], Any],
    wait: Callable[[Any], Any],
    blocked: Callable[[Any], int],
    waiters: int = 1000,
) -> Measure:
    """Time spent in the sender's ``send`` while ``waiters`` threads are blocked on the event."""

    def measure(n: int) -> float:
        events = [make() for _ in range(n + 1)]

        def waiter() -> None:
            for event in events:
                wait(event)

        threads = [threading.Thread(target=waiter, daemon=True) for _ in range(waiters)]
        for thread in threads:
            thread.start()
        total = 0.0
        for event in events:
            deadline = time.monotonic() + 60
            while blocked(event) < waiters:  # a benchmark may poll; tests never do
                if time.monotonic() > deadline:
                    raise RuntimeError("waiters never blocked")
                time.sleep(0.0005)
            start = time.perf_counter()
            send(event)
            total += time.perf_counter() - start
            if event is events[-2]:
                send(events[-1])  # release the waiters from the spare last event, untimed
                break
        for thread in threads:
            thread.join()
        return total / n

    return measure


def _ours_blocked(event: Event[Any]) -> int:
    return waiters(event)  # white-box: the public API cannot tell a blocked waiter from a starting one


def _stdlib_blocked(event: threading.Event) -> int:
    return len(event._cond._waiters)  # type: ignore[attr-defined]


def _repeat(setup: Callable[[], Callable[[], Any]]) -> Measure:
    """Time ``n`` calls of the function ``setup()`` returns."""

    def measure(n: int) -> float:
        fn = setup()
        loop = range(n)
        start = time.perf_counter()
        for _ in loop:
            fn()
        return (time.perf_counter() - start) / n

    return measure


def _sent_event() -> Callable[[], Any]:
    event: Event[int] = Event()
    event.send(1)
    return event.wait


def _set_event() -> Callable[[], Any]:
    event = threading.Event()
    event.set()
    return event.wait


def _memory(make: Callable[[], Any]) -> Measure:
    """Bytes per live object, ``n`` of them alive at once, as tracemalloc counts them."""

    def measure(n: int) -> float:
        gc.collect()
        tracemalloc.start()
        try:
            objects = [make() for _ in range(n)]
            size, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        del objects
        return size / n

    return measure


def _event_send(event: Event[Any]) -> None:
    event.send(None)


def _future_send(future: Future[Any]) -> None:
    future.set_result(None)


def _spawn_wait(n: int) -> float:
    f = _nothing
    spawn(f).wait()  # a warm worker, as the executor's below
    start = time.perf_counter()
    for _ in range(n):
        spawn(f).wait()
    return (time.perf_counter() - start) / n


def _submit_result(n: int) -> float:
    f = _nothing
    with ThreadPoolExecutor(32) as executor:
        executor.submit(f).result()
        start = time.perf_counter()
        for _ in range(n):
            executor.submit(f).result()
        return (time.perf_counter() - start) / n


def _threads_for_sequential_spawns(n: int) -> float:
    """How many worker threads ``n`` sequential ``spawn(f).wait()`` start, from a cold hub."""
    before = hub.stats().spawned
    f = _nothing
    for _ in range(n):
        spawn(f).wait()
    return float(hub.stats().spawned - before)


def _nothing() -> None:
    pass


def _kill_latency(block: Callable[[Event[None]], object]) -> Measure:
    """The worst time from ``kill()`` to a dead greenthread, over ``n`` greenthreads in ``block``."""

    def measure(n: int) -> float:
        worst = 0.0
        for _ in range(n):
            started: Event[None] = Event()
            gt = spawn(_blocked_in, started, block)
            started.wait()
            start = time.perf_counter()
            gt.kill()
            worst = max(worst, time.perf_counter() - start)
            if not gt.dead:
                raise RuntimeError("kill() returned before the greenthread died")
        return worst

    return measure


def _blocked_in(started: Event[None], block: Callable[[Event[None]], object]) -> None:
    never: Event[None] = Event()
    started.send()
    block(never)


#: CPython 3.13 and later get kills at checkpoints only (asynchronous exceptions can skip ``finally``):
#: there the busy loop has one.
_CHECKPOINTS_ONLY = sys.version_info >= (3, 13)


def _busy(_: Event[None]) -> None:
    while True:
        if _CHECKPOINTS_ONLY:
            sleep(0)


def _in_greenthread_wait(never: Event[None]) -> None:
    inner = spawn(never.wait)
    try:
        inner.wait()
    finally:
        inner.kill()  # it would wait for ever, holding a worker


def _timeout_latency(block: Callable[[], object]) -> Measure:
    """The worst time from a Timeout's deadline to the release of a wait blocked in ``block``."""

    def measure(n: int) -> float:
        worst = 0.0
        seconds = 0.002
        for _ in range(n):
            start = time.perf_counter()
            try:
                with Timeout(seconds):
                    block()
            except Timeout:
                pass
            else:
                raise RuntimeError("the wait ended without its Timeout")
            worst = max(worst, time.perf_counter() - start - seconds)
        return worst

    return measure


def _timeout_row(where: str, block: Callable[[], object], size: int) -> Row:
    """An absolute row: the bar "released within 50 ms of the deadline", in the worst case measured."""
    name = f"Timeout around {where}: worst time past the deadline"
    return Row(name, _timeout_latency(block), "", None, size, 0.05, unit="s")


#: A pool of size 0 is always full: spawning into it blocks until a Timeout ends the wait.
_FULL_POOL = GreenPool(0)


def _echo(x: int) -> int:
    return x


def _pool_imap(n: int) -> float:
    """``list(GreenPool(32).imap(f, range(n)))``: time per item."""
    pool = GreenPool(32)
    list(pool.imap(_echo, range(256)))  # warm workers, as the executor's below
    start = time.perf_counter()
    list(pool.imap(_echo, range(n)))
    return (time.perf_counter() - start) / n


def _executor_map(n: int) -> float:
    """``list(ThreadPoolExecutor(32).map(f, range(n)))``: time per item."""
    with ThreadPoolExecutor(32) as executor:
        list(executor.map(_echo, range(256)))
        start = time.perf_counter()
        list(executor.map(_echo, range(n)))
        return (time.perf_counter() - start) / n


def _peak_while(run: Callable[[], object]) -> float:
    """The peak of the memory that tracemalloc sees allocated while ``run()`` runs, in bytes."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return float(tracemalloc.get_traced_memory()[1])
    finally:
        tracemalloc.stop()


def _drop_all(iterator: Iterator[Any]) -> None:
    for _ in iterator:
        pass


def _pool_imap_peak(n: int) -> float:
    """Peak memory of iterating ``GreenPool(32).imap`` over ``n`` items, each result dropped at once."""
    pool = GreenPool(32)
    list(pool.imap(_echo, range(256)))
    return _peak_while(lambda: _drop_all(pool.imap(_echo, range(n))))


def _executor_map_peak(n: int) -> float:
    """The same for ``ThreadPoolExecutor(32).map``: it submits every item (a future each) up front."""
    with ThreadPoolExecutor(32) as executor:
        list(executor.map(_echo, range(256)))
        return _peak_while(lambda: _drop_all(executor.map(_echo, range(n))))


# -- queues, semaphores, locks ----------------------------------------------------------------------


def _queue_ping_pong(make: Callable[[], Any]) -> Measure:
    """One item in flight: a put, a get in another thread, a put back, a get: time per round trip."""

    def measure(n: int) -> float:
        there, back = make(), make()

        def echo() -> None:
            for _ in range(n):
                back.put(there.get())

        thread = threading.Thread(target=echo)
        thread.start()
        start = time.perf_counter()
        for i in range(n):
            there.put(i)
            back.get()
        elapsed = time.perf_counter() - start
        thread.join()
        return elapsed / n

    return measure


def _put_get(make: Callable[[], Any]) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        q = make()
        put, get = q.put, q.get
        return lambda: (put(1), get())

    return setup


def _producers_consumers(make: Callable[[], Any], pairs: int = 4) -> Measure:
    """``pairs`` producer and consumer threads pass ``n`` items through one queue: time per item."""

    def measure(n: int) -> float:
        q = make()
        each = n // pairs

        def produce() -> None:
            put = q.put
            for i in range(each):
                put(i)

        def consume() -> None:
            get = q.get
            for _ in range(each):
                get()

        threads = [threading.Thread(target=f) for f in (produce, consume) for _ in range(pairs)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return (time.perf_counter() - start) / (each * pairs)

    return measure


def _acquire_release(make: Callable[[], Any]) -> Callable[[], Callable[[], Any]]:
    def setup() -> Callable[[], Any]:
        sem = make()
        acquire, release = sem.acquire, sem.release
        return lambda: (acquire(), release())

    return setup


def _passed_around(make: Callable[[], Any], threads_count: int = 4) -> Measure:
    """One permit passed between ``threads_count`` threads, each acquiring and releasing it in turn
    as it comes: time per acquire."""

    def measure(n: int) -> float:
        sem = make()
        each = n // threads_count

        # Without the barrier, the first thread is done before the last has started at the smaller
        # sizes, and the row measures an uncontended semaphore.
        ready = threading.Barrier(threads_count + 1)

        def hold() -> None:
            acquire, release = sem.acquire, sem.release
            ready.wait()
            for _ in range(each):
                acquire()
                release()

        threads = [threading.Thread(target=hold) for _ in range(threads_count)]
        for thread in threads:
            thread.start()
        ready.wait()
        start = time.perf_counter()
        for thread in threads:
            thread.join()
        return (time.perf_counter() - start) / (each * threads_count)

    return measure


def _blocked_forever() -> dict[str, Callable[[], object]]:
    """Calls that block until interrupted, on objects made once: nothing is ever put, released or
    given back to them, and an interrupted call leaves them as they were."""
    empty: Queue[None] = Queue()
    full: Queue[None] = Queue(1)
    full.put(None)
    taken = Semaphore(0)
    held = Lock()
    held.acquire()
    empty_pool: Pool[object] = Pool(max_size=0, create=object)
    return {
        "Queue.get()": empty.get,
        "Queue.put() on a full queue": lambda: full.put(None),
        "Semaphore.acquire()": taken.acquire,
        "Lock.acquire()": held.acquire,
        "Pool.get()": empty_pool.get,
    }


_BLOCKED = _blocked_forever()


def _kill_row(where: str, block: Callable[[Event[None]], object], size: int, bar: float) -> Row:
    """An absolute row: the worst time from kill() to dead, of a greenthread blocked in ``where``."""
    name = f"kill() of a greenthread in {where}: worst time to dead"
    return Row(name, _kill_latency(block), "", None, size, bar, unit="s")


ROWS: list[Row] = [
    Row(
        "ping-pong send/wait",
        _ping_pong(Event, _event_send, Event.wait),
        "threading.Event set/wait",
        _ping_pong(threading.Event, threading.Event.set, threading.Event.wait),
        10_000,
        0.8,
        long_size=20_000,
    ),
    Row(
        "ping-pong send/wait",
        _ping_pong(Event, _event_send, Event.wait),
        "Future set_result/result",
        _ping_pong(Future, _future_send, Future.result),
        10_000,
        0.75,
        long_size=20_000,
    ),
    Row(
        "send() to 1000 blocked waiters",
        _send_to_many(Event, _event_send, Event.wait, _ours_blocked),
        "threading.Event.set(), 1000 waiters",
        _send_to_many(threading.Event, threading.Event.set, threading.Event.wait, _stdlib_blocked),
        5,
        0.1,
        rounds=3,  # a thousand times under its bar, and each round starts 2000 threads
    ),
    Row(
        "wait() on a sent event",
        _repeat(_sent_event),
        "threading.Event.wait() on a set event",
        _repeat(_set_event),
        100_000,
        0.5,
        long_size=200_000,
    ),
    Row(
        "Event() creation",
        _repeat(lambda: Event),
        "threading.Event()",
        _repeat(lambda: threading.Event),
        50_000,
        0.5,
        long_size=100_000,
    ),
    Row(
        "memory of {n} live events",
        _memory(Event),
        "threading.Event",
        _memory(threading.Event),
        10_000,
        0.5,
        unit="B",
        rounds=1,  # bytes as tracemalloc counts them: the same in every round (and slow under it)
        long_size=100_000,
    ),
    # Before any other spawn row: it counts the threads started from the child process's cold hub.
    Row(
        "threads started by {n} sequential spawn(f).wait()",
        _threads_for_sequential_spawns,
        "",
        None,
        20_000,
        4,
        unit="",
        long_size=100_000,
    ),
    _kill_row("Event.wait()", Event.wait, 40, 0.05),
    _kill_row("GreenThread.wait()", _in_greenthread_wait, 40, 0.05),
    _kill_row("sleep(3600)", lambda _: sleep(3600), 40, 0.05),
    _kill_row("`while True: sleep(0)`" if _CHECKPOINTS_ONLY else "`while True: pass`", _busy, 10, 1.0),
    _timeout_row("Event.wait()", lambda: Event().wait(), 100),
    _timeout_row("sleep(3600)", lambda: sleep(3600), 100),
    _timeout_row("a full GreenPool.spawn()", lambda: _FULL_POOL.spawn(_nothing), 100),
    *(_kill_row(where, lambda _, call=call: call(), 20, 0.05) for where, call in _BLOCKED.items()),
    *(_timeout_row(where, call, 50) for where, call in _BLOCKED.items()),
    Row(
        "spawn(f).wait() round trip",
        _spawn_wait,
        "ThreadPoolExecutor.submit(f).result()",
        _submit_result,
        10_000,
        0.7,
        long_size=20_000,
    ),
    Row(
        "GreenPool(32).imap over {n} trivial items",
        _pool_imap,
        "list(ThreadPoolExecutor(32).map(...))",
        _executor_map,
        10_000,
        1.0,
        long_size=100_000,
    ),
    Row(
        "GreenPool(32).imap over {n} trivial items: peak memory",
        _pool_imap_peak,
        "ThreadPoolExecutor(32).map: peak memory",
        _executor_map_peak,
        10_000,
        None,
        unit="KiB",
        rounds=1,  # steady: a peak of allocations, not a time (and slow under tracemalloc)
        long_size=100_000,
    ),
    Row(
        "Queue put/get hand-off between two threads",
        _queue_ping_pong(Queue),
        "queue.Queue",
        _queue_ping_pong(stdlib_queue.Queue),
        5_000,
        0.8,
        long_size=20_000,
    ),
    Row(
        "Queue put then get in one thread",
        _repeat(_put_get(Queue)),
        "queue.Queue",
        _repeat(_put_get(stdlib_queue.Queue)),
        50_000,
        0.5,
        long_size=200_000,
    ),
    Row(
        "Queue: 4 producers, 4 consumers, {n} items",
        _producers_consumers(Queue),
        "queue.Queue",
        _producers_consumers(stdlib_queue.Queue),
        20_000,
        0.8,
        long_size=100_000,
    ),
    Row(
        "Semaphore acquire/release, uncontended",
        _repeat(_acquire_release(Semaphore)),
        "threading.Semaphore",
        _repeat(_acquire_release(threading.Semaphore)),
        50_000,
        0.5,
        long_size=200_000,
    ),
    Row(
        "Semaphore(1) passed between 4 threads",
        _passed_around(Semaphore),
        "threading.Semaphore(1)",
        _passed_around(threading.Semaphore),
        20_000,
        0.8,
        long_size=100_000,
    ),
    Row(
        "Lock acquire/release, uncontended",
        _repeat(_acquire_release(Lock)),
        "threading.Lock (C: reported, not barred)",
        _repeat(_acquire_release(threading.Lock)),
        50_000,
        None,
        long_size=200_000,
    ),
]


# -- running ---------------------------------------------------------------------------------------

#: A row still being measured after this many seconds says how far it got (on stderr), each round.
_HEARTBEAT = 5.0


def _run_rows(
    length: str, rounds: int, scale: float, only: str | None, label: str, budget: float | None = None
) -> list[dict[str, Any]]:
    """Measure every row, ours and rival alternating, in this process; return the medians.

    With a ``budget``, a row stops after the round that takes it past that many seconds, if it has had
    ``_MIN_ROUNDS`` by then.  A line per row goes to stderr as soon as it is measured.
    """
    sized = [(row, row.size_for(length, scale)) for row in ROWS]
    sized = [(row, size) for row, size in sized if only is None or only in row.title(size)]
    results = []
    for index, (row, size) in enumerate(sized, 1):
        started = time.monotonic()
        where = f"[{label} {index}/{len(sized)}] {row.title(size)}"
        if row.rival is None:
            count = row.ours(size)
            results.append(
                {**_describe(row, size), "ours": count, "rival_value": None, "ratio": None, "ratios": []}
            )
            _progress(f"{where}: {_fmt(count, row.unit)}", started)
            continue
        ours: list[float] = []
        rival: list[float] = []
        n = rounds if row.rounds is None else min(rounds, row.rounds)
        beat = _Heartbeat(where, started)
        for i in range(n):
            # Alternate who goes first, so a warm cache or a quiet moment favours neither side.
            first, second = (row.ours, row.rival) if i % 2 == 0 else (row.rival, row.ours)
            a = first(size)
            beat(f"round {i + 1} of {n}: one side measured")
            b = second(size)
            ours.append(a if i % 2 == 0 else b)
            rival.append(b if i % 2 == 0 else a)
            if i + 1 < n and i + 1 >= _MIN_ROUNDS and budget is not None:
                if time.monotonic() - started > budget:
                    break
            if i + 1 < n:
                beat(f"round {i + 1} of {n} done")
        ratios = [o / r for o, r in zip(ours, rival, strict=True)]
        ratio = statistics.median(ratios)
        results.append(
            {
                **_describe(row, size),
                "ours": statistics.median(ours),
                "rival_value": statistics.median(rival),
                "ratio": ratio,
                "ratios": ratios,
            }
        )
        _progress(f"{where} vs {row.rival_name}: ratio {ratio:.3f} ({_spread(ratios)})", started)
    return results


class _Heartbeat:
    """Says how far a row got, if it has been measuring for a while without a word."""

    def __init__(self, where: str, started: float) -> None:
        self.where = where
        self.started = started
        self.shown = started

    def __call__(self, what: str) -> None:
        if time.monotonic() - self.shown > _HEARTBEAT:
            self.shown = time.monotonic()
            _progress(f"{self.where}: {what}", self.started)


def _progress(text: str, started: float) -> None:
    print(f"  {text}, {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)


def _spread(ratios: list[float]) -> str:
    if len(ratios) == 1:
        return "1 round"
    return f"{len(ratios)} rounds, {min(ratios):.3f} to {max(ratios):.3f}"


def _describe(row: Row, size: int) -> dict[str, Any]:
    return {"name": row.title(size), "rival": row.rival_name, "unit": row.unit, "bar": row.bar, "size": size}


def _pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned: this OS cannot set CPU affinity"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


_LABELS = {"one": "1 CPU", "all": "all CPUs"}


def _child(mode: str, length: str, rounds: int, scale: float, only: str | None, budget: float | None) -> None:
    note = _pin_to_one_cpu() if mode == "one" else f"{len(os.sched_getaffinity(0))} CPUs"
    rows = _run_rows(length, rounds, scale, only, _LABELS[mode], budget)
    print(json.dumps({"note": note, "rows": rows}))


def _measure_mode(
    mode: str, length: str, rounds: int, scale: float, only: str | None, budget: float | None
) -> dict[str, Any]:
    # A fresh process per mode: affinity set before any thread exists applies to every thread.
    cmd = [sys.executable, "-m", "stress.bench", "--child", mode, "--rounds", str(rounds)]
    cmd += ["--scale", str(scale)] + ([] if length == "default" else [f"--{length}"])
    cmd += [] if only is None else ["--only", only]
    cmd += [] if budget is None else ["--budget", str(budget)]
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "B":
        return f"{value:.0f} B"
    if unit == "KiB":
        return f"{value / 1024:.0f} KiB"
    if unit == "":
        return f"{value:.0f}"
    if unit == "s":
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.3f} us"


# -- judging and reporting ---------------------------------------------------------------------------


def judge(one: dict[str, Any], every: dict[str, Any]) -> list[str]:
    """Why the bar of the row measured as ``one`` (1 CPU) and ``every`` (all CPUs) is missed; [] if met.

    A ratio's bar holds for the median of the rounds; a miss gives the lowest and highest round too, so
    that a reader can tell noise (the best round met the bar) from a regression (every round missed).
    An absolute row (a worst time, a count) is measured once per mode: its bar is a limit on it.
    """
    bar = one["bar"]
    if bar is None:
        return []
    if one["ratio"] is None:
        once = f"the worst of {one['size']}, " if one["unit"] == "s" and "size" in one else ""
        return [
            f"{_LABELS[mode]} {_fmt(row['ours'], row['unit'])} > {_fmt(bar, row['unit'])} "
            f"({once}measured once: re-run to see whether it repeats)"
            for mode, row in (("one", one), ("all", every))
            if row["ours"] > bar
        ]
    why = []
    for mode, row, limit in (("one", one, bar), ("all", every, 1.0)):
        if row["ratio"] <= limit:
            continue
        ratios = row.get("ratios") or [row["ratio"]]
        if len(ratios) == 1:
            hint = "1 round: re-run to see whether it repeats"
        elif min(ratios) <= limit:
            hint = f"{_spread(ratios)}; the best round met it, noise likely"
        else:
            hint = f"{_spread(ratios)}; every round missed it, a regression likely"
        why.append(f"{_LABELS[mode]} ratio {row['ratio']:.3f} > {limit:g} ({hint})")
    return why


def render(one: dict[str, Any], every: dict[str, Any]) -> tuple[str, bool]:
    """The report as a Markdown table, and whether every bar holds."""
    lines = [
        "| workload | rival | ours, 1 CPU | rival, 1 CPU | ratio (or count), 1 CPU | bar "
        "| ratio (or count), all CPUs | verdict |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    ok = True
    for a, b in zip(one["rows"], every["rows"], strict=True):
        bar = a["bar"]
        if a["ratio"] is None:  # an absolute value: the bar is a limit on it, in both modes
            limit = "" if bar is None else f"<= {_fmt(bar, a['unit'])}"
            ratios = f"| {_fmt(a['ours'], a['unit'])} | {limit} | {_fmt(b['ours'], b['unit'])} "
        else:
            ratios = f"| {a['ratio']:.3f} | {'' if bar is None else f'<= {bar}'} | {b['ratio']:.3f} "
        missed = judge(a, b)
        ok = ok and not missed
        lines.append(
            f"| {a['name']} | {a['rival']} | {_fmt(a['ours'], a['unit'])} "
            f"| {_fmt(a['rival_value'], a['unit'])} "
            + ratios
            + f"| {'MISSED: ' + '; '.join(missed) if missed else 'met'} |"
        )
    return "\n".join(lines), ok


def summary(one: dict[str, Any], every: dict[str, Any]) -> str:
    """One line: every bar met, or each bar missed with the measured spread."""
    rows = list(zip(one["rows"], every["rows"], strict=True))
    missed = [(a, judge(a, b)) for a, b in rows]
    missed = [(a, why) for a, why in missed if why]
    if not missed:
        return f"every bar met ({len(rows)} row{'s' if len(rows) != 1 else ''})"
    listed = "; ".join(
        f"{a['name']}{' vs ' + a['rival'] if a['rival'] else ''}: {', '.join(why)}" for a, why in missed
    )
    return f"{len(missed)} of {len(rows)} bars MISSED: {listed}"


@dataclass(frozen=True)
class Report:
    """A benchmark run: both modes' rows, the table, whether every bar held, and the one-line summary."""

    one: dict[str, Any]
    every: dict[str, Any]
    table: str
    ok: bool
    summary: str
    length: str = "default"

    def chart(self, path: str) -> None:
        """Draw the ratios to ``path`` (PNG, SVG, ...; needs matplotlib: see ``stress/plot.py``)."""
        from stress import plot

        title = (
            f"threadevent against the standard library: {self.length} run, "
            f"Python {sys.version.split()[0]}, {self.every['note']}"
        )
        plot.plot(self.one, self.every, path, title)


def run(
    length: str = "default", rounds: int | None = None, scale: float = 1.0, only: str | None = None
) -> Report:
    """Measure every row in both modes (each in a child process), printing as it goes; the report.

    ``rounds`` overrides the length's; then every row gets all of them, however long they take.
    """
    budget = _BUDGET if length == "default" and rounds is None else None
    rounds = rounds or ROUNDS[length]
    how = f"{rounds} rounds" + (
        f" (from {_MIN_ROUNDS} on, none begun after a row's first {_BUDGET:g} s)" if budget else ""
    )
    print(
        f"threadevent benchmark: Python {sys.version.split()[0]}, {length} run, {how}"
        + ("" if scale == 1.0 else f", sizes x {scale:g}")
        + "; a line per row on stderr as it is measured, on 1 CPU and then on all CPUs",
        flush=True,
    )
    one = _measure_mode("one", length, rounds, scale, only, budget)
    every = _measure_mode("all", length, rounds, scale, only, budget)
    print(f"\none CPU: {one['note']}; all CPUs: {every['note']}\n")
    table, ok = render(one, every)
    print(table, flush=True)
    return Report(one, every, table, ok, summary(one, every), length)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stress.bench",
        description=__doc__.splitlines()[0],
        epilog="Run from the repository's root.  Durations as measured on a shared 2-core machine.",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--quick", action="store_true", help="a quarter of the default sizes, 3 rounds: about 10 s"
    )
    length.add_argument(
        "--long", action="store_true", help="the largest sizes (100k items), 7 rounds: about 2 minutes"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help=f"rounds per workload (default {ROUNDS['default']}, fewer on a busy machine; "
        f"quick {ROUNDS['quick']}, long {ROUNDS['long']})",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload's size")
    parser.add_argument("--check", action="store_true", help="exit 1 if any bar is missed")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results to FILE")
    parser.add_argument("--only", metavar="TEXT", help="only the workloads whose name contains TEXT")
    parser.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw the ratios and their bars to FILE (.png, .svg; needs the plot extra: matplotlib)",
    )
    parser.add_argument("--child", choices=["one", "all"], help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=float, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    length = "quick" if args.quick else "long" if args.long else "default"
    if args.plot:
        from stress import plot

        if not plot.available():
            parser.error(plot.MISSING)
    if args.child:
        rounds = args.rounds or ROUNDS[length]
        _child(args.child, length, rounds, args.scale, args.only, args.budget)
        return 0
    report = run(length, args.rounds, args.scale, args.only)
    print(f"\nBenchmark: {report.summary}.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"one_cpu": report.one, "all_cpus": report.every, "ok": report.ok}, f, indent=2)
    if args.plot:
        report.chart(args.plot)
        print(f"The chart: {args.plot}")
    return 1 if args.check and not report.ok else 0


if __name__ == "__main__":
    sys.exit(main())
