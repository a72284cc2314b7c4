"""The benchmark report: every bar of docs/design.md ("The numbers"), against its stdlib rival, in one run.

    python -m stress.bench            # full run: both CPU modes, several rounds
    python -m stress.bench --quick    # a smoke run for CI: small sizes, few rounds
    python -m stress.bench --check    # exit 1 if a bar is missed

Each workload is measured twice, in two child processes: pinned to one CPU (the library's own overhead,
steady on a noisy machine) and free on all CPUs (real cross-core wake-ups).  Within a process, ours and the
rival alternate round by round, and the reported ratio is the median of the per-round ratios, so drift in
the machine's speed hits both sides alike.  Times are per operation.
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


@dataclass(frozen=True)
class Row:
    name: str
    ours: Measure
    rival_name: str
    rival: Measure | None  # None: an absolute count, measured once, whose bar is a limit on the count
    size: int  # operations per measurement in a full run
    bar: float | None  # the one-CPU bar on ours/rival (or on the count), None for rows that only report
    unit: str = "us"  # "us" per operation, "B" per object, "KiB" in all, or "" for a count
    rounds: int | None = None  # at most this many rounds (slow rows whose value hardly varies)


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


#: CPython 3.13 gets kills at checkpoints only (its asynchronous exceptions can skip ``finally``):
#: there the busy loop has one.
_CHECKPOINTS_ONLY = sys.version_info[:2] == (3, 13)


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

        def hold() -> None:
            acquire, release = sem.acquire, sem.release
            for _ in range(each):
                acquire()
                release()

        threads = [threading.Thread(target=hold) for _ in range(threads_count)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
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
        20_000,
        0.8,
    ),
    Row(
        "ping-pong send/wait",
        _ping_pong(Event, _event_send, Event.wait),
        "Future set_result/result",
        _ping_pong(Future, _future_send, Future.result),
        20_000,
        0.75,
    ),
    Row(
        "send() to 1000 blocked waiters",
        _send_to_many(Event, _event_send, Event.wait, _ours_blocked),
        "threading.Event.set(), 1000 waiters",
        _send_to_many(threading.Event, threading.Event.set, threading.Event.wait, _stdlib_blocked),
        5,
        0.1,
    ),
    Row(
        "wait() on a sent event",
        _repeat(_sent_event),
        "threading.Event.wait() on a set event",
        _repeat(_set_event),
        200_000,
        0.5,
    ),
    Row(
        "Event() creation",
        _repeat(lambda: Event),
        "threading.Event()",
        _repeat(lambda: threading.Event),
        100_000,
        0.5,
    ),
    Row(
        "memory of 100k live events",
        _memory(Event),
        "threading.Event",
        _memory(threading.Event),
        100_000,
        0.5,
        unit="B",
    ),
    # Before any other spawn row: it counts the threads started from the child process's cold hub.
    Row(
        "threads started by 100k sequential spawn(f).wait()",
        _threads_for_sequential_spawns,
        "",
        None,
        100_000,
        4,
        unit="",
    ),
    _kill_row("Event.wait()", Event.wait, 40, 0.05),
    _kill_row("GreenThread.wait()", _in_greenthread_wait, 40, 0.05),
    _kill_row("sleep(3600)", lambda _: sleep(3600), 40, 0.05),
    _kill_row("`while True: sleep(0)` (3.13)" if _CHECKPOINTS_ONLY else "`while True: pass`", _busy, 10, 1.0),
    _timeout_row("Event.wait()", lambda: Event().wait(), 100),
    _timeout_row("sleep(3600)", lambda: sleep(3600), 100),
    _timeout_row("a full GreenPool.spawn()", lambda: _FULL_POOL.spawn(_nothing), 100),
    *(_kill_row(where, lambda _, call=call: call(), 40, 0.05) for where, call in _BLOCKED.items()),
    *(_timeout_row(where, call, 100) for where, call in _BLOCKED.items()),
    Row(
        "spawn(f).wait() round trip",
        _spawn_wait,
        "ThreadPoolExecutor.submit(f).result()",
        _submit_result,
        20_000,
        0.7,
    ),
    Row(
        "GreenPool(32).imap over 100k trivial items",
        _pool_imap,
        "list(ThreadPoolExecutor(32).map(...))",
        _executor_map,
        100_000,
        1.0,
    ),
    Row(
        "GreenPool(32).imap over 100k trivial items: peak memory",
        _pool_imap_peak,
        "ThreadPoolExecutor(32).map: peak memory",
        _executor_map_peak,
        100_000,
        None,
        unit="KiB",
        rounds=1,  # steady: a peak of allocations, not a time (and slow under tracemalloc)
    ),
    Row(
        "Queue put/get hand-off between two threads",
        _queue_ping_pong(Queue),
        "queue.Queue",
        _queue_ping_pong(stdlib_queue.Queue),
        20_000,
        0.8,
    ),
    Row(
        "Queue put then get in one thread",
        _repeat(_put_get(Queue)),
        "queue.Queue",
        _repeat(_put_get(stdlib_queue.Queue)),
        200_000,
        0.5,
    ),
    Row(
        "Queue: 4 producers, 4 consumers, 100k items",
        _producers_consumers(Queue),
        "queue.Queue",
        _producers_consumers(stdlib_queue.Queue),
        100_000,
        0.8,
    ),
    Row(
        "Semaphore acquire/release, uncontended",
        _repeat(_acquire_release(Semaphore)),
        "threading.Semaphore",
        _repeat(_acquire_release(threading.Semaphore)),
        200_000,
        0.5,
    ),
    Row(
        "Semaphore(1) passed between 4 threads",
        _passed_around(Semaphore),
        "threading.Semaphore(1)",
        _passed_around(threading.Semaphore),
        100_000,
        0.8,
    ),
    Row(
        "Lock acquire/release, uncontended",
        _repeat(_acquire_release(Lock)),
        "threading.Lock (C: reported, not barred)",
        _repeat(_acquire_release(threading.Lock)),
        200_000,
        None,
    ),
]


# -- running ---------------------------------------------------------------------------------------


def _run_rows(rounds: int, scale: float, only: str | None) -> list[dict[str, Any]]:
    """Measure every row, ours and rival alternating, in this process; return the medians."""
    results = []
    for row in ROWS:
        if only is not None and only not in row.name:
            continue
        size = max(1, int(row.size * scale))
        if row.rival is None:
            count = row.ours(size)
            results.append({**_describe(row), "ours": count, "rival_value": None, "ratio": None})
            continue
        ours: list[float] = []
        rival: list[float] = []
        for i in range(rounds if row.rounds is None else min(rounds, row.rounds)):
            # Alternate who goes first, so a warm cache or a quiet moment favours neither side.
            first, second = (row.ours, row.rival) if i % 2 == 0 else (row.rival, row.ours)
            a, b = first(size), second(size)
            ours.append(a if i % 2 == 0 else b)
            rival.append(b if i % 2 == 0 else a)
        ratios = [o / r for o, r in zip(ours, rival, strict=True)]
        results.append(
            {
                **_describe(row),
                "ours": statistics.median(ours),
                "rival_value": statistics.median(rival),
                "ratio": statistics.median(ratios),
            }
        )
    return results


def _describe(row: Row) -> dict[str, Any]:
    return {"name": row.name, "rival": row.rival_name, "unit": row.unit, "bar": row.bar}


def _pin_to_one_cpu() -> str:
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned: this OS cannot set CPU affinity"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"pinned to CPU {cpu}"


def _child(mode: str, rounds: int, scale: float, only: str | None) -> None:
    note = _pin_to_one_cpu() if mode == "one" else f"{len(os.sched_getaffinity(0))} CPUs"
    print(json.dumps({"note": note, "rows": _run_rows(rounds, scale, only)}))


def _measure_mode(mode: str, rounds: int, scale: float, only: str | None) -> dict[str, Any]:
    # A fresh process per mode: affinity set before any thread exists applies to every thread.
    cmd = [sys.executable, "-m", "stress.bench", "--child", mode, "--rounds", str(rounds)]
    cmd += ["--scale", str(scale)] + ([] if only is None else ["--only", only])
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
            met = bar is None or (a["ours"] <= bar and b["ours"] <= bar)
            limit = "" if bar is None else f"<= {_fmt(bar, a['unit'])}"
            ratios = f"| {_fmt(a['ours'], a['unit'])} | {limit} | {_fmt(b['ours'], b['unit'])} "
        else:
            met = (bar is None or a["ratio"] <= bar) and b["ratio"] <= 1.0
            ratios = f"| {a['ratio']:.3f} | {'' if bar is None else f'<= {bar}'} | {b['ratio']:.3f} "
        ok = ok and met
        lines.append(
            f"| {a['name']} | {a['rival']} | {_fmt(a['ours'], a['unit'])} "
            f"| {_fmt(a['rival_value'], a['unit'])} " + ratios + f"| {'met' if met else 'MISSED'} |"
        )
    return "\n".join(lines), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stress.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and 3 rounds: a smoke run")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per workload (default 7, quick 3)")
    parser.add_argument("--scale", type=float, default=None, help="multiply every workload's size")
    parser.add_argument("--check", action="store_true", help="exit 1 if any bar is missed")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results to FILE")
    parser.add_argument("--only", metavar="TEXT", help="only the workloads whose name contains TEXT")
    parser.add_argument("--child", choices=["one", "all"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    scale = args.scale or (0.05 if args.quick else 1.0)
    if args.child:
        _child(args.child, rounds, scale, args.only)
        return 0

    print(
        f"threadevent benchmark: Python {sys.version.split()[0]}, {rounds} rounds, scale {scale}", flush=True
    )
    one = _measure_mode("one", rounds, scale, args.only)
    every = _measure_mode("all", rounds, scale, args.only)
    print(f"one CPU: {one['note']}; all CPUs: {every['note']}\n")
    table, ok = render(one, every)
    print(table)
    print("\nEvery bar met." if ok else "\nSome bars MISSED (noisy machine? re-run before believing it).")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"one_cpu": one, "all_cpus": every, "ok": ok}, f, indent=2)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
