"""What ``threadevent.compat``'s ``eventlet`` alias is made of: plain data, no code that runs.

``ALIASES`` says what each alias module holds: for each name a target, ``"package.module:name"`` for an
attribute, or a module name (no ``:``) for a module, looked up when the name is first used.
``KNOWN_MODULES`` lists eventlet's other modules (today's and older releases'), which import as
stand-ins; ``REPLACEMENTS`` says what to use instead of each.  ``GREEN_RENAMED`` and ``GREEN_GONE`` map
``eventlet.green``'s Python 2 names.

What it deliberately is not: a list of every eventlet name.  A name left out is an ``AttributeError``
(or, with advice, one from ``NOT_PROVIDED``); a module left out is a ``ModuleNotFoundError``.
"""

from __future__ import annotations

__all__ = [
    "ALIASES",
    "GREEN_GONE",
    "GREEN_RENAMED",
    "KNOWN_MODULES",
    "NOT_PROVIDED",
    "PACKAGES",
    "REACHABLE",
    "REPLACEMENTS",
    "SUBMODULES",
]

# -- what each alias module holds ------------------------------------------------------------------------

_TE = "threadevent"
_EXTRA = "threadevent._compat_eventlet"
_DEBUG = "threadevent._compat_debug"
_GREENLETS = {"GreenletExit": f"{_TE}:GreenletExit", "getcurrent": f"{_TE}:getcurrent"}

#: The submodules that ``eventlet.<name>`` reaches without an import statement, as in eventlet.
SUBMODULES = (
    "convenience event green greenlet greenpool greenthread hubs lock patcher pools queue semaphore support "
    "timeout tpool"
).split()


def _names(module: str, names: str) -> dict[str, str]:
    """``{name: "module:name"}`` for each of the space-separated ``names``."""
    return {name: f"{module}:{name}" for name in names.split()}


ALIASES: dict[str, dict[str, str]] = {
    "eventlet": {
        **_names(
            _TE,
            "BoundedSemaphore CappedSemaphore Event GreenPile GreenPool LightQueue Queue Semaphore Timeout "
            "getcurrent is_timeout kill sleep spawn spawn_after spawn_n with_timeout wrap_is_timeout",
        ),
        **_names(
            _EXTRA,
            "EventletDeprecationWarning StopServe connect import_patched listen monkey_patch serve wrap_ssl",
        ),
        "TimeoutError": f"{_TE}:Timeout",  # eventlet's deprecated name for it
        **{name: f"eventlet.{name}" for name in SUBMODULES},
    },
    "eventlet.convenience": _names(
        _EXTRA, "ReusePortUnavailableWarning ReuseRandomPortWarning StopServe connect listen serve wrap_ssl"
    ),
    "eventlet.debug": _names(
        _DEBUG,
        "Spew format_asyncio_info format_hub_listeners format_hub_timers format_threads_info "
        "hub_blocking_detection hub_exceptions hub_listener_stacks hub_prevent_multiple_readers "
        "hub_timer_stacks spew tpool_exceptions unspew",
    ),
    "eventlet.event": _names(_TE, "Event"),
    "eventlet.green": {},
    "eventlet.greenlet": _GREENLETS,
    "eventlet.greenpool": _names(_TE, "GreenPile GreenPool"),
    "eventlet.greenthread": {
        **_names(_TE, "GreenThread getcurrent kill sleep spawn spawn_after spawn_after_local spawn_n"),
        "cancel": f"{_EXTRA}:cancel",
        "greenlet": "eventlet.support.greenlets",  # eventlet code writes greenthread.greenlet.GreenletExit
    },
    "eventlet.hubs": _names(_EXTRA, "IOClosed get_hub notify_close notify_opened trampoline use_hub"),
    "eventlet.lock": _names(_TE, "Lock"),
    "eventlet.patcher": _names(
        _EXTRA, "import_patched is_monkey_patched monkey_patch original patch_function"
    ),
    "eventlet.pools": {**_names(_TE, "Pool TokenPool"), "Token": f"{_TE}.pools:Token"},
    "eventlet.queue": _names(_TE, "Empty Full LifoQueue LightQueue PriorityQueue Queue"),
    "eventlet.semaphore": _names(_TE, "BoundedSemaphore CappedSemaphore Semaphore"),
    "eventlet.support": {"get_errno": f"{_EXTRA}:get_errno", "greenlets": "eventlet.support.greenlets"},
    "eventlet.support.greenlets": _GREENLETS,
    "eventlet.timeout": _names(_TE, "Timeout is_timeout with_timeout wrap_is_timeout"),
    "eventlet.tpool": _names(_EXTRA, "Proxy execute killall set_num_threads setup"),
}

#: The submodules that importing eventlet makes attributes of its packages without an import statement of
#: their own (its modules import them): code writes ``eventlet.greenio.GreenPipe`` after ``import eventlet``.
#: Each is imported when first reached so; none is in ``__all__``, so a star import imports none of them.
REACHABLE = {
    "eventlet": frozenset(("greenio",)),
    "eventlet.green": frozenset("os select socket ssl time".split()),
    "eventlet.hubs": frozenset("epolls hub kqueue poll selects timer".split()),
    "eventlet.support": frozenset(("greendns",)),
}

#: The alias modules that are packages: their submodules import.
PACKAGES = frozenset(("eventlet", "eventlet.green", "eventlet.hubs", "eventlet.support"))

#: eventlet's other modules, by parent package (today's, and older releases' that old code imports):
#: each imports as a stand-in.  A stand-in is a package, so any submodule of one imports too.
KNOWN_MODULES = {
    "eventlet": frozenset(
        (
            "asyncio backdoor corolocal coros dagpool db_pool greenio websocket wsgi zipkin "
            "api channel pool proc processes saranwrap timer twistedutil util"
        ).split()
    ),
    "eventlet.hubs": frozenset(
        "asyncio epolls hub kqueue poll pyevent selects timer libev libevent twistedr".split()
    ),
    "eventlet.support": frozenset(
        "dns greendns monotonic psycopg2_patcher pylib six stacklesspypys stacklesss".split()
    ),
}

#: eventlet names that the alias leaves out, with what to write instead.
NOT_PROVIDED = {
    "eventlet.exc_after": "use Timeout(seconds, exception)",
    "eventlet.call_after_global": "use spawn_after",
    "eventlet.greenthread.exc_after": "use Timeout(seconds, exception)",
    "eventlet.greenthread.call_after_global": "use spawn_after",
    "eventlet.greenthread.call_after_local": "use spawn_after_local",
    "eventlet.greenthread.call_after": "use spawn_after_local",
    "eventlet.greenlet.greenlet": "there are no greenlets: use threadevent.GreenThread and getcurrent()",
    "eventlet.support.greenlets.greenlet": "there are no greenlets: use threadevent.GreenThread",
    "eventlet.hubs.get_default_hub": "threads have no hub to choose: use get_hub()",
    "eventlet.patcher.inject": "import the module normally: there is nothing to inject",
}

#: What to use instead of the eventlet modules the alias does not provide; the longest matching prefix
#: of a module's name chooses.
REPLACEMENTS = {
    "eventlet": "threadevent's API (docs/migrating.md) or the standard library",
    "eventlet.asyncio": "asyncio itself: a coroutine can await threadevent's Event and GreenThread",
    "eventlet.backdoor": "no replacement: faulthandler.dump_traceback() shows what every thread is doing",
    "eventlet.corolocal": "contextvars (each greenthread runs in a copy of its spawner's context); "
    "threading.local is shared by the greenthreads that a worker thread runs one after another",
    "eventlet.coros": "threadevent.Event, Queue or Semaphore",
    "eventlet.dagpool": "a GreenPool with an Event per node, each node waiting for its predecessors' Events",
    "eventlet.db_pool": "your database driver's (or SQLAlchemy's) connection pool, or threadevent.Pool",
    "eventlet.greenio": "socket.socket for GreenSocket, open() or os.fdopen() for GreenPipe: on threads a "
    "blocking socket or pipe blocks only its own thread",
    "eventlet.hubs": "no replacement: threads have no hub (threadevent.hub configures the worker threads)",
    "eventlet.support": "the standard library",
    "eventlet.support.six": "the six package, or plain Python 3",
    "eventlet.websocket": "a WebSocket library that runs on threads, such as websockets.sync",
    "eventlet.wsgi": "a WSGI server: wsgiref.simple_server for tests, gunicorn (gthread workers), "
    "waitress or uWSGI in production",
    "eventlet.zipkin": "an OpenTelemetry or zipkin client library",
}

#: ``eventlet.green`` names that are Python 2's: the Python 3 module each stands for.
GREEN_RENAMED = {
    "BaseHTTPServer": "http.server",
    "CGIHTTPServer": "http.server",
    "Queue": "queue",
    "SimpleHTTPServer": "http.server",
    "SocketServer": "socketserver",
    "builtin": "builtins",
    "httplib": "http.client",
    "thread": "_thread",
}

#: ``eventlet.green`` names with no Python 3 module of their own, and what to import instead.
GREEN_GONE = {"urllib2": "urllib.request (and urllib.error)"}
