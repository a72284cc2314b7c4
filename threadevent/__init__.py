"""threadevent: eventlet's Event and greenthread API on real OS threads."""

from threadevent.event import Event

__all__ = ["Event", "__version__"]

__version__ = "0.1.0"
