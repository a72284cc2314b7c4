"""Events and GreenThreads where code expects a ``concurrent.futures.Future``, and under ``await``.

The contract: ``result``, ``exception``, ``done``, ``add_done_callback`` and ``await`` work "as on Event"
for both.  These tests use them as a user would: code written against the Future API only, handed a mix
of real Futures, Events and GreenThreads; coroutines awaiting them on a loop that runs in another
thread than the senders; tasks cancelled while they wait.  Ordering comes from events and polled
conditions under generous deadlines, never from sleeps.  To tell "the awaiting task is registered"
from "not yet", a few tests count the internal hooks on an item (``_callbacks``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from conftest import PATIENCE, Items, Threads, Worker, run_bounded, wait_until
from internals import callbacks, hooks

from threadevent import Event, GreenThread, spawn

KINDS = ("future", "event", "greenthread")


class Failure(Exception):
    """What an item is completed with when it fails."""


@pytest.fixture
def maker() -> Iterator[Items]:
    made = Items()
    yield made
    made.close()


def nothing_hooked(item: Any) -> bool:
    return callbacks(item) == 0


class LoopThread:
    """An asyncio loop running in a thread of its own; ``call(coro)`` runs a coroutine there.

    Stopped and closed by ``close()``; a coroutine that never finishes fails the test after PATIENCE.
    """

    def __init__(self, threads: Threads) -> None:
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.loop.call_soon(started.set)
        self.worker = threads.start(self.loop.run_forever, name="loop")
        assert started.wait(PATIENCE), "the loop never started"

    def submit(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, coro: Any) -> Any:
        return self.submit(coro).result(PATIENCE)

    def close(self) -> None:
        async def cancel_the_rest() -> None:
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        if self.loop.is_running():
            self.call(cancel_the_rest())
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.worker.join()
        self.loop.close()


@pytest.fixture
def loop_thread(threads: Threads) -> Iterator[LoopThread]:
    running = LoopThread(threads)
    yield running
    running.close()


def outcome_of(call: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", call()
    except Exception as exc:
        return "error", exc


# -- the Future API ----------------------------------------------------------------------------------


def collect_outcomes(futures: list[Any]) -> tuple[dict[int, Any], threading.Event]:
    """Code written against concurrent.futures.Future only: record each outcome as it comes."""
    outcomes: dict[int, Any] = {}
    lock = threading.Lock()
    all_in = threading.Event()

    def on_done(fut: Any) -> None:
        entry = (fut.done(), fut.exception(), outcome_of(lambda: fut.result(0)))
        with lock:
            outcomes[id(fut)] = entry
            if len(outcomes) == len(futures):
                all_in.set()

    for fut in futures:
        fut.add_done_callback(on_done)
    return outcomes, all_in


def test_code_written_for_futures_takes_events_and_greenthreads(maker: Items, threads: Threads) -> None:
    items = [maker.make(kind) for kind in KINDS * 2]
    maker.complete(items[0], "done before")  # a callback added afterwards runs at once
    outcomes, all_in = collect_outcomes(items)
    expected: dict[int, Any] = {id(items[0]): (True, None, ("ok", "done before"))}
    assert outcomes == expected
    assert [item.done() for item in items] == [True] + [False] * 5
    senders = []
    for i, item in enumerate(items[1:], start=1):
        error = Failure(f"item {i}") if i % 2 else None
        expected[id(item)] = (True, error, ("error", error) if error is not None else ("ok", i))
        senders.append(threads.start(maker.complete, item, i, error))
    assert all_in.wait(PATIENCE)
    for sender in senders:
        sender.result()
    assert outcomes == expected
    assert all(item.done() for item in items)


@pytest.mark.parametrize("kind", ["event", "greenthread"])
def test_result_and_exception_time_out_with_the_builtin_timeout_error(maker: Items, kind: str) -> None:
    item = maker.make(kind)
    with pytest.raises(TimeoutError):
        run_bounded(lambda: item.result(timeout=0.01))
    with pytest.raises(TimeoutError):
        run_bounded(lambda: item.exception(timeout=0))
    assert not item.done()
    assert nothing_hooked(item)


@pytest.mark.parametrize("kind", ["event", "greenthread"])
def test_timeouts_are_also_the_futures_timeout_error(maker: Items, kind: str) -> None:
    """Code written for Futures catches ``concurrent.futures.TimeoutError``: a class of its own on 3.10."""
    import concurrent.futures

    from threadevent.waiting import as_completed

    item = maker.make(kind)
    with pytest.raises(concurrent.futures.TimeoutError):
        run_bounded(lambda: item.result(timeout=0.01))
    with pytest.raises(concurrent.futures.TimeoutError):
        run_bounded(lambda: list(as_completed([item], timeout=0.01)))


@pytest.mark.parametrize("kind", KINDS)
def test_result_waits_across_threads_like_a_future(maker: Items, threads: Threads, kind: str) -> None:
    item = maker.make(kind)
    waiters = [threads.start(item.result, PATIENCE * 100) for _ in range(3)]
    error_waiters = [threads.start(item.exception, PATIENCE * 100) for _ in range(2)]
    maker.complete(item, "value")
    assert [w.result() for w in waiters] == ["value"] * 3
    assert [w.result() for w in error_waiters] == [None, None]


def test_a_greenthreads_exception_keeps_its_own_frames_through_result_and_exception() -> None:
    def compute() -> None:
        raise Failure("in the greenthread")

    gt = spawn(compute)
    error = gt.exception(PATIENCE)
    assert isinstance(error, Failure)
    with pytest.raises(Failure) as raised:
        gt.result()
    assert raised.value is error
    frames = [frame.name for frame in traceback.extract_tb(raised.value.__traceback__)]
    assert "compute" in frames


# -- await ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["event", "greenthread"])
@pytest.mark.parametrize("fails", [False, True])
def test_await_from_a_loop_in_another_thread_than_the_sender(
    maker: Items, loop_thread: LoopThread, threads: Threads, kind: str, fails: bool
) -> None:
    item = maker.make(kind)
    error = Failure("sent")

    async def waiter() -> tuple[str, Any]:
        try:
            return "ok", await item
        except Failure as exc:
            return "error", exc

    pending = loop_thread.submit(waiter())
    wait_until(lambda: hooks(item) == 1, what="the await to register")
    threads.start(maker.complete, item, "value", error if fails else None).result()
    assert pending.result(PATIENCE) == (("error", error) if fails else ("ok", "value"))
    assert nothing_hooked(item)


def test_many_tasks_await_items_sent_from_several_threads_and_some_are_cancelled(
    maker: Items, loop_thread: LoopThread, threads: Threads
) -> None:
    kept = [maker.make("event") for _ in range(8)] + [maker.make("greenthread") for _ in range(3)]
    dropped = [maker.make("event") for _ in range(3)] + [maker.make("greenthread") for _ in range(2)]
    per_item = 4

    async def waiter(item: Any) -> Any:
        return await item

    async def start() -> tuple[list[asyncio.Task[Any]], list[asyncio.Task[Any]]]:
        keep = [asyncio.ensure_future(waiter(item)) for item in kept for _ in range(per_item)]
        drop = [asyncio.ensure_future(waiter(item)) for item in dropped for _ in range(per_item)]
        return keep, drop

    keep, drop = loop_thread.call(start())
    wait_until(lambda: all(hooks(item) == per_item for item in kept + dropped), what="every await registered")

    # Cancelled from this thread, while senders in three other threads send the rest.
    def send_every_third(offset: int) -> None:
        for i in range(offset, len(kept), 3):
            maker.complete(kept[i], f"value {i}")

    senders = [threads.start(send_every_third, offset) for offset in range(3)]
    for task in drop:
        loop_thread.loop.call_soon_threadsafe(task.cancel)

    async def outcomes(tasks: list[asyncio.Task[Any]]) -> list[Any]:
        return await asyncio.gather(*tasks, return_exceptions=True)

    for sender in senders:
        sender.result()
    got = loop_thread.call(outcomes(keep))
    assert got == [f"value {i}" for i in range(len(kept)) for _ in range(per_item)]
    cancelled = loop_thread.call(outcomes(drop))
    assert all(isinstance(outcome, asyncio.CancelledError) for outcome in cancelled)
    for item in kept + dropped:
        assert nothing_hooked(item), callbacks(item)
    # Cancelling the awaits left the items alone: unsent, and as waitable as ever.
    assert not any(item.done() for item in dropped)
    late_waiters = [threads.start(item.wait) for item in dropped]
    for i, item in enumerate(dropped):
        maker.complete(item, f"late {i}")
    assert [w.result() for w in late_waiters] == [f"late {i}" for i in range(len(dropped))]


@pytest.mark.parametrize("kind", ["event", "greenthread"])
def test_cancelling_the_task_removes_the_hook_and_leaves_the_item_untouched(
    maker: Items, loop_thread: LoopThread, kind: str
) -> None:
    item = maker.make(kind)

    async def waiter() -> Any:
        return await item

    async def start() -> asyncio.Task[Any]:
        return asyncio.ensure_future(waiter())

    task = loop_thread.call(start())
    wait_until(lambda: hooks(item) == 1, what="the await to register")
    loop_thread.loop.call_soon_threadsafe(task.cancel)

    async def outcome() -> BaseException | None:
        try:
            await task
        except asyncio.CancelledError as exc:
            return exc
        return None

    assert isinstance(loop_thread.call(outcome()), asyncio.CancelledError)
    assert nothing_hooked(item)
    assert not item.done()  # an Event is not sent, a GreenThread is not killed
    if isinstance(item, GreenThread):
        maker.complete(item, "still running")
        assert item.wait() == "still running"
    else:
        maker.complete(item, "sent later")
        assert item.wait() == "sent later"


def test_cancellation_racing_the_send_gives_one_or_the_other(
    maker: Items, loop_thread: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    async def waiter(evt: Event[int]) -> int:
        return await evt

    async def start(evt: Event[int]) -> asyncio.Task[int]:
        return asyncio.ensure_future(waiter(evt))

    async def outcome(task: asyncio.Task[int]) -> Any:
        return (await asyncio.gather(task, return_exceptions=True))[0]

    for round_number in range(30):
        evt: Event[int] = maker.make("event")
        task = loop_thread.call(start(evt))
        wait_until(lambda evt=evt: hooks(evt) == 1, what="the await to register")
        loop_thread.loop.call_soon_threadsafe(task.cancel)
        evt.send(round_number)  # at once: the cancellation is under way or done
        got = loop_thread.call(outcome(task))
        assert got == round_number or isinstance(got, asyncio.CancelledError)
        assert evt.wait(0) == round_number  # the cancellation never touches the event
        assert nothing_hooked(evt)
    # A wake-up arriving for a task already cancelled is dropped quietly (no InvalidStateError).
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_wait_for_timing_out_removes_the_hook_and_leaves_the_event_unsent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    evt: Event[str] = Event()

    async def main() -> tuple[bool, bool]:
        timed_out = False
        try:
            await asyncio.wait_for(evt, 0.01)  # type: ignore[arg-type]
        except asyncio.TimeoutError:
            timed_out = True
        return timed_out, nothing_hooked(evt)

    with caplog.at_level(logging.DEBUG):
        timed_out, unhooked = run_bounded(lambda: asyncio.run(main()))
        evt.send("later")  # nothing is left to be called
    assert timed_out and unhooked
    assert evt.wait() == "later"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_gather_mixes_events_greenthreads_and_wrapped_futures(maker: Items, threads: Threads) -> None:
    fut, evt, gt = (maker.make(kind) for kind in KINDS)
    failing = maker.make("greenthread")
    error = Failure("gathered")

    async def main() -> list[Any]:
        gathering = asyncio.gather(
            asyncio.wrap_future(fut),
            evt,  # type: ignore[arg-type]
            gt,  # type: ignore[arg-type]
            failing,  # type: ignore[arg-type]
            return_exceptions=True,
        )
        # Sent from another thread once every await is registered on this loop.
        await _until(lambda: hooks(evt) == 1 and hooks(gt) == 1 and hooks(failing) == 1)
        sender = threads.start(_complete_all, maker, [(fut, 1, None), (evt, 2, None), (gt, 3, None)])
        threads.start(maker.complete, failing, None, error)
        results = await gathering
        sender.result()
        return results

    assert run_bounded(lambda: asyncio.run(main())) == [1, 2, 3, error]
    assert nothing_hooked(evt) and nothing_hooked(gt)


def _complete_all(maker: Items, work: list[tuple[Any, Any, BaseException | None]]) -> None:
    for item, value, error in work:
        maker.complete(item, value, error)


async def _until(predicate: Callable[[], object]) -> None:
    """Let the loop run until ``predicate`` holds; fail after PATIENCE."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PATIENCE
    while not predicate():
        if loop.time() > deadline:
            pytest.fail(f"never held within {PATIENCE} s: {predicate}")
        await asyncio.sleep(0)


def test_a_send_from_the_loops_own_thread_wakes_the_await() -> None:
    evt: Event[str] = Event()

    async def sender() -> None:
        await _until(lambda: hooks(evt) == 1)
        evt.send("from the loop")

    async def main() -> str:
        task = asyncio.ensure_future(sender())
        value = await evt
        await task
        return value

    assert run_bounded(lambda: asyncio.run(main())) == "from the loop"
    assert nothing_hooked(evt)


def test_asyncio_run_cancels_a_task_left_awaiting_and_the_hook_goes(maker: Items) -> None:
    item = maker.make("greenthread")

    async def waiter() -> Any:
        return await item

    left: list[asyncio.Task[Any]] = []

    async def main() -> None:
        left.append(asyncio.ensure_future(waiter()))
        await _until(lambda: hooks(item) == 1)
        # Returns with the task still awaiting: asyncio.run cancels it on the way out.

    run_bounded(lambda: asyncio.run(main()))
    assert left[0].cancelled()
    assert nothing_hooked(item)
    assert not item.done()


def test_a_send_after_the_loop_closed_is_harmless(threads: Threads, caplog: pytest.LogCaptureFixture) -> None:
    # A loop closed under a task still awaiting: the hook is there when the send comes, and the loop
    # can no longer be woken.  The send must neither raise nor log.
    evt: Event[str] = Event()

    async def waiter() -> str:
        return await evt

    loop = asyncio.new_event_loop()
    task = loop.create_task(waiter())

    async def until_hooked() -> None:
        await _until(lambda: hooks(evt) == 1)

    loop.run_until_complete(until_hooked())
    loop.close()
    with caplog.at_level(logging.DEBUG, logger="threadevent"):
        sender: Worker = threads.start(evt.send, "too late")
        sender.result()
    assert [r for r in caplog.records if r.name == "threadevent"] == []
    assert evt.wait(0) == "too late"
    assert not task.done()
    task._log_destroy_pending = False  # type: ignore[attr-defined]  # expected: the loop is gone
