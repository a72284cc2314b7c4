"""threadevent.pools against its contract (docs/design.md: "Pools: eventlet's Pool(min_size=0, max_size=4,
order_as_stack=False, create=None) ... and TokenPool.  An exception from create() reaches the caller of
get() and costs no slot."), and eventlet's Pool where the contract is silent.

What is checked: items made on demand up to ``max_size`` and reused, in queue or stack order;
``min_size`` made up front; ``free()``, ``waiting()``, ``current_size``; ``get()`` blocking while every
item is out, served in arrival order; ``resize()`` both ways; ``item()``; ``TokenPool``; the argument
checks; and that nothing is lost when a blocked ``get()`` is interrupted (kill, Timeout) or ``create()``
fails: an item, or a slot to make one in, goes on to the next waiter.

Blocked getters are real threads: a test starts them one by one and waits (``wait_until``) for
``waiting()`` to count each, so their order is known; nothing is ordered with ``sleep`` and nothing
asserts on elapsed time.  The race of a ``put`` (or a slot coming free) against a kill is made certain
through the checkpoint seam of ``internals.py``, and also run many times for real.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from conftest import (
    PATIENCE,
    Catch,
    Greenthreads,
    Index,
    KillError,
    Threads,
    interrupt_this_thread,
    kill_parked,
    run_bounded,
    spawn_victim,
    storm_of_kills_and_timeouts,
    wait_until,
)

import threadevent
from threadevent import Event, GreenletExit, Timeout, sleep
from threadevent.pools import Pool, Token, TokenPool

# -- helpers -------------------------------------------------------------------------------------------


class Boom(Exception):
    """What a failing create() raises."""


class Maker:
    """A ``create`` that makes ``"item-0"``, ``"item-1"``, ...; ``then(step)`` makes its next call run
    ``step()`` first (which may block, or raise instead of making anything)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.made: list[str] = []
        self.steps: deque[Callable[[], object]] = deque()

    def then(self, step: Callable[[], object]) -> None:
        self.steps.append(step)

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
            step = self.steps.popleft() if self.steps else None
        if step is not None:
            step()
        with self._lock:
            item = f"item-{len(self.made)}"
            self.made.append(item)
        return item


def fail() -> None:
    raise Boom("create failed")


def waiting_is(pool: Pool[Any], count: int) -> None:
    """Wait until ``count`` getters are blocked in ``pool.get()``."""
    wait_until(lambda: pool.waiting() == count, what=f"{count} getters to block: {pool!r}")


def all_out(pool: Pool[Any]) -> list[Any]:
    """Get items until none is free and none can be made; return them."""
    return [pool.get() for _ in range(pool.free())]


# -- construction and bad arguments --------------------------------------------------------------------


def test_the_pools_are_exported_at_the_top_level() -> None:
    assert threadevent.Pool is Pool
    assert threadevent.TokenPool is TokenPool
    assert {"Pool", "TokenPool"} <= set(threadevent.__all__)


def test_the_defaults_are_eventlets() -> None:
    pool: Pool[Any] = Pool()
    assert (pool.min_size, pool.max_size, pool.order_as_stack) == (0, 4, False)
    assert (pool.current_size, pool.free(), pool.waiting(), list(pool.free_items)) == (0, 4, 0, [])


def test_sizes_take_ints_and_index_objects() -> None:
    maker = Maker()
    pool = Pool(Index(1), Index(3), create=maker)  # type: ignore[arg-type]
    assert (pool.min_size, pool.max_size, pool.current_size) == (1, 3, 1)
    assert type(pool.max_size) is int and type(pool.min_size) is int
    pool.resize(Index(2))  # type: ignore[arg-type]
    assert pool.max_size == 2 and type(pool.max_size) is int


@pytest.mark.parametrize(
    ("size", "error"),
    [(-1, ValueError), (Index(-1), ValueError), (True, TypeError), (1.5, TypeError), ("2", TypeError),
     (None, TypeError), ([], TypeError)],
)  # fmt: skip
def test_bad_sizes_are_rejected_naming_the_argument_and_change_nothing(
    size: Any, error: type[Exception]
) -> None:
    maker = Maker()
    with pytest.raises(error, match="min_size"):
        Pool(min_size=size, create=maker)
    with pytest.raises(error, match="max_size"):
        Pool(max_size=size, create=maker)
    with pytest.raises(error, match="max_size"):
        TokenPool(max_size=size)
    assert maker.calls == 0
    pool = Pool(max_size=2, create=maker)
    with pytest.raises(error, match="new_size"):
        pool.resize(size)
    assert (pool.max_size, pool.free()) == (2, 2)


@pytest.mark.parametrize("create", [42, "list", object()])
def test_a_create_that_is_not_callable_is_rejected(create: Any) -> None:
    with pytest.raises(TypeError, match="create"):
        Pool(create=create)


def test_min_size_items_are_made_up_front_and_handed_out_first() -> None:
    maker = Maker()
    pool = Pool(min_size=2, max_size=4, create=maker)
    assert maker.calls == 2
    assert (pool.current_size, pool.free(), list(pool.free_items)) == (2, 4, ["item-0", "item-1"])
    assert [pool.get(), pool.get()] == ["item-0", "item-1"]
    assert maker.calls == 2  # nothing made for them
    assert pool.get() == "item-2"
    assert (pool.current_size, pool.free()) == (3, 1)


def test_without_create_get_raises_not_implemented_error_and_costs_no_slot() -> None:
    pool: Pool[Any] = Pool(max_size=1)
    for _ in range(2):
        with pytest.raises(NotImplementedError, match="create"):
            pool.get()
        assert (pool.current_size, pool.free(), pool.waiting()) == (0, 1, 0)
    with pytest.raises(NotImplementedError):
        Pool(min_size=1)


def test_a_subclass_makes_its_items_by_overriding_create() -> None:
    class Connections(Pool[list[int]]):
        made = 0

        def create(self) -> list[int]:
            self.made += 1
            return [self.made]

    pool = Connections(min_size=1, max_size=2)
    first = pool.get()
    assert first == [1] and pool.get() == [2]
    pool.put(first)
    assert pool.get() is first and pool.made == 2


# -- get, put, free, waiting ---------------------------------------------------------------------------


def test_items_are_made_on_demand_up_to_max_size(threads: Threads) -> None:
    maker = Maker()
    pool = Pool(max_size=3, create=maker)
    assert maker.calls == 0 and pool.current_size == 0
    got = []
    for n in range(3):
        got.append(pool.get())
        assert (pool.current_size, pool.free(), maker.calls) == (n + 1, 2 - n, n + 1)
    assert got == ["item-0", "item-1", "item-2"]
    blocked = threads.start(pool.get)
    waiting_is(pool, 1)
    assert maker.calls == 3 and pool.current_size == 3  # waits instead of making a fourth
    pool.put(got[1])
    assert blocked.result() == "item-1"


def test_an_item_put_back_is_handed_out_again_rather_than_a_new_one() -> None:
    maker = Maker()
    pool = Pool(max_size=4, create=maker)
    item = pool.get()
    pool.put(item)
    assert (pool.current_size, pool.free(), list(pool.free_items)) == (1, 4, [item])
    assert pool.get() is item
    assert maker.calls == 1


@pytest.mark.parametrize(("order_as_stack", "expected"), [(False, [0, 1, 2]), (True, [2, 1, 0])])
def test_free_items_go_out_in_queue_or_stack_order(order_as_stack: bool, expected: list[int]) -> None:
    pool = Pool(max_size=3, order_as_stack=order_as_stack, create=Maker())
    items = all_out(pool)
    for item in items:
        pool.put(item)
    assert all_out(pool) == [items[n] for n in expected]


def test_free_counts_free_items_and_items_still_to_be_made() -> None:
    pool = Pool(min_size=1, max_size=3, create=Maker())
    assert pool.free() == 3
    first = pool.get()
    assert pool.free() == 2
    second = pool.get()
    third = pool.get()
    assert pool.free() == 0
    for n, item in enumerate((first, second, third), start=1):
        pool.put(item)
        assert pool.free() == n


def test_get_blocks_while_every_item_is_out_and_puts_serve_the_getters_in_order(threads: Threads) -> None:
    pool = Pool(max_size=2, create=Maker())
    items = all_out(pool)
    getters = []
    for n in range(4):
        getters.append(threads.start(pool.get, name=f"getter-{n}"))
        waiting_is(pool, n + 1)
    assert pool.free() == 0
    for n in range(4):
        item = items[n % 2]
        pool.put(item)
        assert list(pool.free_items) == []  # handed over, not left for anyone to take
        assert getters[n].result() == item  # the longest waiter: the next one still waits
        assert pool.waiting() == 3 - n
    assert pool.current_size == 2


def test_an_item_put_while_a_getter_waits_is_not_taken_by_a_later_get(threads: Threads) -> None:
    pool = Pool(max_size=1, create=Maker())
    (item,) = all_out(pool)
    for _ in range(30):
        getter = threads.start(pool.get)
        waiting_is(pool, 1)
        pool.put(item)
        assert (pool.free(), pool.waiting(), list(pool.free_items)) == (0, 0, [])
        late = threads.start(pool.get)  # must queue behind, not take the item the getter was given
        assert getter.result() is item
        waiting_is(pool, 1)
        pool.put(item)
        assert late.result() is item


def test_the_item_context_manager_puts_the_item_back_however_the_block_ends(threads: Threads) -> None:
    pool = Pool(max_size=1, create=Maker())
    with pool.item() as item:
        assert item == "item-0" and pool.free() == 0
    assert (pool.free(), list(pool.free_items)) == (1, [item])
    with pytest.raises(Boom), pool.item() as again:
        assert again is item
        raise Boom("inside")
    assert (pool.free(), list(pool.free_items)) == (1, [item])
    # Back to a waiting getter, if one waits.
    with pool.item():
        getter = threads.start(pool.get)
        waiting_is(pool, 1)
    assert getter.result() is item
    assert (pool.current_size, pool.free()) == (1, 0)


def test_repr_shows_the_sizes_and_the_waiters(threads: Threads) -> None:
    pool = Pool(max_size=1, create=Maker())
    assert repr(pool).startswith("<Pool at 0x")
    assert repr(pool).endswith("max_size=1 current_size=0 free=0 waiting=0>")
    item = pool.get()
    getter = threads.start(pool.get)
    waiting_is(pool, 1)
    assert repr(pool).endswith("max_size=1 current_size=1 free=0 waiting=1>")
    pool.put(item)
    assert getter.result() is item


# -- TokenPool -----------------------------------------------------------------------------------------


def test_a_token_pool_hands_out_at_most_max_size_distinct_tokens(threads: Threads) -> None:
    pool = TokenPool(max_size=2)
    first, second = pool.get(), pool.get()
    assert isinstance(first, Token) and isinstance(second, Token) and first is not second
    getter = threads.start(pool.get)
    waiting_is(pool, 1)
    pool.put(second)
    assert getter.result() is second
    with pytest.raises(Boom):
        with TokenPool(max_size=1).item() as token:
            assert isinstance(token, Token)
            raise Boom("inside")
    small = TokenPool(min_size=1, max_size=1)
    assert small.current_size == 1 and isinstance(small.get(), Token)


# -- create() failing ----------------------------------------------------------------------------------


def test_a_failing_create_reaches_the_caller_of_get_and_costs_no_slot() -> None:
    maker = Maker()
    maker.then(fail)
    pool = Pool(max_size=1, create=maker)
    with pytest.raises(Boom):
        pool.get()
    assert (pool.current_size, pool.free(), pool.waiting()) == (0, 1, 0)
    assert pool.get() == "item-0"  # the slot is still there: made on the next get
    assert maker.calls == 2


def test_a_failing_create_lets_the_waiter_behind_it_make_one(threads: Threads) -> None:
    maker = Maker()
    started, fail_now = threading.Event(), threading.Event()

    def slow_failure() -> None:
        started.set()
        assert fail_now.wait(PATIENCE)
        fail()

    maker.then(slow_failure)
    pool = Pool(max_size=1, create=maker)
    failing = threads.start(pool.get, name="failing")
    assert started.wait(PATIENCE)
    assert (pool.current_size, pool.free()) == (1, 0)  # the slot is taken while create() runs
    behind = threads.start(pool.get, name="behind")
    waiting_is(pool, 1)
    fail_now.set()
    assert isinstance(failing.exception(), Boom)
    assert behind.result() == "item-0"
    assert (pool.current_size, pool.free(), pool.waiting(), maker.calls) == (1, 0, 0, 2)


def test_a_failing_create_of_a_woken_getter_passes_the_slot_to_the_next(threads: Threads) -> None:
    maker = Maker()
    pool = Pool(max_size=1, create=maker)
    all_out(pool)
    first = threads.start(pool.get, name="first")
    waiting_is(pool, 1)
    second = threads.start(pool.get, name="second")
    waiting_is(pool, 2)
    maker.then(fail)
    pool.resize(2)  # one slot: the first waiter makes an item in it, and fails
    assert isinstance(first.exception(), Boom)
    assert second.result() == "item-1"
    assert (pool.current_size, pool.free(), pool.waiting(), maker.calls) == (2, 0, 0, 3)


def test_a_greenthread_killed_inside_create_gives_the_slot_back(gts: Greenthreads) -> None:
    maker = Maker()
    inside = threading.Event()
    maker.then(lambda: (inside.set(), Event().wait()))  # never sent: only the kill ends it
    pool = Pool(max_size=1, create=maker)
    gt = gts.spawn(pool.get)
    assert inside.wait(PATIENCE)
    assert pool.current_size == 1
    sent = KillError("inside create")
    run_bounded(lambda: gt.kill(sent))
    assert gt.exception() is sent
    assert (pool.current_size, pool.free()) == (0, 1)
    assert pool.get() == "item-0"


# -- resize --------------------------------------------------------------------------------------------


def test_resizing_up_lets_the_waiters_make_items_at_once(threads: Threads) -> None:
    maker = Maker()
    pool = Pool(max_size=1, create=maker)
    all_out(pool)
    getters = []
    for n in range(3):
        getters.append(threads.start(pool.get))
        waiting_is(pool, n + 1)
    pool.resize(3)  # room for two more: the two longest waiters make theirs
    assert sorted([getters[0].result(), getters[1].result()]) == ["item-1", "item-2"]
    assert (pool.waiting(), pool.current_size, pool.max_size) == (1, 3, 3)
    pool.resize(5)
    assert getters[2].result() == "item-3"
    assert (pool.waiting(), pool.current_size, pool.free()) == (0, 4, 1)


def test_resizing_down_drops_items_as_they_come_back() -> None:
    pool = Pool(max_size=3, create=Maker())
    items = all_out(pool)
    pool.resize(1)
    assert (pool.max_size, pool.current_size, pool.free()) == (1, 3, -2)
    pool.put(items[0])
    assert (pool.current_size, list(pool.free_items)) == (2, [])
    pool.put(items[1])
    assert (pool.current_size, list(pool.free_items)) == (1, [])
    pool.put(items[2])
    assert (pool.current_size, list(pool.free_items), pool.free()) == (1, [items[2]], 1)
    assert pool.get() is items[2]


def test_resizing_down_keeps_getters_waiting_until_an_item_fits(threads: Threads) -> None:
    pool = Pool(max_size=2, create=Maker())
    first, second = all_out(pool)
    getter = threads.start(pool.get)
    waiting_is(pool, 1)
    pool.resize(1)
    pool.put(first)  # dropped: the pool is above its new size
    assert (pool.current_size, pool.waiting()) == (1, 1)
    pool.put(second)
    assert getter.result() is second
    assert (pool.current_size, pool.waiting()) == (1, 0)


def test_a_pool_resized_to_zero_holds_every_get_until_it_grows(threads: Threads) -> None:
    pool = Pool(max_size=1, create=Maker())
    pool.resize(0)
    getter = threads.start(pool.get)
    waiting_is(pool, 1)
    assert pool.current_size == 0
    pool.resize(1)
    assert getter.result() == "item-0"


# -- kill and Timeout ----------------------------------------------------------------------------------


@pytest.mark.parametrize("interrupt", ["kill", "Timeout"])
def test_a_greenthread_blocked_in_get_can_be_interrupted_and_takes_nothing(
    gts: Greenthreads, interrupt: str
) -> None:
    pool = Pool(max_size=1, create=Maker())
    (item,) = all_out(pool)
    if interrupt == "kill":
        gt = gts.spawn(pool.get)
        waiting_is(pool, 1)
        sent = KillError("stop waiting")
        assert kill_parked(gt, sent) is sent
    else:

        def timed() -> Any:
            with Timeout(0.01):
                return pool.get()

        assert isinstance(gts.spawn(timed).exception(PATIENCE), Timeout)
    assert (pool.waiting(), pool.current_size) == (0, 1)
    pool.put(item)  # kept, not handed to the dead getter
    assert (list(pool.free_items), pool.free()) == ([item], 1)


def test_kill_of_the_longest_getter_passes_its_place_to_the_next(gts: Greenthreads) -> None:
    pool = Pool(max_size=1, create=Maker())
    (item,) = all_out(pool)
    first = gts.spawn(pool.get)
    waiting_is(pool, 1)
    second = gts.spawn(pool.get)
    waiting_is(pool, 2)
    run_bounded(first.kill)
    assert isinstance(first.exception(), GreenletExit)
    pool.put(item)
    assert second.wait(PATIENCE) is item
    assert (pool.waiting(), pool.current_size, list(pool.free_items)) == (0, 1, [])


def test_a_pending_interrupt_is_raised_by_a_get_that_would_wait(threads: Threads) -> None:
    pool = Pool(max_size=1, create=Maker())
    all_out(pool)
    sent = KillError("pending")

    def body() -> None:
        interrupt_this_thread(sent)
        pool.get()

    assert threads.start(body).exception() is sent
    assert (pool.waiting(), pool.current_size, pool.free()) == (0, 1, 0)


@pytest.mark.parametrize("handed", ["an item", "a slot"])
@pytest.mark.parametrize("queued_behind", [False, True], ids=["alone", "with a getter behind"])
def test_what_is_handed_to_a_getter_as_it_is_killed_goes_on(
    monkeypatch: pytest.MonkeyPatch, gts: Greenthreads, catches: list[Catch], handed: str, queued_behind: bool
) -> None:
    # The race made certain: the kill has woken the getter, and before it can leave the line, a put
    # hands it an item (or a resize a slot to make one in).  It dies with nothing; the item goes to the
    # getter behind it or among the free items, the slot to the getter behind it or back to the pool.
    maker = Maker()
    pool = Pool(max_size=1, create=maker)
    (item,) = all_out(pool)
    victim, catch = spawn_victim(monkeypatch, catches, gts, pool.get)
    waiting_is(pool, 1)
    second = gts.spawn(pool.get) if queued_behind else None
    waiting_is(pool, 2 if queued_behind else 1)
    sent = KillError("as the item comes")
    killing = catch.kill(gts, victim, sent)
    if handed == "an item":
        pool.put(item)
    else:
        pool.resize(2)
        assert pool.current_size == 2  # the slot is counted as taken, by the victim
    assert pool.waiting() == (1 if queued_behind else 0)
    catch.let_go()
    killing.wait(PATIENCE)  # the kill returned: the victim has ended
    assert victim.exception() is sent
    if handed == "an item":
        if second is not None:
            assert second.wait(PATIENCE) is item
            assert list(pool.free_items) == []
        else:
            assert list(pool.free_items) == [item]
        assert pool.current_size == 1
    else:
        if second is not None:
            assert second.wait(PATIENCE) == "item-1"  # made in the slot the victim passed on
            assert (pool.current_size, pool.free()) == (2, 0)
        else:
            assert (pool.current_size, pool.free()) == (1, 1)
        assert maker.calls == (2 if queued_behind else 1)
    assert pool.waiting() == 0


@pytest.mark.parametrize("queued_behind", [False, True], ids=["alone", "with a getter behind"])
def test_a_put_and_a_kill_arriving_together_lose_no_item(
    gts: Greenthreads, threads: Threads, queued_behind: bool
) -> None:
    # The real race, many times.  The victim uses the item in ``item()``, so whether the kill reached it
    # before or after the item did, it dies and the item ends up with the getter behind it, or free.
    for _ in range(150):
        pool = Pool(max_size=1, create=Maker())
        (item,) = all_out(pool)

        def victim(pool: Pool[Any] = pool) -> None:
            with pool.item():
                Event().wait()  # never sent: only the kill ends it

        first = gts.spawn(victim)
        waiting_is(pool, 1)
        second = gts.spawn(pool.get) if queued_behind else None
        waiting_is(pool, 2 if queued_behind else 1)
        go = threading.Barrier(2)
        putting = threads.start(lambda pool=pool, go=go, item=item: (go.wait(), pool.put(item)))
        go.wait()
        first.kill()
        putting.result()
        assert isinstance(first.exception(), GreenletExit)
        if second is not None:
            assert second.wait(PATIENCE) is item
            assert list(pool.free_items) == []
        else:
            assert list(pool.free_items) == [item]
        assert (pool.current_size, pool.waiting()) == (1, 0), f"{pool!r}"


# -- a storm -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("order_as_stack", [False, True], ids=["queue", "stack"])
def test_a_storm_of_users_with_kills_and_timeouts_shares_items_and_loses_none(
    gts: Greenthreads, order_as_stack: bool
) -> None:
    maker = Maker()
    max_size = 3
    pool = Pool(max_size=max_size, order_as_stack=order_as_stack, create=maker)
    in_use: set[str] = set()
    shared: list[str] = []

    def use(n: int) -> None:
        with pool.item() as item:
            try:
                if item in in_use:
                    shared.append(item)
                in_use.add(item)
                sleep(0)
            finally:
                in_use.discard(item)

    storm_of_kills_and_timeouts(gts, 20, use)
    assert not shared, f"items used by two at once: {shared[:5]}"
    assert maker.made, "no item was ever made"
    # Every item made is back among the free ones, once; none was made beyond max_size.
    assert sorted(pool.free_items) == sorted(maker.made), f"{pool!r}, made {maker.made}"
    assert (pool.current_size, pool.waiting()) == (len(maker.made), 0)
    assert len(maker.made) <= max_size
