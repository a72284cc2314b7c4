"""A small web crawler written for eventlet: the starting point of docs/migrating.md.

It crawls WEB, a fake web in a dict (no network: each download is an ``eventlet.sleep``), level by
level with ``GreenPool.imap``; the crawler hands each page through a ``Queue`` to an indexer
greenthread, which it kills at the end; a timer that re-arms itself (``spawn_after``, then
``cancel``) keeps the crawler polite; a ``Timeout`` gives up on a page that never finishes. The
guide ports it to threadevent step by step (examples/crawler_threadevent.py); both print the same.

    python examples/crawler_eventlet.py                          # on eventlet
    python -m threadevent.compat examples/crawler_eventlet.py    # unchanged, on threads
"""

import itertools

import eventlet
from eventlet import queue
from eventlet.support import greenlets as greenlet

eventlet.monkey_patch()

#: url: (seconds its download takes, the page's text, its links)
WEB = {
    "/": (0.02, "welcome to the shop", ["/news", "/shop", "/about"]),
    "/news": (0.01, "the shop moves to native threads", ["/news/1", "/news/2", "/"]),
    "/news/1": (0.03, "eventlet is deprecated", ["/news"]),
    "/news/2": (0.01, "native threads run at the same time", ["/news", "/gone"]),
    "/shop": (0.01, "nothing for sale in the shop today", ["/", "/slow"]),
    "/about": (0.02, "who runs the shop", ["/"]),
    "/slow": (60.0, "a page that never finishes loading", []),
}
FETCH_TIMEOUT = 1.0  # seconds a download may take
PERIOD, BURST = 0.005, 2  # politeness: a request per PERIOD seconds, at most BURST at once


class Politeness:
    """A token bucket: a timer adds a token every PERIOD seconds, each request takes one."""

    def __init__(self):
        self.tokens = eventlet.Semaphore(BURST)
        self.timer = eventlet.spawn_after(PERIOD, self.refill)

    def refill(self):
        if self.tokens.balance < BURST:
            self.tokens.release()
        self.timer = eventlet.spawn_after(PERIOD, self.refill)  # the next tick

    def stop(self):
        self.timer.cancel()


def fetch(url, politeness):
    """Download one page: (url, its text, its links), or (url, None, what went wrong)."""
    politeness.tokens.acquire()
    try:
        with eventlet.Timeout(FETCH_TIMEOUT):
            seconds, text, links = WEB[url]
            eventlet.sleep(seconds)  # the download
            return url, text, links
    except KeyError:
        return url, None, "404 not found"
    except eventlet.Timeout:
        return url, None, f"gave up after {FETCH_TIMEOUT} s"


def crawl(start, pages):
    """The producer: fetches the pages level by level, 4 at a time, and queues each one found."""
    pool, politeness = eventlet.GreenPool(4), Politeness()
    seen, level, depth = {start}, [start], 1
    while level:
        print(f"level {depth}: {' '.join(level)}")
        following = []
        for url, text, links in pool.imap(fetch, level, itertools.repeat(politeness)):
            if text is None:
                print(f"  {url}: {links}")
                continue
            pages.put((url, text))
            following += [link for link in links if link not in seen]
            seen.update(links)
        level, depth = following, depth + 1
    politeness.stop()


def indexer(pages, index):
    """The consumer: indexes every page queued, until it is killed."""
    indexed = 0
    try:
        while True:
            url, text = pages.get()
            for word in text.split():
                index.setdefault(word, set()).add(url)
            indexed += 1
            pages.task_done()
    except greenlet.GreenletExit:
        print(f"indexer stopped after {indexed} pages")
        raise


def main():
    pages, index = queue.Queue(), {}
    consumer = eventlet.spawn(indexer, pages, index)
    crawl("/", pages)
    pages.join()  # every page queued has been indexed
    consumer.kill()
    for word in sorted(index):
        if len(index[word]) > 1:
            print(f"{word!r} is on {' '.join(sorted(index[word]))}")


if __name__ == "__main__":
    main()
