"""A small program in eventlet's idiom, run unchanged by threadevent's tests under
``python -m threadevent.compat`` (it runs on the real eventlet too).

It prints one line per feature; the test compares them.
"""

import sys

import eventlet

eventlet.monkey_patch()

import eventlet.backdoor  # noqa: E402  (imported in passing, as a real library does)
from eventlet.green import threading  # noqa: E402
from eventlet.support import greenlets as greenlet  # noqa: E402


def fetch(n):
    eventlet.sleep(0.001)
    return n * n


def crawl():
    pool = eventlet.GreenPool(4)
    return list(pool.imap(fetch, range(10)))


def producer_consumer():
    queue = eventlet.Queue()

    def produce():
        for item in range(5):
            queue.put(item)
        queue.put(None)

    def consume():
        items = []
        while True:
            item = queue.get()
            if item is None:
                return items
            items.append(item)

    eventlet.spawn(produce)
    return eventlet.spawn(consume).wait()


def event_after_delay():
    evt = eventlet.Event()
    eventlet.spawn_after(0.01, evt.send, "ready")
    return evt.wait()


def timeout_fires():
    try:
        with eventlet.Timeout(0.05):
            eventlet.sleep(60)
    except eventlet.Timeout:
        return "raised"
    return "not raised"


def kill_a_loop():
    started = eventlet.Event()

    def forever():
        started.send(True)
        while True:
            eventlet.sleep(0.01)

    gt = eventlet.spawn(forever)
    started.wait()
    gt.kill()
    try:
        gt.wait()
    except greenlet.GreenletExit:
        return "killed"
    return "still running"


def green_threading():
    lock = threading.Lock()
    done = threading.Event()
    thread = threading.Thread(target=done.set)
    with lock:
        thread.start()
        thread.join()
    return done.is_set()


def main():
    print("imap", crawl())
    print("queue", producer_consumer())
    print("event", event_after_delay())
    print("timeout", timeout_fires())
    print("kill", kill_a_loop())
    print("green threading", green_threading())
    print("args", sys.argv[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
