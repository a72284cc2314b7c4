"""threadevent: eventlet's Event and greenthread API on real OS threads."""

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
    spawn_n,
)
from threadevent.timeout import Timeout, with_timeout
from threadevent.waiting import as_completed, wait_all, wait_any

__all__ = [
    "Event",
    "GreenPile",
    "GreenPool",
    "GreenThread",
    "GreenletExit",
    "Timeout",
    "__version__",
    "as_completed",
    "getcurrent",
    "hub",
    "kill",
    "sleep",
    "spawn",
    "spawn_after",
    "spawn_n",
    "wait_all",
    "wait_any",
    "with_timeout",
]

__version__ = "0.1.0"
