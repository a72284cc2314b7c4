"""Pools, events, queues and semaphores, tested with plain pytest functions."""

import eventlet
import eventlet.wsgi  # imported in passing, as real projects do
import pytest
from eventlet import event, pools, queue, semaphore, tpool
from eventlet.green import threading


def test_imap_keeps_the_order(pool):
    assert list(pool.imap(pow, [2, 3, 4], [2, 2, 2])) == [4, 9, 16]


def test_greenpile_collects_in_order():
    pile = eventlet.GreenPile(4)
    for i in range(5):
        pile.spawn(lambda x: x * 2, i)
    assert list(pile) == [0, 2, 4, 6, 8]


def test_event_send_and_reset():
    evt = event.Event()
    evt.send(1)
    assert evt.ready()
    assert evt.wait() == 1
    evt.reset()
    assert not evt.ready()


def test_event_send_exception():
    evt = event.Event()
    evt.send_exception(KeyError("k"))
    with pytest.raises(KeyError):
        evt.wait()


def test_queue_between_greenthreads(pool):
    q = queue.Queue()
    pool.spawn(lambda: [q.put(i) for i in range(3)])
    assert [q.get() for _ in range(3)] == [0, 1, 2]


def test_queue_get_times_out():
    with pytest.raises(queue.Empty):
        queue.Queue().get(timeout=0.01)


def test_semaphore_as_a_context_manager():
    sem = semaphore.Semaphore(2)
    with sem:
        assert sem.counter == 1
    assert sem.counter == 2


def test_bounded_semaphore_refuses_an_extra_release():
    with pytest.raises(ValueError):
        semaphore.BoundedSemaphore(1).release()


def test_token_pool_item():
    tokens = pools.TokenPool(max_size=2)
    with tokens.item():
        assert tokens.free() == 1
    assert tokens.free() == 2


def test_tpool_execute():
    assert tpool.execute(sum, [1, 2, 3]) == 6


def test_green_threading_event_set_by_a_greenthread():
    done = threading.Event()
    eventlet.spawn(done.set)
    assert done.wait(30)
