"""threadevent: eventlet's Event, greenthreads, queues, semaphores and pools on real OS threads."""

from threadevent import hub
from threadevent.event import Event
from threadevent.greenpool import GreenPile, GreenPool
from threadevent.greenthread import (
    GreenletExit,
    GreenThread,
    getcurrent,
    kill,
    sleep,
    spawn,
    spawn_after,
    spawn_after_local,
    spawn_n,
)
from threadevent.lock import Lock
from threadevent.pools import Pool, TokenPool
from threadevent.queue import Empty, Full, LifoQueue, LightQueue, PriorityQueue, Queue
from threadevent.semaphore import BoundedSemaphore, CappedSemaphore, Semaphore
from threadevent.timeout import Timeout, is_timeout, with_timeout, wrap_is_timeout
from threadevent.waiting import as_completed, wait_all, wait_any

__all__ = [
    "BoundedSemaphore",
    "CappedSemaphore",
    "Empty",
    "Event",
    "Full",
    "GreenPile",
    "GreenPool",
    "GreenThread",
    "GreenletExit",
    "LifoQueue",
    "LightQueue",
    "Lock",
    "Pool",
    "PriorityQueue",
    "Queue",
    "Semaphore",
    "Timeout",
    "TokenPool",
    "__version__",
    "as_completed",
    "getcurrent",
    "hub",
    "is_timeout",
    "kill",
    "sleep",
    "spawn",
    "spawn_after",
    "spawn_after_local",
    "spawn_n",
    "wait_all",
    "wait_any",
    "with_timeout",
    "wrap_is_timeout",
]

__version__ = "0.1.0"
