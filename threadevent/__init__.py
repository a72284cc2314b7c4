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

__all__ = [
    "Event",
    "GreenThread",
    "GreenletExit",
    "__version__",
    "getcurrent",
    "hub",
    "kill",
    "sleep",
    "spawn",
    "spawn_after",
    "spawn_n",
]

__version__ = "0.1.0"
