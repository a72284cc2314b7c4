"""eventlet's ``debug`` module under ``threadevent.compat``: its switches, meaning what they can on threads.

Real eventlet programs flip these switches at start-up (``hub_prevent_multiple_readers(False)``,
``hub_exceptions(True)``); were ``eventlet.debug`` a stand-in, such a program could not even start.  So each
name of eventlet 0.41.3's module is here, with its parameters, and does what is true on threads:

- a switch whose promise already holds on threads is accepted and changes nothing:
  ``hub_prevent_multiple_readers``, ``hub_listener_stacks``, ``tpool_exceptions``, ``hub_exceptions(True)``,
  ``hub_blocking_detection(False)``;
- a switch whose promise threadevent cannot keep raises ``NotImplementedError`` naming what to use instead:
  ``hub_exceptions(False)``, ``hub_blocking_detection(True)``, and ``spew()`` before Python 3.12;
- ``spew``/``unspew`` trace every thread, ``hub_timer_stacks`` records where the stand-in hub's timers
  were set, and the ``format_*`` functions describe what there is: no file descriptor watched, the hub's
  pending timers, the threads, the running asyncio loop.

As in eventlet, a state is taken for its truth: any object will do.

>>> from threadevent import _compat_debug as debug
>>> debug.hub_prevent_multiple_readers(False)
>>> debug.format_hub_listeners().split()
['READERS:', 'WRITERS:']

What it deliberately does not do: install anything process-wide that the program did not ask for
(``threading.excepthook``, a logging filter, a signal handler) to imitate a hub that does not exist.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import threading
from collections.abc import Container
from types import FrameType

from threadevent._compat_eventlet import get_hub

__all__ = [
    "Spew",
    "format_asyncio_info",
    "format_hub_listeners",
    "format_hub_timers",
    "format_threads_info",
    "hub_blocking_detection",
    "hub_exceptions",
    "hub_listener_stacks",
    "hub_prevent_multiple_readers",
    "hub_timer_stacks",
    "spew",
    "tpool_exceptions",
    "unspew",
]

_HUB_EXCEPTIONS_OFF = (
    "eventlet.debug.hub_exceptions(False) is not provided by threadevent.compat: there is no hub printing "
    "exceptions to switch off.  An exception escaping spawn_n(), GreenPool.spawn_n() or a hub timer goes to "
    "threading.excepthook: set your own to silence or redirect it.  One escaping spawn() or spawn_after() "
    "that nothing retrieves (wait()) is logged at ERROR on logger 'threadevent' when the greenthread is "
    "collected: raise that logger's level, or give it a filter."
)

_BLOCKING_DETECTION_ON = (
    "eventlet.debug.hub_blocking_detection(True) is not provided by threadevent.compat: a greenthread that "
    "blocks holds up only its own thread, so there is no hub to stall and no detector.  To see what a stuck "
    "program is doing, faulthandler.dump_traceback_later(resolution, repeat=True) prints every thread's "
    "stack every resolution seconds."
)

_SPEW_NEEDS_312 = (
    "eventlet.debug.spew() under threadevent.compat needs Python 3.12 or later: greenthreads run on worker "
    "threads that may be running already, and only threading.settrace_all_threads (3.12) reaches those.  "
    "Here, sys.settrace(eventlet.debug.Spew()) traces the calling thread and "
    "threading.settrace(eventlet.debug.Spew()) the threads started after that call."
)

# -- tracing --------------------------------------------------------------------------------------------

_TOKENS = re.compile(r"\W+")


class Spew:
    """A trace function (for ``sys.settrace``) printing each line as it runs: ``module:line: source``.

    As eventlet's: only the modules named in ``trace_names`` (all, if None); with ``show_values``, a second
    line (tab-indented) gives the value of each global and local variable the source line names.  Each
    record is one write to ``sys.stdout``, so records of different threads do not mix within a line; which
    thread printed one is not shown.

    >>> import sys
    >>> def add(a, b):
    ...     return a + b
    >>> previous = sys.gettrace()  # a debugger's or coverage's, to be put back
    >>> sys.settrace(Spew(show_values=False)); add(1, 2); sys.settrace(previous)  # doctest: +ELLIPSIS
    threadevent._compat_debug:...:     return a + b
    3
    """

    def __init__(self, trace_names: Container[str] | None = None, show_values: bool = True) -> None:
        self.trace_names = trace_names
        self.show_values = show_values

    def __call__(self, frame: FrameType, event: str, arg: object) -> Spew:
        if event == "line":
            self._print(frame)
        return self

    def _print(self, frame: FrameType) -> None:
        name = frame.f_globals.get("__name__", "[unknown]")
        if self.trace_names is not None and name not in self.trace_names:
            return
        lineno = frame.f_lineno
        line = linecache.getline(frame.f_code.co_filename, lineno, frame.f_globals).rstrip()
        if not line:
            line = f"Unknown code named [{frame.f_code.co_name}].  VM instruction #{frame.f_lasti}"
        record = f"{name}:{lineno}: {line}\n"
        if self.show_values:
            record += self._values(frame, line)
        out = sys.stdout
        if out is not None:
            out.write(record)

    @staticmethod
    def _values(frame: FrameType, line: str) -> str:
        details = []
        for token in _TOKENS.split(line):
            if token in frame.f_globals:
                details.append(f"{token}={frame.f_globals[token]!r}")
            if token in frame.f_locals:
                details.append(f"{token}={frame.f_locals[token]!r}")
        return f"\t{' '.join(details)}\n" if details else ""


def spew(trace_names: Container[str] | None = None, show_values: bool = False) -> None:
    """Print every line every thread runs from now on (a ``Spew`` in all threads), until ``unspew()``.

    Python 3.12 or later: ``threading.settrace_all_threads`` reaches the worker threads already running,
    where the next greenthreads run; before 3.12 it raises ``NotImplementedError`` saying what to use.  As
    eventlet's replaced the calling thread's trace function, this one replaces every thread's (a debugger's
    or a coverage tool's too).
    """
    if sys.version_info < (3, 12):
        raise NotImplementedError(_SPEW_NEEDS_312)
    threading.settrace_all_threads(Spew(trace_names, show_values))


def unspew() -> None:
    """Remove the trace function from every thread (Python 3.12 or later; before, ``spew`` set none)."""
    if sys.version_info >= (3, 12):
        threading.settrace_all_threads(None)


# -- the hub's switches ------------------------------------------------------------------------------------


def hub_prevent_multiple_readers(state: object = True) -> None:
    """No effect: threads have no hub to keep a second reader off a socket.

    ``False``, the usual call, holds already: two greenthreads may read one socket, each blocking its own
    thread in ``recv``.  ``True`` is eventlet's default, so a program calls it to restore that; on threads
    the default is no check, and under the alias the sockets are the standard library's, which never had one.
    """


def hub_listener_stacks(state: object = False) -> None:
    """No effect: the stacks it records are those of file descriptors registered with the hub, and on
    threads none ever is (``format_hub_listeners`` lists none)."""


def hub_timer_stacks(state: object = False) -> None:
    """Make each timer scheduled on the stand-in hub from now on keep where it was scheduled (if ``state``
    is true), and show it in its repr and in ``format_hub_timers()``; false stops that for later timers."""
    get_hub().record_timer_stacks = bool(state)


def hub_exceptions(state: object = True) -> None:
    """True (eventlet's default) changes nothing: an exception escaping a greenthread is always raised from
    its ``wait()`` or reported.  False raises ``NotImplementedError`` naming where to silence them instead.

    Those two places: an exception escaping ``spawn_n()``, ``GreenPool.spawn_n()`` or a hub timer goes to
    ``threading.excepthook``; one escaping ``spawn()`` that nothing retrieves is logged at ERROR on logger
    ``threadevent``.  Silencing them here would mean replacing ``threading.excepthook`` for the whole
    process, the program's own threads included, so it is left to the program.
    """
    if not state:
        raise NotImplementedError(_HUB_EXCEPTIONS_OFF)


def tpool_exceptions(state: object = False) -> None:
    """No effect: ``tpool.execute(f)`` calls ``f`` in the caller, so its exception is raised there with its
    whole traceback; there is no pool thread whose exceptions need printing (True prints nothing more)."""


def hub_blocking_detection(state: object = False, resolution: float = 1) -> None:
    """False changes nothing: nothing detects blocking.  True raises ``NotImplementedError``.

    On threads a greenthread that blocks holds up only its own thread: there is no hub to stall, so nothing
    to detect.  ``faulthandler.dump_traceback_later(resolution, repeat=True)`` shows what every thread is
    doing instead.  As in eventlet, ``resolution`` must be > 0 (``AssertionError``, here also under ``-O``);
    it is checked before the state.
    """
    try:
        positive = resolution > 0
    except TypeError:
        kind = type(resolution).__name__
        raise TypeError(
            f"hub_blocking_detection() resolution must be a number of seconds, not {kind}"
        ) from None
    if not positive:
        raise AssertionError(f"hub_blocking_detection() resolution must be > 0, not {resolution!r}")
    if state:
        raise NotImplementedError(_BLOCKING_DETECTION_ON)


# -- what there is ---------------------------------------------------------------------------------------


def format_hub_listeners() -> str:
    """eventlet's listing of the file descriptors the hub watches: on threads, none (a socket blocks its
    own thread), so the two headings alone."""
    hub = get_hub()
    lines = ["READERS:", *map(repr, hub.get_readers()), "WRITERS:", *map(repr, hub.get_writers())]
    return os.linesep.join(lines)


def format_hub_timers() -> str:
    """The calls scheduled on the stand-in hub (``schedule_call_global``/``_local``) that have neither run
    nor been cancelled, oldest first, with where each was scheduled if ``hub_timer_stacks(True)`` was on.

    threadevent's own timers (``spawn_after``, ``Timeout``) are not the hub's, and not listed.
    """
    return os.linesep.join(["TIMERS:", *map(repr, get_hub().pending_timers())])


def format_asyncio_info() -> str:
    """The tasks and the event loop of the asyncio loop running in the calling thread.

    ``RuntimeError`` when none runs there, as eventlet's raises.
    """
    import asyncio  # here, not at the top: slow to import, and most programs never call this

    loop = asyncio.get_running_loop()
    return os.linesep.join(["TASKS:", repr(asyncio.all_tasks(loop)), f"EVENTLOOP: {loop}"])


def format_threads_info() -> str:
    """The threads alive now, as a dict from ident to ``threading.Thread``.

    Greenthreads run on the worker threads (named ``threadevent-worker-N``) listed here.
    """
    threads = {thread.ident: thread for thread in threading.enumerate()}
    return os.linesep.join(["THREADS:", repr(threads)])
