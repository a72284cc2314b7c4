"""threadevent: eventlet's Event and greenthread API on real OS threads."""

from threadevent import hub
from threadevent.event import Event
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

__all__ = [
    "Event",
    "GreenThread",
    "GreenletExit",
    "Timeout",
    "__version__",
    "getcurrent",
    "hub",
    "kill",
    "sleep",
    "spawn",
    "spawn_after",
    "spawn_n",
    "with_timeout",
]

__version__ = "0.1.0"
