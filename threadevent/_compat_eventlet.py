"""What ``threadevent.compat``'s ``eventlet`` alias needs beyond threadevent's own names.

eventlet's ``patcher``, ``tpool``, ``convenience``, ``hubs`` and ``support`` modules have no counterpart
in threadevent: on threads there is nothing to monkey patch, no thread pool to hand blocking calls to,
and no hub.  This module gives each of their commonly used names the meaning it has on threads, so that
code calling them runs unchanged under the alias:

- ``monkey_patch()`` logs once (INFO: nothing needs doing) and patches nothing; ``original(name)`` and
  ``import_patched(name)`` import the plain module;
- ``tpool.execute(f, ...)`` calls ``f`` in the caller, which is already a thread of its own;
- ``connect``, ``listen``, ``serve`` and ``wrap_ssl`` work on stdlib sockets; ``serve`` runs each
  connection's handler on a ``GreenPool``;
- ``get_hub()`` is a stand-in hub whose timers run on threadevent's timer thread.

What it deliberately does not do: change the standard library, or pretend to be greenlet.  ``compat.py``
is its one user; nothing here touches ``sys.modules``.
"""

from __future__ import annotations

import importlib
import logging
import selectors
import socket
import sys
import threading
import traceback
import warnings
from collections.abc import Callable
from time import monotonic
from types import ModuleType
from typing import Any

from threadevent import hub
from threadevent._api import check_delay, check_timeout
from threadevent.greenpool import GreenPool
from threadevent.greenthread import GreenletExit, GreenThread, getcurrent, sleep
from threadevent.timeout import Timeout

__all__ = [
    "EventletDeprecationWarning",
    "Hub",
    "HubTimer",
    "IOClosed",
    "Proxy",
    "ReusePortUnavailableWarning",
    "ReuseRandomPortWarning",
    "StopServe",
    "cancel",
    "connect",
    "execute",
    "forget_notes",
    "get_errno",
    "get_hub",
    "import_patched",
    "is_monkey_patched",
    "killall",
    "listen",
    "monkey_patch",
    "notify_close",
    "notify_opened",
    "original",
    "patch_function",
    "serve",
    "set_num_threads",
    "setup",
    "trampoline",
    "use_hub",
    "wrap_ssl",
]

logger = logging.getLogger("threadevent")

#: How long ``serve`` and ``trampoline`` wait on a socket before they pass a checkpoint again: the
#: longest a kill or an expired Timeout of their thread waits to be raised there.
POLL_SLICE = 0.05

_notes_lock = threading.Lock()
_noted: set[str] = set()


def _first_time(key: str) -> bool:
    """True the first time ``key`` is asked about (since the last ``forget_notes``)."""
    with _notes_lock:
        if key in _noted:
            return False
        _noted.add(key)
        return True


def forget_notes() -> None:
    """Log the once-only notes again: ``compat.uninstall()`` calls it, so each install starts afresh."""
    with _notes_lock:
        _noted.clear()


class EventletDeprecationWarning(Warning):
    """eventlet's warning class, so that filters naming it still work; threadevent never issues it."""


# -- greenthread ---------------------------------------------------------------------------------------


def cancel(g: GreenThread[Any], *throw_args: Any) -> None:
    """eventlet's ``greenthread.cancel``: stop ``g`` if it has not started; no effect once it runs."""
    g.cancel(*throw_args)


# -- patcher -------------------------------------------------------------------------------------------

#: The keywords eventlet's ``monkey_patch`` accepts.
_PATCHABLE = frozenset(
    ("os", "select", "socket", "thread", "time", "psycopg", "MySQLdb", "builtins", "subprocess")
)


def monkey_patch(**on: bool) -> None:
    """Patch nothing: on threads the standard library already blocks only the calling thread.

    The first call logs an INFO note on logger ``threadevent``; an unknown keyword is a ``TypeError``,
    as in eventlet.  What monkey patching also did, letting ``Timeout`` and ``kill`` reach
    ``time.sleep`` and socket calls, does not happen: use threadevent's ``sleep``, ``Queue``, ``Lock``
    and socket timeouts where interruption matters.
    """
    for name in on:
        if name not in _PATCHABLE:
            raise TypeError(f"monkey_patch() got an unexpected keyword argument {name!r}")
    if _first_time("monkey_patch"):
        logger.info(
            "eventlet.monkey_patch() does nothing under threadevent.compat: on threads the standard "
            "library already blocks only the calling thread (delete the call when porting)"
        )


def is_monkey_patched(module: object) -> bool:
    """Always False: nothing is ever monkey patched."""
    return False


def _module_name(name: object, what: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a module name (str), not {type(name).__name__}")
    return name


def original(modname: str) -> ModuleType:
    """The standard module ``modname``: unpatched is the only kind there is."""
    return importlib.import_module(_module_name(modname, "modname"))


def import_patched(module_name: str, *additional_modules: Any, **kw_additional_modules: Any) -> ModuleType:
    """Import ``module_name`` normally: the "green" modules it would be given are the plain ones."""
    return importlib.import_module(_module_name(module_name, "module_name"))


def patch_function(func: Callable[..., Any], *additional_modules: Any) -> Callable[..., Any]:
    """``func`` itself: there are no green modules to swap in while it runs."""
    if not callable(func):
        raise TypeError(f"patch_function() needs a callable func, not {type(func).__name__}")
    return func


# -- tpool ---------------------------------------------------------------------------------------------


def execute(meth: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``meth(*args, **kwargs)``, called in the caller: it is a thread of its own already."""
    if not callable(meth):
        raise TypeError(f"execute() needs a callable meth, not {type(meth).__name__}")
    return meth(*args, **kwargs)


class Proxy:
    """``Proxy(obj)`` is ``obj`` itself: its blocking methods block only the calling thread anyway.

    A class (not a function) so that ``isinstance(x, tpool.Proxy)`` still works: it is always False.
    """

    def __new__(cls, obj: Any, autowrap: Any = (), autowrap_names: Any = ()) -> Any:
        return obj


def setup() -> None:
    """Nothing to set up: there is no thread pool behind ``execute``."""


def killall() -> None:
    """Nothing to stop: there is no thread pool behind ``execute``."""


def set_num_threads(nthreads: int) -> None:
    """No effect; ``threadevent.hub.configure(max_threads=...)`` bounds the worker threads."""


# -- convenience -----------------------------------------------------------------------------------------


class ReuseRandomPortWarning(Warning):
    """``listen`` on port 0 with ``reuse_port``: another process could share the random port."""


class ReusePortUnavailableWarning(Warning):
    """``SO_REUSEPORT`` is defined on this platform, but the kernel refused it."""


class StopServe(Exception):
    """Raise it in a ``serve`` handler to make ``serve`` return."""


def connect(
    addr: Any, family: socket.AddressFamily | int = socket.AF_INET, bind: Any = None
) -> socket.socket:
    """A stdlib TCP socket connected to ``addr`` (bound to ``bind`` first, if given)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if bind is not None:
            sock.bind(bind)
        sock.connect(addr)
    except BaseException:
        sock.close()
        raise
    return sock


def listen(
    addr: Any,
    family: socket.AddressFamily | int = socket.AF_INET,
    backlog: int = 50,
    reuse_addr: bool = True,
    reuse_port: bool | None = None,
) -> socket.socket:
    """A stdlib TCP socket listening on ``addr``, with eventlet's defaults.

    ``SO_REUSEADDR`` unless ``reuse_addr`` is false; ``SO_REUSEPORT`` where the platform allows it, unless
    ``reuse_port`` is false or the port is 0 (a random port: asking for it warns, as in eventlet).
    """
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if reuse_addr and sys.platform[:3] != "win":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family in (socket.AF_INET, socket.AF_INET6) and addr[1] == 0:
            if reuse_port:
                warnings.warn(
                    "listen on random port (0) with SO_REUSEPORT is dangerous", ReuseRandomPortWarning, 2
                )
        elif reuse_port is None:
            reuse_port = True
        if reuse_port and hasattr(socket, "SO_REUSEPORT"):
            _reuse_port(sock)
        sock.bind(addr)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def _reuse_port(sock: socket.socket) -> None:
    # Best effort, as in eventlet: a kernel that refuses it (Linux does for a Unix socket, EOPNOTSUPP)
    # leaves the socket as it is; only EINVAL and ENOPROTOOPT (defined, but not supported here) warn.
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    except OSError as exc:
        if get_errno(exc) in (22, 92):
            warnings.warn("socket.SO_REUSEPORT is defined but not supported", ReusePortUnavailableWarning, 3)


class _Stop:
    """The first failure of a ``serve`` handler (``StopServe`` included), which ends ``serve``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def handler_done(self, gt: GreenThread[Any], conn: socket.socket) -> None:
        # A link: runs in the handler's worker thread once the handler has ended.
        try:
            try:
                gt.wait()
            finally:
                conn.close()
        except GreenletExit:
            pass
        except Exception as exc:
            with self._lock:
                if self.error is None:
                    self.error = exc


def serve(
    sock: socket.socket, handle: Callable[[socket.socket, Any], object], concurrency: int = 1000
) -> None:
    """Accept connections on ``sock`` and run ``handle(conn, addr)`` for each on a ``GreenPool``.

    As in eventlet: at most ``concurrency`` handlers run at once (``serve`` stops accepting until one
    ends); ``conn`` is closed when its handler returns; a handler raising ``StopServe`` makes ``serve``
    return, and any other exception of a handler is raised from ``serve``, ending it.  ``serve`` blocks
    its caller; it passes a checkpoint every few milliseconds, so a ``kill`` or ``Timeout`` of its
    thread ends it too.
    """
    if not callable(handle):
        raise TypeError(f"serve() needs a callable handle, not {type(handle).__name__}")
    pool = GreenPool(concurrency)
    stop = _Stop()
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        while True:
            error = stop.error
            if isinstance(error, StopServe):
                return
            if error is not None:
                raise error
            # A closed socket never turns readable: accept() then raises the error eventlet's would.
            if not selector.select(POLL_SLICE) and sock.fileno() != -1:
                sleep(0)  # a checkpoint: a kill or an expired Timeout of this thread lands here
                continue
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError, TimeoutError):
                continue  # another acceptor took it, or the socket has a timeout of its own
            try:
                handler = pool.spawn(handle, conn, addr)  # a checkpoint while the pool is full
            except BaseException:
                conn.close()  # killed, or out of threads: the connection was never handed on
                raise
            handler.link(stop.handler_done, conn)
            del conn, addr, handler  # hold no reference to a connection its handler may close


def wrap_ssl(
    sock: socket.socket,
    keyfile: str | None = None,
    certfile: str | None = None,
    server_side: bool = False,
    cert_reqs: int | None = None,
    ssl_version: int | None = None,
    ca_certs: str | None = None,
    do_handshake_on_connect: bool = True,
    suppress_ragged_eofs: bool = True,
    ciphers: str | None = None,
    server_hostname: str | None = None,
) -> Any:
    """A stdlib ``ssl.SSLSocket`` over ``sock``, with the arguments of the old ``ssl.wrap_socket``.

    As there: ``cert_reqs`` defaults to ``ssl.CERT_NONE`` (no verification; pass ``ssl.CERT_REQUIRED``
    and ``ca_certs`` to verify) and a server needs ``certfile``.  Better: build an ``ssl.SSLContext``
    and call its ``wrap_socket``.
    """
    import ssl  # here, not at the top: most programs never need it, and it is slow to import

    if server_side and not certfile:
        raise ValueError("certfile must be specified for server-side operations")
    if keyfile and not certfile:
        raise ValueError("certfile must be specified")
    if ssl_version is None:
        ssl_version = ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT
    context = ssl.SSLContext(ssl_version)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE if cert_reqs is None else ssl.VerifyMode(cert_reqs)
    if ca_certs:
        context.load_verify_locations(ca_certs)
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    if ciphers:
        context.set_ciphers(ciphers)
    return context.wrap_socket(
        sock,
        server_side=server_side,
        do_handshake_on_connect=do_handshake_on_connect,
        suppress_ragged_eofs=suppress_ragged_eofs,
        server_hostname=server_hostname,
    )


# -- hubs ----------------------------------------------------------------------------------------------


class HubTimer:
    """A call scheduled by the stand-in hub: ``cancel()`` stops it if it has not run yet.

    A local timer (``schedule_call_local``) also does nothing if the greenthread, or plain thread, that
    scheduled it has ended by then.
    """

    def __init__(
        self,
        seconds: float,
        cb: Callable[..., object],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        owner_gone: Callable[[], bool] | None,
        ended: Callable[[HubTimer], None] = lambda timer: None,
    ) -> None:
        if not callable(cb):
            raise TypeError(f"a hub timer needs a callable cb, not {type(cb).__name__}")
        delay = check_delay(seconds)
        self.seconds = seconds
        #: True once the call has run, been skipped or been cancelled (eventlet's ``called``).
        self.called = False
        self._call: tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]] | None = (cb, args, kw)
        self._owner_gone = owner_gone
        self._ended = ended
        #: Where it was scheduled (``traceback.format_stack`` lines), when the hub records that.
        self.stack: list[str] | None = None
        self._handle = hub.call_later(delay, self._fire)

    def _fire(self) -> None:
        # The timer thread calls this at most once, and never after a cancel() that stopped it.
        call, self._call = self._call, None
        self.called = True
        self._ended(self)
        if call is None or (self._owner_gone is not None and self._owner_gone()):
            return
        cb, args, kw = call
        cb(*args, **kw)

    @property
    def pending(self) -> bool:
        """True until the call has run or been cancelled (or its owner has ended, for a local one)."""
        gone = self._owner_gone is not None and self._owner_gone()
        return self._handle.pending and not gone

    def cancel(self) -> None:
        """Stop the call, if it has not run yet; no effect otherwise."""
        self.called = True
        if self._handle.cancel():
            self._call = None  # the timer thread will never look at it: drop the references now
            self._ended(self)

    def __repr__(self) -> str:
        call = self._call
        text = f"<{type(self).__name__} seconds={self.seconds!r} called={self.called}"
        text += ">" if call is None else f" cb={call[0]!r}>"
        return text if self.stack is None else text + "\n" + "".join(self.stack)


def _current_owner_gone() -> Callable[[], bool]:
    """A test of whether the calling greenthread (or, outside one, the calling thread) has ended."""
    current = getcurrent()
    if isinstance(current, GreenThread):
        greenthread = current
        return lambda: greenthread.dead
    thread = threading.current_thread()
    return lambda: not thread.is_alive()


class Hub:
    """The stand-in for eventlet's hub: a clock and timers, run on threadevent's one timer thread.

    The timer callbacks run one at a time on that thread, so, as in eventlet's hub (where a callback may
    not block either), each must be quick: hand real work on, e.g. with ``spawn``.  There is no event
    loop: no ``switch``, ``add`` or ``run`` here, and no file descriptor is ever registered with it
    (``get_readers()`` and ``get_writers()``, which test harnesses check for leaks, are empty).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Scheduled here, neither run nor cancelled yet; a dict for its order: the order of scheduling.
        self._timers: dict[HubTimer, None] = {}
        #: Whether each timer scheduled from now on keeps the stack it was scheduled from (``stack``,
        #: shown by its repr): ``eventlet.debug.hub_timer_stacks`` sets it.
        self.record_timer_stacks = False

    #: The hub's clock: ``time.monotonic`` itself, as in eventlet (code compares ``hub.clock`` with it).
    clock = staticmethod(monotonic)

    def schedule_call_global(
        self, seconds: float, cb: Callable[..., object], *args: Any, **kw: Any
    ) -> HubTimer:
        """Call ``cb(*args, **kw)`` after ``seconds``, on the timer thread; ``cancel()`` stops it."""
        return self._add(HubTimer(seconds, cb, args, kw, None, self._ended))

    def schedule_call_local(
        self, seconds: float, cb: Callable[..., object], *args: Any, **kw: Any
    ) -> HubTimer:
        """As ``schedule_call_global``, but skipped if the calling greenthread (or thread) ends first."""
        return self._add(HubTimer(seconds, cb, args, kw, _current_owner_gone(), self._ended))

    def _add(self, timer: HubTimer) -> HubTimer:
        if self.record_timer_stacks:
            timer.stack = traceback.format_stack()[:-2]  # up to the caller of schedule_call_*
        with self._lock:
            if not timer.called:  # it may have fired already, on the timer thread
                self._timers[timer] = None
        return timer

    def _ended(self, timer: HubTimer) -> None:
        with self._lock:
            self._timers.pop(timer, None)

    def get_timers_count(self) -> int:
        """How many calls scheduled on this hub have neither run nor been cancelled yet."""
        with self._lock:
            return len(self._timers)

    def pending_timers(self) -> list[HubTimer]:
        """The calls scheduled on this hub that have neither run nor been cancelled yet, oldest first."""
        with self._lock:
            return list(self._timers)

    def get_readers(self) -> list[Any]:
        """Empty: on threads each socket blocks its own thread, and no hub watches file descriptors."""
        return []

    def get_writers(self) -> list[Any]:
        """Empty: on threads each socket blocks its own thread, and no hub watches file descriptors."""
        return []

    def __repr__(self) -> str:
        return f"<threadevent.compat stand-in hub at {id(self):#x}>"


_HUB = Hub()


def get_hub() -> Hub:
    """The process's one stand-in hub."""
    return _HUB


def use_hub(mod: Any = None) -> None:
    """No effect: threads have no hub to choose (``threadevent.hub.configure`` sets the worker pool)."""


def trampoline(
    fd: Any,
    read: bool | None = None,
    write: bool | None = None,
    timeout: float | None = None,
    timeout_exc: BaseException | type[BaseException] = Timeout,
    mark_as_closed: Any = None,
) -> None:
    """Block until ``fd`` (a file descriptor or an object with ``fileno()``) is ready to read or write.

    After ``timeout`` seconds it raises ``timeout_exc`` instead.  Only the calling thread waits; it
    passes a checkpoint every few milliseconds, so a ``kill`` or ``Timeout`` of its thread reaches it.
    """
    if read and write:
        raise RuntimeError("not allowed to trampoline for reading and writing")
    if not (read or write):
        raise ValueError("trampoline() needs read=True or write=True")
    seconds = -1.0 if timeout is None else check_timeout(timeout, "timeout")
    fileno = fd.fileno() if hasattr(fd, "fileno") else fd
    events = selectors.EVENT_READ if read else selectors.EVENT_WRITE
    deadline = None if seconds < 0.0 else monotonic() + seconds
    with selectors.DefaultSelector() as selector:
        selector.register(fileno, events)
        while True:
            wait = POLL_SLICE if deadline is None else min(POLL_SLICE, max(deadline - monotonic(), 0.0))
            if selector.select(wait):
                return
            if deadline is not None and monotonic() >= deadline:
                raise timeout_exc
            sleep(0)  # a checkpoint: a kill or an expired Timeout of this thread lands here


def notify_close(fd: Any) -> None:
    """No effect: there is no hub watching file descriptors."""


def notify_opened(fd: Any) -> None:
    """No effect: there is no hub watching file descriptors."""


class IOClosed(IOError):
    """eventlet's exception for a file descriptor closed while a greenthread waited on it."""


# -- support -------------------------------------------------------------------------------------------


def get_errno(exc: BaseException) -> Any:
    """The error number of an ``OSError`` (or its first argument), as eventlet's ``support.get_errno``."""
    errno = getattr(exc, "errno", None)
    if errno is not None:
        return errno
    return exc.args[0] if exc.args else None
